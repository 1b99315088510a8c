//! The nightly chore: forget old sign-in failures and long-dead sessions, then schedule the
//! next night. Keeps the tables that every request reads small.

use crate::app::AppState;
use crate::db::Tx;

pub const KIND: &str = "housekeeping";

/// 03:00 Beijing time after `now`.
pub fn next_run(now: i64) -> i64 {
    let day = 86_400_000;
    // 03:00 at +08:00 is 19:00 UTC the day before.
    let three_am_beijing_utc = 19 * 3_600_000;
    let candidate = now - now.rem_euclid(day) + three_am_beijing_utc;
    if candidate > now {
        candidate
    } else {
        candidate + day
    }
}

pub async fn ensure(state: &AppState) -> Result<(), sqlx::Error> {
    super::ensure_singleton(state, KIND, next_run(state.clock.now_ms())).await
}

pub async fn run(state: &AppState, tx: &mut Tx) -> Result<(), sqlx::Error> {
    let now = state.clock.now_ms();
    sqlx::query("DELETE FROM auth_failures WHERE at < $1").bind(now - 86_400_000).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
        .bind(now - 7 * 86_400_000)
        .execute(&mut **tx)
        .await?;
    // The next night's run, pending from the moment this one commits.
    sqlx::query("INSERT INTO jobs (kind, due_at, payload, singleton, created_at) VALUES ($1, $2, 'null', $1, $3)")
        .bind(KIND)
        .bind(next_run(now))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_at_three_in_the_morning_beijing_time() {
        let at_noon = crate::clock::parse_beijing("2026-11-23T12:00").unwrap();
        assert_eq!(next_run(at_noon), crate::clock::parse_beijing("2026-11-24T03:00").unwrap());
        let at_one = crate::clock::parse_beijing("2026-11-23T01:00").unwrap();
        assert_eq!(next_run(at_one), crate::clock::parse_beijing("2026-11-23T03:00").unwrap());
    }
}
