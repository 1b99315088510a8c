//! Multi-row INSERTs for the demo city. One statement per row cannot load a city in minutes;
//! a few hundred rows per statement, prepared once, load 1.3 million residents in about a minute.
//!
//! Placeholders differ by engine. SQLite looks a named parameter (`$N`) up by walking a list, so
//! binding n of them costs n²/2 steps: with 6,400 per statement that was 90 % of the time.
//! Anonymous `?` cost nothing there, and PostgreSQL takes only `$N`.
//!
//! Rows carry explicit ids, taken from the table's current maximum, so children can name their
//! parents without reading anything back; PostgreSQL's identity sequences are moved past them
//! afterwards ([`move_sequences`]).

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use crate::db::{Backend, Tx};

pub type Q<'q> = Query<'q, Any, AnyArguments<'q>>;

/// Binds stay well under SQLite's 32,766 and PostgreSQL's 65,535 per statement.
const MAX_BINDS: usize = 16_000;
/// More rows per statement gained nothing measurable, and a huge statement costs more to prepare.
const MAX_ROWS: usize = 250;

/// An INSERT into `table`: `columns` are bound per row, `fixed` are SQL literals the same for
/// every row (our own integers, `NULL`, `''`: never text from outside).
pub struct Insert {
    head: String,
    binds: usize,
    fixed: String,
    backend: Backend,
}

impl Insert {
    pub fn new(backend: Backend, table: &str, columns: &[&str], fixed: &[(&str, String)]) -> Insert {
        let mut names: Vec<&str> = columns.to_vec();
        names.extend(fixed.iter().map(|(c, _)| *c));
        let fixed = fixed.iter().map(|(_, v)| format!(", {v}")).collect::<String>();
        let head = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
        Insert { head, binds: columns.len(), fixed, backend }
    }

    fn rows_per_statement(&self) -> usize {
        (MAX_BINDS / self.binds.max(1)).clamp(1, MAX_ROWS)
    }

    fn sql(&self, rows: usize) -> String {
        let mut sql = String::with_capacity(self.head.len() + rows * (self.binds * 7 + self.fixed.len() + 4));
        sql.push_str(&self.head);
        let mut n = 0;
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..self.binds {
                if c > 0 {
                    sql.push_str(", ");
                }
                match self.backend {
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => {
                        n += 1;
                        sql.push('$');
                        sql.push_str(&n.to_string());
                    }
                }
            }
            sql.push_str(&self.fixed);
            sql.push(')');
        }
        sql
    }

    /// Inserts every row, a statement per [`rows_per_statement`] rows; `bind` binds one row's
    /// columns in order.
    pub async fn run<R>(
        &self,
        tx: &mut Tx,
        rows: &[R],
        bind: impl for<'q> Fn(Q<'q>, &'q R) -> Q<'q>,
    ) -> sqlx::Result<()> {
        let per = self.rows_per_statement();
        // The SQL text of a full chunk is the same every time, so it is prepared once and cached.
        let full = self.sql(per);
        for chunk in rows.chunks(per) {
            let partial;
            let sql = if chunk.len() == per {
                &full
            } else {
                partial = self.sql(chunk.len());
                &partial
            };
            let mut q = sqlx::query(sql);
            for row in chunk {
                q = bind(q, row);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// The first free id of `table`, for rows inserted with explicit ids.
pub async fn next_id(tx: &mut Tx, table: &str) -> sqlx::Result<i64> {
    let max: Option<i64> = sqlx::query_scalar(&format!("SELECT MAX(id) FROM {table}")).fetch_one(&mut **tx).await?;
    Ok(max.unwrap_or(0) + 1)
}

/// PostgreSQL's identity sequences do not see explicit ids: without this, the next row an
/// officer creates would collide with a demo row. SQLite takes MAX(id) + 1 by itself.
pub async fn move_sequences(tx: &mut Tx, backend: Backend, tables: &[&str]) -> sqlx::Result<()> {
    if backend != Backend::Postgres {
        return Ok(());
    }
    for table in tables {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table})) \
             WHERE EXISTS (SELECT 1 FROM {table})"
        );
        sqlx::query(&sql).execute(&mut **tx).await?;
    }
    Ok(())
}
