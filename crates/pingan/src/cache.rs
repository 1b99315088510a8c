//! Rows a hot path reads on every request and that change rarely (an integration token, the
//! grading settings), kept in memory for a moment. Intake reads both for every warning, and
//! each read is a hand-off to a database thread; at 2,000 warnings a second these were an
//! eighth of the server's work.
//!
//! An entry is trusted for [`FRESH_FOR`]. A change made through this server clears the cache
//! when it commits; one made through another server sharing the database is seen within that
//! time (so a token revoked there keeps working here for at most a second).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Beyond this many entries the stale ones are dropped: a flood of distinct keys cannot grow it.
const PRUNE_AT: usize = 1024;

pub struct Fresh<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for Fresh<K, V> {
    fn default() -> Self {
        Fresh { entries: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash, V: Clone> Fresh<K, V> {
    /// The value stored under `key` less than [`FRESH_FOR`] ago.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|(at, _)| at.elapsed() < FRESH_FOR).map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= PRUNE_AT {
            entries.retain(|_, (at, _)| at.elapsed() < FRESH_FOR);
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Forgets everything: called after a change commits.
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_served_until_cleared() {
        let cache: Fresh<&str, i64> = Fresh::default();
        assert_eq!(cache.get(&"a"), None);
        cache.put("a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.clear();
        assert_eq!(cache.get(&"a"), None, "a change clears it at once");
    }

    #[test]
    fn a_stale_value_is_not_served() {
        let cache: Fresh<&str, i64> = Fresh::default();
        cache.entries.lock().unwrap().insert("a", (Instant::now().checked_sub(FRESH_FOR).unwrap(), 1));
        assert_eq!(cache.get(&"a"), None);
    }
}
