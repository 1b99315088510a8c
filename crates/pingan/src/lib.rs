//! pingan: a self-hosted platform for a city public-security bureau. See ARCHITECTURE.md for
//! the map; each capability's `mod.rs` says what it owns and what must always hold.

pub mod accounts;
pub mod antifraud;
pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod basedata;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod events;
pub mod grids;
pub mod jobs;
pub mod jurisdiction;
pub mod meta;
pub mod notifications;
pub mod ops;
pub mod org;
pub mod pii;
pub mod push;
pub mod settings;
pub mod tabular;
pub mod visits;
pub mod web;

/// glibc's allocator spent a third of a bulk load's own thread consolidating its free lists
/// (`malloc_consolidate`); mimalloc made the 1.7-million-warning history load a third faster.
/// Declared here, it covers the binary, the examples and the tests alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
