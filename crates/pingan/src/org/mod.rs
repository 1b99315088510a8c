//! The organisation tree: bureau → branch → station → post → grid, plus functional units.
//!
//! Tables: `org_nodes`, `org_closure` (every ancestor–descendant pair, depth 0 for self),
//! `org_history`.
//! Invariant: `org_closure` always matches `parent_id`; every change to either happens in one
//! transaction with its history row and audit entry.
//! Invariant: a node with live units or accounts under it cannot be retired.

pub mod api;
pub mod import;
pub mod model;
pub mod pages;
pub mod service;
mod store;

pub use model::{Kind, Node};
