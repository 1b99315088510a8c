//! Facts about the deployment kept in the database: whether it is a demo, and which data key
//! it was made with (so a wrong key is refused before it mis-decrypts anything).

use crate::db::Db;
use crate::pii::DataKey;

pub async fn get(db: &Db, key: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(key).fetch_optional(db.reader()).await
}

pub async fn set(db: &Db, key: &str, value: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM meta WHERE key = $1").bind(key).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2)").bind(key).bind(value).execute(&mut *tx).await?;
    tx.commit().await
}

pub async fn is_demo(db: &Db) -> Result<bool, sqlx::Error> {
    Ok(get(db, "demo").await?.as_deref() == Some("1"))
}

/// Records the key's fingerprint on first use; afterwards refuses any other key.
pub async fn check_key(db: &Db, key: &DataKey) -> anyhow::Result<()> {
    match get(db, "key_fingerprint").await? {
        Some(f) if f == key.fingerprint() => Ok(()),
        Some(_) => {
            anyhow::bail!("this database was created with another data key; start with the key file it was made with")
        }
        None => Ok(set(db, "key_fingerprint", &key.fingerprint()).await?),
    }
}
