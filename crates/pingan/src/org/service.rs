//! Rules for changing the organisation: who may, where, and what is refused.

use super::model::{check_code, check_date, check_name, Kind, Node};
use super::store::{self, HistoryRow, Insert};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::db::{is_unique_violation, Tx};
use crate::events;
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

/// The caller's part of the tree, root first, with depth below the caller's node.
pub async fn tree(state: &AppState, caller: &Caller) -> Result<Vec<(Node, i64)>, AppError> {
    if !(caller.has(Permission::OrgRead) || caller.has(Permission::AccountsRead)) {
        return Err(AppError::Forbidden("this needs the permission org:read".into()));
    }
    Ok(store::subtree(state.db.reader(), caller.node_id).await?)
}

/// Answers 404 for a unit that does not exist or lies outside the caller's part of the tree,
/// and audits the attempt. Checked before a change opens its transaction, so the denial's own
/// audit entry can be written (SQLite has one writer).
async fn ensure_visible(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    action: &str,
) -> Result<(), AppError> {
    let mut tx = state.db.reader().begin().await?;
    let inside = store::is_descendant(&mut tx, caller.node_id, id).await?;
    drop(tx);
    if inside {
        return Ok(());
    }
    let entry = Entry::new(meta, Some(caller), action)
        .record(format!("node:{id}"))
        .outcome(audit::Outcome::Denied)
        .detail(serde_json::json!({"reason": "outside_scope_or_missing"}));
    audit::write(state, entry).await?;
    Err(AppError::NotFound)
}

/// A node, if it exists and lies in the caller's part of the tree.
pub async fn get(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
) -> Result<(Node, Vec<HistoryRow>), AppError> {
    caller.require(Permission::OrgRead)?;
    ensure_visible(state, meta, caller, id, "org.read").await?;
    let mut tx = state.db.reader().begin().await?;
    let node = visible(&mut tx, caller, id).await?;
    drop(tx);
    let history = store::history_of(state.db.reader(), id).await?;
    Ok((node, history))
}

async fn visible(tx: &mut Tx, caller: &Caller, id: i64) -> Result<Node, AppError> {
    let node = store::by_id(tx, id).await?.ok_or(AppError::NotFound)?;
    if !store::is_descendant(tx, caller.node_id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(node)
}

pub struct NewNode {
    pub code: String,
    pub kind: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub valid_from: Option<String>,
}

pub async fn create(state: &AppState, meta: &RequestMeta, caller: &Caller, input: NewNode) -> Result<Node, AppError> {
    caller.require(Permission::OrgWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id = create_in(&mut tx, caller.account_id, Some(caller.node_id), &input, now).await?;
    let entry = Entry::new(meta, Some(caller), "org.create").record(format!("node:{id}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    let node = store::by_id(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    publish_change(&mut tx, state, id, "org.create", now).await?;
    tx.commit().await?;
    events::wake(state);
    Ok(node)
}

/// Creates a node inside an open transaction. `within`: the subtree the new node must join
/// (None for the operator on the command line, who may create the root).
pub async fn create_in(
    tx: &mut Tx,
    actor: Option<i64>,
    within: Option<i64>,
    input: &NewNode,
    now: i64,
) -> Result<i64, AppError> {
    check_code(&input.code).map_err(|r| AppError::invalid("code", r))?;
    check_name(&input.name).map_err(|r| AppError::invalid("name", r))?;
    let kind = Kind::parse(&input.kind)
        .ok_or_else(|| AppError::invalid("kind", "one of bureau, branch, station, post, grid, unit"))?;
    let valid_from = input.valid_from.clone().unwrap_or_else(|| crate::clock::beijing_date(now));
    check_date(&valid_from).map_err(|r| AppError::invalid("valid_from", r))?;
    let parent = match input.parent_id {
        Some(pid) => {
            let p = store::by_id(tx, pid).await?;
            let in_reach = match within {
                Some(root) => store::is_descendant(tx, root, pid).await?,
                None => true,
            };
            match p {
                Some(p) if in_reach => Some(p),
                _ => return Err(AppError::invalid("parent_id", "no such unit in your jurisdiction")),
            }
        }
        None => None,
    };
    if parent.as_ref().is_some_and(Node::is_retired) {
        return Err(AppError::invalid("parent_id", "the parent unit is retired"));
    }
    if parent.is_none() && within.is_some() {
        return Err(AppError::invalid("parent_id", "a parent unit is required"));
    }
    if parent.is_none() {
        let roots: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM org_nodes WHERE parent_id IS NULL").fetch_one(&mut **tx).await?;
        if roots > 0 {
            return Err(AppError::invalid("parent_id", "the organisation already has its root"));
        }
    }
    if !kind.may_sit_under(parent.as_ref().and_then(Node::kind)) {
        return Err(AppError::invalid(
            "kind",
            format!(
                "a {} cannot sit under {}",
                kind.code(),
                parent.as_ref().map(|p| p.kind.as_str()).unwrap_or("nothing")
            ),
        ));
    }
    let ins = Insert {
        code: &input.code,
        kind: kind.code(),
        name: input.name.trim(),
        parent_id: parent.as_ref().map(|p| p.id),
        valid_from: &valid_from,
    };
    let id = store::insert(tx, ins, now).await.map_err(|e| {
        if is_unique_violation(&e) {
            AppError::conflict("code", format!("the code {} is taken", input.code))
        } else {
            e.into()
        }
    })?;
    store::history(tx, id, actor, "created", None, Some(input.name.trim()), now).await?;
    Ok(id)
}

pub async fn rename(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    name: &str,
) -> Result<(), AppError> {
    caller.require(Permission::OrgWrite)?;
    check_name(name).map_err(|r| AppError::invalid("name", r))?;
    ensure_visible(state, meta, caller, id, "org.rename").await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let node = visible(&mut tx, caller, id).await?;
    sqlx::query("UPDATE org_nodes SET name = $1, updated_at = $2 WHERE id = $3")
        .bind(name.trim())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    store::history(&mut tx, id, caller.account_id, "renamed", Some(&node.name), Some(name.trim()), now).await?;
    finish(state, tx, meta, caller, "org.rename", id, now).await
}

pub async fn move_node(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    new_parent: i64,
) -> Result<(), AppError> {
    caller.require(Permission::OrgWrite)?;
    ensure_visible(state, meta, caller, id, "org.move").await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    move_in(&mut tx, caller.account_id, Some(caller.node_id), id, new_parent, now).await?;
    finish(state, tx, meta, caller, "org.move", id, now).await
}

pub async fn move_in(
    tx: &mut Tx,
    actor: Option<i64>,
    within: Option<i64>,
    id: i64,
    new_parent: i64,
    now: i64,
) -> Result<(), AppError> {
    let node = store::by_id(tx, id).await?.ok_or(AppError::NotFound)?;
    if let Some(root) = within {
        if !store::is_descendant(tx, root, id).await? {
            return Err(AppError::NotFound);
        }
        if id == root {
            return Err(AppError::invalid("parent_id", "you cannot move your own unit"));
        }
    }
    let parent = store::by_id(tx, new_parent).await?;
    let reachable = match within {
        Some(root) => store::is_descendant(tx, root, new_parent).await?,
        None => true,
    };
    let Some(parent) = parent.filter(|_| reachable) else {
        return Err(AppError::invalid("parent_id", "no such unit in your jurisdiction"));
    };
    if parent.is_retired() {
        return Err(AppError::invalid("parent_id", "the new parent is retired"));
    }
    if store::is_descendant(tx, id, new_parent).await? {
        return Err(AppError::invalid("parent_id", "a unit cannot move under itself or its own subunits"));
    }
    if !node.kind().is_some_and(|k| k.may_sit_under(parent.kind())) {
        return Err(AppError::invalid("parent_id", format!("a {} cannot sit under a {}", node.kind, parent.kind)));
    }
    if node.parent_id == Some(new_parent) {
        return Ok(());
    }
    let old_parent = node.parent_id.map(|p| p.to_string());
    store::reparent(tx, id, new_parent, now).await?;
    store::history(tx, id, actor, "moved", old_parent.as_deref(), Some(&new_parent.to_string()), now).await?;
    Ok(())
}

pub async fn retire(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    on: Option<String>,
) -> Result<(), AppError> {
    caller.require(Permission::OrgWrite)?;
    let now = state.clock.now_ms();
    let date = on.unwrap_or_else(|| crate::clock::beijing_date(now));
    check_date(&date).map_err(|r| AppError::invalid("valid_to", r))?;
    ensure_visible(state, meta, caller, id, "org.retire").await?;
    let mut tx = state.db.begin().await?;
    let node = visible(&mut tx, caller, id).await?;
    if node.is_retired() {
        return Err(AppError::Conflict { field: None, reason: "the unit is already retired".into() });
    }
    if id == caller.node_id {
        return Err(AppError::invalid("id", "you cannot retire your own unit"));
    }
    if date < node.valid_from {
        return Err(AppError::invalid("valid_to", "the retirement date is before the unit began"));
    }
    let occupants = store::occupants(&mut tx, id).await?;
    if !occupants.is_empty() {
        let list: Vec<String> = occupants.iter().map(|(what, n)| format!("{n} {what}")).collect();
        return Err(AppError::Conflict {
            field: None,
            reason: format!("the unit still has {} under it; move or retire them first", list.join(", ")),
        });
    }
    sqlx::query("UPDATE org_nodes SET valid_to = $1, updated_at = $2 WHERE id = $3")
        .bind(&date)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    store::history(&mut tx, id, caller.account_id, "retired", None, Some(&date), now).await?;
    finish(state, tx, meta, caller, "org.retire", id, now).await
}

async fn finish(
    state: &AppState,
    mut tx: Tx,
    meta: &RequestMeta,
    caller: &Caller,
    action: &str,
    id: i64,
    now: i64,
) -> Result<(), AppError> {
    let entry = Entry::new(meta, Some(caller), action).record(format!("node:{id}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    publish_change(&mut tx, state, id, action, now).await?;
    tx.commit().await?;
    events::wake(state);
    Ok(())
}

/// Tells every page showing this part of the tree that it changed.
pub async fn publish_change(
    tx: &mut Tx,
    state: &AppState,
    node_id: i64,
    action: &str,
    now: i64,
) -> Result<(), AppError> {
    let payload = serde_json::json!({"node_id": node_id, "change": action});
    events::publish(tx, &state.db, "org.changed", Some(node_id), &payload, now).await?;
    Ok(())
}

pub async fn code_of(state: &AppState, id: i64) -> Result<String, AppError> {
    let code: Option<String> = sqlx::query_scalar("SELECT code FROM org_nodes WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.reader())
        .await?;
    Ok(code.unwrap_or_default())
}

pub async fn name_of(state: &AppState, id: i64) -> Result<String, AppError> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM org_nodes WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.reader())
        .await?;
    Ok(name.unwrap_or_default())
}
