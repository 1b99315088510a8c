//! The map's geometry JSON per (grid, shape version, zoom). Simplifying thousands of polygons is
//! the expensive part of the map's GeoJSON and depends on nothing else, so each server computes
//! it once per shape and zoom, whoever asks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use geo::{Coord, MultiPolygon};

/// (grid node id, shape version, zoom or None for full detail).
type Key = (i64, i64, Option<u8>);

/// Past this many entries the cache starts again: old shape versions are never asked for again,
/// and a city's 4,507 grids at a handful of zooms stay far below it.
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct GeometryCache(Mutex<HashMap<Key, Arc<str>>>);

impl GeometryCache {
    pub fn get(&self, key: Key) -> Option<Arc<str>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned()
    }

    pub fn put(&self, key: Key, json: Arc<str>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, json);
    }
}

/// The GeoJSON geometry of `shape`, simplified for `zoom` when given.
pub fn geometry_json(shape: &MultiPolygon<f64>, zoom: Option<u8>) -> String {
    let shape = match zoom {
        Some(z) => pingan_geo::simplify::simplify_for_zoom(shape, z),
        None => shape.clone(),
    };
    serde_json::json!({"type": "MultiPolygon", "coordinates": coordinates(&shape)}).to_string()
}

/// Six decimals of a degree are about 0.1 m: finer digits only make the payload larger.
fn coordinates(shape: &MultiPolygon<f64>) -> serde_json::Value {
    let round = |c: &Coord<f64>| [(c.x * 1e6).round() / 1e6, (c.y * 1e6).round() / 1e6];
    shape
        .0
        .iter()
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|ring| ring.0.iter().map(round).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .into()
}
