//! SQL for the organisation tree.

use super::model::Node;
use crate::db::Tx;

const COLUMNS: &str = "id, code, kind, name, parent_id, valid_from, valid_to";

pub async fn by_id(ex: &mut Tx, id: i64) -> Result<Option<Node>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM org_nodes WHERE id = $1")).bind(id).fetch_optional(&mut **ex).await
}

pub async fn by_code(ex: &mut Tx, code: &str) -> Result<Option<Node>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM org_nodes WHERE code = $1"))
        .bind(code)
        .fetch_optional(&mut **ex)
        .await
}

pub async fn subtree(pool: &sqlx::AnyPool, root: i64) -> Result<Vec<(Node, i64)>, sqlx::Error> {
    let rows: Vec<NodeWithDepth> = sqlx::query_as(
        "SELECT n.id, n.code, n.kind, n.name, n.parent_id, n.valid_from, n.valid_to, c.depth \
         FROM org_closure c JOIN org_nodes n ON n.id = c.descendant WHERE c.ancestor = $1 ORDER BY c.depth, n.code",
    )
    .bind(root)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let depth = r.depth;
            (r.node(), depth)
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct NodeWithDepth {
    id: i64,
    code: String,
    kind: String,
    name: String,
    parent_id: Option<i64>,
    valid_from: String,
    valid_to: Option<String>,
    depth: i64,
}

impl NodeWithDepth {
    fn node(self) -> Node {
        Node {
            id: self.id,
            code: self.code,
            kind: self.kind,
            name: self.name,
            parent_id: self.parent_id,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
        }
    }
}

pub struct Insert<'a> {
    pub code: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub parent_id: Option<i64>,
    pub valid_from: &'a str,
}

pub async fn insert(tx: &mut Tx, n: Insert<'_>, now: i64) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO org_nodes (code, kind, name, parent_id, valid_from, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(n.code)
    .bind(n.kind)
    .bind(n.name)
    .bind(n.parent_id)
    .bind(n.valid_from)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO org_closure (ancestor, descendant, depth) VALUES ($1, $1, 0)")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if let Some(parent) = n.parent_id {
        sqlx::query(
            "INSERT INTO org_closure (ancestor, descendant, depth) \
             SELECT ancestor, $1, depth + 1 FROM org_closure WHERE descendant = $2",
        )
        .bind(id)
        .bind(parent)
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}

pub async fn is_descendant(tx: &mut Tx, ancestor: i64, node: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_closure WHERE ancestor = $1 AND descendant = $2")
        .bind(ancestor)
        .bind(node)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}

/// Re-hangs `node` and its subtree under `new_parent`, rewriting the closure rows that cross
/// the subtree's boundary.
pub async fn reparent(tx: &mut Tx, node: i64, new_parent: i64, now: i64) -> Result<(), sqlx::Error> {
    let subtree: Vec<i64> = sqlx::query_scalar("SELECT descendant FROM org_closure WHERE ancestor = $1")
        .bind(node)
        .fetch_all(&mut **tx)
        .await?;
    let inside = subtree.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    sqlx::query(&format!("DELETE FROM org_closure WHERE descendant IN ({inside}) AND ancestor NOT IN ({inside})"))
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO org_closure (ancestor, descendant, depth) \
         SELECT p.ancestor, c.descendant, p.depth + c.depth + 1 \
         FROM org_closure p, org_closure c WHERE p.descendant = $1 AND c.ancestor = $2",
    )
    .bind(new_parent)
    .bind(node)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE org_nodes SET parent_id = $1, updated_at = $2 WHERE id = $3")
        .bind(new_parent)
        .bind(now)
        .bind(node)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn history(
    tx: &mut Tx,
    node: i64,
    actor: Option<i64>,
    change: &str,
    old: Option<&str>,
    new: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO org_history (node_id, at, actor_id, change, old_value, new_value) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(node)
    .bind(now)
    .bind(actor)
    .bind(change)
    .bind(old)
    .bind(new)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct HistoryRow {
    pub at: i64,
    pub actor_id: Option<i64>,
    pub change: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

pub async fn history_of(pool: &sqlx::AnyPool, node: i64) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as("SELECT at, actor_id, change, old_value, new_value FROM org_history WHERE node_id = $1 ORDER BY id")
        .bind(node)
        .fetch_all(pool)
        .await
}

/// What still lives under a node: (live child units, accounts in the subtree).
/// Records that keep a unit alive: each query counts the live ones owned anywhere in the
/// subtree of `$1`. Facts (visits, duties done) are history and never block a retirement.
/// Capabilities that own records about people add theirs here.
const OCCUPANTS: &[(&str, &str)] = &[
    ("live subunit(s)", "SELECT COUNT(*) FROM org_nodes WHERE parent_id = $1 AND valid_to IS NULL"),
    ("active account(s)", "SELECT COUNT(*) FROM accounts WHERE disabled = 0 AND node_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1)"),
    ("resident(s)", "SELECT COUNT(*) FROM residents WHERE node_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1)"),
    ("address(es)", "SELECT COUNT(*) FROM addresses WHERE node_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1)"),
    ("house(s)", "SELECT COUNT(*) FROM houses WHERE node_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1)"),
    ("establishment(s)", "SELECT COUNT(*) FROM establishments WHERE node_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1)"),
    ("live 挂钩 link(s)", "SELECT COUNT(*) FROM duty_links WHERE until IS NULL AND node_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1)"),
    ("grid team member(s)", "SELECT COUNT(*) FROM grid_team WHERE node_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1)"),
];

/// What still lives under `node`: (what, how many), only the kinds with any.
pub async fn occupants(tx: &mut Tx, node: i64) -> Result<Vec<(&'static str, i64)>, sqlx::Error> {
    let mut found = Vec::new();
    for (what, sql) in OCCUPANTS {
        let n: i64 = sqlx::query_scalar(sql).bind(node).fetch_one(&mut **tx).await?;
        if n > 0 {
            found.push((*what, n));
        }
    }
    Ok(found)
}
