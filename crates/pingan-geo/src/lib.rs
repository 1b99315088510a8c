//! China's datums (WGS-84, GCJ-02, CGCS2000) and the grid index: pure, no I/O.
//!
//! Built on the georust crates (`geo` types and predicates, `rstar`, `geojson`); this crate adds
//! what they lack for pingan: the GCJ-02 datum, a point-in-grid index fast enough for a city's
//! million addresses with an explicit boundary rule, GeoJSON grid import with per-feature
//! errors and coverage checks, and zoom-dependent simplification for the map.

mod cells;
pub mod datum;
pub mod distance;
pub mod geojson;
pub mod grid_index;
mod pip;
pub mod point_index;
pub mod simplify;
pub mod synthetic;
pub mod validate;

pub use datum::{from_wgs84, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02, Datum};
pub use distance::haversine_m;
pub use grid_index::GridIndex;
pub use point_index::PointIndex;
pub mod wkb;
