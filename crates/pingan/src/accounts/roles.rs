//! Roles: named permission sets in the database, seeded with the built-in ones; the security
//! administrator may define more, from the closed set of permissions in code.

use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::permissions::BUILTIN_ROLES;
use crate::auth::{Caller, Permission};
use crate::db::Db;
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

/// Inserts any built-in role the database lacks and brings the permissions of built-in roles up
/// to this binary's definition (a new capability adds its permissions to them); roles the
/// security administrator defined are left as they are.
pub async fn seed(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for (code, zh, en, perms) in BUILTIN_ROLES {
        let exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE code = $1").bind(*code).fetch_one(&mut *tx).await?;
        if exists == 1 {
            sqlx::query("UPDATE roles SET permissions = $1 WHERE code = $2 AND builtin = 1 AND permissions <> $1")
                .bind(*perms)
                .bind(*code)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("INSERT INTO roles (code, name_zh, name_en, permissions, builtin) VALUES ($1, $2, $3, $4, 1)")
                .bind(*code)
                .bind(*zh)
                .bind(*en)
                .bind(*perms)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Role {
    pub id: i64,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub permissions: String,
}

pub async fn all(db: &Db) -> Result<Vec<Role>, sqlx::Error> {
    sqlx::query_as("SELECT id, code, name_zh, name_en, permissions FROM roles ORDER BY id").fetch_all(db.reader()).await
}

/// A role as the security administrator defines it: a name and a set of permissions from the
/// closed set in code.
pub struct RoleInput {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub permissions: Vec<String>,
}

fn parse(input: &RoleInput) -> Result<crate::auth::PermissionSet, AppError> {
    let ok_code = (2..=32).contains(&input.code.len())
        && input.code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok_code {
        return Err(AppError::invalid("code", "2 to 32 lower-case letters, digits or _"));
    }
    for (field, name) in [("name_zh", &input.name_zh), ("name_en", &input.name_en)] {
        if name.chars().count() > 50 || name.trim().is_empty() {
            return Err(AppError::invalid(field, "a name of 1 to 50 characters is required"));
        }
    }
    let mut set = crate::auth::PermissionSet::default();
    for p in &input.permissions {
        set.insert(Permission::parse(p).ok_or_else(|| AppError::invalid("permissions", format!("no permission {p}")))?);
    }
    Ok(set)
}

/// Creates a role, or replaces a non-built-in role's names and permissions. Holders of a
/// changed role are signed out everywhere, so their next request runs with the new set.
pub async fn save(state: &AppState, meta: &RequestMeta, caller: &Caller, input: RoleInput) -> Result<i64, AppError> {
    caller.require(Permission::RolesAssign)?;
    let set = parse(&input)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let existing: Option<(i64, i64)> = sqlx::query_as("SELECT id, builtin FROM roles WHERE code = $1")
        .bind(&input.code)
        .fetch_optional(&mut *tx)
        .await?;
    let id = match existing {
        Some((_, 1)) => return Err(AppError::conflict("code", "built-in roles cannot be changed; define a new role")),
        Some((id, _)) => {
            sqlx::query("UPDATE roles SET name_zh = $1, name_en = $2, permissions = $3 WHERE id = $4")
                .bind(input.name_zh.trim())
                .bind(input.name_en.trim())
                .bind(set.to_list())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE accounts SET auth_epoch = auth_epoch + 1, updated_at = $1 \
                 WHERE id IN (SELECT account_id FROM account_roles WHERE role_id = $2)",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => sqlx::query_scalar(
            "INSERT INTO roles (code, name_zh, name_en, permissions, builtin) VALUES ($1, $2, $3, $4, 0) RETURNING id",
        )
        .bind(&input.code)
        .bind(input.name_zh.trim())
        .bind(input.name_en.trim())
        .bind(set.to_list())
        .fetch_one(&mut *tx)
        .await?,
    };
    let entry = Entry::new(meta, Some(caller), "role.save")
        .record(format!("role:{id}"))
        .detail(serde_json::json!({"code": input.code, "permissions": set.to_list()}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(id)
}
