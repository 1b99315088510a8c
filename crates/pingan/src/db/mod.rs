//! Database pools and every difference between SQLite and PostgreSQL.
//!
//! Store code is written once against sqlx's `Any` driver with `$1` placeholders (SQLite reads
//! `$N` as parameter N). What differs between the engines lives here: connection set-up, the
//! lock that serialises audit appends, and how a database is recognised.
//!
//! Invariant: on SQLite every write goes through the single writer connection, so a
//! read-then-write transaction can never fail with SQLITE_BUSY on lock upgrade.

pub mod bulk;
mod checkpoint;
pub mod group;
mod migrate;
mod rows_table;
mod sqlite_malloc;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Transaction};

pub use migrate::{migrate, schema_state, SchemaState, LATEST_VERSION};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub backend: Backend,
    write: AnyPool,
    read: AnyPool,
    /// Group commit of small hot writes (see `group.rs`).
    group: group::Group,
    /// SQLite's background checkpointer (`checkpoint.rs`): its connection, closed by
    /// [`Db::close`], and a token every handle holds, so it also stops when the last one drops.
    checkpointer: Option<AnyPool>,
    /// Whether a load set the writer connection up its own way ([`Db::begin_load`],
    /// [`Db::widen_cache`]): the pool then closes it when the load's transaction gives it back,
    /// and opens a fresh one with the usual settings.
    loosened: Loosened,
    /// The SQLite database file, for a bulk read that goes around sqlx ([`Db::sqlite_file`]).
    file: Option<std::path::PathBuf>,
    _alive: std::sync::Arc<()>,
}

pub type Tx = Transaction<'static, Any>;

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Db({:?})", self.backend)
    }
}

impl Db {
    /// Opens pools for `url`: `sqlite://path` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {e}"))?;
            let _alive = std::sync::Arc::new(());
            let (write, read) = (pool.clone(), pool);
            // Several groups at once: each queues for the audit chain's lock only at its end.
            let group = group::Group::start(write.clone(), Backend::Postgres, PG_GROUP_WRITERS);
            let loosened = Default::default();
            let file = None;
            return Ok(Db {
                backend: Backend::Postgres,
                write,
                read,
                group,
                checkpointer: None,
                loosened,
                file,
                _alive,
            });
        }
        let Some(path) = url.strip_prefix("sqlite://") else {
            anyhow::bail!("database URL must start with sqlite:// or postgres://");
        };
        // Before the first connection opens: each one registers `pingan_rows` as it does.
        rows_table::install();
        let rwc = format!("sqlite://{path}?mode=rwc");
        let loosened = Loosened::default();
        let write = sqlite_pool(&rwc, 1, WRITER_CACHE_KIB, Some(loosened.clone())).await?;
        let read = sqlite_pool(&rwc, 4, READER_CACHE_KIB, None).await?;
        let group = group::Group::start(write.clone(), Backend::Sqlite, 1);
        let _alive = std::sync::Arc::new(());
        let checkpointer = sqlite_pool(&rwc, 1, READER_CACHE_KIB, None).await?;
        checkpoint::start(checkpointer.clone(), std::sync::Arc::downgrade(&_alive));
        let (checkpointer, file) = (Some(checkpointer), Some(path.into()));
        Ok(Db { backend: Backend::Sqlite, write, read, group, checkpointer, loosened, file, _alive })
    }

    /// How many group commits run at once: SQLite has one writer.
    pub fn group_writers(&self) -> usize {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => PG_GROUP_WRITERS,
        }
    }

    /// The SQLite database file, for a large read on a connection of its own outside the pools
    /// (see `antifraud/directory.rs`): through sqlx every value of every row is copied and
    /// handed between threads. `None` on PostgreSQL.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.write.begin().await
    }

    /// Runs `work` inside a group of others that share one transaction and its commit, under a
    /// savepoint of its own: applied whole or not at all, and answered after the commit. For
    /// small, hot writes (a token's last use).
    pub async fn grouped<T, F>(&self, work: F) -> Result<T, crate::web::error::AppError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut Tx) -> futures_util::future::BoxFuture<'a, Result<T, crate::web::error::AppError>>
            + Send
            + 'static,
    {
        self.grouped_audited(move |tx| Box::pin(async move { work(tx).await.map(|v| (v, Vec::new())) })).await
    }

    /// As [`Db::grouped`], for work that leaves audit entries: appended at the end of the group
    /// with the others' (see `group.rs`), so it commits with the work or not at all. For intake.
    pub async fn grouped_audited<T, F>(&self, work: F) -> Result<T, crate::web::error::AppError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(
                &'a mut Tx,
            ) -> futures_util::future::BoxFuture<
                'a,
                Result<(T, Vec<crate::audit::Pending>), crate::web::error::AppError>,
            > + Send
            + 'static,
    {
        use crate::web::error::AppError;
        let boxed: group::Work = Box::new(move |tx| {
            Box::pin(async move { work(tx).await.map(|(v, entry)| (Box::new(v) as group::Output, entry)) })
        });
        let out = self.group.run(boxed).await?;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| AppError::Internal(anyhow::anyhow!("BUG: group commit returned another type")))
    }

    /// Serialises audit appends across every server sharing the database. SQLite needs
    /// nothing: its single writer connection already orders them.
    pub async fn lock_audit_chain(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        lock_audit_chain(self.backend, tx).await
    }

    /// Appended to a claiming SELECT: on PostgreSQL several servers claim due jobs at once
    /// without waiting on each other's rows; SQLite's single writer needs nothing.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// `expr` values of a group joined with commas (SQLite spells STRING_AGG as GROUP_CONCAT).
    pub fn string_agg(&self, expr: &str) -> String {
        match self.backend {
            Backend::Postgres => format!("STRING_AGG({expr}, ',')"),
            Backend::Sqlite => format!("GROUP_CONCAT({expr}, ',')"),
        }
    }

    /// Milliseconds since the epoch according to the database server, for /readyz's clock check.
    pub async fn server_time_ms(&self) -> Result<i64, sqlx::Error> {
        let sql = match self.backend {
            Backend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Backend::Sqlite => "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        };
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&self.read).await
    }

    pub async fn close(&self) {
        if let Some(c) = &self.checkpointer {
            c.close().await;
        }
        self.write.close().await;
        self.read.close().await;
    }

    /// A string describing the pools for /metrics: (name, size, idle).
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, usize)> {
        let mut out = vec![("write", self.write.size(), self.write.num_idle())];
        if self.backend == Backend::Sqlite {
            out.push(("read", self.read.size(), self.read.num_idle()));
        }
        out
    }
}

/// Group-commit writer tasks on PostgreSQL, each holding one of the pool's connections while it
/// runs a group.
const PG_GROUP_WRITERS: usize = 4;

/// As [`Db::lock_audit_chain`], where only the engine is at hand (a group commit's end).
pub async fn lock_audit_chain(backend: Backend, tx: &mut Tx) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock(730001)").await?;
    }
    Ok(())
}

/// Page cache of the one writer: a bulk load dirties index pages all over the tables, and each
/// one evicted mid-transaction is written twice. Readers read through the memory map instead.
pub const WRITER_CACHE_KIB: u32 = 256 * 1024;
/// Pages (of 4 KiB) in the write-ahead log past which a commit checkpoints: see `sqlite_pool`.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;
const READER_CACHE_KIB: u32 = 16 * 1024;

/// Set while the writer connection runs a load with settings of its own (see [`Db::loosened`]).
type Loosened = std::sync::Arc<std::sync::atomic::AtomicBool>;

/// A pool of connections to the SQLite file at `url`. The writer's pool is given `loosened`:
/// a connection a load set up its own way is closed as it comes back, before anyone else can
/// use it, so no later write runs without its foreign keys checked or keeps a load's cache.
async fn sqlite_pool(url: &str, max: u32, cache_kib: u32, loosened: Option<Loosened>) -> anyhow::Result<AnyPool> {
    use std::sync::atomic::Ordering;
    let opts = AnyConnectOptions::from_str(url)?;
    let pool = AnyPoolOptions::new()
        .after_release(move |_conn, _meta| {
            let close = loosened.as_ref().is_some_and(|l| l.swap(false, Ordering::SeqCst));
            Box::pin(async move { Ok(!close) })
        })
        .max_connections(max)
        .min_connections(1)
        // A connection to a file in this process does not go stale; the check before each use
        // is a hand-off to its thread and back, as costly as a small query (intake did one per
        // read).
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                // synchronous=FULL: an acknowledged write survives power loss (ARCHITECTURE.md).
                // The WAL is checkpointed at 40 MB rather than 4: pages rewritten by successive
                // transactions are copied back once. Savepoint journals stay in memory: in a
                // temporary file, every page a group commit's savepoint touched was written out
                // and thrown away (db/group.rs).
                let pragmas = format!(
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
                     PRAGMA busy_timeout=10000; PRAGMA cache_size=-{cache_kib}; PRAGMA mmap_size=1073741824; \
                     PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}; PRAGMA temp_store=MEMORY;"
                );
                conn.execute(pragmas.as_str()).await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open SQLite database {url}: {e}"))?;
    Ok(pool)
}

/// `s` with LIKE's wildcards made literal, for a pattern used with `ESCAPE '\\'` (written
/// [`LIKE_ESCAPE`]): what a user types is what is searched, `_` included.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The ESCAPE clause that goes with [`like_escape`]; both engines read it alike.
pub const LIKE_ESCAPE: &str = "ESCAPE '\\'";

/// True when a database error is a unique-constraint violation, on either engine.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23505")
                || db.code().as_deref() == Some("2067")
                || db.code().as_deref() == Some("1555")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}
