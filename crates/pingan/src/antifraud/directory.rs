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

impl Directory {
    /// Reads the residents, their phones and tags on three reader connections at once.
    pub async fn read(db: &Db) -> Result<Directory, sqlx::Error> {
        let residents = async {
            let mut rows = Vec::new();
            let mut stream = sqlx::query("SELECT id, id_hash, birth_date, grid_id, node_id FROM residents ORDER BY id")
                .fetch(db.reader());
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
            let mut out: Vec<([u8; 32], i64)> = Vec::new();
            let mut stream = sqlx::query("SELECT phone_hash, resident_id FROM resident_phones").fetch(db.reader());
            while let Some(r) = stream.try_next().await? {
                let hash: Vec<u8> = r.try_get(0)?;
                if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                    out.push((hash, r.try_get(1)?));
                }
            }
            Ok::<_, sqlx::Error>(out)
        };
        let alone = sqlx::query_scalar::<_, i64>("SELECT resident_id FROM resident_tags WHERE tag = 'elderly_alone'")
            .fetch_all(db.reader());
        let (rows, phones, alone) = tokio::try_join!(residents, phones, alone)?;
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
        Ok(Directory { rows, alone: flags, by_id, by_phone, holders })
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
