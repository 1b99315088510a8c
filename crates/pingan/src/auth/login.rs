//! Sign-in: password, lockout, second factor, session. One function for the page and the API,
//! so both answer an unknown user, a wrong password and a locked account the same way.

use super::password;
use super::session::{self, Kind, NewSession, SessionSpec};
use super::totp::{self, TotpSecret};
use crate::app::AppState;
use crate::audit::{self, Entry, Outcome};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// A 6-digit authenticator code or a recovery code.
    pub second_factor: Option<&'a str>,
}

pub struct SignedIn {
    pub session: NewSession,
    pub restriction: Option<&'static str>,
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: i64,
    password_hash: Option<String>,
    disabled: i64,
    locked_until: Option<i64>,
    auth_epoch: i64,
    must_change_password: i64,
    totp_enabled: i64,
    totp_secret_enc: Option<Vec<u8>>,
    totp_last_step: Option<i64>,
}

pub async fn sign_in(
    state: &AppState,
    meta: &RequestMeta,
    creds: Credentials<'_>,
    kind: Kind,
) -> Result<SignedIn, AppError> {
    let now = state.clock.now_ms();
    let policy = state.security_policy().await?;
    let window_start = now - policy.lockout_window_minutes * 60_000;
    let attempted = creds.username.chars().take(64).collect::<String>();

    let from_address: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM auth_failures WHERE ip = $1 AND at > $2")
        .bind(&meta.ip)
        .bind(window_start)
        .fetch_one(state.db.reader())
        .await?;
    if from_address >= policy.address_failures {
        let entry = Entry::new(meta, None, "auth.sign_in")
            .outcome(Outcome::Denied)
            .detail(serde_json::json!({"username": attempted, "reason": "address_limit"}));
        audit::write(state, entry).await?;
        return Err(AppError::RateLimited);
    }

    let candidate: Option<Candidate> = sqlx::query_as(
        "SELECT id, password_hash, disabled, locked_until, auth_epoch, must_change_password, \
                totp_enabled, totp_secret_enc, totp_last_step FROM accounts WHERE username = $1",
    )
    .bind(creds.username)
    .fetch_optional(state.db.reader())
    .await?;

    let Some(acc) = candidate else {
        password::verify_dummy(creds.password);
        return fail(state, meta, None, &attempted, "unknown_user", now, &policy).await;
    };
    let password_ok = match &acc.password_hash {
        Some(phc) => password::verify(creds.password, phc),
        None => {
            password::verify_dummy(creds.password);
            false
        }
    };
    if acc.disabled != 0 {
        return fail(state, meta, Some(acc.id), &attempted, "disabled", now, &policy).await;
    }
    if acc.locked_until.is_some_and(|t| t > now) {
        return fail(state, meta, Some(acc.id), &attempted, "locked", now, &policy).await;
    }
    if !password_ok {
        return fail(state, meta, Some(acc.id), &attempted, "wrong_password", now, &policy).await;
    }

    let (roles, _) = super::caller::roles_of(state, acc.id).await?;
    let mut restriction = None;
    if acc.totp_enabled != 0 {
        let Some(code) = creds.second_factor.filter(|c| !c.trim().is_empty()) else {
            return fail(state, meta, Some(acc.id), &attempted, "second_factor_missing", now, &policy).await;
        };
        if !second_factor_ok(state, &acc, code, now).await? {
            return fail(state, meta, Some(acc.id), &attempted, "second_factor_wrong", now, &policy).await;
        }
    } else if policy.requires_mfa(&roles) {
        restriction = Some("mfa_enrol");
    }
    if restriction.is_none() && acc.must_change_password != 0 {
        restriction = Some("change_password");
    }
    if kind == Kind::Api {
        if let Some(r) = restriction {
            let entry = Entry::new(meta, None, "auth.sign_in")
                .record(format!("account:{}", acc.id))
                .outcome(Outcome::Denied)
                .detail(serde_json::json!({"username": attempted, "reason": r}));
            audit::write(state, entry).await?;
            return Err(AppError::Refused {
                code: if r == "mfa_enrol" { "mfa_enrolment_required" } else { "password_change_required" },
                reason: "sign in on the web page first to finish setting up this account".into(),
            });
        }
    }

    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM auth_failures WHERE account_id = $1").bind(acc.id).execute(&mut *tx).await?;
    let spec = SessionSpec { account_id: acc.id, auth_epoch: acc.auth_epoch, kind, restriction, ip: &meta.ip };
    let session = session::create(&mut tx, spec, now, &policy).await?;
    let entry =
        Entry { actor_id: Some(acc.id), actor: creds.username.to_string(), ..Entry::new(meta, None, "auth.sign_in") }
            .record(format!("account:{}", acc.id))
            .detail(serde_json::json!({"kind": kind.code(), "restriction": restriction}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(SignedIn { session, restriction })
}

/// A TOTP code is accepted once: the step it matched is stored, and a code for that step or
/// an earlier one is refused on every server. A recovery code is spent by the same UPDATE
/// that checks it.
async fn second_factor_ok(state: &AppState, acc: &Candidate, code: &str, now: i64) -> Result<bool, AppError> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()) {
        let Some(enc) = &acc.totp_secret_enc else { return Ok(false) };
        let raw = state.key.decrypt(enc).map_err(|e| AppError::Internal(e.into()))?;
        let Some(secret) = TotpSecret::from_bytes(&raw) else { return Ok(false) };
        let Some(step) = totp::verify(&secret, &digits, now, acc.totp_last_step) else {
            return Ok(false);
        };
        let claimed = sqlx::query(
            "UPDATE accounts SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(acc.id)
        .execute(state.db.writer())
        .await?;
        return Ok(claimed.rows_affected() == 1);
    }
    let spent = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(acc.id)
    .bind(totp::hash_recovery_code(code))
    .execute(state.db.writer())
    .await?;
    Ok(spent.rows_affected() == 1)
}

async fn fail(
    state: &AppState,
    meta: &RequestMeta,
    account_id: Option<i64>,
    attempted: &str,
    reason: &str,
    now: i64,
    policy: &crate::settings::SecurityPolicy,
) -> Result<SignedIn, AppError> {
    let mut tx = state.db.begin().await?;
    sqlx::query("INSERT INTO auth_failures (account_id, ip, at) VALUES ($1, $2, $3)")
        .bind(account_id)
        .bind(&meta.ip)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let mut locked = false;
    if let Some(id) = account_id {
        let recent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM auth_failures WHERE account_id = $1 AND at > $2")
            .bind(id)
            .bind(now - policy.lockout_window_minutes * 60_000)
            .fetch_one(&mut *tx)
            .await?;
        if recent >= policy.lockout_failures && reason != "locked" {
            locked = true;
            sqlx::query("UPDATE accounts SET locked_until = $1 WHERE id = $2")
                .bind(now + policy.lockout_minutes * 60_000)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    let mut entry = Entry::new(meta, None, "auth.sign_in")
        .outcome(Outcome::Failed)
        .detail(serde_json::json!({"username": attempted, "reason": reason, "locked_now": locked}));
    if let Some(id) = account_id {
        entry = entry.record(format!("account:{id}"));
    }
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Err(AppError::InvalidCredentials)
}

/// Ends the caller's session.
pub async fn sign_out(state: &AppState, meta: &RequestMeta, caller: &crate::auth::Caller) -> Result<(), AppError> {
    let Some(session_id) = caller.session_id else {
        return Err(AppError::Forbidden("integration tokens have no session".into()));
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    session::revoke(&mut tx, session_id, now).await?;
    let entry = Entry::new(meta, Some(caller), "auth.sign_out").record(format!("session:{session_id}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(())
}
