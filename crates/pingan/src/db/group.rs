//! Group commit: small write transactions that arrive together (one per intake request, say)
//! run one after another inside one transaction and share its commit. On SQLite,
//! `synchronous=FULL` pays one fsync for the group instead of one each. On PostgreSQL each
//! audited write holds the lock that orders the audit chain until it commits, so audited writes
//! commit one after another whatever the number of connections; grouped, they take the lock
//! and wait for the commit once per group (bench/warning_api.sh: from 300 to thousands a second).
//!
//! Each piece of work runs under its own SAVEPOINT: one that fails is rolled back alone and gets
//! its own error; the others commit. Nobody hears "done" before the shared commit has returned,
//! so an acknowledged write is as durable as one committed alone.
//!
//! A group runs on one connection of the write pool; other writes go on beside it.

use std::any::Any as StdAny;

use futures_util::future::BoxFuture;
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::Tx;
use crate::web::error::AppError;

/// How many pieces of work share a commit at most: enough to amortise the fsync, few enough that
/// the first in line does not wait long for the last.
const MAX_GROUP: usize = 256;

pub type Output = Box<dyn StdAny + Send>;
pub type Work = Box<dyn for<'a> FnOnce(&'a mut Tx) -> BoxFuture<'a, Result<Output, AppError>> + Send>;

struct Item {
    work: Work,
    done: oneshot::Sender<Result<Output, AppError>>,
}

#[derive(Clone)]
pub struct Group {
    queue: mpsc::Sender<Item>,
}

impl Group {
    /// Starts the writer task for `pool` (SQLite's single writer connection, or PostgreSQL's
    /// pool, of which a group takes one connection at a time). The task ends
    /// when the last `Group` handle is dropped.
    pub fn start(pool: AnyPool) -> Group {
        let (queue, mut rx) = mpsc::channel::<Item>(4 * MAX_GROUP);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut items = vec![first];
                while items.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(item) => items.push(item),
                        Err(_) => break,
                    }
                }
                run_group(&pool, items).await;
            }
        });
        Group { queue }
    }

    pub async fn run(&self, work: Work) -> Result<Output, AppError> {
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Item { work, done })
            .await
            .map_err(|_| AppError::Unavailable("the database writer has stopped".into()))?;
        answer.await.map_err(|_| AppError::Unavailable("the database writer has stopped".into()))?
    }
}

async fn run_group(pool: &AnyPool, items: Vec<Item>) {
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(items.into_iter().map(|i| i.done), &e),
    };
    if let Err(e) = savepoints(&mut tx, "SAVEPOINT grouped").await {
        return fail_all(items.into_iter().map(|i| i.done), &e);
    }
    let last = items.len() - 1;
    let mut results = Vec::with_capacity(items.len());
    for (at, item) in items.into_iter().enumerate() {
        let result = (item.work)(&mut tx).await;
        // One round trip to the writer closes this piece's savepoint and opens the next one's:
        // each statement is a hand-off to SQLite's thread, and a group has hundreds.
        let close = match (result.is_ok(), at == last) {
            // COMMIT releases the last savepoint.
            (true, true) => None,
            (true, false) => Some("RELEASE SAVEPOINT grouped; SAVEPOINT grouped"),
            (false, true) => Some("ROLLBACK TO SAVEPOINT grouped; RELEASE SAVEPOINT grouped"),
            (false, false) => Some("ROLLBACK TO SAVEPOINT grouped; RELEASE SAVEPOINT grouped; SAVEPOINT grouped"),
        };
        if let Some(sql) = close {
            if let Err(e) = savepoints(&mut tx, sql).await {
                // The transaction itself is broken: nobody's work can commit.
                let _ = item.done.send(Err(AppError::Internal(anyhow::anyhow!("group commit: {e}"))));
                return fail_all(results.into_iter().map(|(d, _)| d), &e);
            }
        }
        results.push((item.done, result));
    }
    if let Err(e) = tx.commit().await {
        return fail_all(results.into_iter().map(|(d, _)| d), &e);
    }
    for (done, r) in results {
        let _ = done.send(r);
    }
}

/// Savepoint statements, several in one call: text without arguments, which PostgreSQL runs
/// through its simple protocol (several statements allowed) and SQLite one after another.
async fn savepoints(tx: &mut Tx, sql: &'static str) -> Result<(), sqlx::Error> {
    use sqlx::Executor as _;
    (&mut **tx).execute(sql).await.map(|_| ())
}

fn fail_all(dones: impl Iterator<Item = oneshot::Sender<Result<Output, AppError>>>, e: &sqlx::Error) {
    for done in dones {
        let _ = done.send(Err(AppError::Internal(anyhow::anyhow!("group commit failed: {e}"))));
    }
}
