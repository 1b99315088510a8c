//! Keeping base data in the grid its address lies in: when an address moves, and when grids are
//! redrawn. Facts (visits, warnings) keep the grid they happened in and are not touched here.

use std::collections::HashMap;

use geo::Point;
use pingan_geo::GridIndex;

use crate::db::Tx;

/// Moves what stands at an address (houses, residents, establishments) to its grid and node.
pub async fn follow_address(
    tx: &mut Tx,
    address_id: i64,
    grid_id: Option<i64>,
    node_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE houses SET node_id = $1 WHERE address_id = $2")
        .bind(node_id)
        .bind(address_id)
        .execute(&mut **tx)
        .await?;
    for table in ["residents", "establishments"] {
        sqlx::query(&format!("UPDATE {table} SET grid_id = $1, node_id = $2 WHERE address_id = $3"))
            .bind(grid_id)
            .bind(node_id)
            .bind(address_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// An address whose grid changed with a redraw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub address_id: i64,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// After grids were redrawn inside `tx`, places every address again against the shapes as the
/// transaction sees them and moves those whose grid changed, with everything at them. An
/// address no grid covers any more keeps its owning node, so it does not vanish from the
/// station that had it.
pub async fn after_redraw(tx: &mut Tx) -> Result<Vec<Moved>, sqlx::Error> {
    let shapes: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT n.id, n.code, g.shape FROM grid_shapes g JOIN org_nodes n ON n.id = g.node_id WHERE n.valid_to IS NULL",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(shapes.len());
    let mut polygons = Vec::with_capacity(shapes.len());
    for (id, code, wkb) in shapes {
        let shape = pingan_geo::wkb::decode(&wkb).map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
        ids.insert(code.clone(), id);
        polygons.push((code, shape));
    }
    let index = GridIndex::new(polygons).map_err(|e| sqlx::Error::Decode(e.to_string().into()))?;
    let addresses: Vec<(i64, f64, f64, Option<i64>, i64)> =
        sqlx::query_as("SELECT id, lon, lat, grid_id, node_id FROM addresses").fetch_all(&mut **tx).await?;
    let mut moved = Vec::new();
    for (id, lon, lat, grid, node) in addresses {
        let now_in = index.locate(Point::new(lon, lat)).and_then(|c| ids.get(c)).copied();
        if now_in != grid {
            let node = now_in.unwrap_or(node);
            sqlx::query("UPDATE addresses SET grid_id = $1, node_id = $2 WHERE id = $3")
                .bind(now_in)
                .bind(node)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            follow_address(tx, id, now_in, node).await?;
            moved.push(Moved { address_id: id, from: grid, to: now_in });
        }
    }
    Ok(moved)
}
