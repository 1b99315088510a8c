//! Account rules: creation, roles, unit, status, password resets, and reasoned unmasking.

use rand::Rng;

use crate::app::AppState;
use crate::audit::{self, Entry, Outcome};
use crate::auth::password::{self, Personal};
use crate::auth::session::bump_epoch;
use crate::auth::{Caller, Permission};
use crate::db::{is_unique_violation, Tx};
use crate::jurisdiction::{scope_of, staff_scope_of, Level};
use crate::pii::mask::Phone;
use crate::pii::{self, DataKey};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub police_number: Option<String>,
    /// Always masked here; see the unmask route.
    pub phone: Option<String>,
    pub node_id: i64,
    pub node_name: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub locked: bool,
    pub mfa: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    username: String,
    name: String,
    police_number: Option<String>,
    phone_enc: Option<Vec<u8>>,
    node_id: i64,
    node_name: String,
    disabled: i64,
    locked_until: Option<i64>,
    totp_enabled: i64,
    roles: Option<String>,
}

fn select_sql(state: &AppState) -> String {
    format!(
        "SELECT a.id, a.username, a.name, a.police_number, a.phone_enc, a.node_id, n.name AS node_name, \
         a.disabled, a.locked_until, a.totp_enabled, \
         (SELECT {} FROM account_roles ar JOIN roles r ON r.id = ar.role_id WHERE ar.account_id = a.id) AS roles \
         FROM accounts a JOIN org_nodes n ON n.id = a.node_id",
        state.db.string_agg("r.code")
    )
}

fn view(state: &AppState, r: Row, now: i64) -> AccountView {
    let phone = r.phone_enc.and_then(|enc| state.key.decrypt_str(&enc).ok()).map(|p| pii::mask::mask_phone(&p));
    let mut roles: Vec<String> =
        r.roles.unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(String::from).collect();
    roles.sort();
    AccountView {
        id: r.id,
        username: r.username,
        name: r.name,
        police_number: r.police_number,
        phone,
        node_id: r.node_id,
        node_name: r.node_name,
        roles,
        disabled: r.disabled != 0,
        locked: r.locked_until.is_some_and(|t| t > now),
        mfa: r.totp_enabled != 0,
    }
}

pub struct ListQuery {
    pub q: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

/// Accounts in the caller's scope, newest first, filtered by part of a username or name.
pub async fn list(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    query: ListQuery,
) -> Result<(Vec<AccountView>, i64), AppError> {
    caller.require(Permission::AccountsRead)?;
    let scope = staff_scope_of(state, caller).await?;
    let filter = format!("a.node_id IN ({})", scope.nodes_sql(Level::Masked));
    let like =
        query.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| format!("%{}%", crate::db::like_escape(s)));
    let (where_sql, bind) = match &like {
        Some(l) => (
            format!(
                "WHERE {filter} AND (a.username LIKE $1 {esc} OR a.name LIKE $1 {esc})",
                esc = crate::db::LIKE_ESCAPE
            ),
            Some(l.clone()),
        ),
        None => (format!("WHERE {filter}"), None),
    };
    let count_sql = format!("SELECT COUNT(*) FROM accounts a {where_sql}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    if let Some(b) = &bind {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(state.db.reader()).await?;
    let offset = (query.page.max(1) - 1) * query.per_page;
    let sql = format!("{} {where_sql} ORDER BY a.id DESC LIMIT {} OFFSET {offset}", select_sql(state), query.per_page);
    let mut q = sqlx::query_as::<_, Row>(&sql);
    if let Some(b) = &bind {
        q = q.bind(b.clone());
    }
    let rows = q.fetch_all(state.db.reader()).await?;
    let now = state.clock.now_ms();
    let views: Vec<AccountView> = rows.into_iter().map(|r| view(state, r, now)).collect();
    let entry =
        Entry::new(meta, Some(caller), "account.list").records(views.iter().map(|v| format!("account:{}", v.id)));
    audit::write(state, entry).await?;
    Ok((views, total))
}

/// One account, if it is in the caller's scope; otherwise 404, audited as denied.
pub async fn get(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<AccountView, AppError> {
    let node_id = visible_node(state, meta, caller, id, Permission::AccountsRead, "account.read").await?;
    let sql = format!("{} WHERE a.id = $1", select_sql(state));
    let row: Row = sqlx::query_as(&sql).bind(id).fetch_one(state.db.reader()).await?;
    debug_assert_eq!(row.node_id, node_id);
    audit::write(state, Entry::new(meta, Some(caller), "account.read").record(format!("account:{id}"))).await?;
    Ok(view(state, row, state.clock.now_ms()))
}

/// The account's unit if the caller may see the account; a refusal is audited and answered
/// exactly like a missing account.
async fn visible_node(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    perm: Permission,
    action: &str,
) -> Result<i64, AppError> {
    caller.require(perm)?;
    let node: Option<i64> = sqlx::query_scalar("SELECT node_id FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.reader())
        .await?;
    let scope = staff_scope_of(state, caller).await?;
    match node {
        Some(n) if scope.covers(state, n, Level::Masked).await? => Ok(n),
        _ => {
            let entry = Entry::new(meta, Some(caller), action)
                .record(format!("account:{id}"))
                .outcome(Outcome::Denied)
                .detail(serde_json::json!({"reason": "outside_scope_or_missing"}));
            audit::write(state, entry).await?;
            Err(AppError::NotFound)
        }
    }
}

pub struct NewAccount {
    pub username: String,
    pub name: String,
    pub police_number: Option<String>,
    pub phone: Option<String>,
    pub node_id: i64,
    pub password: Option<String>,
    pub roles: Vec<String>,
}

fn check_username(u: &str) -> Result<(), AppError> {
    let ok = (3..=32).contains(&u.len()) && u.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid("username", "3 to 32 letters, digits, '.', '_' or '-'"))
    }
}

/// Generates a temporary password that satisfies the policy.
pub fn temporary_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// Creates an account in an open transaction. Returns the id and, when no password was given,
/// the temporary one (the account must change it at first sign-in).
pub async fn create_in(
    tx: &mut Tx,
    key: &DataKey,
    input: &NewAccount,
    must_change: bool,
    now: i64,
) -> Result<(i64, Option<String>), AppError> {
    check_username(&input.username)?;
    AppError::check_len("name", &input.name, 50)?;
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name", "a name of 1 to 50 characters is required"));
    }
    AppError::check_len("police_number", input.police_number.as_deref().unwrap_or(""), 16)?;
    let police_number = input.police_number.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(pn) = police_number {
        if pn.len() > 16 || !pn.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AppError::invalid("police_number", "up to 16 letters and digits"));
        }
    }
    let phone = match input.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => Some(Phone::parse(p).map_err(|r| AppError::invalid("phone", r))?),
        None => None,
    };
    let node_live: Option<Option<String>> = sqlx::query_scalar("SELECT valid_to FROM org_nodes WHERE id = $1")
        .bind(input.node_id)
        .fetch_optional(&mut **tx)
        .await?;
    match node_live {
        Some(None) => {}
        Some(Some(_)) => return Err(AppError::invalid("node_id", "the unit is retired")),
        None => return Err(AppError::invalid("node_id", "no such unit")),
    }
    let (pw, temp) = match &input.password {
        Some(p) => (p.clone(), None),
        None => {
            let t = temporary_password();
            (t.clone(), Some(t))
        }
    };
    let personal = Personal { username: &input.username, name, police_number };
    password::check_policy(&pw, &personal).map_err(|p| AppError::invalid("password", p.reason_en()))?;
    let must_change = must_change || temp.is_some();
    let id: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO accounts (username, name, police_number, phone_enc, phone_hash, node_id, password_hash, must_change_password, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
    )
    .bind(&input.username)
    .bind(name)
    .bind(police_number)
    .bind(phone.as_ref().map(|p| key.encrypt_str(p.as_str())))
    .bind(phone.as_ref().map(|p| key.lookup_hash(pii::PHONE, p.as_str())))
    .bind(input.node_id)
    .bind(password::hash(&pw))
    .bind(i64::from(must_change))
    .bind(now)
    .fetch_one(&mut **tx)
    .await;
    let id = id.map_err(|e| {
        if is_unique_violation(&e) {
            let field = if e.to_string().contains("police_number") { "police_number" } else { "username" };
            AppError::conflict(field, format!("another account already has this {field}"))
        } else {
            e.into()
        }
    })?;
    set_roles_in(tx, id, &input.roles).await?;
    Ok((id, temp))
}

async fn set_roles_in(tx: &mut Tx, account_id: i64, roles: &[String]) -> Result<(), AppError> {
    sqlx::query("DELETE FROM account_roles WHERE account_id = $1").bind(account_id).execute(&mut **tx).await?;
    for code in roles {
        let role: Option<i64> =
            sqlx::query_scalar("SELECT id FROM roles WHERE code = $1").bind(code).fetch_optional(&mut **tx).await?;
        let role = role.ok_or_else(|| AppError::invalid("roles", format!("no role {code}")))?;
        sqlx::query("INSERT INTO account_roles (account_id, role_id) VALUES ($1, $2)")
            .bind(account_id)
            .bind(role)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Creates an account at a unit in the caller's jurisdiction. Roles may be given only by a
/// caller who may assign roles.
pub async fn create(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    input: NewAccount,
) -> Result<(i64, Option<String>), AppError> {
    caller.require(Permission::AccountsWrite)?;
    if !input.roles.is_empty() && !caller.has(Permission::RolesAssign) {
        return Err(AppError::Forbidden("assigning roles needs the security administrator (roles:assign)".into()));
    }
    let scope = crate::org::service::tree(state, caller).await?;
    if !scope.iter().any(|(n, _)| n.id == input.node_id) {
        return Err(AppError::invalid("node_id", "no such unit in your jurisdiction"));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let must_change = input.password.is_some();
    let (id, temp) = create_in(&mut tx, &state.key, &input, must_change, now).await?;
    let entry = Entry::new(meta, Some(caller), "account.create")
        .record(format!("account:{id}"))
        .detail(serde_json::json!({"roles": input.roles}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok((id, temp))
}

/// The change an administrator makes to an account.
pub enum Change {
    Roles(Vec<String>),
    Node(i64),
    Disabled(bool),
    Unlock,
    ResetPassword,
}

/// Applies one change; returns a temporary password for a reset.
pub async fn change(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    change: Change,
) -> Result<Option<String>, AppError> {
    let (perm, action) = match &change {
        Change::Roles(_) => (Permission::RolesAssign, "account.set_roles"),
        Change::Node(_) => (Permission::AccountsWrite, "account.move"),
        Change::Disabled(_) => (Permission::AccountsWrite, "account.set_disabled"),
        Change::Unlock => (Permission::AccountsWrite, "account.unlock"),
        Change::ResetPassword => (Permission::AccountsWrite, "account.reset_password"),
    };
    let reads_people = holds_data_permissions(state, id).await?;
    // Moving an account that reads personal data changes what it may read: that is granting
    // data access, the security administrator's duty, not the system administrator's.
    let perm = if matches!(change, Change::Node(_)) && reads_people { Permission::RolesAssign } else { perm };
    caller.require(perm)?;
    visible_node(state, meta, caller, id, Permission::AccountsRead, action).await?;
    if caller.account_id == Some(id) && !matches!(change, Change::Unlock) {
        return Err(AppError::Forbidden("no one may change their own roles, unit or status".into()));
    }
    if matches!(change, Change::ResetPassword) && reads_people && !second_factor_guards(state, id).await? {
        return Err(AppError::Forbidden(
            "this account reads personal data and signs in without a second factor: a reset would let you \
             sign in as it. Ask the security administrator to require the second factor for its roles, or reset \
             it at the server with `pingan user passwd`"
                .into(),
        ));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut temp = None;
    let detail = match change {
        Change::Roles(roles) => {
            set_roles_in(&mut tx, id, &roles).await?;
            bump_epoch(&mut tx, id, now).await?;
            serde_json::json!({"roles": roles})
        }
        Change::Node(node) => {
            let tree = crate::org::service::tree(state, caller).await?;
            if !tree.iter().any(|(n, _)| n.id == node && n.valid_to.is_none()) {
                return Err(AppError::invalid("node_id", "no such live unit in your jurisdiction"));
            }
            sqlx::query("UPDATE accounts SET node_id = $1 WHERE id = $2").bind(node).bind(id).execute(&mut *tx).await?;
            bump_epoch(&mut tx, id, now).await?;
            serde_json::json!({"node_id": node})
        }
        Change::Disabled(d) => {
            sqlx::query("UPDATE accounts SET disabled = $1 WHERE id = $2")
                .bind(i64::from(d))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            bump_epoch(&mut tx, id, now).await?;
            serde_json::json!({"disabled": d})
        }
        Change::Unlock => {
            sqlx::query("UPDATE accounts SET locked_until = NULL WHERE id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM auth_failures WHERE account_id = $1").bind(id).execute(&mut *tx).await?;
            serde_json::Value::Null
        }
        Change::ResetPassword => {
            let t = temporary_password();
            sqlx::query("UPDATE accounts SET password_hash = $1, must_change_password = 1 WHERE id = $2")
                .bind(password::hash(&t))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            bump_epoch(&mut tx, id, now).await?;
            temp = Some(t);
            serde_json::Value::Null
        }
    };
    let entry = Entry::new(meta, Some(caller), action).record(format!("account:{id}")).detail(detail);
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(temp)
}

/// Whether any role of the account carries a data permission.
async fn holds_data_permissions(state: &AppState, id: i64) -> Result<bool, AppError> {
    let (_, perms) = crate::auth::caller::roles_of(state, id).await?;
    let reads = perms.iter().any(|p| p.is_data());
    Ok(reads)
}

/// A password reset leaves the second factor in place; it protects the account from whoever
/// learns the temporary password only if one is enrolled and the policy asks for it.
async fn second_factor_guards(state: &AppState, id: i64) -> Result<bool, AppError> {
    let enrolled: Option<i64> = sqlx::query_scalar("SELECT totp_enabled FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.reader())
        .await?;
    let (roles, _) = crate::auth::caller::roles_of(state, id).await?;
    Ok(enrolled == Some(1) && state.security_policy().await?.requires_mfa(&roles))
}

/// The full phone number of an account, for a stated reason, audited with that reason.
pub async fn unmask_phone(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    reason: &str,
) -> Result<Option<String>, AppError> {
    caller.require(Permission::PiiUnmask)?;
    let reason = pii::check_unmask_reason(reason).map_err(|r| AppError::invalid("reason", r))?;
    let node = visible_node(state, meta, caller, id, Permission::PiiUnmask, "account.unmask_phone").await?;
    let scope = scope_of(state, caller).await?;
    if !scope.covers(state, node, Level::Full).await? {
        return Err(AppError::Forbidden("your access to this unit is masked".into()));
    }
    let enc: Option<Vec<u8>> = sqlx::query_scalar("SELECT phone_enc FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_one(state.db.reader())
        .await?;
    let entry = Entry::new(meta, Some(caller), "account.unmask_phone")
        .record(format!("account:{id}"))
        .detail(serde_json::json!({"reason": reason}));
    audit::write(state, entry).await?;
    match enc {
        Some(e) => Ok(Some(state.key.decrypt_str(&e).map_err(|e| AppError::Internal(e.into()))?)),
        None => Ok(None),
    }
}

/// The caller changes their own password (required after a reset or import).
pub async fn change_own_password(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    current: &str,
    new: &str,
) -> Result<(), AppError> {
    let id = caller.account_id_or_forbidden()?;
    let (phc, police_number): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT password_hash, police_number FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_one(state.db.reader())
            .await?;
    if !phc.is_some_and(|h| password::verify(current, &h)) {
        return Err(AppError::invalid("current_password", "the current password is wrong"));
    }
    let personal = Personal { username: &caller.label, name: &caller.name, police_number: police_number.as_deref() };
    password::check_policy(new, &personal).map_err(|p| AppError::invalid("new_password", p.reason_en()))?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE accounts SET password_hash = $1, must_change_password = 0, updated_at = $2 WHERE id = $3")
        .bind(password::hash(new))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // Other sessions end; this one carries on without its restriction.
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE account_id = $2 AND id <> $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .bind(caller.session_id.unwrap_or(-1))
        .execute(&mut *tx)
        .await?;
    if let Some(sid) = caller.session_id {
        sqlx::query("UPDATE sessions SET restriction = NULL WHERE id = $1 AND restriction = 'change_password'")
            .bind(sid)
            .execute(&mut *tx)
            .await?;
    }
    let entry = Entry::new(meta, Some(caller), "account.change_own_password").record(format!("account:{id}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(())
}
