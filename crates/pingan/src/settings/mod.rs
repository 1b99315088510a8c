//! Business settings: versioned rows in `settings`, newest version wins, every change audited.
//! Deployment settings are in `config.rs`, not here.
//!
//! Tables: `settings(key, version, value, changed_by, changed_at)`.
//! Invariant: a setting is never updated in place; a change is a new version.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::db::{Db, Tx};

/// Reads the newest version of `key`, or `T::default()` when it was never set.
pub async fn get<T: DeserializeOwned + Default>(db: &Db, key: &str) -> anyhow::Result<T> {
    let value: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1 ORDER BY version DESC LIMIT 1")
            .bind(key)
            .fetch_optional(db.reader())
            .await?;
    match value {
        Some(v) => Ok(serde_json::from_str(&v)?),
        None => Ok(T::default()),
    }
}

/// The newest version of `key` with its version number (0: never set, the default applies).
pub async fn get_versioned<T: DeserializeOwned + Default>(db: &Db, key: &str) -> anyhow::Result<(T, i64)> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT value, version FROM settings WHERE key = $1 ORDER BY version DESC LIMIT 1")
            .bind(key)
            .fetch_optional(db.reader())
            .await?;
    decode(row.as_ref().map(|(v, version)| (v.as_str(), *version)))
}

/// A stored value and its version, or the default at version 0 when it was never set.
fn decode<T: DeserializeOwned + Default>(row: Option<(&str, i64)>) -> anyhow::Result<(T, i64)> {
    match row {
        Some((v, version)) => Ok((serde_json::from_str(v)?, version)),
        None => Ok((T::default(), 0)),
    }
}

/// The newest versions of several keys, read in one query (hot paths read a few together).
pub struct Newest(std::collections::HashMap<String, (String, i64)>);

impl Newest {
    pub async fn load(db: &Db, keys: &[&str]) -> anyhow::Result<Newest> {
        let sql = format!(
            "SELECT s.key, s.value, s.version FROM settings s WHERE s.key IN ({}) \
             AND s.version = (SELECT MAX(m.version) FROM settings m WHERE m.key = s.key)",
            crate::db::bulk::marks(db.backend, 1, keys.len())
        );
        let mut q = sqlx::query_as::<_, (String, String, i64)>(&sql);
        for k in keys {
            q = q.bind(*k);
        }
        let rows = q.fetch_all(db.reader()).await?;
        Ok(Newest(rows.into_iter().map(|(k, v, version)| (k, (v, version))).collect()))
    }

    /// As [`get_versioned`], for a key this was loaded with.
    pub fn get_versioned<T: DeserializeOwned + Default>(&self, key: &str) -> anyhow::Result<(T, i64)> {
        decode(self.0.get(key).map(|(v, version)| (v.as_str(), *version)))
    }
}

/// Stores a new version of `key` inside the caller's transaction. Returns the version.
pub async fn set<T: Serialize>(
    tx: &mut Tx,
    key: &str,
    value: &T,
    changed_by: Option<i64>,
    at: i64,
) -> anyhow::Result<i64> {
    let current: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM settings WHERE key = $1").bind(key).fetch_one(&mut **tx).await?;
    let version = current.unwrap_or(0) + 1;
    sqlx::query("INSERT INTO settings (key, version, value, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(key)
        .bind(version)
        .bind(serde_json::to_string(value)?)
        .bind(changed_by)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(version)
}

pub const SECURITY_POLICY: &str = "security.policy";

/// Sign-in and session rules, set by the security administrator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityPolicy {
    /// Roles whose members may sign in without a second factor. Empty: everyone needs one.
    pub mfa_exempt_roles: Vec<String>,
    #[schema(minimum = 3, maximum = 20)]
    pub lockout_failures: i64,
    #[schema(minimum = 1, maximum = 1440)]
    pub lockout_window_minutes: i64,
    #[schema(minimum = 1, maximum = 1440)]
    pub lockout_minutes: i64,
    /// Failed sign-ins from one address in the lockout window before the address is refused.
    #[schema(minimum = 20, maximum = 100000)]
    pub address_failures: i64,
    #[schema(minimum = 5, maximum = 120)]
    pub idle_minutes: i64,
    #[schema(minimum = 1, maximum = 24)]
    pub absolute_hours: i64,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy {
            mfa_exempt_roles: Vec::new(),
            lockout_failures: 5,
            lockout_window_minutes: 15,
            lockout_minutes: 15,
            address_failures: 200,
            idle_minutes: 30,
            absolute_hours: 12,
        }
    }
}

impl SecurityPolicy {
    pub fn requires_mfa(&self, role_codes: &[String]) -> bool {
        role_codes.is_empty() || role_codes.iter().any(|r| !self.mfa_exempt_roles.contains(r))
    }
}
