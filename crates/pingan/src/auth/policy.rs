//! The security policy (second factor per role, lockout, session limits): read by everyone's
//! sign-in, changed only by the security administrator, each change a new audited version.

use super::{Caller, Permission};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::settings::{self, SecurityPolicy};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

pub async fn update(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    policy: SecurityPolicy,
) -> Result<i64, AppError> {
    caller.require(Permission::SecurityPolicy)?;
    let roles = crate::accounts::roles::all(&state.db).await?;
    for r in &policy.mfa_exempt_roles {
        if !roles.iter().any(|x| &x.code == r) {
            return Err(AppError::invalid("mfa_exempt_roles", format!("no role {r}")));
        }
    }
    let bounds: [(&str, i64, i64, i64); 6] = [
        ("lockout_failures", policy.lockout_failures, 3, 20),
        ("lockout_window_minutes", policy.lockout_window_minutes, 1, 1440),
        ("lockout_minutes", policy.lockout_minutes, 1, 1440),
        ("address_failures", policy.address_failures, 20, 100_000),
        ("idle_minutes", policy.idle_minutes, 5, 120),
        ("absolute_hours", policy.absolute_hours, 1, 24),
    ];
    for (field, value, min, max) in bounds {
        if !(min..=max).contains(&value) {
            return Err(AppError::invalid(field, format!("between {min} and {max}")));
        }
    }
    let before = state.security_policy().await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let version = settings::set(&mut tx, settings::SECURITY_POLICY, &policy, caller.account_id, now).await?;
    let entry = Entry::new(meta, Some(caller), "security.policy_change")
        .record(format!("setting:{}:{version}", settings::SECURITY_POLICY))
        .detail(serde_json::json!({"before": before, "after": policy}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(version)
}
