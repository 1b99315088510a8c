//! The in-memory point-to-grid index, shared by the requests of one server and rebuilt when
//! another server (or this one) changes a shape.

use std::collections::HashMap;
use std::sync::Arc;

use pingan_geo::GridIndex;

use super::store;
use crate::app::AppState;
use crate::web::error::AppError;

pub struct LoadedIndex {
    pub generation: i64,
    pub index: GridIndex,
    /// Grid code → (node id, name).
    pub nodes: HashMap<String, (i64, String)>,
}

#[derive(Default)]
pub struct IndexCache(tokio::sync::RwLock<Option<Arc<LoadedIndex>>>);

/// The index as of the database's current generation, rebuilding it if it moved on.
pub async fn current(state: &AppState) -> Result<Arc<LoadedIndex>, AppError> {
    let generation = store::generation(&state.db).await?;
    if let Some(loaded) = state.grids.0.read().await.as_ref() {
        if loaded.generation == generation {
            return Ok(loaded.clone());
        }
    }
    let mut slot = state.grids.0.write().await;
    if let Some(loaded) = slot.as_ref().filter(|l| l.generation == generation) {
        return Ok(loaded.clone());
    }
    let rows = store::shapes(&state.db, None).await?;
    let mut nodes = HashMap::with_capacity(rows.len());
    let mut shapes = Vec::with_capacity(rows.len());
    for row in rows {
        let shape = pingan_geo::wkb::decode(&row.shape)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("grid {} has a corrupt shape: {e}", row.code)))?;
        nodes.insert(row.code.clone(), (row.node_id, row.name));
        shapes.push((row.code, shape));
    }
    let index = GridIndex::new(shapes).map_err(|e| AppError::Internal(anyhow::anyhow!("grid index: {e}")))?;
    let loaded = Arc::new(LoadedIndex { generation, index, nodes });
    *slot = Some(loaded.clone());
    Ok(loaded)
}
