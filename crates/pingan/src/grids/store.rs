//! SQL for grid shapes (the teams' is in `team.rs`, beside their rules).

use geo::MultiPolygon;

use crate::db::{Db, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShapeRow {
    pub node_id: i64,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub shape: Vec<u8>,
    pub version: i64,
    pub responsible: Option<String>,
}

/// Shapes of live grids, with their responsible officer's name, filtered by an org-node
/// subquery (a jurisdiction filter from `Scope::nodes_sql`, or all nodes).
pub async fn shapes(db: &Db, nodes_sql: Option<&str>) -> Result<Vec<ShapeRow>, sqlx::Error> {
    let filter = nodes_sql.map(|s| format!("AND n.id IN ({s})")).unwrap_or_default();
    let sql = format!(
        "SELECT n.id AS node_id, n.code, n.name, n.parent_id, g.shape, g.version, \
                (SELECT a.name FROM grid_team t JOIN accounts a ON a.id = t.account_id \
                 WHERE t.node_id = n.id AND t.duty = 'responsible') AS responsible \
         FROM grid_shapes g JOIN org_nodes n ON n.id = g.node_id WHERE n.valid_to IS NULL {filter} ORDER BY n.code"
    );
    sqlx::query_as(&sql).fetch_all(db.reader()).await
}

/// Stores `shape` as the grid's current shape, moving the previous one into history.
pub async fn put_shape(
    tx: &mut Tx,
    node_id: i64,
    shape: &MultiPolygon<f64>,
    datum: &str,
    by: Option<i64>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    use geo::{BoundingRect, ChamberlainDuquetteArea};
    let Some(rect) = shape.bounding_rect() else {
        return Err(sqlx::Error::Protocol("a grid shape needs at least one polygon".into()));
    };
    let wkb = pingan_geo::wkb::encode(shape);
    let area = shape.chamberlain_duquette_unsigned_area();
    let previous: Option<i64> = sqlx::query_scalar("SELECT version FROM grid_shapes WHERE node_id = $1")
        .bind(node_id)
        .fetch_optional(&mut **tx)
        .await?;
    let version = previous.unwrap_or(0) + 1;
    sqlx::query("UPDATE grid_shape_history SET valid_to = $1 WHERE node_id = $2 AND valid_to IS NULL")
        .bind(now)
        .bind(node_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO grid_shape_history (node_id, version, shape, source_datum, valid_from, changed_by) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(node_id)
    .bind(version)
    .bind(&wkb)
    .bind(datum)
    .bind(now)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM grid_shapes WHERE node_id = $1").bind(node_id).execute(&mut **tx).await?;
    sqlx::query(
        "INSERT INTO grid_shapes (node_id, shape, min_lon, min_lat, max_lon, max_lat, area_m2, source_datum, version, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(node_id)
    .bind(&wkb)
    .bind(rect.min().x)
    .bind(rect.min().y)
    .bind(rect.max().x)
    .bind(rect.max().y)
    .bind(area)
    .bind(datum)
    .bind(version)
    .bind(now)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    bump_generation(tx).await?;
    Ok(version)
}

/// Moves the counter every server compares with its in-memory index.
pub async fn bump_generation(tx: &mut Tx) -> Result<(), sqlx::Error> {
    let current: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'grids_generation'").fetch_optional(&mut **tx).await?;
    let next = current.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) + 1;
    sqlx::query("DELETE FROM meta WHERE key = 'grids_generation'").execute(&mut **tx).await?;
    sqlx::query("INSERT INTO meta (key, value) VALUES ('grids_generation', $1)")
        .bind(next.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn generation(db: &Db) -> Result<i64, sqlx::Error> {
    let v: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'grids_generation'").fetch_optional(db.reader()).await?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}
