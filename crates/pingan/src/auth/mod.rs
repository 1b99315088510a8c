//! Who is calling: sign-in, sessions, API tokens, integration tokens, second factor, and the
//! `Caller` every handler receives.
//!
//! Tables: `sessions`, `auth_failures`, `recovery_codes`, `integration_tokens`; reads `accounts`,
//! `roles`, `account_roles`.
//! Invariant: every request re-reads its session and account from the database, so sign-out,
//! disabling an account or changing its roles or node takes effect on the next request on every
//! server.
//! Invariant: tokens are 256-bit random values stored only as SHA-256; Argon2id is for passwords.

pub mod admin_pages;
pub mod api;
pub mod caller;
pub mod integration;
pub mod login;
pub mod mfa;
pub mod pages;
pub mod password;
pub mod permissions;
pub mod policy;
pub mod session;
pub mod totp;

pub use caller::{resolve_caller, Caller, MaybeCaller};
pub use permissions::{Permission, PermissionSet};

/// Compares secrets without revealing where they first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
