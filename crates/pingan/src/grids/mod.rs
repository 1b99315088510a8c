//! Grids (网格) with their polygons, the point-to-grid index, each grid's team (一格一警 and the
//! rest), the grids page and each grid's page.
//!
//! Tables: `grid_shapes` (WKB MultiPolygon, WGS-84), `grid_shape_history`, `grid_team`; a grid is
//! an `org_nodes` row of kind `grid`.
//! Invariant: shapes are stored in WGS-84 whatever datum they arrived in; a redraw keeps the old
//! shape in `grid_shape_history`.
//! Invariant: no two live grids overlap: an import is refused if a grid of the file overlaps
//! another of the file or a stored grid the file does not redraw.
//! Invariant: every server answers "which grid holds this point" from an in-memory index that it
//! rebuilds when the `grids_generation` counter, bumped in every transaction that changes a
//! shape, moves on.
//! Invariant: lists and the map show the grids of the caller's scope (`jurisdiction::scope_of`,
//! grants included); teams change only in grids of the caller's own subtree (`team.rs`).

pub mod api;
pub mod geometry_cache;
pub mod grid_page;
pub mod import;
pub mod index;
pub mod list;
pub mod list_page;
pub mod pages;
pub mod store;
pub mod team;
pub mod team_api;
