//! Bulk writes for imports and the demo: multi-row INSERTs and ids reserved up front, so a
//! million rows cost thousands of statements, not millions (each statement through sqlx costs
//! tens of microseconds whatever its size).

use super::{Backend, Db, Tx};

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

/// Bound values per statement: under SQLite's default limit (32,766) and PostgreSQL's (65,535).
const MAX_BINDS: usize = 30_000;

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

/// Inserts `rows` (each with one value per column) in as few statements as the bind limits
/// allow. SQLite gets anonymous `?` placeholders: it resolves each `$N` by a linear search of
/// the names seen so far, which makes a 30,000-value statement cost seconds to prepare.
pub async fn insert_rows(
    backend: Backend,
    tx: &mut Tx,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    let per_statement = (MAX_BINDS / columns.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        // Owned, so each value moves into the statement's arguments without a copy.
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let mut sql = String::with_capacity(64 + chunk.len() * columns.len() * 6);
        sql.push_str(&format!("INSERT INTO {table} ({}) VALUES ", columns.join(", ")));
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            debug_assert_eq!(row.len(), columns.len(), "BUG: a bulk row has the wrong number of values");
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..row.len() {
                n += 1;
                if j > 0 {
                    sql.push_str(", ");
                }
                match backend {
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => sql.push_str(&format!("${n}")),
                }
            }
            sql.push(')');
        }
        let mut q = sqlx::query(&sql);
        for v in chunk.into_iter().flatten() {
            q = v.bind(q);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
