//! The web layer: errors, extractors, request middleware, page layout, interface text and the
//! embedded static assets. No capability logic lives here.

pub mod assets;
pub mod chart;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod i18n_antifraud;
pub mod i18n_base;
pub mod i18n_grids;
pub mod i18n_places;
pub mod i18n_push;
pub mod layout;
pub mod middleware;
pub mod openapi;
