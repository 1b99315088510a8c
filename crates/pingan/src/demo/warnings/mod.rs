//! A year of anti-fraud work already done in the demo city: warnings over the 400 days before
//! `now` (so the last month has a year-ago month to compare with), merged into cases that were
//! worked live and closed (contacted on time or late, visited when red, escalated when late,
//! each with an outcome), so the queue's history, the case pages and the figures have data.
//!
//! Written with batched INSERTs: through the intake path one warning costs several statements,
//! minutes at city scale. The rows are what intake and case work write for a live case
//! (`history = 0`, deadlines from [`Deadlines::default`], grades from [`rules::grade`]).
//! Identifiers are copied as stored on the resident (ciphertext and keyed hash), never decrypted.

mod rows;

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Weekday};

use super::bulk;
use super::fraud;
use super::names::{self, Lcg};
use super::routes::Places;
use crate::antifraud::model::{Grade, MatchKind, Outcome, Reason};
use crate::antifraud::rules::{self, age_at, Deadlines, GradingRules, Person};
use crate::clock::{beijing, beijing_today};
use crate::db::{Backend, Tx};
use crate::pii::{self, DataKey};
use rows::{CaseRow, Ids, Line, WarningRow};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
/// Back this far, so the last month has the same month a year before to compare with.
pub const HISTORY_DAYS: i64 = 400;
/// One case in eight has two or three warnings.
const WARNINGS_PER_CASE: f64 = 1.0 + 1.5 / 8.0;
/// Where the people no demo resident matches come from: outside Henan, so never a resident.
const ELSEWHERE: [&str; 6] = ["440305", "330106", "320583", "510107", "350203", "110105"];

/// A demo resident a warning can be about, identifiers as stored.
#[derive(sqlx::FromRow)]
struct Resident {
    id: i64,
    name: String,
    grid_id: Option<i64>,
    node_id: i64,
    birth_date: Option<String>,
    id_enc: Option<Vec<u8>>,
    id_hash: Option<Vec<u8>>,
    id_head: Option<String>,
    id_tail: Option<String>,
    alone: i64,
    phone_enc: Option<Vec<u8>>,
    phone_hash: Option<Vec<u8>>,
    phone_masked: Option<String>,
    /// How many residents hold the phone: only a phone one resident holds matches.
    holders: i64,
}

/// About `total` warnings over the [`HISTORY_DAYS`] before `now`, deterministic in `seed`.
pub async fn seed(tx: &mut Tx, backend: Backend, key: &DataKey, seed: u64, now: i64, total: u64) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut rng = Lcg(seed ^ 0x4652_4155);
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM residents WHERE id_hash IS NOT NULL ORDER BY id")
        .fetch_all(&mut **tx)
        .await?;
    if ids.is_empty() {
        return Ok(());
    }
    let plan = plan(&mut rng, now, total);
    let picks: Vec<i64> = plan.iter().map(|_| ids[(rng.next() as usize) % ids.len()]).collect();
    let residents = residents(tx, &picks).await?;
    let places = Places::load(tx).await?;
    let mut out = Out {
        next_case: bulk::next_id(tx, "fraud_cases").await?,
        next_warning: bulk::next_id(tx, "fraud_warnings").await?,
        cases: Vec::with_capacity(plan.len()),
        warnings: Vec::with_capacity(plan.len() * 5 / 4),
        lines: Vec::with_capacity(plan.len() * 4),
        now,
        today: beijing_today(now),
    };
    for (n, ((opened, t), resident)) in plan.into_iter().zip(picks).enumerate() {
        let r = &residents[&resident];
        out.case(&mut rng, key, &places, r, n, opened, t);
    }
    rows::insert(tx, backend, &out.cases, &out.warnings, &out.lines).await?;
    bulk::move_sequences(tx, backend, &["fraud_cases", "fraud_warnings"]).await?;
    // Measured, since it adds to every full demo's build time.
    let ms = started.elapsed().as_millis() as u64;
    tracing::info!(warnings = out.warnings.len(), cases = out.cases.len(), ms, "demo fraud history written");
    Ok(())
}

/// When each case opened, and how far through the year (0 to 1) that is: a slight rise over the
/// year, fewer at weekends, most in waking hours.
fn plan(rng: &mut Lcg, now: i64, total: u64) -> Vec<(i64, f64)> {
    let today = beijing_today(now);
    let weight = |ago: i64, day: NaiveDate| {
        let trend = 1.0 + 0.3 * (HISTORY_DAYS - ago) as f64 / HISTORY_DAYS as f64;
        let week = match day.weekday() {
            Weekday::Sat => 0.85,
            Weekday::Sun => 0.75,
            Weekday::Mon => 1.1,
            _ => 1.0,
        };
        trend * week
    };
    let days: Vec<(i64, NaiveDate)> = (1..=HISTORY_DAYS).rev().map(|ago| (ago, today - Duration::days(ago))).collect();
    let per_weight = total as f64 / WARNINGS_PER_CASE / days.iter().map(|(a, d)| weight(*a, *d)).sum::<f64>();
    let mut out = Vec::new();
    for (ago, day) in days {
        let midnight = beijing()
            .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("BUG: midnight exists"))
            .single()
            .map_or(now - ago * 24 * HOUR_MS, |t| t.timestamp_millis());
        let n = (per_weight * weight(ago, day) + rng.unit()).floor() as usize;
        let mut times: Vec<i64> = (0..n)
            .map(|_| {
                let hour = if rng.next() % 100 < 90 { 7 + rng.next() % 16 } else { rng.next() % 24 };
                midnight + hour as i64 * HOUR_MS + (rng.next() % HOUR_MS as u64) as i64
            })
            .collect();
        times.sort_unstable();
        let t = (HISTORY_DAYS - ago) as f64 / HISTORY_DAYS as f64;
        out.extend(times.into_iter().map(|at| (at, t)));
    }
    out
}

/// The picked residents with their first phone and how many hold it, read 500 at a time.
async fn residents(tx: &mut Tx, picks: &[i64]) -> anyhow::Result<HashMap<i64, Resident>> {
    let mut wanted = picks.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(500) {
        // Our own integer ids, written into the SQL: no text from outside.
        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let rows: Vec<Resident> = sqlx::query_as(&format!(
            "SELECT r.id, r.name, r.grid_id, r.node_id, r.birth_date, r.id_enc, r.id_hash, r.id_head, r.id_tail, \
             (SELECT COUNT(*) FROM resident_tags t WHERE t.resident_id = r.id AND t.tag = 'elderly_alone') AS alone, \
             p.phone_enc, p.phone_hash, p.phone_masked, \
             (SELECT COUNT(*) FROM resident_phones q WHERE q.phone_hash = p.phone_hash) AS holders \
             FROM residents r LEFT JOIN resident_phones p ON p.resident_id = r.id AND p.ord = 0 \
             WHERE r.id IN ({list})"
        ))
        .fetch_all(&mut **tx)
        .await?;
        out.extend(rows.into_iter().map(|r| (r.id, r)));
    }
    Ok(out)
}

struct Out {
    next_case: i64,
    next_warning: i64,
    cases: Vec<CaseRow>,
    warnings: Vec<WarningRow>,
    lines: Vec<Line>,
    now: i64,
    today: NaiveDate,
}

impl Out {
    /// One case about `r` (or, one time in twenty, about someone no resident matches), its
    /// warnings, and the work that closed it.
    #[allow(clippy::too_many_arguments)]
    fn case(&mut self, rng: &mut Lcg, key: &DataKey, places: &Places, r: &Resident, n: usize, opened: i64, t: f64) {
        let id = self.next_case;
        self.next_case += 1;
        let roll = rng.next() % 100;
        let (ids, match_kind, resident, route, birth, alone) = if roll < 5 {
            let (ids, birth) = stranger(rng, key, n, self.today);
            let route = places.unmatched(&birth.1);
            (ids, MatchKind::Unmatched, None, route, Some(birth.0), false)
        } else {
            let by_phone = roll < 15 && r.holders == 1;
            let with_phone = by_phone || rng.next().is_multiple_of(2);
            let ids = Ids {
                name: Some(r.name.clone()),
                id_enc: r.id_enc.clone().filter(|_| !by_phone),
                id_hash: r.id_hash.clone().filter(|_| !by_phone),
                id_head: r.id_head.clone().filter(|_| !by_phone),
                id_tail: r.id_tail.clone().filter(|_| !by_phone),
                phone_enc: r.phone_enc.clone().filter(|_| with_phone),
                phone_hash: r.phone_hash.clone().filter(|_| with_phone),
                phone_masked: r.phone_masked.clone().filter(|_| with_phone),
            };
            let kind = if by_phone { MatchKind::Phone } else { MatchKind::IdNumber };
            let birth = r.birth_date.as_deref().and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok());
            (ids, kind, Some(r.id), places.resident(r.grid_id, r.node_id), birth, r.alone > 0)
        };
        let subject_hash = ids.id_hash.clone().or_else(|| ids.phone_hash.clone());
        let count = if rng.next().is_multiple_of(8) { 2 + rng.next() % 2 } else { 1 };
        let kind = fraud::kind(rng, t);
        let (rules, deadlines) = (GradingRules::default(), Deadlines::default());
        let (mut grade, mut reasons, mut last) = (Grade::Blue, Vec::<Reason>::new(), opened);
        let (mut contact_due, mut visit_due) = (i64::MAX, None::<i64>);
        let mut protected_now = None;
        for k in 0..count {
            // Later warnings come within the 72-hour merge window, and never after now.
            let received = if k == 0 { opened } else { last + HOUR_MS + (rng.next() % (34 * HOUR_MS as u64)) as i64 };
            if received > self.now - HOUR_MS {
                break;
            }
            let event_at = received - MINUTE_MS - (rng.next() % (30 * MINUTE_MS as u64)) as i64;
            let this_kind = if rng.next().is_multiple_of(5) { fraud::kind(rng, t) } else { kind };
            let signal = fraud::signal(rng);
            let w = fraud::warning(rng, format!("demo-{id}-{k}"), event_at, this_kind, signal);
            let person = Person { age: birth.map(|b| age_at(b, event_at)), living_alone: alone };
            let (g, why) = rules::grade(&w, person, &rules);
            if k == 0 || g > grade {
                // A rise brings the deadlines forward, from this warning's receipt; never back.
                let (c, v) = deadlines.due(g, received);
                contact_due = contact_due.min(c);
                visit_due = match (visit_due, v) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                grade = g;
            }
            reasons.extend(why.iter().filter(|r| !reasons.contains(r)).copied().collect::<Vec<_>>());
            protected_now = protected_now.or(w.amount_fen);
            last = received;
            self.lines.push((id, received, None, "warning", Some(g.code()), "", None));
            let warning_id = self.next_warning;
            self.next_warning += 1;
            self.warnings.push(WarningRow {
                id: warning_id,
                w,
                received,
                ids: ids.clone(),
                grade: g,
                reasons: rules::reasons_code(&why),
                match_kind,
                case_id: id,
            });
        }
        let mut case = CaseRow {
            id,
            resident,
            subject_hash,
            opened,
            last,
            warnings: self.warnings.iter().rev().take_while(|w| w.case_id == id).count() as i64,
            grade,
            reasons: rules::reasons_code(&reasons),
            kind,
            match_kind,
            route,
            contact_due,
            visit_due,
            first_contact: None,
            visited: None,
            escalation: 0,
            outcome: fraud::outcome(rng),
            protected: None,
            lost: None,
            closed_at: 0,
            closed_by: places.closer(&route),
        };
        self.work(rng, &mut case, protected_now);
        self.cases.push(case);
    }

    /// The contact (nine in ten on time), the visit a red case needs, the escalations a late
    /// step set off, and the outcome.
    fn work(&mut self, rng: &mut Lcg, c: &mut CaseRow, money_moving: Option<i64>) {
        let cap = |t: i64| t.min(self.now - MINUTE_MS);
        let mut frac = |lo: f64, hi: f64| lo + (hi - lo) * rng.unit();
        let officer = Some(c.closed_by);
        let reached = c.outcome != Outcome::Unreachable;
        let window = c.contact_due - c.opened;
        let on_time = frac(0.0, 1.0) < 0.9;
        if reached {
            let at = if on_time {
                c.opened + (window as f64 * frac(0.1, 0.9)) as i64
            } else {
                c.contact_due + (window.max(30 * MINUTE_MS) as f64 * frac(0.1, 1.5)) as i64
            };
            c.first_contact = Some(cap(at));
            self.lines.push((c.id, cap(at), officer, "call", Some("reached"), "电话联系本人，告知诈骗风险", None));
        }
        if let (Some(due), Some(contact)) = (c.visit_due, c.first_contact) {
            let at = if frac(0.0, 1.0) < 0.9 {
                c.opened + ((due - c.opened) as f64 * frac(0.3, 0.95)) as i64
            } else {
                due + (frac(10.0, 180.0) * MINUTE_MS as f64) as i64
            };
            let at = cap(at.max(contact));
            c.visited = Some(at);
            self.lines.push((c.id, at, officer, "visit", Some("reached"), "上门见面劝阻", None));
        }
        let done = c.first_contact.or(c.visited).unwrap_or(c.opened).max(c.visited.unwrap_or(0));
        let closed = if reached {
            done + (frac(0.5, 48.0) * HOUR_MS as f64) as i64
        } else {
            c.opened + (frac(24.0, 72.0) * HOUR_MS as f64) as i64
        };
        c.closed_at = cap(closed.max(done));
        if !reached {
            for k in 1..=2 {
                let at = c.opened + (c.closed_at - c.opened) * k / 3;
                self.lines.push((c.id, at, officer, "call", Some("not_reached"), "电话无人接听", None));
            }
        }
        c.escalation = self.overdue(c, "contact", c.contact_due, c.first_contact);
        if let Some(due) = c.visit_due {
            c.escalation = c.escalation.max(self.overdue(c, "visit", due, c.visited));
        }
        match c.outcome {
            Outcome::Dissuaded => {
                // As the close form stores it: 0 when the officer stated no sum.
                let stated = (rng.next() % 100 < 60).then(|| fraud::yuan(rng, 300, 300_000) * 100);
                c.protected = Some(money_moving.or(stated).unwrap_or(0));
            }
            Outcome::Defrauded => c.lost = Some(fraud::yuan(rng, 1_000, 200_000) * 100),
            Outcome::Unreachable | Outcome::NotFraud => {}
        }
        let note = fraud::closing_note(rng, c.outcome);
        self.lines.push((c.id, c.closed_at, officer, "closed", Some(c.outcome.code()), note, c.protected.or(c.lost)));
    }

    /// The escalations a step undone at `due` set off, as the deadline jobs write them: the
    /// station head (or the city commander) at once, the branch 30 minutes later.
    fn overdue(&mut self, c: &CaseRow, step: &'static str, due: i64, done: Option<i64>) -> i64 {
        let undone_at = |t: i64| done.is_none_or(|d| d > t) && t < c.closed_at;
        if !undone_at(due) {
            return 0;
        }
        let (station, first) = match (c.route.station_id, step) {
            (Some(_), "contact") => ("contact:station", "station_head"),
            (Some(_), _) => ("visit:station", "station_head"),
            (None, "contact") => ("contact:station", "city_commander"),
            (None, _) => ("visit:station", "city_commander"),
        };
        self.lines.push((c.id, due, None, "escalated", Some(station), first, None));
        let branch_at = due + Deadlines::default().branch_after_minutes * MINUTE_MS;
        if c.route.station_id.is_none() || !undone_at(branch_at) {
            return 1;
        }
        let result = if step == "contact" { "contact:branch" } else { "visit:branch" };
        self.lines.push((c.id, branch_at, None, "escalated", Some(result), "branch_leader", None));
        2
    }
}

/// Someone no demo resident matches: a valid ID number from outside Henan. Returns the
/// identifiers and (birth date, region).
fn stranger(rng: &mut Lcg, key: &DataKey, n: usize, today: NaiveDate) -> (Ids, (NaiveDate, String)) {
    // The sequence digits and region count up with `n`, so no two strangers share a number.
    let region = ELSEWHERE[(n / 1000) % ELSEWHERE.len()];
    let birth = NaiveDate::from_ymd_opt(1950 + (rng.next() % 55) as i32, 1 + (rng.next() % 12) as u32, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new(rng.next() % 28)))
        .expect("BUG: the first 28 days of a month exist");
    let number = super::base::with_check(&format!("{region}{}{:03}", birth.format("%Y%m%d"), n % 1000));
    let id = crate::pii::id_number::IdNumber::parse(&number, today).expect("BUG: a checked demo ID number parses");
    let ids = Ids {
        name: Some(names::person(rng)),
        id_enc: Some(key.encrypt_str(id.as_str())),
        id_hash: Some(key.lookup_hash(pii::ID_NUMBER, id.as_str())),
        id_head: Some(id.as_str()[..4].to_string()),
        id_tail: Some(id.as_str()[14..].to_string()),
        ..Ids::default()
    };
    (ids, (birth, region.to_string()))
}
