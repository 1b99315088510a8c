//! Accounts (a person bound to one unit), their roles, and data grants.
//!
//! Tables: `accounts`, `roles`, `account_roles`, `grants`.
//! Invariant: separation of duties: the system administrator (accounts:write) creates, moves,
//! disables and unlocks accounts but cannot assign roles or grants; only roles:assign and
//! grants:write (the security administrator) can, and never to themselves.
//! Invariant: account phones are stored encrypted with a keyed hash; lists show them masked,
//! and the full number is shown only with pii:unmask and a reason, audited.
//! Invariant: a change of roles, unit or status bumps the account's auth epoch, ending its
//! sessions on every server at their next request.

pub mod api;
pub mod grant_pages;
pub mod grants;
pub mod import;
pub mod pages;
pub mod roles;
pub mod service;
