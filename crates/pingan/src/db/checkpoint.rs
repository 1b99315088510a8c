//! Checkpoints of SQLite's write-ahead log, off the writer's path. SQLite checkpoints in the
//! connection whose commit pushed the log past its threshold, so every few hundred intake
//! requests one group's commit also copied 40 MB back into the database file and waited for
//! its fsync: the slowest percent of requests waited for that. Here a connection of its own
//! copies what has been committed, a few times a second, while the writer goes on (a PASSIVE
//! checkpoint never blocks the writer). The writer's own threshold stays as the backstop, for
//! the long transactions of a bulk load.

use std::sync::Weak;
use std::time::Duration;

use sqlx::AnyPool;

/// Often enough that the log stays a few megabytes under steady intake.
const EVERY: Duration = Duration::from_millis(200);

/// Runs until the last handle of the database (`alive`) is dropped.
pub fn start(pool: AnyPool, alive: Weak<()>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.upgrade().is_none() || pool.is_closed() {
                break;
            }
            // A busy or locked database only means this round copies nothing; the next one will.
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::debug!(error = %e, "background checkpoint");
            }
        }
        pool.close().await;
    });
}
