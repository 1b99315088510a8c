//! Prevention pushes (云宣防, DOMAIN.md §5): from the fraud kinds rising in its area, a station
//! sends a prevention message to the chat groups of chosen grids, through webhooks (WeCom group
//! bots, DingTalk robots with their signature, generic JSON) that the system administrator put
//! on an allowlist.
//!
//! Tables: `push_destinations`, `push_messages`, `push_deliveries`, `push_attempts`.
//! Reads the organisation and the anti-fraud figures; delivers through `jobs`.
//! Invariant: a message names nobody (ID numbers and phone numbers are refused).
//! Invariant: only destinations on the allowlist are ever posted to; a disabled one gets nothing
//! more.
//! Invariant: each delivery is retried with exponential backoff until it succeeds or 24 hours
//! have passed, then stays as a visible dead letter; every attempt is logged; the idempotency
//! key is the same on every attempt.

pub mod api;
pub mod delivery;
pub mod model;
pub mod pages;
pub mod service;
pub mod store;
