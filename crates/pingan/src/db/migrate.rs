//! Versioned migrations, one file per engine with the same name, embedded in the binary.
//!
//! Invariant: a binary refuses a database whose schema is newer than the newest migration it
//! knows, so an old server can never write rows a newer schema would misread.

use sqlx::Executor;

use super::{Backend, Db};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

macro_rules! migration {
    ($version:expr, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("../../migrations/postgres/", $name, ".sql")),
        }
    };
}

const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_foundation"),
    migration!(2, "0002_jobs_events"),
    migration!(3, "0003_grids"),
    migration!(4, "0004_base_data"),
    migration!(5, "0005_visits"),
    migration!(6, "0006_antifraud"),
    migration!(7, "0007_fraud_figures"),
    migration!(8, "0008_push"),
    migration!(9, "0009_fraud_partial_indexes"),
];

pub const LATEST_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    Current,
    Behind { have: i64 },
    Newer { have: i64 },
}

pub async fn schema_state(db: &Db) -> anyhow::Result<SchemaState> {
    let have = current_version(db).await?;
    Ok(match have {
        v if v == LATEST_VERSION => SchemaState::Current,
        v if v > LATEST_VERSION => SchemaState::Newer { have: v },
        v => SchemaState::Behind { have: v },
    })
}

/// The newest migration applied; 0 for a database pingan never touched. Reads only, so
/// `pingan config check` and /readyz change nothing.
async fn current_version(db: &Db) -> anyhow::Result<i64> {
    let exists_sql = match db.backend {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'"
        }
    };
    let exists: i64 = sqlx::query_scalar(exists_sql).fetch_one(db.writer()).await?;
    if exists == 0 {
        return Ok(0);
    }
    let v: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(db.writer()).await?;
    Ok(v.unwrap_or(0))
}

/// Applies every migration the database lacks, each in its own transaction. Returns the
/// versions applied.
pub async fn migrate(db: &Db, now_ms: i64) -> anyhow::Result<Vec<i64>> {
    if db.backend == Backend::Postgres {
        // Several servers may start at once against one PostgreSQL.
        db.writer().execute("SELECT pg_advisory_lock(730002)").await?;
    }
    let result = apply_missing(db, now_ms).await;
    if db.backend == Backend::Postgres {
        db.writer().execute("SELECT pg_advisory_unlock(730002)").await?;
    }
    result
}

async fn apply_missing(db: &Db, now_ms: i64) -> anyhow::Result<Vec<i64>> {
    db.writer()
        .execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations \
             (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await?;
    let have = current_version(db).await?;
    if have > LATEST_VERSION {
        anyhow::bail!(
            "the database schema is version {have}, newer than this binary knows ({LATEST_VERSION}); \
             run a newer pingan"
        );
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > have) {
        let sql = match db.backend {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        let mut tx = db.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|e| anyhow::anyhow!("migration {} failed: {e}", m.name))?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        applied.push(m.version);
    }
    Ok(applied)
}
