//! Household visits, establishment inspections and the 挂钩 duties of every officer to a village
//! or community; coverage (share of households visited in 90 days), overdue duties and
//! participation, per grid and for the map.
//!
//! Tables: `visits`, `duty_links`, `duties`.
//! Invariant: a visit or duty keeps the grid and unit it happened in; a grid redraw does not
//! move it, so past figures do not change.
//! Invariant: only the officer linked may record a duty on a link; visits are recorded by the
//! signed-in officer, never on someone else's behalf.

pub mod api;
pub mod cadence;
pub mod link_pages;
pub mod links;
pub mod pages;
pub mod service;
pub mod stats;

/// Coverage counts household visits in this many days.
pub const COVERAGE_DAYS: i64 = 90;
