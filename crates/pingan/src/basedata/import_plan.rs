//! The second half of an import: resolving each checked row against the file and the database
//! (same person, same address, same house), then writing everything in one transaction.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet};

use sqlx::Row as _;

use super::area::{Checker, Placed};
use super::import::{row_error, Progress, ResidentImportReport, Row};
use super::model::{address_key, DatumCode, HouseRelation, HouseUse, Tag};
use super::resident::{self, Resident};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::db::bulk::Value;
use crate::grids::index::LoadedIndex;
use crate::jurisdiction::{scope_of, Level};
use crate::pii::{self, mask::Phone, DataKey};
use crate::web::error::AppError;

#[derive(Clone, Copy)]
enum AddressRef {
    Existing { id: i64, grid: Option<i64>, node: i64 },
    New(usize),
}

struct NewAddress {
    text: String,
    /// `address_key(text)`, computed once per row when the file was resolved.
    key: String,
    placed: Placed,
    datum: DatumCode,
    node: i64,
}

#[derive(Clone, Copy)]
enum HouseRef {
    Existing(i64),
    New(usize),
}

struct NewHouse {
    address: AddressRef,
    unit: String,
    use_kind: HouseUse,
}

struct NewResident {
    /// The row of [`Plan::rows`] that holds the person.
    at: usize,
    /// The ID number's keyed hash, computed once when the file was read.
    id_hash: Option<[u8; 32]>,
    address: AddressRef,
    house: Option<HouseRef>,
}

struct Merge {
    id: i64,
    phones: Vec<Phone>,
    tags: Vec<Tag>,
}

pub(super) struct Plan {
    /// The file's rows, where they were read: a million of them moved into new lists was a
    /// third of the planning, most of it the kernel handing out fresh pages.
    rows: Vec<Row>,
    addresses: Vec<NewAddress>,
    houses: Vec<NewHouse>,
    residents: Vec<NewResident>,
    merges: Vec<Merge>,
}

fn union<T: PartialEq + Clone>(into: &mut Vec<T>, more: &[T]) {
    for m in more {
        if !into.contains(m) {
            into.push(m.clone());
        }
    }
}

/// What the plan decided for one row of the file, step by step.
#[derive(Clone, Copy)]
enum Fate {
    /// Not written: merged into an earlier row of the file, or refused with a row error.
    Dropped,
    /// A person already recorded: the row adds phones and tags to resident `id`.
    Merge(i64),
    /// A new person, not yet placed at an address.
    Fresh,
    /// A new person at this address.
    At(AddressRef),
}

/// Resolves rows into what to write, adding row errors to `report` for rows that cannot be.
/// Each row stays where it was read and the plan names it by its index: at a million rows,
/// moving them from one list to the next at each step (each list fresh memory) was a third of
/// this phase.
pub(super) async fn plan(
    state: &AppState,
    caller: &Caller,
    mut rows: Vec<Row>,
    grids: GridIndexSoon,
    report: &mut ResidentImportReport,
) -> Result<Plan, AppError> {
    let scope = scope_of(state, caller).await?;
    let writable: HashSet<i64> = sqlx::query_scalar::<_, i64>(&scope.nodes_sql(Level::Masked))
        .fetch_all(state.db.reader())
        .await?
        .into_iter()
        .collect();
    let mut fates = vec![Fate::Fresh; rows.len()];
    // 1. One person per ID number within the file: the first row stays, later ones add phones and tags.
    // Each row's ID number's keyed hash, computed once.
    let hashes: Vec<Option<[u8; 32]>> = rows
        .iter()
        .map(|r| r.resident.id_number.as_ref().map(|id| hash_key(&state.key.lookup_hash(pii::ID_NUMBER, id.as_str()))))
        .collect();
    let mut by_hash: HashMap<[u8; 32], usize> = HashMap::with_capacity(rows.len());
    for (at, hash) in hashes.iter().enumerate() {
        let Some(hash) = hash else { continue };
        match by_hash.get(hash) {
            Some(&first) => {
                let phones = std::mem::take(&mut rows[at].resident.phones);
                let tags = std::mem::take(&mut rows[at].resident.tags);
                union(&mut rows[first].resident.phones, &phones);
                union(&mut rows[first].resident.tags, &tags);
                fates[at] = Fate::Dropped;
                report.merged += 1;
            }
            None => {
                by_hash.insert(*hash, at);
            }
        }
    }
    // 2. People already recorded keep their record; the file adds phones and tags.
    let existing = lookup(
        state,
        "residents",
        || by_hash.keys().map(|k| k.to_vec()).collect(),
        |m| format!("SELECT id_hash, id, node_id FROM residents WHERE id_hash IN ({m})"),
        |r| Ok((r.try_get::<Vec<u8>, _>(0)?, (r.try_get::<i64, _>(1)?, r.try_get::<i64, _>(2)?))),
    )
    .await?;
    drop(by_hash);
    if !existing.is_empty() {
        for (at, fate) in fates.iter_mut().enumerate() {
            let Some(hash) = hashes[at].filter(|_| matches!(fate, Fate::Fresh)) else { continue };
            match existing.get(hash.as_slice()) {
                Some(&(id, node)) if writable.contains(&node) => {
                    *fate = Fate::Merge(id);
                    report.merged += 1;
                }
                Some(_) => {
                    *fate = Fate::Dropped;
                    report.errors.push(row_error(
                        rows[at].line,
                        "id_number",
                        "this person is recorded by a unit outside your jurisdiction; ask the bureau to transfer the record",
                    ));
                }
                None => {}
            }
        }
    }
    // 3. Addresses by standard text: existing ones keep their point; new ones need one.
    let mut keys: Vec<String> = rows
        .iter()
        .zip(&fates)
        .map(|(row, fate)| if matches!(fate, Fate::Fresh) { address_key(&row.address) } else { String::new() })
        .collect();
    let known = lookup(
        state,
        "addresses",
        || {
            let mut wanted: Vec<String> =
                keys.iter().zip(&fates).filter(|(_, f)| matches!(f, Fate::Fresh)).map(|(k, _)| k.clone()).collect();
            wanted.sort_unstable();
            wanted.dedup();
            wanted
        },
        |m| format!("SELECT text_key, id, grid_id, node_id FROM addresses WHERE text_key IN ({m})"),
        |r| {
            Ok((
                r.try_get::<String, _>(0)?,
                (r.try_get::<i64, _>(1)?, r.try_get::<Option<i64>, _>(2)?, r.try_get::<i64, _>(3)?),
            ))
        },
    )
    .await?;
    let checker = Checker::load(state).await?;
    let index = grids.get().await?;
    let mut addresses: Vec<NewAddress> = Vec::new();
    let mut address_of: HashMap<String, AddressRef> = HashMap::with_capacity(rows.len());
    for (at, row) in rows.iter_mut().enumerate() {
        if !matches!(fates[at], Fate::Fresh) {
            continue;
        }
        let key = std::mem::take(&mut keys[at]);
        if let Some(a) = address_of.get(&key) {
            fates[at] = Fate::At(*a);
            continue;
        }
        let a = match known.get(&key) {
            Some(&(id, grid, node)) if writable.contains(&node) => AddressRef::Existing { id, grid, node },
            Some(_) => {
                report.errors.push(row_error(
                    row.line,
                    "address",
                    "this address is recorded outside your jurisdiction",
                ));
                fates[at] = Fate::Dropped;
                continue;
            }
            None => {
                let Some((lon, lat, datum)) = row.point else {
                    report.errors.push(row_error(
                        row.line,
                        "lon",
                        "a new address needs its longitude and latitude (经度, 纬度)",
                    ));
                    fates[at] = Fate::Dropped;
                    continue;
                };
                let p = match checker.check(lon, lat, datum.into()) {
                    Ok(p) => p,
                    Err(AppError::Invalid { reason, .. }) => {
                        report.errors.push(row_error(row.line, "lon", reason));
                        fates[at] = Fate::Dropped;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let grid = index.index.locate(p).and_then(|c| index.nodes.get(c)).map(|(id, _)| *id);
                if grid.is_some_and(|g| !writable.contains(&g)) {
                    report.errors.push(row_error(
                        row.line,
                        "lon",
                        "the point lies in a grid outside your jurisdiction",
                    ));
                    fates[at] = Fate::Dropped;
                    continue;
                }
                let node = grid.unwrap_or(caller.node_id);
                addresses.push(NewAddress {
                    text: std::mem::take(&mut row.address),
                    key: key.clone(),
                    placed: Placed { lon: p.x(), lat: p.y(), grid_id: grid },
                    datum,
                    node,
                });
                AddressRef::New(addresses.len() - 1)
            }
        };
        address_of.insert(key, a);
        fates[at] = Fate::At(a);
    }
    drop((keys, address_of));
    // 4. Houses by (address, unit).
    let existing_addresses: Vec<i64> = rows
        .iter()
        .zip(&fates)
        .filter_map(|(r, fate)| match fate {
            Fate::At(AddressRef::Existing { id, .. }) if r.unit.is_some() => Some(*id),
            _ => None,
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut known_houses: HashMap<(i64, String), i64> = HashMap::new();
    for chunk in existing_addresses.chunks(500) {
        let marks = crate::db::bulk::marks(state.db.backend, 1, chunk.len());
        let sql = format!("SELECT address_id, unit, id FROM houses WHERE address_id IN ({marks})");
        let mut q = sqlx::query_as::<_, (i64, String, i64)>(&sql);
        for a in chunk {
            q = q.bind(*a);
        }
        for (a, u, id) in q.fetch_all(state.db.reader()).await? {
            known_houses.insert((a, u), id);
        }
    }
    let mut houses: Vec<NewHouse> = Vec::new();
    // Houses of this file by (address, unit); an address is its id, or a new one its index
    // below zero, so an existing address's key is also the key of `known_houses`.
    let mut house_of: HashMap<(i64, String), HouseRef> = HashMap::with_capacity(rows.len());
    let placed = fates.iter().filter(|f| matches!(f, Fate::At(_))).count();
    let mut residents = Vec::with_capacity(placed);
    let mut merges = Vec::new();
    for ((at, fate), id_hash) in fates.into_iter().enumerate().zip(hashes) {
        let row = &mut rows[at];
        let a = match fate {
            Fate::Dropped => continue,
            Fate::Fresh => unreachable!("BUG: a row the plan neither placed nor dropped"),
            Fate::Merge(id) => {
                let (phones, tags) = (std::mem::take(&mut row.resident.phones), std::mem::take(&mut row.resident.tags));
                merges.push(Merge { id, phones, tags });
                continue;
            }
            Fate::At(a) => a,
        };
        let house = row.unit.take().map(|unit| {
            let address = match a {
                AddressRef::Existing { id, .. } => id,
                AddressRef::New(i) => -(i as i64) - 1,
            };
            let key = (address, unit);
            if let Some(&h) = house_of.get(&key) {
                return h;
            }
            if let Some(&id) = known_houses.get(&key) {
                return HouseRef::Existing(id);
            }
            let use_kind = row.house_use.unwrap_or(if row.resident.house_relation == Some(HouseRelation::Tenant) {
                HouseUse::Rented
            } else {
                HouseUse::OwnerOccupied
            });
            houses.push(NewHouse { address: a, unit: key.1.clone(), use_kind });
            let h = HouseRef::New(houses.len() - 1);
            house_of.insert(key, h);
            h
        });
        residents.push(NewResident { at, id_hash, address: a, house });
    }
    Ok(Plan { rows, addresses, houses, residents, merges })
}

/// The grid index, being built on a task of its own while the file is checked: a city's
/// thousands of grids take a core for a few tenths of a second, and checking takes the other.
pub(super) struct GridIndexSoon(tokio::task::JoinHandle<Result<Arc<LoadedIndex>, AppError>>);

impl GridIndexSoon {
    pub fn start(state: &AppState) -> GridIndexSoon {
        let state = state.clone();
        GridIndexSoon(tokio::spawn(async move { crate::grids::index::current(&state).await }))
    }

    async fn get(self) -> Result<Arc<LoadedIndex>, AppError> {
        self.0.await.map_err(|e| AppError::Internal(anyhow::anyhow!("building the grid index failed: {e}")))?
    }
}

/// Existing rows of `table` for the keys `keys` makes, one value per key. An empty table (a
/// first import) is not asked about each key, and the keys are not even made: at a million
/// rows that was two seconds of index probes.
async fn lookup<K, V>(
    state: &AppState,
    table: &str,
    keys: impl FnOnce() -> Vec<K>,
    sql: impl Fn(&str) -> String,
    row: impl Fn(sqlx::any::AnyRow) -> Result<(K, V), sqlx::Error>,
) -> Result<HashMap<K, V>, AppError>
where
    K: Clone + Eq + std::hash::Hash + Send + for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + 'static,
{
    let any: Option<i64> =
        sqlx::query_scalar(&format!("SELECT 1 FROM {table} LIMIT 1")).fetch_optional(state.db.reader()).await?;
    if any.is_none() {
        return Ok(HashMap::new());
    }
    Ok(crate::db::bulk::fetch_in(&state.db, &keys(), sql, row).await?.into_iter().collect())
}

/// An ID number's keyed hash as a map key (HMAC-SHA256: always 32 bytes).
fn hash_key(h: &[u8]) -> [u8; 32] {
    h.try_into().expect("BUG: a lookup hash is not 32 bytes")
}

/// Writes the plan in one transaction with one audit entry naming what it touched.
pub(super) async fn write(
    state: &AppState,
    mut entry: Entry,
    caller: &Caller,
    mut plan: Plan,
    report: &mut ResidentImportReport,
    progress: Progress<'_>,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let by = caller.account_id;
    let total = (plan.residents.len() + plan.merges.len()) as u64;
    let db = &state.db;
    // A first import of a city's register runs without a foreign-key lookup per row: every id
    // it refers to it read from the database (nothing deletes addresses, houses, residents or
    // units) or reserved itself (`Db::begin_load`).
    let mut tx = match db.outgrown("residents", plan.residents.len()).await? {
        true => db.begin_load().await?,
        false => db.begin().await?,
    };
    // A first import into an empty or small register builds the indexes after the rows.
    let n = plan.residents.len();
    let loads = [
        ("addresses", plan.addresses.len()),
        ("houses", plan.houses.len()),
        ("residents", n),
        ("resident_phones", n),
        ("resident_tags", n),
    ];
    let deferred = db.defer_indexes(&mut tx, &loads, KEPT_INDEXES).await?;
    if deferred.any() {
        // A first import of a city's register: what it dirties stays in memory until the commit.
        db.widen_cache(&mut tx).await?;
    }
    // Every id is reserved first, so the residents' rows (encrypting and hashing: the CPU part)
    // are made on a blocking thread from the start, while the database writes the addresses and
    // houses, and then each batch while it writes the one before.
    let address_ids = db.reserve_ids(&mut tx, "addresses", plan.addresses.len()).await?;
    let house_ids = db.reserve_ids(&mut tx, "houses", plan.houses.len()).await?;
    let created = db.reserve_ids(&mut tx, "residents", plan.residents.len()).await?;
    let resolve = |a: AddressRef| match a {
        AddressRef::Existing { id, grid, node } => (id, grid, node),
        AddressRef::New(i) => (address_ids[i], plan.addresses[i].placed.grid_id, plan.addresses[i].node),
    };
    let places: Vec<(i64, Option<i64>, i64)> = plan.residents.iter().map(|r| resolve(r.address)).collect();
    let houses: Vec<Option<i64>> = plan
        .residents
        .iter()
        .map(|r| {
            r.house.map(|h| match h {
                HouseRef::Existing(id) => id,
                HouseRef::New(i) => house_ids[i],
            })
        })
        .collect();
    let (batches, mut ready) = tokio::sync::mpsc::channel::<ResidentBatch>(RESIDENT_BATCHES_AHEAD);
    let maker = {
        let (key, ids) = (state.key.clone(), created.clone());
        let (rows, residents) = (std::mem::take(&mut plan.rows), std::mem::take(&mut plan.residents));
        tokio::task::spawn_blocking(move || {
            let mut at = 0;
            while at < residents.len() {
                let end = (at + RESIDENT_BATCH).min(residents.len());
                let batch = resident_batch(
                    &key,
                    &rows,
                    &residents[at..end],
                    &ids[at..end],
                    &places[at..end],
                    &houses[at..end],
                    (by, now),
                );
                if batches.blocking_send(batch).is_err() {
                    return; // the writer stopped on an error
                }
                at = end;
            }
        })
    };
    let house_rows: Vec<Vec<Value>> = plan
        .houses
        .iter_mut()
        .zip(&house_ids)
        .map(|(h, id)| {
            let (address, _, node) = resolve(h.address);
            vec![
                (*id).into(),
                address.into(),
                std::mem::take(&mut h.unit).into(),
                h.use_kind.code().into(),
                node.into(),
                now.into(),
                by.into(),
                now.into(),
                by.into(),
            ]
        })
        .collect();
    // The rows take the plan's strings: nothing reads them after this.
    let address_rows: Vec<Vec<Value>> = plan
        .addresses
        .iter_mut()
        .zip(&address_ids)
        .map(|(a, id)| {
            vec![
                (*id).into(),
                std::mem::take(&mut a.text).into(),
                std::mem::take(&mut a.key).into(),
                a.placed.lon.into(),
                a.placed.lat.into(),
                pingan_geo::Datum::from(a.datum).as_str().into(),
                a.placed.grid_id.into(),
                a.node.into(),
                now.into(),
                by.into(),
                now.into(),
                by.into(),
            ]
        })
        .collect();
    db.insert_rows(&mut tx, "addresses", &ADDRESS_COLUMNS, address_rows).await?;
    db.insert_rows(&mut tx, "houses", &HOUSE_COLUMNS, house_rows).await?;
    let mut written = 0;
    while let Some(b) = ready.recv().await {
        written += b.people.len();
        db.insert_rows(&mut tx, "residents", &RESIDENT_COLUMNS, b.people).await?;
        db.insert_rows(&mut tx, "resident_phones", &PHONE_COLUMNS, b.phones).await?;
        db.insert_rows(&mut tx, "resident_tags", &["resident_id", "tag"], b.tags).await?;
        progress(written as u64, total, "write");
    }
    maker.await.map_err(|e| AppError::Internal(anyhow::anyhow!("the import's row maker failed: {e}")))?;
    debug_assert_eq!(written, n, "BUG: the row maker stopped early");
    let mut merged = Vec::with_capacity(plan.merges.len());
    for m in &plan.merges {
        report.phones_added += resident::add_phones(&mut tx, &state.key, m.id, &m.phones, now).await?;
        for t in &m.tags {
            let have: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM resident_tags WHERE resident_id = $1 AND tag = $2")
                    .bind(m.id)
                    .bind(t.code())
                    .fetch_one(&mut *tx)
                    .await?;
            if have == 0 {
                sqlx::query("INSERT INTO resident_tags (resident_id, tag) VALUES ($1, $2)")
                    .bind(m.id)
                    .bind(t.code())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        merged.push(m.id);
    }
    report.created = created.len() as u64;
    report.addresses_created = address_ids.len() as u64;
    report.houses_created = house_ids.len() as u64;
    entry = entry
        .records(ranges("resident", created))
        .records(ranges("resident", merged))
        .records(ranges("address", address_ids))
        .records(ranges("house", house_ids))
        .detail(serde_json::json!({
            "rows": report.rows,
            "created": report.created,
            "merged": report.merged,
            "skipped": report.skipped,
            "phones_added": report.phones_added,
        }));
    if deferred.any() {
        // Seconds at a million rows, after every row is written: its own phase on the page.
        progress(total, total, "index");
    }
    db.rebuild_indexes(&mut tx, deferred).await?;
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    report.written = true;
    progress(total, total, "done");
    Ok(())
}

/// Indexes a first import keeps up as it writes instead of building them at the end: residents
/// go in file order, and their addresses and houses were numbered in the order the file first
/// names them, so each key lands on the index's last page or near it. The rest (hashes, names,
/// ID tails, units) come in no order and are built after the rows.
const KEPT_INDEXES: &[&str] = &["residents_address", "residents_house"];

const ADDRESS_COLUMNS: [&str; 12] = [
    "id",
    "text",
    "text_key",
    "lon",
    "lat",
    "source_datum",
    "grid_id",
    "node_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
];
const HOUSE_COLUMNS: [&str; 9] =
    ["id", "address_id", "unit", "use_kind", "node_id", "created_at", "created_by", "updated_at", "updated_by"];
const RESIDENT_COLUMNS: [&str; 21] = [
    "id",
    "name",
    "sex",
    "birth_date",
    "id_kind",
    "id_enc",
    "id_hash",
    "id_head",
    "id_tail",
    "residence",
    "registered_address",
    "address_id",
    "house_id",
    "house_relation",
    "grid_id",
    "node_id",
    "note",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
];
const PHONE_COLUMNS: [&str; 6] = ["resident_id", "phone_hash", "phone_enc", "phone_masked", "ord", "added_at"];

/// Rows of residents at a time: enough to keep the writer busy, few enough to show progress.
const RESIDENT_BATCH: usize = 20_000;
/// Batches the row maker may be ahead of the writer (about 10 MB each at most): it starts
/// while the addresses and houses are written.
const RESIDENT_BATCHES_AHEAD: usize = 6;

struct ResidentBatch {
    people: Vec<Vec<Value>>,
    phones: Vec<Vec<Value>>,
    tags: Vec<Vec<Value>>,
}

/// The rows of residents, their phones and tags, identifiers encrypted and hashed. `places` is
/// each one's (address, grid, node).
fn resident_batch(
    key: &DataKey,
    rows: &[Row],
    residents: &[NewResident],
    ids: &[i64],
    places: &[(i64, Option<i64>, i64)],
    houses: &[Option<i64>],
    (by, now): (Option<i64>, i64),
) -> ResidentBatch {
    let mut b = ResidentBatch { people: Vec::with_capacity(residents.len()), phones: Vec::new(), tags: Vec::new() };
    for (((r, &id), &place), &house) in residents.iter().zip(ids).zip(places).zip(houses) {
        let person = &rows[r.at].resident;
        b.people.push(resident_row(key, id, (person, r.id_hash), place, house, (by, now)));
        for (ord, p) in person.phones.iter().enumerate() {
            b.phones.push(vec![
                id.into(),
                key.lookup_hash(pii::PHONE, p.as_str()).into(),
                key.encrypt_str(p.as_str()).into(),
                p.masked().into(),
                (ord as i64).into(),
                now.into(),
            ]);
        }
        for t in &person.tags {
            b.tags.push(vec![id.into(), t.code().into()]);
        }
    }
    b
}

/// One resident as a row of `RESIDENT_COLUMNS`, identifiers encrypted and hashed.
fn resident_row(
    key: &DataKey,
    id: i64,
    (r, id_hash): (&Resident, Option<[u8; 32]>),
    (address, grid, node): (i64, Option<i64>, i64),
    house: Option<i64>,
    (by, now): (Option<i64>, i64),
) -> Vec<Value> {
    // The plan hashed every ID number it kept: `id_hash` is there exactly when `id_number` is.
    let ids = r.id_number.as_ref().zip(id_hash).map(|(i, h)| resident::id_columns_hashed(key, i, h.to_vec()));
    let (enc, hash, head, tail) = resident::split(ids);
    vec![
        id.into(),
        r.name.as_str().into(),
        r.sex.code().into(),
        r.id_number.as_ref().map(|i| i.birth_date().to_string()).into(),
        r.id_number.as_ref().map(resident::id_kind_code).into(),
        enc.into(),
        hash.into(),
        head.into(),
        tail.into(),
        r.residence.code().into(),
        r.registered_address.as_str().into(),
        Some(address).into(),
        house.into(),
        r.house_relation.map(|h| h.code()).into(),
        grid.into(),
        node.into(),
        r.note.as_str().into(),
        now.into(),
        by.into(),
        now.into(),
        by.into(),
    ]
}

/// Record names for an audit entry, consecutive ids folded: `resident:7-1006`.
fn ranges(kind: &str, mut ids: Vec<i64>) -> Vec<String> {
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        out.push(if i == j { format!("{kind}:{}", ids[i]) } else { format!("{kind}:{}-{}", ids[i], ids[j]) });
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_ranges_fold_consecutive_ids() {
        assert_eq!(super::ranges("resident", vec![5, 3, 4, 9, 11, 10]), vec!["resident:3-5", "resident:9-11"]);
        assert_eq!(super::ranges("house", vec![2]), vec!["house:2"]);
    }
}
