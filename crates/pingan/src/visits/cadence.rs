//! The 挂钩 cadence of DOMAIN.md §2 over Beijing calendar periods: contact the village's cadres
//! at least once a week, work on site at least once a month, a concrete deed each quarter.

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clock::beijing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DutyKind {
    /// 联系村(社区)干部: at least once a week.
    Contact,
    /// 驻村(社区)工作: at least once a month.
    OnSite,
    /// 为群众办实事: at least once a quarter.
    Deed,
}

impl DutyKind {
    pub const ALL: [DutyKind; 3] = [DutyKind::Contact, DutyKind::OnSite, DutyKind::Deed];

    pub fn code(self) -> &'static str {
        match self {
            DutyKind::Contact => "contact",
            DutyKind::OnSite => "on_site",
            DutyKind::Deed => "deed",
        }
    }

    pub fn parse(s: &str) -> Option<DutyKind> {
        DutyKind::ALL.into_iter().find(|k| k.code() == s)
    }

    pub fn label(self, zh: bool) -> &'static str {
        match (self, zh) {
            (DutyKind::Contact, true) => "联系干部",
            (DutyKind::OnSite, true) => "驻村工作",
            (DutyKind::Deed, true) => "办实事",
            (DutyKind::Contact, false) => "Contact",
            (DutyKind::OnSite, false) => "On site",
            (DutyKind::Deed, false) => "Deed",
        }
    }

    /// The Beijing-calendar period holding `at`, as [start, end) in UTC milliseconds.
    pub fn period(self, at_ms: i64) -> (i64, i64) {
        let day = beijing().timestamp_millis_opt(at_ms).single().map(|t| t.date_naive()).unwrap_or_default();
        let (start, end) = match self {
            DutyKind::Contact => {
                let monday = day - Duration::days(day.weekday().num_days_from_monday() as i64);
                (monday, monday + Duration::days(7))
            }
            DutyKind::OnSite => {
                let first = day.with_day(1).expect("BUG: day 1 exists");
                (first, add_months(first, 1))
            }
            DutyKind::Deed => {
                let q = (day.month0() / 3) * 3 + 1;
                let first = NaiveDate::from_ymd_opt(day.year(), q, 1).expect("BUG: quarter start exists");
                (first, add_months(first, 3))
            }
        };
        (midnight(start), midnight(end))
    }
}

fn add_months(d: NaiveDate, n: u32) -> NaiveDate {
    let m = d.month0() + n;
    NaiveDate::from_ymd_opt(d.year() + (m / 12) as i32, m % 12 + 1, 1).expect("BUG: month start exists")
}

fn midnight(d: NaiveDate) -> i64 {
    beijing()
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("BUG: midnight exists"))
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// Where a link stands for one kind of duty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Done in the current period.
    Done,
    /// Not yet done this period, and the previous period was met (or the link is newer).
    Due,
    /// The previous period passed without it: overdue.
    Overdue,
}

/// `last` is the newest duty of this kind (if any); `since` when the link began.
pub fn standing(kind: DutyKind, now: i64, since: i64, last: Option<i64>) -> Standing {
    let (start, _) = kind.period(now);
    if last.is_some_and(|t| t >= start) {
        return Standing::Done;
    }
    let (previous_start, _) = kind.period(start - 1);
    // A link made during the previous period had no full period to meet yet.
    if since >= previous_start || last.is_some_and(|t| t >= previous_start) {
        Standing::Due
    } else {
        Standing::Overdue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_beijing;

    fn at(s: &str) -> i64 {
        parse_beijing(s).unwrap()
    }

    #[test]
    fn periods_are_beijing_weeks_months_and_quarters() {
        // 2026-11-23 is a Monday.
        assert_eq!(DutyKind::Contact.period(at("2026-11-25T10:00")), (at("2026-11-23"), at("2026-11-30")));
        assert_eq!(DutyKind::Contact.period(at("2026-11-23T00:00")).0, at("2026-11-23"));
        assert_eq!(DutyKind::OnSite.period(at("2026-12-31T23:59")), (at("2026-12-01"), at("2027-01-01")));
        assert_eq!(DutyKind::Deed.period(at("2026-11-23T08:00")), (at("2026-10-01"), at("2027-01-01")));
        assert_eq!(DutyKind::Deed.period(at("2026-02-01T08:00")), (at("2026-01-01"), at("2026-04-01")));
    }

    #[test]
    fn a_missed_previous_period_is_overdue_and_a_new_link_is_only_due() {
        let now = at("2026-11-25T09:00");
        let long_ago = at("2026-01-01");
        assert_eq!(standing(DutyKind::Contact, now, long_ago, Some(at("2026-11-24T09:00"))), Standing::Done);
        assert_eq!(standing(DutyKind::Contact, now, long_ago, Some(at("2026-11-18T09:00"))), Standing::Due);
        assert_eq!(standing(DutyKind::Contact, now, long_ago, Some(at("2026-11-10T09:00"))), Standing::Overdue);
        assert_eq!(standing(DutyKind::Contact, now, long_ago, None), Standing::Overdue);
        assert_eq!(standing(DutyKind::Contact, now, at("2026-11-20T09:00"), None), Standing::Due);
        assert_eq!(standing(DutyKind::Deed, now, long_ago, Some(at("2026-08-15T09:00"))), Standing::Due);
    }
}
