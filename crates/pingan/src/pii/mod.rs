//! Personal data: identifiers encrypted at rest (AES-256-GCM) with a keyed hash (HMAC) for
//! exact lookup, masked by viewer on display, and unmasked only for a stated reason.
//!
//! Invariant: ID numbers and phones never reach the database, URLs, logs, metrics or error text
//! in the clear; the full value leaves this module only through an audited unmask.

pub mod crypto;
pub mod id_number;
pub mod mask;

pub use crypto::{DataKey, KeyError};

/// Lookup-hash kinds, so an ID number and a phone with the same digits never collide.
pub const PHONE: &str = "phone";
pub const ID_NUMBER: &str = "id_number";

/// The shortest reason accepted for seeing a full identifier.
pub fn check_unmask_reason(reason: &str) -> Result<&str, &'static str> {
    // The bound is on what was sent, as the API document's maxLength is; the minimum is on the words.
    if reason.chars().count() > 200 {
        return Err("at most 200 characters");
    }
    let r = reason.trim();
    if r.chars().count() < 4 {
        return Err("state why you need the full value (at least 4 characters)");
    }
    Ok(r)
}
