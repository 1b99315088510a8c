//! Group commit: small write transactions that arrive together (one per intake request, say)
//! run one after another inside one transaction and share its commit. On SQLite,
//! `synchronous=FULL` pays one fsync for the group instead of one each. On PostgreSQL each
//! audited write holds the lock that orders the audit chain until it commits, so audited writes
//! commit one after another whatever the number of connections; grouped, they take the lock
//! and wait for the commit once per group (bench/warning_api.sh, figures in the README).
//!
//! Each piece of work runs under its own SAVEPOINT: one that fails is rolled back alone and gets
//! its own error; the others commit. A piece alone in its group runs without one. Nobody hears "done" before the shared commit has returned,
//! so an acknowledged write is as durable as one committed alone.
//!
//! A piece's audit entry is appended at the end of its group, with the others': the chain is
//! read and its head written once per group, and on PostgreSQL the chain's lock is held only
//! for that last step and the commit, so several groups (one per writer task, each on its own
//! connection) run at once and queue only there.

use std::any::Any as StdAny;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::{Backend, Tx};
use crate::audit::Pending;
use crate::web::error::AppError;

/// How many pieces of work share a commit at most: enough to amortise the fsync, few enough that
/// the first in line does not wait long for the last.
const MAX_GROUP: usize = 256;

pub type Output = Box<dyn StdAny + Send>;
/// A piece's answer, and the audit entries it leaves for the end of its group.
pub type Done = (Output, Vec<Pending>);
pub type Work = Box<dyn for<'a> FnOnce(&'a mut Tx) -> BoxFuture<'a, Result<Done, AppError>> + Send>;

struct Item {
    work: Work,
    done: oneshot::Sender<Result<Output, AppError>>,
}

#[derive(Clone)]
pub struct Group {
    queue: mpsc::Sender<Item>,
}

impl Group {
    /// Starts `writers` tasks taking groups from one queue, each on one connection of `pool` at
    /// a time (SQLite has one writer connection: one task). The tasks end when the last `Group`
    /// handle is dropped.
    pub fn start(pool: AnyPool, backend: Backend, writers: usize) -> Group {
        let (queue, rx) = mpsc::channel::<Item>(4 * MAX_GROUP);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            let (pool, rx) = (pool.clone(), rx.clone());
            tokio::spawn(async move {
                loop {
                    let items = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { break };
                        let mut items = vec![first];
                        while items.len() < MAX_GROUP {
                            match rx.try_recv() {
                                Ok(item) => items.push(item),
                                Err(_) => break,
                            }
                        }
                        items
                    };
                    run_group(&pool, backend, items).await;
                }
            });
        }
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

async fn run_group(pool: &AnyPool, backend: Backend, mut items: Vec<Item>) {
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(items.into_iter().map(|i| i.done), &e),
    };
    if items.len() == 1 {
        // Alone, a piece needs no savepoint: SQLite copies every page a savepoint changes to its
        // journal, and intake's writes of many warnings at once (antifraud/live.rs) come alone.
        let item = items.pop().expect("one item");
        match (item.work)(&mut tx).await {
            Ok((output, pending)) => finish(tx, backend, vec![(item.done, Ok(output))], pending).await,
            Err(e) => {
                let _ = tx.rollback().await;
                let _ = item.done.send(Err(e));
            }
        }
        return;
    }
    if let Err(e) = savepoints(&mut tx, "SAVEPOINT grouped").await {
        return fail_all(items.into_iter().map(|i| i.done), &e);
    }
    let last = items.len() - 1;
    let mut results = Vec::with_capacity(items.len());
    let mut pending = Vec::new();
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
        let result = result.map(|(output, entry)| {
            pending.extend(entry);
            output
        });
        results.push((item.done, result));
    }
    finish(tx, backend, results, pending).await;
}

type Answer = (oneshot::Sender<Result<Output, AppError>>, Result<Output, AppError>);

/// Appends the group's audit entries and commits; then everyone hears how their piece went.
async fn finish(mut tx: Tx, backend: Backend, results: Vec<Answer>, pending: Vec<Pending>) {
    // Nothing commits without its audit entry (ARCHITECTURE.md): if they cannot be written,
    // the whole group is refused and rolled back.
    if let Err(failed) = crate::audit::append_pending(&mut tx, backend, &pending).await {
        for (done, _) in results {
            let _ = done.send(Err(AppError::Unavailable(failed.clone())));
        }
        return;
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
