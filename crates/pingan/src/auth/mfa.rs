//! Second-factor enrolment: a secret is stored (encrypted) as pending, and becomes active only
//! when the account proves it holds it with a valid code.

use super::totp::{self, TotpSecret};
use super::Caller;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

pub struct Enrolment {
    pub secret_base32: String,
    pub qr_svg: String,
}

/// Starts (or restarts) enrolment with a fresh pending secret.
pub async fn start(state: &AppState, caller: &Caller) -> Result<Enrolment, AppError> {
    let account_id = caller.account_id_or_forbidden()?;
    let secret = TotpSecret::generate();
    let enc = state.key.encrypt(secret.as_bytes());
    let done =
        sqlx::query("UPDATE accounts SET totp_secret_enc = $1, updated_at = $2 WHERE id = $3 AND totp_enabled = 0")
            .bind(enc)
            .bind(state.clock.now_ms())
            .bind(account_id)
            .execute(state.db.writer())
            .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::Conflict {
            field: None,
            reason: "two-factor sign-in is already on for this account".into(),
        });
    }
    let uri = totp::otpauth_uri(&secret, "pingan", &caller.label);
    Ok(Enrolment { secret_base32: secret.to_base32(), qr_svg: totp::qr_svg(&uri) })
}

/// Completes enrolment with a valid code; returns the 10 recovery codes, shown once.
pub async fn confirm(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    code: &str,
) -> Result<Vec<String>, AppError> {
    let account_id = caller.account_id_or_forbidden()?;
    let now = state.clock.now_ms();
    let pending: Option<(Option<Vec<u8>>, i64)> =
        sqlx::query_as("SELECT totp_secret_enc, totp_enabled FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(state.db.reader())
            .await?;
    let Some((Some(enc), 0)) = pending else {
        return Err(AppError::invalid("code", "start enrolment first"));
    };
    let raw = state.key.decrypt(&enc).map_err(|e| AppError::Internal(e.into()))?;
    let secret = TotpSecret::from_bytes(&raw)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored TOTP secret malformed")))?;
    let Some(step) = totp::verify(&secret, code.trim(), now, None) else {
        return Err(AppError::invalid("code", "the code is wrong or expired; enter the code the app shows now"));
    };
    let codes = totp::generate_recovery_codes();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE accounts SET totp_enabled = 1, totp_last_step = $1, updated_at = $2 WHERE id = $3")
        .bind(step)
        .bind(now)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1").bind(account_id).execute(&mut *tx).await?;
    for c in &codes {
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)")
            .bind(account_id)
            .bind(totp::hash_recovery_code(c))
            .execute(&mut *tx)
            .await?;
    }
    if let Some(sid) = caller.session_id {
        sqlx::query("UPDATE sessions SET restriction = NULL WHERE id = $1 AND restriction = 'mfa_enrol'")
            .bind(sid)
            .execute(&mut *tx)
            .await?;
    }
    let entry = Entry::new(meta, Some(caller), "auth.mfa_enrol").record(format!("account:{account_id}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(codes)
}
