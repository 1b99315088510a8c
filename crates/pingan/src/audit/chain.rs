//! Appending to and verifying the HMAC chain.

use sqlx::Row;

use super::Entry;
use crate::db::bulk::{insert_rows, Value};
use crate::db::{Backend, Db, Tx};
use crate::pii::DataKey;

/// Chains `entry` after the newest entry, inside the caller's transaction so that the entry
/// commits with the change it records, or not at all.
pub async fn append(tx: &mut Tx, db: &Db, key: &DataKey, at: i64, entry: &Entry) -> Result<i64, sqlx::Error> {
    append_all(tx, db.backend, key, &[(at, entry)]).await
}

/// Chains `entries` (each with its time), in order, after the newest entry: the chain's head is
/// read once and written once, and the entries go in as few statements as the bind limits
/// allow. Returns the last sequence number.
pub async fn append_all(
    tx: &mut Tx,
    backend: Backend,
    key: &DataKey,
    entries: &[(i64, &Entry)],
) -> Result<i64, sqlx::Error> {
    crate::db::lock_audit_chain(backend, tx).await?;
    let last =
        sqlx::query("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut **tx).await?;
    let (mut seq, mut mac): (i64, Vec<u8>) = match last {
        Some(row) => (row.try_get("seq")?, row.try_get("mac")?),
        None => (0, Vec::new()),
    };
    let mut rows = Vec::with_capacity(entries.len());
    for (at, entry) in entries {
        seq += 1;
        let stored = Stored {
            seq,
            at: *at,
            actor_id: entry.actor_id,
            actor: entry.actor.clone(),
            ip: entry.ip.clone(),
            action: entry.action.clone(),
            records: join_records(&entry.records),
            outcome: entry.outcome.code().to_string(),
            request_id: entry.request_id.clone(),
            detail: entry.detail.to_string(),
        };
        mac = key.audit_mac(&mac, &stored.message());
        rows.push(vec![
            Value::from(stored.seq),
            stored.at.into(),
            stored.actor_id.into(),
            stored.actor.into(),
            stored.ip.into(),
            stored.action.into(),
            stored.records.into(),
            stored.outcome.into(),
            stored.request_id.into(),
            stored.detail.into(),
            mac.clone().into(),
        ]);
    }
    let columns =
        ["seq", "at", "actor_id", "actor", "ip", "action", "records", "outcome", "request_id", "detail", "mac"];
    insert_rows(backend, tx, "audit_log", &columns, rows).await?;
    sqlx::query(
        "INSERT INTO audit_head (id, seq, head_mac) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, head_mac = excluded.head_mac",
    )
    .bind(seq)
    .bind(head_mac(key, seq, &mac))
    .execute(&mut **tx)
    .await?;
    Ok(seq)
}

/// The keyed record of the newest link. Someone who can write the tables but lacks the key
/// cannot make it name an earlier entry, so cutting off the newest entries shows.
fn head_mac(key: &DataKey, seq: i64, mac: &[u8]) -> Vec<u8> {
    let mut message = b"pingan audit head\0".to_vec();
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(mac);
    key.audit_mac(&[], &message)
}

/// Records are stored as `,account:1,node:7,` so a search for one record is an exact LIKE.
pub fn join_records(records: &[String]) -> String {
    if records.is_empty() {
        String::new()
    } else {
        format!(",{},", records.join(","))
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Stored {
    seq: i64,
    at: i64,
    actor_id: Option<i64>,
    actor: String,
    ip: String,
    action: String,
    records: String,
    outcome: String,
    request_id: String,
    detail: String,
}

impl Stored {
    /// Length-prefixed fields, so no choice of field contents can make two entries collide.
    fn message(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let actor_id = self.actor_id.map(|v| v.to_string()).unwrap_or_default();
        let fields: [&[u8]; 10] = [
            &self.seq.to_be_bytes(),
            &self.at.to_be_bytes(),
            actor_id.as_bytes(),
            self.actor.as_bytes(),
            self.ip.as_bytes(),
            self.action.as_bytes(),
            self.records.as_bytes(),
            self.outcome.as_bytes(),
            self.request_id.as_bytes(),
            self.detail.as_bytes(),
        ];
        for f in fields {
            out.extend_from_slice(&(f.len() as u64).to_be_bytes());
            out.extend_from_slice(f);
        }
        out
    }
}

/// The first link that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// Entry `seq` is not the one that was written there: altered, or inserted with a forged mac.
    Altered { seq: i64 },
    /// Entries are missing before `seq` (expected `expected`).
    Missing { expected: i64, found: i64 },
    /// The chain ends at `last`, but the newest entry written was `head`: the newest entries
    /// were removed (or the head record was tampered with).
    Truncated { last: i64, head: i64 },
    /// Entries exist after the newest one written (`head`), from `seq` on: inserted.
    Extra { seq: i64, head: i64 },
    /// Entries exist but the keyed head record is missing or does not match.
    HeadMissing,
    /// A row with a sequence number below 1, which no append writes.
    Stray { seq: i64 },
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broken::Altered { seq } => write!(
                f,
                "entry {seq} does not match its chain link: it was altered, or inserted by someone without the audit key"
            ),
            Broken::Missing { expected, found } => write!(
                f,
                "entry {expected} is missing: the next entry is {found}; entries were removed"
            ),
            Broken::Truncated { last, head } => write!(
                f,
                "entry {} is missing: the log ends at {last} but {head} entries were written; the newest entries were removed",
                last + 1
            ),
            Broken::Extra { seq, head } => {
                write!(f, "entry {seq} was inserted: the newest entry written was {head}")
            }
            Broken::HeadMissing => write!(f, "the keyed record of the newest entry is missing or was altered"),
            Broken::Stray { seq } => write!(f, "entry {seq} was inserted: no entry is ever numbered below 1"),
        }
    }
}

/// Walks the whole chain in order. Returns the number of entries verified, or the first
/// broken link.
pub async fn verify(db: &Db, key: &DataKey) -> anyhow::Result<Result<i64, Broken>> {
    const PAGE: i64 = 5_000;
    let stray: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log").fetch_one(db.reader()).await?;
    if let Some(seq) = stray.filter(|s| *s < 1) {
        return Ok(Err(Broken::Stray { seq }));
    }
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, head_mac FROM audit_head WHERE id = 1").fetch_optional(db.reader()).await?;
    let mut prev_mac: Vec<u8> = Vec::new();
    let mut expected = 1i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor_id, actor, ip, action, records, outcome, request_id, detail, mac \
             FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
        )
        .bind(expected)
        .bind(PAGE)
        .fetch_all(db.reader())
        .await?;
        if rows.is_empty() {
            return Ok(check_head(key, head.as_ref(), expected - 1, &prev_mac));
        }
        for row in rows {
            let stored = Stored {
                seq: row.try_get("seq")?,
                at: row.try_get("at")?,
                actor_id: row.try_get("actor_id")?,
                actor: row.try_get("actor")?,
                ip: row.try_get("ip")?,
                action: row.try_get("action")?,
                records: row.try_get("records")?,
                outcome: row.try_get("outcome")?,
                request_id: row.try_get("request_id")?,
                detail: row.try_get("detail")?,
            };
            let mac: Vec<u8> = row.try_get("mac")?;
            if let Some((head_seq, _)) = head.as_ref().filter(|(h, _)| stored.seq > *h) {
                return Ok(Err(Broken::Extra { seq: stored.seq, head: *head_seq }));
            }
            if stored.seq != expected {
                return Ok(Err(Broken::Missing { expected, found: stored.seq }));
            }
            let want = key.audit_mac(&prev_mac, &stored.message());
            if !crate::auth::constant_time_eq(&want, &mac) {
                return Ok(Err(Broken::Altered { seq: stored.seq }));
            }
            prev_mac = mac;
            expected += 1;
        }
    }
}

/// The walk ended at `last` (0 for an empty log) with `last_mac`: it must be the head written.
fn check_head(key: &DataKey, head: Option<&(i64, Vec<u8>)>, last: i64, last_mac: &[u8]) -> Result<i64, Broken> {
    match head {
        None if last == 0 => Ok(0),
        None => Err(Broken::HeadMissing),
        Some((seq, _)) if *seq > last => Err(Broken::Truncated { last, head: *seq }),
        Some((seq, mac)) if *seq == last && crate::auth::constant_time_eq(&head_mac(key, last, last_mac), mac) => {
            Ok(last)
        }
        Some(_) => Err(Broken::HeadMissing),
    }
}
