//! Encrypted backups of the SQLite database, consistent while the server runs: `VACUUM INTO`
//! takes a snapshot through SQLite's own locking, and the copy is sealed with the data key.
//! PostgreSQL deployments use pg_dump / pg_basebackup (README).

use std::path::Path;

use crate::db::{Backend, Db};
use crate::pii::DataKey;

const MAGIC: &[u8] = b"PINGAN-BACKUP-1\n";

pub async fn create(db: &Db, key: &DataKey, out: &Path) -> anyhow::Result<u64> {
    if db.backend != Backend::Sqlite {
        anyhow::bail!("pingan backup is for SQLite; on PostgreSQL use pg_dump or pg_basebackup (see README)");
    }
    if out.exists() {
        anyhow::bail!("{} exists; choose a new file", out.display());
    }
    let dir = tempfile::tempdir()?;
    let snapshot = dir.path().join("snapshot.db");
    let snapshot_str = snapshot.to_str().ok_or_else(|| anyhow::anyhow!("temporary path is not UTF-8"))?;
    sqlx::query("VACUUM INTO $1").bind(snapshot_str).execute(db.writer()).await?;
    let plain = std::fs::read(&snapshot)?;
    let mut sealed = MAGIC.to_vec();
    sealed.extend(key.encrypt(&plain));
    std::fs::write(out, &sealed)?;
    Ok(plain.len() as u64)
}

/// Writes the database inside `backup` to `to` (which must not exist).
pub fn restore(key: &DataKey, backup: &Path, to: &Path) -> anyhow::Result<()> {
    if to.exists() {
        anyhow::bail!(
            "{} exists; restore into a new file and move it into place with the server stopped",
            to.display()
        );
    }
    let sealed = std::fs::read(backup)?;
    let body =
        sealed.strip_prefix(MAGIC).ok_or_else(|| anyhow::anyhow!("{} is not a pingan backup", backup.display()))?;
    let plain = key.decrypt(body).map_err(|_| {
        anyhow::anyhow!("the backup does not open with this data key (wrong key, or the file was altered)")
    })?;
    std::fs::write(to, plain)?;
    Ok(())
}
