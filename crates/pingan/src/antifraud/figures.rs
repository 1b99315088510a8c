//! The figures leaders read (DOMAIN.md §5): warnings by grade, kind, station and day; the share
//! of cases contacted on time; the dissuasion rate; money protected; each with its 同比
//! (the same dates a year earlier) and 环比 (the period of equal length just before).
//!
//! Counts only, so callers at any level of the jurisdiction (counts-only included) read them for
//! their own scope. Facts count where they happened: a case's station and unit are those it was
//! routed to when it opened, so redrawing grids changes no earlier figure.
//!
//! Definitions (also in the README):
//! - a warning counts on the Beijing day we received it (history: its upstream time);
//! - a case counts as contacted on time when its first contact came no later than its contact
//!   deadline, among cases whose deadline fell in the period and has passed (history has none);
//! - dissuasion rate = dissuaded ÷ (cases closed in the period − those closed as not fraud).

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::{Grade, Kind, Outcome};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::jurisdiction::{scope_of, Level};
use crate::web::error::AppError;

const DAY_MS: i64 = 86_400_000;
/// Beijing is UTC+8 all year: a day starts at 16:00 UTC the day before.
const BEIJING_MS: i64 = 8 * 3_600_000;
/// A year of days is the longest period a chart of days stays readable.
pub const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FiguresQuery {
    /// First day (Beijing), `YYYY-MM-DD`; default 29 days before `to`.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: Option<String>,
    /// Last day (Beijing), inclusive, `YYYY-MM-DD`; default today.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub to: Option<String>,
}

/// A figure beside the same figure a year earlier (同比) and in the period just before (环比).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct Compared {
    pub value: i64,
    pub year_before: i64,
    pub period_before: i64,
    /// (value − year_before) ÷ year_before; null when there is nothing to compare with.
    pub yoy: Option<f64>,
    /// (value − period_before) ÷ period_before; null when there is nothing to compare with.
    pub mom: Option<f64>,
}

impl Compared {
    fn new(value: i64, year_before: i64, period_before: i64) -> Compared {
        let change = |before: i64| (before > 0).then(|| (value - before) as f64 / before as f64);
        Compared { value, year_before, period_before, yoy: change(year_before), mom: change(period_before) }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KindCount {
    pub kind: Kind,
    pub warnings: i64,
    /// The same kind in the period just before: a kind on the rise shows here first.
    pub period_before: i64,
    /// (warnings − period_before) ÷ period_before; null when there were none before.
    pub mom: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GradeCount {
    pub grade: Grade,
    pub warnings: i64,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct StationFigures {
    /// Null: the city queue (warnings that reached no station).
    pub station_id: Option<i64>,
    pub code: Option<String>,
    pub name: Option<String>,
    pub warnings: i64,
    pub due: i64,
    pub on_time: i64,
    pub closed: i64,
    pub dissuaded: i64,
    pub protected_fen: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayCount {
    /// `YYYY-MM-DD`, Beijing.
    pub date: String,
    pub warnings: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeCount {
    pub outcome: Outcome,
    pub cases: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Figures {
    pub from: String,
    pub to: String,
    pub warnings: Compared,
    pub by_grade: Vec<GradeCount>,
    pub by_kind: Vec<KindCount>,
    pub by_station: Vec<StationFigures>,
    pub by_day: Vec<DayCount>,
    /// Cases closed in the period, by outcome.
    pub outcomes: Vec<OutcomeCount>,
    pub dissuaded: Compared,
    /// Dissuaded ÷ (closed − not fraud); null when no such case closed.
    pub dissuasion_rate: Option<f64>,
    /// Cases whose contact deadline fell in the period (and has passed).
    pub due: i64,
    pub on_time: i64,
    /// on_time ÷ due; null when nothing was due.
    pub on_time_rate: Option<f64>,
    /// Money protected (挽损), fen, of the cases closed in the period.
    pub protected_fen: Compared,
    pub lost_fen: i64,
}

/// The Beijing days [from, to] a query asks for, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn parse(q: &FiguresQuery, today: NaiveDate) -> Result<Period, AppError> {
        let date = |field: &'static str, s: &str| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| AppError::invalid(field, "a date as YYYY-MM-DD, e.g. 2026-11-01"))
        };
        let to = match &q.to {
            Some(s) => date("to", s)?,
            None => today,
        };
        let from = match &q.from {
            Some(s) => date("from", s)?,
            None => to - chrono::Duration::days(29),
        };
        if from > to {
            return Err(AppError::invalid("from", "the first day comes after the last"));
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            return Err(AppError::invalid("from", format!("at most {MAX_DAYS} days at once")));
        }
        if to.year() < 2000 || to > today + chrono::Duration::days(1) {
            return Err(AppError::invalid("to", "a day between 2000 and today"));
        }
        Ok(Period { from, to })
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// [start, end) in UTC milliseconds.
    fn bounds(&self) -> (i64, i64) {
        let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or(0);
        (start(self.from) - BEIJING_MS, start(self.to) + DAY_MS - BEIJING_MS)
    }

    /// The same dates a year earlier (29 February becomes the 28th).
    pub fn year_before(&self) -> Period {
        let back = |d: NaiveDate| d.checked_sub_months(Months::new(12)).unwrap_or(d);
        Period { from: back(self.from), to: back(self.to) }
    }

    /// The period of equal length that ends the day before this one starts.
    pub fn period_before(&self) -> Period {
        let to = self.from - chrono::Duration::days(1);
        Period { from: to - chrono::Duration::days(self.days() - 1), to }
    }
}

/// Who may read figures: anyone who sees people in some part of the organisation, at any level.
fn require_counts(caller: &Caller) -> Result<(), AppError> {
    if [Permission::PeopleRead, Permission::PeopleReadMasked, Permission::PeopleCounts].iter().any(|p| caller.has(*p)) {
        Ok(())
    } else {
        Err(AppError::Forbidden("this needs the permission people:counts".into()))
    }
}

pub async fn figures(state: &AppState, caller: &Caller, q: &FiguresQuery) -> Result<Figures, AppError> {
    require_counts(caller)?;
    let now = state.clock.now_ms();
    let period = Period::parse(q, crate::clock::beijing_today(now))?;
    let nodes = scope_of(state, caller).await?.nodes_sql(Level::CountsOnly);
    let current = Tally::of(state, &nodes, period, now).await?;
    let year = Tally::of(state, &nodes, period.year_before(), now).await?;
    let before = Tally::of(state, &nodes, period.period_before(), now).await?;
    let stations = station_names(state, current.stations.keys().flatten().copied().collect()).await?;
    let (from_ms, _) = period.bounds();
    let first_day = (from_ms + BEIJING_MS) / DAY_MS;
    let by_day = (0..period.days())
        .map(|i| DayCount {
            date: (period.from + chrono::Duration::days(i)).format("%Y-%m-%d").to_string(),
            warnings: current.days.get(&(first_day + i)).copied().unwrap_or(0),
        })
        .collect();
    let closed_fraud: i64 = current.outcomes.iter().filter(|(o, _)| **o != Outcome::NotFraud).map(|(_, n)| n).sum();
    let dissuaded = |t: &Tally| t.outcomes.get(&Outcome::Dissuaded).copied().unwrap_or(0);
    let total = |t: &Tally| t.grades.values().sum::<i64>();
    let due: i64 = current.stations.values().map(|s| s.due).sum();
    let on_time: i64 = current.stations.values().map(|s| s.on_time).sum();
    let mut by_station: Vec<StationFigures> = current
        .stations
        .iter()
        .map(|(id, s)| {
            let (code, name) = id.and_then(|i| stations.get(&i).cloned()).unzip();
            StationFigures { station_id: *id, code, name, ..s.clone() }
        })
        .collect();
    by_station.sort_by(|a, b| b.warnings.cmp(&a.warnings).then(a.code.cmp(&b.code)));
    let mut by_kind: Vec<KindCount> = Kind::ALL
        .iter()
        .map(|k| {
            let (now, then) = (current.kinds.get(k).copied().unwrap_or(0), before.kinds.get(k).copied().unwrap_or(0));
            KindCount { kind: *k, warnings: now, period_before: then, mom: Compared::new(now, 0, then).mom }
        })
        .collect();
    by_kind.sort_by_key(|k| std::cmp::Reverse(k.warnings));
    Ok(Figures {
        from: period.from.format("%Y-%m-%d").to_string(),
        to: period.to.format("%Y-%m-%d").to_string(),
        warnings: Compared::new(total(&current), total(&year), total(&before)),
        by_grade: [Grade::Red, Grade::Yellow, Grade::Blue]
            .iter()
            .map(|g| GradeCount { grade: *g, warnings: current.grades.get(g).copied().unwrap_or(0) })
            .collect(),
        by_kind,
        by_station,
        by_day,
        outcomes: Outcome::ALL
            .iter()
            .map(|o| OutcomeCount { outcome: *o, cases: current.outcomes.get(o).copied().unwrap_or(0) })
            .collect(),
        dissuaded: Compared::new(dissuaded(&current), dissuaded(&year), dissuaded(&before)),
        dissuasion_rate: (closed_fraud > 0).then(|| dissuaded(&current) as f64 / closed_fraud as f64),
        due,
        on_time,
        on_time_rate: (due > 0).then(|| on_time as f64 / due as f64),
        protected_fen: Compared::new(current.protected_fen, year.protected_fen, before.protected_fen),
        lost_fen: current.lost_fen,
    })
}

/// Everything counted for one period, before it is arranged for the answer.
#[derive(Debug, Default)]
struct Tally {
    grades: BTreeMap<Grade, i64>,
    kinds: BTreeMap<Kind, i64>,
    days: BTreeMap<i64, i64>,
    stations: BTreeMap<Option<i64>, StationFigures>,
    outcomes: BTreeMap<Outcome, i64>,
    protected_fen: i64,
    lost_fen: i64,
}

impl Tally {
    /// Four grouped queries over the scope; `nodes` is the scope's subquery of our own ids.
    async fn of(state: &AppState, nodes: &str, period: Period, now: i64) -> Result<Tally, AppError> {
        let db = state.db.reader();
        let (start, end) = period.bounds();
        let mut t = Tally::default();
        let in_period = |column: &str| {
            format!("FROM fraud_warnings w JOIN fraud_cases c ON c.id = w.case_id WHERE w.{column} >= $1 AND w.{column} < $2 AND c.node_id IN ({nodes})")
        };
        let rows: Vec<(String, String, i64)> = sqlx::query_as(&format!(
            "SELECT w.grade, w.kind, COUNT(*) {} GROUP BY w.grade, w.kind",
            in_period("received_at")
        ))
        .bind(start)
        .bind(end)
        .fetch_all(db)
        .await?;
        for (grade, kind, n) in rows {
            *t.grades.entry(Grade::parse(&grade).unwrap_or(Grade::Blue)).or_default() += n;
            *t.kinds.entry(Kind::parse(&kind).unwrap_or(Kind::Other)).or_default() += n;
        }
        let day = format!("(w.received_at + {BEIJING_MS}) / {DAY_MS}");
        let rows: Vec<(i64, i64)> =
            sqlx::query_as(&format!("SELECT {day}, COUNT(*) {} GROUP BY {day}", in_period("received_at")))
                .bind(start)
                .bind(end)
                .fetch_all(db)
                .await?;
        t.days = rows.into_iter().collect();
        let rows: Vec<(Option<i64>, i64)> = sqlx::query_as(&format!(
            "SELECT c.station_id, COUNT(*) {} GROUP BY c.station_id",
            in_period("received_at")
        ))
        .bind(start)
        .bind(end)
        .fetch_all(db)
        .await?;
        for (station, n) in rows {
            t.stations.entry(station).or_default().warnings += n;
        }
        // Sums are cast: PostgreSQL's SUM of a BIGINT is NUMERIC, which the Any driver cannot read.
        type Closed = (Option<i64>, Option<String>, i64, i64, i64);
        let rows: Vec<Closed> = sqlx::query_as(&format!(
            "SELECT c.station_id, c.outcome, COUNT(*), CAST(COALESCE(SUM(c.amount_protected_fen), 0) AS BIGINT), \
             CAST(COALESCE(SUM(c.amount_lost_fen), 0) AS BIGINT) FROM fraud_cases c \
             WHERE c.closed_at >= $1 AND c.closed_at < $2 AND c.node_id IN ({nodes}) GROUP BY c.station_id, c.outcome"
        ))
        .bind(start)
        .bind(end)
        .fetch_all(db)
        .await?;
        for (station, outcome, n, protected, lost) in rows {
            let Some(outcome) = outcome.as_deref().and_then(Outcome::parse) else { continue };
            let s = t.stations.entry(station).or_default();
            s.closed += n;
            s.protected_fen += protected;
            if outcome == Outcome::Dissuaded {
                s.dissuaded += n;
            }
            *t.outcomes.entry(outcome).or_default() += n;
            t.protected_fen += protected;
            t.lost_fen += lost;
        }
        let rows: Vec<(Option<i64>, i64, i64)> = sqlx::query_as(&format!(
            "SELECT c.station_id, COUNT(*), \
             CAST(COALESCE(SUM(CASE WHEN c.first_contact_at <= c.contact_due_at THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM fraud_cases c WHERE c.contact_due_at >= $1 AND c.contact_due_at < $2 AND c.contact_due_at <= $3 \
             AND c.history = 0 AND c.node_id IN ({nodes}) GROUP BY c.station_id"
        ))
        .bind(start)
        .bind(end)
        .bind(now)
        .fetch_all(db)
        .await?;
        for (station, due, on_time) in rows {
            let s = t.stations.entry(station).or_default();
            s.due += due;
            s.on_time += on_time;
        }
        Ok(t)
    }
}

async fn station_names(state: &AppState, ids: Vec<i64>) -> Result<BTreeMap<i64, (String, String)>, AppError> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as(&format!("SELECT id, code, name FROM org_nodes WHERE id IN ({list})"))
            .fetch_all(state.db.reader())
            .await?;
    Ok(rows.into_iter().map(|(id, code, name)| (id, (code, name))).collect())
}

/// "同比上升12.3%", "环比下降5.0%", "同比持平", or "同比无可比" when there was nothing before.
pub fn change_phrase(lang: crate::web::i18n::Lang, label: &str, change: Option<f64>) -> String {
    use crate::web::i18n::Lang;
    match (change, lang) {
        (None, Lang::Zh) => format!("{label}无可比数据"),
        (None, Lang::En) => format!("{label}: nothing to compare"),
        (Some(c), Lang::Zh) if c.abs() < 0.0005 => format!("{label}持平"),
        (Some(c), Lang::En) if c.abs() < 0.0005 => format!("{label}: level"),
        (Some(c), Lang::Zh) => format!("{label}{}{:.1}%", if c > 0.0 { "上升" } else { "下降" }, c.abs() * 100.0),
        (Some(c), Lang::En) => format!("{label}: {}{:.1}%", if c > 0.0 { "up " } else { "down " }, c.abs() * 100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn q(from: Option<&str>, to: Option<&str>) -> FiguresQuery {
        FiguresQuery { from: from.map(String::from), to: to.map(String::from) }
    }

    #[test]
    fn the_default_period_is_the_thirty_days_to_today() {
        let p = Period::parse(&q(None, None), d("2026-12-06")).unwrap();
        assert_eq!((p.from, p.to, p.days()), (d("2026-11-07"), d("2026-12-06"), 30));
    }

    #[test]
    fn comparisons_take_the_same_dates_a_year_back_and_the_equal_period_before() {
        let p = Period::parse(&q(Some("2024-02-01"), Some("2024-02-29")), d("2026-12-06")).unwrap();
        assert_eq!(p.year_before(), Period { from: d("2023-02-01"), to: d("2023-02-28") });
        assert_eq!(p.period_before(), Period { from: d("2024-01-03"), to: d("2024-01-31") });
    }

    #[test]
    fn a_beijing_day_starts_at_sixteen_utc_the_day_before() {
        let p = Period { from: d("2026-12-01"), to: d("2026-12-01") };
        let (start, end) = p.bounds();
        assert_eq!(crate::clock::format_beijing(start), "2026-12-01 00:00:00");
        assert_eq!(end - start, DAY_MS);
    }

    #[test]
    fn bad_periods_are_refused_naming_the_field() {
        let today = d("2026-12-06");
        let field = |r: Result<Period, AppError>| match r {
            Err(AppError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(Period::parse(&q(Some("2026-13-01"), None), today)), "from");
        assert_eq!(field(Period::parse(&q(Some("2026-12-05"), Some("2026-12-01")), today)), "from");
        assert_eq!(field(Period::parse(&q(Some("2024-01-01"), Some("2026-01-01")), today)), "from");
        assert_eq!(field(Period::parse(&q(None, Some("2027-06-01")), today)), "to");
    }

    #[test]
    fn changes_read_as_the_reports_quote_them() {
        use crate::web::i18n::Lang;
        assert_eq!(change_phrase(Lang::Zh, "同比", Compared::new(123, 100, 0).yoy), "同比上升23.0%");
        assert_eq!(change_phrase(Lang::Zh, "环比", Compared::new(95, 0, 100).mom), "环比下降5.0%");
        assert_eq!(change_phrase(Lang::Zh, "环比", Compared::new(5, 0, 0).mom), "环比无可比数据");
        assert_eq!(change_phrase(Lang::Zh, "同比", Compared::new(7, 7, 0).yoy), "同比持平");
    }
}
