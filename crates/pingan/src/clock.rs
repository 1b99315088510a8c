//! Business time. Every rule that depends on "now" reads it from a `Clock` passed in, so tests
//! advance time instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{FixedOffset, TimeZone};

#[derive(Clone)]
pub enum Clock {
    System,
    /// A settable clock shared between a test and the servers it starts.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn manual(start_ms: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => chrono::Utc::now().timestamp_millis(),
            Clock::Manual(ms) => ms.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; the system clock cannot be moved.
    pub fn advance_ms(&self, by: i64) {
        if let Clock::Manual(ms) = self {
            ms.fetch_add(by, Ordering::SeqCst);
        }
    }
}

pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("BUG: +08:00 is a valid offset")
}

/// "2026-11-23 18:04:05" in Beijing time, for pages and exports.
pub fn format_beijing(ms: i64) -> String {
    match beijing().timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => String::from("—"),
    }
}

/// ISO 8601 with the +08:00 offset, for JSON.
pub fn iso_beijing(ms: i64) -> String {
    match beijing().timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => String::new(),
    }
}

/// Today's date in Beijing as 'YYYY-MM-DD'.
pub fn beijing_date(ms: i64) -> String {
    match beijing().timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => String::new(),
    }
}

/// Today's date in Beijing, for checks such as "a date of birth is not in the future".
pub fn beijing_today(ms: i64) -> chrono::NaiveDate {
    beijing().timestamp_millis_opt(ms).single().map(|t| t.date_naive()).unwrap_or_default()
}

/// Parses a Beijing-time 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM' (as HTML date inputs send) into UTC ms.
pub fn parse_beijing(s: &str) -> Option<i64> {
    let s = s.trim();
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .ok()
        .or_else(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    beijing().from_local_datetime(&naive).single().map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_dates_roll_over_at_utc_sixteen() {
        let utc_1559 = parse_beijing("2026-11-23T23:59").unwrap();
        assert_eq!(beijing_date(utc_1559), "2026-11-23");
        assert_eq!(beijing_date(utc_1559 + 60_000), "2026-11-24");
    }

    #[test]
    fn manual_clock_advances() {
        let c = Clock::manual(1_000);
        c.advance_ms(500);
        assert_eq!(c.now_ms(), 1_500);
    }
}
