//! Progress of running imports, kept in memory on the server doing the work: the page that
//! uploaded the file polls it by a token it chose, and only its own account may read it.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportProgress {
    pub done: u64,
    /// An estimate while the file is read, exact while rows are written.
    pub total: u64,
    /// `check` (reading and checking rows) or `write`, then `done`.
    pub phase: String,
}

#[derive(Default)]
pub struct Running(Mutex<HashMap<String, (Option<i64>, ImportProgress)>>);

/// A token the client chose: 16–64 letters and digits, so it cannot collide by accident or
/// carry anything else.
pub fn valid_token(t: &str) -> bool {
    (16..=64).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Running {
    pub fn update(&self, token: &str, owner: Option<i64>, done: u64, total: u64, phase: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // A busy server never holds more than a few; the cap stops a client filling memory.
        if map.len() >= 1000 && !map.contains_key(token) {
            return;
        }
        map.insert(token.to_string(), (owner, ImportProgress { done, total, phase: phase.to_string() }));
    }

    pub fn finish(&self, token: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(token);
    }

    pub fn get(&self, token: &str, owner: Option<i64>) -> Option<ImportProgress> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(token).filter(|(o, _)| *o == owner).map(|(_, p)| p.clone())
    }
}
