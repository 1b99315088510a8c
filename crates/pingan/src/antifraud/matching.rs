//! Who a warning is about and where it goes: matched to a resident by ID number first, by phone
//! only when exactly one resident holds it, never by name; then through the resident's current
//! address to the grid, its responsible officer, the post and the station. Unmatched warnings
//! go to the station the ID number's region code maps to, else to the city queue (the root).
//!
//! Reads base data (residents, phones, tags) and the organisation; writes nothing.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row as _};

use super::model::{MatchKind, Warning};
use super::rules::{age_at, Person};
use crate::pii::{self, DataKey};

/// The person a warning is about, as far as base data tells.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub resident_id: Option<i64>,
    pub kind: MatchKind,
    /// Residents holding the phone, when more than one does (a person chooses).
    pub candidates: Vec<i64>,
    /// Keyed hash of the ID number, else of the phone: who an unmatched case is about.
    pub subject_hash: Option<Vec<u8>>,
    pub person: Person,
}

/// Where a case is worked. `node_id` owns it for jurisdiction: the grid, else the station, else
/// the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Route {
    pub grid_id: Option<i64>,
    pub post_id: Option<i64>,
    pub station_id: Option<i64>,
    pub node_id: i64,
    pub officer_id: Option<i64>,
}

/// The keyed hashes of a warning's identifiers.
pub fn hashes(key: &DataKey, w: &Warning) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    (
        w.id_number.as_ref().map(|id| key.lookup_hash(pii::ID_NUMBER, id.as_str())),
        w.phone.as_ref().map(|p| key.lookup_hash(pii::PHONE, p.as_str())),
    )
}

/// What base data says about a resident a warning may be about: enough to decide the match,
/// grade by age and living alone, and route the case.
#[derive(Debug, Clone)]
pub struct Resident {
    pub id: i64,
    pub id_hash: Option<Vec<u8>>,
    pub birth_date: Option<String>,
    pub living_alone: bool,
    pub route: Route,
}

impl Resident {
    fn person(&self, at: i64) -> Person {
        let birth = self.birth_date.as_deref().and_then(|b| chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").ok());
        Person { age: birth.map(|b| age_at(b, at)), living_alone: self.living_alone }
    }
}

/// The match and route of a warning, given the resident its ID number names (if any) and the
/// holders of its phone (the first twenty by id). One decision for a single warning and a file.
/// No route means the unmatched route: the station of the ID number's region, else the city queue.
pub fn decide(
    w: &Warning,
    id_hash: Option<&[u8]>,
    phone_hash: Option<&[u8]>,
    by_id: Option<&Resident>,
    holders: &[Resident],
) -> (Subject, Option<Route>) {
    let subject_hash = id_hash.or(phone_hash).map(<[u8]>::to_vec);
    let matched = |r: &Resident, kind: MatchKind| {
        let person = r.person(w.event_at);
        let subject =
            Subject { resident_id: Some(r.id), kind, candidates: vec![], subject_hash: subject_hash.clone(), person };
        (subject, Some(r.route))
    };
    if let Some(r) = by_id {
        return matched(r, MatchKind::IdNumber);
    }
    // A holder recorded with another ID number is another person: never matched by the phone.
    let fits: Vec<&Resident> = match phone_hash {
        Some(_) => holders
            .iter()
            .filter(|r| match (&r.id_hash, id_hash) {
                (Some(theirs), Some(ours)) => theirs.as_slice() == ours,
                _ => true,
            })
            .collect(),
        None => vec![],
    };
    let person =
        Person { age: w.id_number.as_ref().map(|id| age_at(id.birth_date(), w.event_at)), living_alone: false };
    match fits.as_slice() {
        [one] => matched(one, MatchKind::Phone),
        [] => {
            let subject =
                Subject { resident_id: None, kind: MatchKind::Unmatched, candidates: vec![], subject_hash, person };
            (subject, None)
        }
        many => {
            // The holders all live in one station's area: that station chooses.
            let route = match many[0].route.station_id {
                Some(s) if many.iter().all(|r| r.route.station_id == Some(s)) => {
                    Some(Route { station_id: Some(s), node_id: s, ..Route::default() })
                }
                _ => None,
            };
            let candidates = many.iter().map(|r| r.id).collect();
            (Subject { resident_id: None, kind: MatchKind::Pending, candidates, subject_hash, person }, route)
        }
    }
}

/// A resident's facts with their route, in one row: the grid (else the resident's unit) owns the
/// case; its responsible officer (the lowest account id when there are several, as
/// [`super::routes::Routes`]); the nearest post and station above it.
const RESIDENT_FACTS: &str = "SELECT r.id, r.id_hash, r.birth_date, \
     (SELECT COUNT(*) FROM resident_tags t WHERE t.resident_id = r.id AND t.tag = 'elderly_alone') AS alone, \
     r.grid_id, COALESCE(r.grid_id, r.node_id) AS owner, \
     (SELECT MIN(g.account_id) FROM grid_team g WHERE g.node_id = r.grid_id AND g.duty = 'responsible') AS officer, \
     (SELECT c.ancestor FROM org_closure c JOIN org_nodes n ON n.id = c.ancestor \
      WHERE c.descendant = COALESCE(r.grid_id, r.node_id) AND n.kind = 'post' ORDER BY c.depth LIMIT 1) AS post, \
     (SELECT c.ancestor FROM org_closure c JOIN org_nodes n ON n.id = c.ancestor \
      WHERE c.descendant = COALESCE(r.grid_id, r.node_id) AND n.kind = 'station' ORDER BY c.depth LIMIT 1) AS station \
     FROM residents r";

fn resident_facts(row: &AnyRow) -> Result<Resident, sqlx::Error> {
    Ok(Resident {
        id: row.try_get("id")?,
        id_hash: row.try_get("id_hash")?,
        birth_date: row.try_get("birth_date")?,
        living_alone: row.try_get::<i64, _>("alone")? > 0,
        route: Route {
            grid_id: row.try_get("grid_id")?,
            post_id: row.try_get("post")?,
            station_id: row.try_get("station")?,
            node_id: row.try_get("owner")?,
            officer_id: row.try_get("officer")?,
        },
    })
}

/// Matches and routes one warning: one query when its ID number names a resident, two or three
/// otherwise (the phone's holders, then the region's station and the city queue).
pub async fn find<'c, E>(
    ex: E,
    w: &Warning,
    id_hash: Option<&[u8]>,
    phone_hash: Option<&[u8]>,
) -> Result<(Subject, Route), sqlx::Error>
where
    E: Executor<'c, Database = Any> + Copy,
{
    let by_id = match id_hash {
        Some(h) => {
            let sql = format!("{RESIDENT_FACTS} WHERE r.id_hash = $1");
            sqlx::query(&sql).bind(h).fetch_optional(ex).await?.map(|row| resident_facts(&row)).transpose()?
        }
        None => None,
    };
    let holders = match (&by_id, phone_hash) {
        (None, Some(p)) => {
            let sql = format!(
                "{RESIDENT_FACTS} JOIN resident_phones p ON p.resident_id = r.id WHERE p.phone_hash = $1 \
                 ORDER BY r.id LIMIT {}",
                super::directory::MAX_HOLDERS
            );
            sqlx::query(&sql).bind(p).fetch_all(ex).await?.iter().map(resident_facts).collect::<Result<_, _>>()?
        }
        _ => vec![],
    };
    let (subject, route) = decide(w, id_hash, phone_hash, by_id.as_ref(), &holders);
    let route = match route {
        Some(r) => r,
        None => route_unmatched(ex, w).await?,
    };
    Ok((subject, route))
}

/// The route of a matched resident (a case matched by hand): as a warning about them is routed.
pub async fn route_resident<'c, E>(ex: E, resident_id: i64) -> Result<Option<Route>, sqlx::Error>
where
    E: Executor<'c, Database = Any> + Copy,
{
    let sql = format!("{RESIDENT_FACTS} WHERE r.id = $1");
    let row = sqlx::query(&sql).bind(resident_id).fetch_optional(ex).await?;
    Ok(row.map(|row| resident_facts(&row)).transpose()?.map(|r| r.route))
}

/// The route of a warning no resident matched: the station of the ID number's region, else the
/// city queue at the root of the organisation.
pub async fn route_unmatched<'c, E>(ex: E, w: &Warning) -> Result<Route, sqlx::Error>
where
    E: Executor<'c, Database = Any> + Copy,
{
    let (station, root): (Option<i64>, i64) = sqlx::query_as(
        "SELECT (SELECT node_id FROM fraud_region_stations WHERE region = $1), \
         (SELECT id FROM org_nodes WHERE parent_id IS NULL ORDER BY id LIMIT 1)",
    )
    .bind(w.id_number.as_ref().map(|id| id.region_code()))
    .fetch_one(ex)
    .await?;
    Ok(Route { grid_id: None, post_id: None, station_id: station, node_id: station.unwrap_or(root), officer_id: None })
}

/// The closest unit of `kind` at or above `node`.
async fn nearest<'c, E>(ex: E, node: i64, kind: &str) -> Result<Option<i64>, sqlx::Error>
where
    E: Executor<'c, Database = Any> + Copy,
{
    sqlx::query_scalar(
        "SELECT c.ancestor FROM org_closure c JOIN org_nodes n ON n.id = c.ancestor \
         WHERE c.descendant = $1 AND n.kind = $2 ORDER BY c.depth LIMIT 1",
    )
    .bind(node)
    .bind(kind)
    .fetch_optional(ex)
    .await
}

/// The branch above a station, for the second step of an escalation.
pub async fn branch_of<'c, E>(ex: E, node: i64) -> Result<Option<i64>, sqlx::Error>
where
    E: Executor<'c, Database = Any> + Copy,
{
    nearest(ex, node, "branch").await
}
