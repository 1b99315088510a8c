//! Residents as matching reads them, for a history load that names a large share of them: read
//! in one pass over each table instead of looked up by key. A city's nine months of warnings
//! (1.7 million) name most of its 1.4 million residents; looked up 500 keys a statement, that
//! took 20–30 s of the load on two cores, and the directory takes about two.
//!
//! The answers are the ones the keyed statements of [`super::bulk`] give: a resident by the
//! keyed hash of the ID number, the holders of a phone hash in id order, the elderly living
//! alone.

use foldhash::{HashMap, HashSet};

use futures_util::TryStreamExt as _;
use sqlx::Row as _;

use crate::db::Db;

/// A resident as matching reads them: routed through [`super::routes::Routes`] in memory.
#[derive(Clone)]
pub struct Row {
    pub id: i64,
    pub id_hash: Option<Vec<u8>>,
    pub birth_date: Option<String>,
    pub grid_id: Option<i64>,
    pub node_id: i64,
}

/// What matching needs about the residents a chunk of warnings names.
#[derive(Default)]
pub struct Found {
    /// By the keyed hash of the ID number.
    pub by_id: HashMap<Vec<u8>, Row>,
    /// By phone hash: the first twenty holders in id order (as `matching::find` reads them).
    pub holders: HashMap<Vec<u8>, Vec<Row>>,
    /// Ids of the elderly living alone among them.
    pub alone: HashSet<i64>,
}

/// Holders of one phone a warning may list as candidates (`matching::find` reads as many).
pub const MAX_HOLDERS: usize = 20;

/// Every resident, read once. Hashes are HMAC-SHA-256, 32 bytes: a stored hash of any other
/// length can match no warning, so it is left out.
pub struct Directory {
    rows: Vec<Row>,
    alone: Vec<bool>,
    /// ID-number hash -> index in `rows`. Hashed, not searched: a binary search over a million
    /// hashes missed the CPU cache some twenty times a lookup, a sixth of the matching (measured).
    by_id: HashMap<[u8; 32], u32>,
    /// Phone hash -> its holders' range in `holders`.
    by_phone: HashMap<[u8; 32], (u32, u32)>,
    /// Indexes in `rows`, each phone's holders together and in id order.
    holders: Vec<u32>,
}

/// The three reads of [`Directory::read`]: residents in id order, phones, the elderly living alone.
const RESIDENTS: &str = "SELECT id, id_hash, birth_date, grid_id, node_id FROM residents ORDER BY id";
const PHONES: &str = "SELECT phone_hash, resident_id FROM resident_phones";
const ALONE: &str = "SELECT resident_id FROM resident_tags WHERE tag = 'elderly_alone'";

/// What the three reads bring back.
type Read = (Vec<Row>, Vec<([u8; 32], i64)>, Vec<i64>);

impl Directory {
    /// Reads the residents, their phones and tags. On SQLite, on connections of its own beside
    /// the pools (see [`read_sqlite`]); on PostgreSQL, on three reader connections at once.
    pub async fn read(db: &Db) -> Result<Directory, sqlx::Error> {
        let read = match db.sqlite_file().filter(|f| f.is_file()) {
            Some(file) => {
                let file = file.to_path_buf();
                tokio::task::spawn_blocking(move || read_sqlite(&file))
                    .await
                    .map_err(|e| sqlx::Error::Protocol(format!("reading the residents stopped: {e}")))?
                    .map_err(|e| sqlx::Error::Protocol(format!("reading the residents failed: {e}")))?
            }
            None => read_pooled(db).await?,
        };
        Ok(Directory::from_read(read))
    }

    fn from_read((rows, phones, alone): Read) -> Directory {
        let at: HashMap<i64, u32> = rows.iter().enumerate().map(|(i, r)| (r.id, i as u32)).collect();
        let mut by_id: HashMap<[u8; 32], u32> = HashMap::with_capacity_and_hasher(rows.len(), Default::default());
        for (i, r) in rows.iter().enumerate() {
            if let Some(hash) = r.id_hash.as_deref().and_then(|h| <[u8; 32]>::try_from(h).ok()) {
                // ID numbers are unique among residents; were one stored twice, the first stands.
                by_id.entry(hash).or_insert(i as u32);
            }
        }
        // Rows are in id order, so sorting by (hash, index) puts each phone's holders in id order.
        let mut phones: Vec<([u8; 32], u32)> =
            phones.into_iter().filter_map(|(hash, id)| Some((hash, *at.get(&id)?))).collect();
        phones.sort_unstable();
        let mut by_phone = HashMap::with_capacity_and_hasher(phones.len(), Default::default());
        let holders: Vec<u32> = phones.iter().map(|(_, i)| *i).collect();
        for (start, (hash, _)) in phones.iter().enumerate() {
            by_phone.entry(*hash).or_insert((start as u32, 0)).1 += 1;
        }
        let mut flags = vec![false; rows.len()];
        for id in alone {
            if let Some(&i) = at.get(&id) {
                flags[i as usize] = true;
            }
        }
        Directory { rows, alone: flags, by_id, by_phone, holders }
    }

    /// What matching needs for warnings with these (ID-number hash, phone hash) pairs: a phone
    /// is looked up only for a warning whose ID number matched no one.
    pub fn find<'h>(&self, hashes: impl Iterator<Item = (Option<&'h [u8]>, Option<&'h [u8]>)>) -> Found {
        let mut found = Found::default();
        let mut people = Vec::new();
        for (id_hash, phone_hash) in hashes {
            if let Some((h, i)) = id_hash.and_then(|h| Some((h, *self.by_id.get(&key(h)?)?))) {
                people.push(i);
                found.by_id.entry(h.to_vec()).or_insert_with(|| self.rows[i as usize].clone());
                continue;
            }
            let Some(phone) = phone_hash else { continue };
            if found.holders.contains_key(phone) {
                continue;
            }
            let holders: Vec<Row> = self
                .holders_of(phone)
                .iter()
                .take(MAX_HOLDERS)
                .map(|&i| {
                    people.push(i);
                    self.rows[i as usize].clone()
                })
                .collect();
            if !holders.is_empty() {
                found.holders.insert(phone.to_vec(), holders);
            }
        }
        found.alone =
            people.into_iter().filter(|&i| self.alone[i as usize]).map(|i| self.rows[i as usize].id).collect();
        found
    }

    /// The holders of a phone (indexes in `rows`), in id order.
    fn holders_of(&self, phone: &[u8]) -> &[u32] {
        match key(phone).and_then(|k| self.by_phone.get(&k)) {
            Some(&(start, n)) => &self.holders[start as usize..(start + n) as usize],
            None => &[],
        }
    }
}

/// A hash as the directory holds it: one of another length matches no one.
fn key(hash: &[u8]) -> Option<[u8; 32]> {
    hash.try_into().ok()
}

/// The three reads through sqlx, on three reader connections at once.
async fn read_pooled(db: &Db) -> Result<Read, sqlx::Error> {
    let residents = async {
        let mut rows = Vec::new();
        let mut stream = sqlx::query(RESIDENTS).fetch(db.reader());
        while let Some(r) = stream.try_next().await? {
            rows.push(Row {
                id: r.try_get(0)?,
                id_hash: r.try_get(1)?,
                birth_date: r.try_get(2)?,
                grid_id: r.try_get(3)?,
                node_id: r.try_get(4)?,
            });
        }
        Ok::<_, sqlx::Error>(rows)
    };
    let phones = async {
        let mut out = Vec::new();
        let mut stream = sqlx::query(PHONES).fetch(db.reader());
        while let Some(r) = stream.try_next().await? {
            let hash: Vec<u8> = r.try_get(0)?;
            if let Some(hash) = key(&hash) {
                out.push((hash, r.try_get(1)?));
            }
        }
        Ok::<_, sqlx::Error>(out)
    };
    let alone = sqlx::query_scalar::<_, i64>(ALONE).fetch_all(db.reader());
    tokio::try_join!(residents, phones, alone)
}

/// The three reads straight from the SQLite file, on a read-only connection of its own, the
/// residents on this thread and the phones and tags on another. Through sqlx (every value
/// copied into its row, every row handed from the connection's thread to ours) the reads took
/// about 7 s of CPU on a city of 1.4 million residents, while the file was parsed beside them.
/// Read before the load's write transaction begins, like the pooled reads: nothing deletes a
/// resident, so what the load refers to stays there.
fn read_sqlite(file: &std::path::Path) -> rusqlite::Result<Read> {
    use rusqlite::{Connection, OpenFlags};
    let open = || -> rusqlite::Result<Connection> {
        let conn =
            Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.execute_batch("PRAGMA mmap_size=1073741824; PRAGMA cache_size=-16384;")?;
        Ok(conn)
    };
    let others = {
        let conn = open()?;
        std::thread::Builder::new()
            .name("directory-read".into())
            .spawn(move || -> rusqlite::Result<_> {
                let mut phones = Vec::new();
                let mut q = conn.prepare(PHONES)?;
                let mut rows = q.query([])?;
                while let Some(r) = rows.next()? {
                    if let Some(hash) = r.get_ref(0)?.as_blob_or_null()?.and_then(key) {
                        phones.push((hash, r.get(1)?));
                    }
                }
                let alone = conn.prepare(ALONE)?.query_map([], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
                Ok((phones, alone))
            })
            .map_err(|e| rusqlite::Error::ModuleError(format!("no thread for the phones: {e}")))?
    };
    let conn = open()?;
    let mut residents = Vec::new();
    let mut q = conn.prepare(RESIDENTS)?;
    let mut rows = q.query([])?;
    while let Some(r) = rows.next()? {
        residents.push(Row {
            id: r.get(0)?,
            id_hash: r.get(1)?,
            birth_date: r.get(2)?,
            grid_id: r.get(3)?,
            node_id: r.get(4)?,
        });
    }
    let (phones, alone) =
        others.join().map_err(|_| rusqlite::Error::ModuleError("reading the phones panicked".into()))??;
    Ok((residents, phones, alone))
}
