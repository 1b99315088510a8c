//! Who a warning is about and where it goes: matched to a resident by ID number first, by phone
//! only when exactly one resident holds it, never by name; then through the resident's current
//! address to the grid, its responsible officer, the post and the station. Unmatched warnings
//! go to the station the ID number's region code maps to, else to the city queue (the root).
//!
//! Reads base data (residents, phones, tags) and the organisation; writes nothing.

use sqlx::{Any, Executor};

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

pub async fn find<'c, E>(
    ex: E,
    w: &Warning,
    id_hash: Option<&[u8]>,
    phone_hash: Option<&[u8]>,
) -> Result<Subject, sqlx::Error>
where
    E: Executor<'c, Database = Any> + Copy,
{
    let subject_hash = id_hash.or(phone_hash).map(<[u8]>::to_vec);
    let by_id: Option<i64> = match id_hash {
        Some(h) => sqlx::query_scalar("SELECT id FROM residents WHERE id_hash = $1").bind(h).fetch_optional(ex).await?,
        None => None,
    };
    let unmatched_person =
        Person { age: w.id_number.as_ref().map(|id| age_at(id.birth_date(), w.event_at)), living_alone: false };
    if let Some(id) = by_id {
        let person = person_of(ex, id, w.event_at).await?;
        return Ok(Subject {
            resident_id: Some(id),
            kind: MatchKind::IdNumber,
            candidates: vec![],
            subject_hash,
            person,
        });
    }
    let Some(phone_hash) = phone_hash else {
        return Ok(Subject {
            resident_id: None,
            kind: MatchKind::Unmatched,
            candidates: vec![],
            subject_hash,
            person: unmatched_person,
        });
    };
    // A holder recorded with another ID number is another person: never matched by the phone.
    let holders: Vec<(i64, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT r.id, r.id_hash FROM resident_phones p JOIN residents r ON r.id = p.resident_id \
         WHERE p.phone_hash = $1 ORDER BY r.id LIMIT 20",
    )
    .bind(phone_hash)
    .fetch_all(ex)
    .await?;
    let holders: Vec<i64> = holders
        .into_iter()
        .filter(|(_, h)| match (h, id_hash) {
            (Some(theirs), Some(ours)) => theirs.as_slice() == ours,
            _ => true,
        })
        .map(|(id, _)| id)
        .collect();
    Ok(match holders.as_slice() {
        [one] => {
            let person = person_of(ex, *one, w.event_at).await?;
            Subject { resident_id: Some(*one), kind: MatchKind::Phone, candidates: vec![], subject_hash, person }
        }
        [] => Subject {
            resident_id: None,
            kind: MatchKind::Unmatched,
            candidates: vec![],
            subject_hash,
            person: unmatched_person,
        },
        many => Subject {
            resident_id: None,
            kind: MatchKind::Pending,
            candidates: many.to_vec(),
            subject_hash,
            person: unmatched_person,
        },
    })
}

/// Age at the warning's time and whether the resident lives alone (the 独居老人 tag).
pub async fn person_of<'c, E>(ex: E, resident_id: i64, at: i64) -> Result<Person, sqlx::Error>
where
    E: Executor<'c, Database = Any> + Copy,
{
    let birth: Option<Option<String>> = sqlx::query_scalar("SELECT birth_date FROM residents WHERE id = $1")
        .bind(resident_id)
        .fetch_optional(ex)
        .await?;
    let alone: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM resident_tags WHERE resident_id = $1 AND tag = 'elderly_alone'")
            .bind(resident_id)
            .fetch_one(ex)
            .await?;
    let age =
        birth.flatten().and_then(|b| chrono::NaiveDate::parse_from_str(&b, "%Y-%m-%d").ok()).map(|b| age_at(b, at));
    Ok(Person { age, living_alone: alone > 0 })
}

/// The route of a matched resident: their grid (from the current address), its responsible
/// officer, and the post and station above it.
pub async fn route_resident<'c, E>(ex: E, resident_id: i64) -> Result<Option<Route>, sqlx::Error>
where
    E: Executor<'c, Database = Any> + Copy,
{
    let row: Option<(Option<i64>, i64)> = sqlx::query_as("SELECT grid_id, node_id FROM residents WHERE id = $1")
        .bind(resident_id)
        .fetch_optional(ex)
        .await?;
    let Some((grid_id, node_id)) = row else { return Ok(None) };
    let owner = grid_id.unwrap_or(node_id);
    let officer_id: Option<i64> = match grid_id {
        Some(g) => {
            sqlx::query_scalar("SELECT account_id FROM grid_team WHERE node_id = $1 AND duty = 'responsible'")
                .bind(g)
                .fetch_optional(ex)
                .await?
        }
        None => None,
    };
    Ok(Some(Route {
        grid_id,
        post_id: nearest(ex, owner, "post").await?,
        station_id: nearest(ex, owner, "station").await?,
        node_id: owner,
        officer_id,
    }))
}

/// The route of a warning no resident matched: the station of the ID number's region, else the
/// city queue at the root of the organisation.
pub async fn route_unmatched<'c, E>(ex: E, w: &Warning) -> Result<Route, sqlx::Error>
where
    E: Executor<'c, Database = Any> + Copy,
{
    let station: Option<i64> = match &w.id_number {
        Some(id) => {
            sqlx::query_scalar("SELECT node_id FROM fraud_region_stations WHERE region = $1")
                .bind(id.region_code())
                .fetch_optional(ex)
                .await?
        }
        None => None,
    };
    let node_id = match station {
        Some(s) => s,
        None => {
            sqlx::query_scalar("SELECT id FROM org_nodes WHERE parent_id IS NULL ORDER BY id LIMIT 1")
                .fetch_one(ex)
                .await?
        }
    };
    Ok(Route { grid_id: None, post_id: None, station_id: station, node_id, officer_id: None })
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
