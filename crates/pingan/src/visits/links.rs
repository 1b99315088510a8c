//! 全警挂钩村居: links between officers and the villages or communities (grids or posts) they
//! answer to, made and ended by a station head, with where each link stands on its duties.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cadence::{standing, DutyKind, Standing};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::jurisdiction::{scope_of, Level};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub account_id: i64,
    /// The village or community: a grid or post.
    pub node_id: i64,
}

/// Links an officer to a village or community (挂钩); a station head does it for their station.
pub async fn create_link(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    l: &LinkInput,
) -> Result<i64, AppError> {
    caller.require(Permission::DutiesAssign)?;
    let scope = scope_of(state, caller).await?;
    let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM org_nodes WHERE id = $1 AND valid_to IS NULL")
        .bind(l.node_id)
        .fetch_optional(state.db.reader())
        .await?;
    if !matches!(kind.as_deref(), Some("grid" | "post")) || !scope.covers(state, l.node_id, Level::Masked).await? {
        return Err(AppError::invalid("node_id", "no such village or community (grid or post) in your jurisdiction"));
    }
    let home: Option<i64> = sqlx::query_scalar("SELECT node_id FROM accounts WHERE id = $1 AND disabled = 0")
        .bind(l.account_id)
        .fetch_optional(state.db.reader())
        .await?;
    match home {
        Some(n) if scope.covers(state, n, Level::Masked).await? => {}
        _ => return Err(AppError::invalid("account_id", "no such active account in your jurisdiction")),
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let taken: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM duty_links WHERE account_id = $1 AND node_id = $2 AND until IS NULL")
            .bind(l.account_id)
            .bind(l.node_id)
            .fetch_one(&mut *tx)
            .await?;
    if taken > 0 {
        return Err(AppError::conflict("node_id", "the officer is already linked to this village"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO duty_links (account_id, node_id, since, created_by) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(l.account_id)
    .bind(l.node_id)
    .bind(now)
    .bind(caller.account_id)
    .fetch_one(&mut *tx)
    .await?;
    let payload =
        serde_json::json!({"link_id": id, "account_id": l.account_id, "node_id": l.node_id, "change": "created"});
    crate::events::publish(&mut tx, &state.db, "duty.link", Some(l.node_id), &payload, now).await?;
    let entry = Entry::new(meta, Some(caller), "duty.link")
        .record(format!("duty_link:{id}"))
        .record(format!("account:{}", l.account_id))
        .record(format!("node:{}", l.node_id));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    crate::events::wake(state);
    Ok(id)
}

/// Ends a live link (the officer moved on, the village was merged): it leaves the lists and the
/// overdue figures, its duties stay recorded. Whoever may make links in that village may end
/// them; any other link answers like a missing one.
pub async fn end_link(state: &AppState, meta: &RequestMeta, caller: &Caller, link: i64) -> Result<(), AppError> {
    caller.require(Permission::DutiesAssign)?;
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT account_id, node_id FROM duty_links WHERE id = $1 AND until IS NULL")
            .bind(link)
            .fetch_optional(state.db.reader())
            .await?;
    let scope = scope_of(state, caller).await?;
    let (account, node) = match row {
        Some((a, n)) if scope.covers(state, n, Level::Masked).await? => (a, n),
        _ => return Err(AppError::NotFound),
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let ended = sqlx::query("UPDATE duty_links SET until = $1 WHERE id = $2 AND until IS NULL")
        .bind(now)
        .bind(link)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if ended == 0 {
        return Err(AppError::NotFound); // ended meanwhile by someone else
    }
    let payload = serde_json::json!({"link_id": link, "account_id": account, "node_id": node, "change": "ended"});
    crate::events::publish(&mut tx, &state.db, "duty.link", Some(node), &payload, now).await?;
    let entry = Entry::new(meta, Some(caller), "duty.unlink")
        .record(format!("duty_link:{link}"))
        .record(format!("account:{account}"))
        .record(format!("node:{node}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    crate::events::wake(state);
    Ok(())
}

/// An officer who may be linked: (account id, name, police number, unit name).
pub type Officer = (i64, String, Option<String>, String);

/// The active sworn officers in the caller's scope, for the form that links them. Sworn: a role
/// with `people:read`, as the participation figure counts them.
pub async fn officers(state: &AppState, caller: &Caller) -> Result<Vec<Officer>, AppError> {
    let nodes = scope_of(state, caller).await?.nodes_sql(Level::Masked);
    Ok(sqlx::query_as(&format!(
        "SELECT a.id, a.name, a.police_number, n.name FROM accounts a JOIN org_nodes n ON n.id = a.node_id \
         WHERE a.disabled = 0 AND a.node_id IN ({nodes}) AND EXISTS (SELECT 1 FROM account_roles ar \
         JOIN roles r ON r.id = ar.role_id WHERE ar.account_id = a.id AND (',' || r.permissions || ',') LIKE '%,people:read,%') \
         ORDER BY n.code, a.name, a.id"
    ))
    .fetch_all(state.db.reader())
    .await?)
}

/// The villages and communities (live grids and posts) in the caller's scope: (id, code, name).
pub async fn villages(state: &AppState, caller: &Caller) -> Result<Vec<(i64, String, String)>, AppError> {
    let nodes = scope_of(state, caller).await?.nodes_sql(Level::Masked);
    Ok(sqlx::query_as(&format!(
        "SELECT id, code, name FROM org_nodes WHERE kind IN ('grid', 'post') AND valid_to IS NULL AND id IN ({nodes}) ORDER BY code"
    ))
    .fetch_all(state.db.reader())
    .await?)
}

/// One link with where it stands on each kind of duty.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkStanding {
    pub id: i64,
    pub account_id: i64,
    pub officer: String,
    pub node_id: i64,
    pub village: String,
    pub since: i64,
    pub contact: Standing,
    pub on_site: Standing,
    pub deed: Standing,
    pub last_contact: Option<i64>,
    pub last_on_site: Option<i64>,
    pub last_deed: Option<i64>,
}

impl LinkStanding {
    pub fn overdue(&self) -> bool {
        [self.contact, self.on_site, self.deed].contains(&Standing::Overdue)
    }
}

/// Live links, either the caller's own (`mine`) or every one whose village is in scope.
pub async fn links(state: &AppState, caller: &Caller, mine: bool) -> Result<Vec<LinkStanding>, AppError> {
    let filter = if mine {
        format!("l.account_id = {}", caller.account_id_or_forbidden()?)
    } else {
        format!("l.node_id IN ({})", scope_of(state, caller).await?.nodes_sql(Level::CountsOnly))
    };
    let rows: Vec<(i64, i64, String, i64, String, i64)> = sqlx::query_as(&format!(
        "SELECT l.id, l.account_id, a.name, l.node_id, n.name, l.since FROM duty_links l \
         JOIN accounts a ON a.id = l.account_id JOIN org_nodes n ON n.id = l.node_id \
         WHERE l.until IS NULL AND {filter} ORDER BY n.code, a.name, l.id"
    ))
    .fetch_all(state.db.reader())
    .await?;
    let last: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
        "SELECT d.link_id, d.kind, MAX(d.done_at) FROM duties d JOIN duty_links l ON l.id = d.link_id \
         WHERE l.until IS NULL AND {filter} GROUP BY d.link_id, d.kind"
    ))
    .fetch_all(state.db.reader())
    .await?;
    let now = state.clock.now_ms();
    let newest =
        |link: i64, kind: DutyKind| last.iter().find(|(l, k, _)| *l == link && k == kind.code()).map(|(_, _, t)| *t);
    Ok(rows
        .into_iter()
        .map(|(id, account_id, officer, node_id, village, since)| {
            let (c, o, d) = (newest(id, DutyKind::Contact), newest(id, DutyKind::OnSite), newest(id, DutyKind::Deed));
            LinkStanding {
                id,
                account_id,
                officer,
                node_id,
                village,
                since,
                contact: standing(DutyKind::Contact, now, since, c),
                on_site: standing(DutyKind::OnSite, now, since, o),
                deed: standing(DutyKind::Deed, now, since, d),
                last_contact: c,
                last_on_site: o,
                last_deed: d,
            }
        })
        .collect())
}
