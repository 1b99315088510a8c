//! Bulk writes for imports and the demo: one statement per batch and ids reserved up front, so a
//! million rows cost a handful of statements, not millions (each statement through sqlx costs
//! tens of microseconds whatever its size).

use std::sync::atomic::Ordering;

use super::{rows_table, Backend, Db, Tx};

/// One bound value of a bulk insert.
#[derive(Debug, Clone)]
pub enum Value {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

type Args<'q> = sqlx::any::AnyArguments<'q>;

impl Value {
    pub fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, sqlx::Any, Args<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, Args<'q>> {
        match self {
            Value::Int(x) => q.bind(x),
            Value::Real(x) => q.bind(x),
            Value::Text(x) => q.bind(x),
            Value::Blob(x) => q.bind(x),
        }
    }

    pub fn bind_scalar<'q, O>(
        self,
        q: sqlx::query::QueryScalar<'q, sqlx::Any, O, Args<'q>>,
    ) -> sqlx::query::QueryScalar<'q, sqlx::Any, O, Args<'q>> {
        match self {
            Value::Int(x) => q.bind(x),
            Value::Real(x) => q.bind(x),
            Value::Text(x) => q.bind(x),
            Value::Blob(x) => q.bind(x),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(Some(v))
    }
}

impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        Value::Real(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(Some(v))
    }
}

impl From<Option<Vec<u8>>> for Value {
    fn from(v: Option<Vec<u8>>) -> Self {
        Value::Blob(v)
    }
}

impl Db {
    /// Inserts `rows` (each with one value per column) in as few statements as the bind limits
    /// allow (see [`insert_rows`]).
    pub async fn insert_rows(
        &self,
        tx: &mut Tx,
        table: &str,
        columns: &[&str],
        rows: Vec<Vec<Value>>,
    ) -> Result<(), sqlx::Error> {
        insert_rows(self.backend, tx, table, columns, rows).await
    }

    /// Reserves `n` consecutive-or-not fresh ids for `table` inside `tx`. SQLite: every write goes
    /// through the one writer connection, so the ids after the current maximum are this
    /// transaction's. PostgreSQL: drawn from the identity column's sequence, which other servers
    /// share safely.
    pub async fn reserve_ids(&self, tx: &mut Tx, table: &str, n: usize) -> Result<Vec<i64>, sqlx::Error> {
        if n == 0 {
            return Ok(Vec::new());
        }
        match self.backend {
            Backend::Sqlite => {
                let (max,): (Option<i64>,) =
                    sqlx::query_as(&format!("SELECT MAX(id) FROM {table}")).fetch_one(&mut **tx).await?;
                let first = max.unwrap_or(0) + 1;
                Ok((first..first + n as i64).collect())
            }
            Backend::Postgres => {
                sqlx::query_scalar(&format!(
                    "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)"
                ))
                .bind(n as i64)
                .fetch_all(&mut **tx)
                .await
            }
        }
    }
}

/// Secondary indexes set aside for a large load (see [`Db::defer_indexes`]): their definitions,
/// to be built again by [`Db::rebuild_indexes`] in the same transaction.
#[must_use = "the indexes must be built again before the transaction commits"]
pub struct DeferredIndexes(Vec<String>);

impl DeferredIndexes {
    /// Whether any index waits to be built (a progress display names that phase).
    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

/// The writer's page cache while a load holds it in one transaction ([`Db::widen_cache`]):
/// what a city's nine months of warnings dirty, with room to spare.
const WHOLE_LOAD_CACHE_KIB: u32 = 1024 * 1024;

/// Below this many rows a load goes through the indexes: dropping and building them is DDL that
/// every connection's cached statements must notice.
const DEFER_INDEXES_FROM: usize = 1_000;

impl Db {
    /// For each (table, rows about to be loaded) where the load is large and more than doubles
    /// the table: drops the table's secondary indexes inside `tx`, so rows go in without a
    /// random B-tree insert (and its page journalled) per index per row;
    /// [`Db::rebuild_indexes`] then builds each from one sorted pass, which costs less than the
    /// inserts whenever the table at least doubles. SQLite only: its readers keep their snapshot
    /// and never notice; on PostgreSQL the DDL would lock readers out for the whole load.
    /// Constraint indexes (primary keys, `UNIQUE` in a table's definition) stay; a `CREATE
    /// UNIQUE INDEX` is dropped and checked again when it is rebuilt, so a duplicate still fails
    /// the load. The indexes named in `keep` stay: those whose keys the load appends in order, or
    /// that it leaves alone (a partial index its rows fall outside of), cost less kept than
    /// built again from a scan of the whole table.
    pub async fn defer_indexes(
        &self,
        tx: &mut Tx,
        loads: &[(&str, usize)],
        keep: &[&str],
    ) -> Result<DeferredIndexes, sqlx::Error> {
        let mut out = Vec::new();
        if self.backend != Backend::Sqlite {
            return Ok(DeferredIndexes(out));
        }
        for &(table, incoming) in loads {
            if incoming < DEFER_INDEXES_FROM {
                continue;
            }
            let held: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut **tx).await?;
            if !outgrows(incoming, held) {
                continue;
            }
            let found: Vec<(String, String)> = sqlx::query_as(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
            )
            .bind(table)
            .fetch_all(&mut **tx)
            .await?;
            for (name, sql) in found.into_iter().filter(|(name, _)| !keep.contains(&name.as_str())) {
                sqlx::query(&format!("DROP INDEX \"{name}\"")).execute(&mut **tx).await?;
                out.push(sql);
            }
        }
        Ok(DeferredIndexes(out))
    }

    /// Whether `incoming` rows would more than double `table` (and are enough to count): the
    /// rule [`Db::defer_indexes`] goes by, asked before a load's transaction begins (on a
    /// reader, so another write may change the answer: it decides how the load runs, never
    /// what it stores).
    pub async fn outgrown(&self, table: &str, incoming: usize) -> Result<bool, sqlx::Error> {
        if incoming < DEFER_INDEXES_FROM {
            return Ok(false);
        }
        let held: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(self.reader()).await?;
        Ok(outgrows(incoming, held))
    }

    /// Commits a bulk load's transaction and leaves copying its pages from the write-ahead log
    /// into the database file to the background checkpointer (`checkpoint.rs`): the load is
    /// durable once the log is synced, and a commit past the writer's threshold would otherwise
    /// copy the whole load (800 MB for a city's nine months of warnings) before returning.
    pub async fn commit_bulk(&self, mut tx: Tx) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_autocheckpoint=0").execute(&mut *tx).await?;
        }
        let committed = tx.commit().await;
        if self.backend == Backend::Sqlite {
            // The one writer connection, back in its pool whether or not the commit went through.
            sqlx::query(&format!("PRAGMA wal_autocheckpoint={}", super::WAL_AUTOCHECKPOINT_PAGES))
                .execute(self.writer())
                .await?;
        }
        committed
    }

    /// Begins a large load's transaction without checking foreign keys on each row: on SQLite
    /// every check is a lookup in the parent table, and for a city's nine months of warnings
    /// those lookups (each case's resident, nodes and officer: random pages of `residents`)
    /// were a third of the writer's time (measured: cases 8.7–11.1 s with them, 2.9 s without).
    /// Only for a load whose every reference it read from the database itself, in a table
    /// nothing deletes from (residents, organisation nodes, accounts) or wrote itself. The
    /// writer connection goes back to checking when the transaction ends: the pool closes it
    /// as it comes back and opens a fresh one. PostgreSQL: a plain transaction.
    pub async fn begin_load(&self) -> Result<Tx, sqlx::Error> {
        if self.backend != Backend::Sqlite {
            return self.begin().await;
        }
        // `foreign_keys` cannot change inside a transaction, so it goes in the BEGIN itself, on
        // the connection the transaction holds.
        let began = self.writer().begin_with("PRAGMA foreign_keys=OFF; BEGIN").await;
        // Even when the BEGIN failed after the PRAGMA: the connection must not stay this way.
        self.loosened.store(true, Ordering::SeqCst);
        began
    }

    /// Widens the writer's page cache for a load that holds it in one transaction: every page
    /// the load dirties then stays in memory until the commit writes it to the log once. At the
    /// writer's usual size a city's nine months of warnings spilled pages into the log mid-load,
    /// and each one read back again was looked up through the whole log's index (a tenth of the
    /// writer's time, measured). Back at its usual size once the transaction ends, the way
    /// [`Db::begin_load`] says.
    pub async fn widen_cache(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            self.loosened.store(true, Ordering::SeqCst);
            sqlx::query(&format!("PRAGMA cache_size=-{WHOLE_LOAD_CACHE_KIB}")).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Builds again the indexes [`Db::defer_indexes`] set aside.
    pub async fn rebuild_indexes(&self, tx: &mut Tx, deferred: DeferredIndexes) -> Result<(), sqlx::Error> {
        for sql in deferred.0 {
            sqlx::query(&sql).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// Whether a load of `incoming` rows more than doubles a table of `held`.
fn outgrows(incoming: usize, held: i64) -> bool {
    incoming as i64 > held
}

/// `n` placeholders for a list, numbered from `first` on PostgreSQL (`$2,$3,…`); on SQLite
/// anonymous `?`, because SQLite looks a numbered one up by walking every name before it, and
/// the driver asks for each name as it binds: a 500-item list would cost 125,000 steps. Never
/// mix the two in one statement: the driver binds `?` in order from the first argument, `$N`
/// by number, so write every placeholder of a statement with this.
pub fn marks(backend: Backend, first: usize, n: usize) -> String {
    match backend {
        Backend::Sqlite => vec!["?"; n].join(","),
        Backend::Postgres => (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(","),
    }
}

/// Rows for many keys, 500 keys a statement, on the read pool: `sql` gets the placeholders for
/// one chunk (they must come first in the statement) and `row` turns each result row into a
/// (key, value).
pub async fn fetch_in<K, V>(
    db: &Db,
    keys: &[K],
    sql: impl Fn(&str) -> String,
    row: impl Fn(sqlx::any::AnyRow) -> Result<(K, V), sqlx::Error>,
) -> Result<Vec<(K, V)>, sqlx::Error>
where
    K: Clone + Send + for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + 'static,
{
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let text = sql(&marks(db.backend, 1, chunk.len()));
        let mut q = sqlx::query(&text);
        for k in chunk {
            q = q.bind(k.clone());
        }
        for r in q.fetch_all(db.reader()).await? {
            out.push(row(r)?);
        }
    }
    Ok(out)
}

/// Inserts `rows` (each with one value per column), with statements whose text depends only on
/// the table and its columns, so each is prepared once and cached. Every row must give each
/// column the same kind of [`Value`] (`None` of that kind for null).
///
/// SQLite: one statement for the whole call, `INSERT … SELECT … FROM pingan_rows(n)`, which
/// reads the rows straight from memory (see `rows_table.rs`). PostgreSQL: each chunk travels as
/// one bound JSON array of arrays that the server unpacks (`jsonb_array_elements`).
pub async fn insert_rows(
    backend: Backend,
    tx: &mut Tx,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    let Some(first) = rows.first() else { return Ok(()) };
    debug_assert_eq!(first.len(), columns.len(), "BUG: a bulk row has the wrong number of values");
    let kinds: Vec<Kind> = first.iter().map(Value::kind).collect();
    match backend {
        Backend::Postgres => {
            let sql = json_insert_sql(table, columns, &kinds);
            for chunk in rows.chunks(JSON_ROWS_PER_STATEMENT) {
                sqlx::query(&sql).bind(rows_json(chunk, &kinds)).execute(&mut **tx).await?;
            }
        }
        Backend::Sqlite => {
            if columns.len() > rows_table::MAX_COLUMNS {
                return Err(sqlx::Error::Protocol(format!(
                    "BUG: a bulk insert into {table} has {} columns, more than {}",
                    columns.len(),
                    rows_table::MAX_COLUMNS
                )));
            }
            let picks: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
            let sql = format!(
                "INSERT INTO {table} ({}) SELECT {} FROM pingan_rows($1)",
                columns.join(", "),
                picks.join(", ")
            );
            let handed = rows_table::Handed::new(rows);
            sqlx::query(&sql).bind(handed.id()).execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// Rows per PostgreSQL statement: bounds the memory of one statement (a few MB at most).
const JSON_ROWS_PER_STATEMENT: usize = 5_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Real,
    Text,
    Blob,
}

impl Value {
    fn kind(&self) -> Kind {
        match self {
            Value::Int(_) => Kind::Int,
            Value::Real(_) => Kind::Real,
            Value::Text(_) => Kind::Text,
            Value::Blob(_) => Kind::Blob,
        }
    }
}

/// `INSERT INTO table (columns) SELECT … FROM jsonb_array_elements($1)`: each element is a row.
fn json_insert_sql(table: &str, columns: &[&str], kinds: &[Kind]) -> String {
    let picks: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| match k {
            Kind::Int => format!("(e->>{i})::bigint"),
            Kind::Real => format!("(e->>{i})::float8"),
            Kind::Text => format!("e->>{i}"),
            Kind::Blob => format!("decode(e->>{i}, 'hex')"),
        })
        .collect();
    let (columns, picks) = (columns.join(", "), picks.join(", "));
    format!("INSERT INTO {table} ({columns}) SELECT {picks} FROM jsonb_array_elements($1::jsonb) AS e")
}

/// The rows as one JSON array of arrays, each value as its column's kind says.
fn rows_json(rows: &[Vec<Value>], kinds: &[Kind]) -> String {
    use std::fmt::Write as _;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(rows.len() * kinds.len() * 12);
    out.push('[');
    for (r, row) in rows.iter().enumerate() {
        debug_assert!(row.iter().map(Value::kind).eq(kinds.iter().copied()), "BUG: a bulk column changes kind");
        out.push_str(if r == 0 { "[" } else { ",[" });
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match v {
                Value::Int(Some(x)) => {
                    let _ = write!(out, "{x}");
                }
                // JSON has no NaN or infinity; no stored measure is either.
                Value::Real(Some(x)) if x.is_finite() => {
                    let _ = write!(out, "{x:?}");
                }
                Value::Text(Some(s)) => push_json_str(&mut out, s),
                Value::Blob(Some(b)) => {
                    out.push('"');
                    for byte in b {
                        out.push(HEX[(byte >> 4) as usize] as char);
                        out.push(HEX[(byte & 15) as usize] as char);
                    }
                    out.push('"');
                }
                _ => out.push_str("null"),
            }
        }
        out.push(']');
    }
    out.push(']');
    out
}

/// `s` as a JSON string. Written by hand: this is the hot loop of every bulk load.
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_travel_as_json_with_blobs_in_hex_and_text_escaped() {
        let rows = vec![
            vec![Value::from(7), Value::from(1.5), Value::from("a\"b\\c\nd\u{1}é"), Value::from(vec![0u8, 0xab])],
            vec![Value::Int(None), Value::Real(None), Value::Text(None), Value::Blob(None)],
        ];
        let kinds: Vec<Kind> = rows[0].iter().map(Value::kind).collect();
        let json = rows_json(&rows, &kinds);
        assert_eq!(json, r#"[[7,1.5,"a\"b\\c\nd\u0001é","00ab"],[null,null,null,null]]"#);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0][2], "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn reals_keep_every_digit() {
        let x = 113.123_456_789_012_34_f64;
        let json = rows_json(&[vec![Value::from(x)]], &[Kind::Real]);
        let parsed: Vec<Vec<f64>> = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0][0].to_bits(), x.to_bits());
    }
}
