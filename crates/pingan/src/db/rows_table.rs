//! `pingan_rows(batch)`: a table-valued function on every SQLite connection of this process that
//! yields the rows of a batch handed over from Rust, so a bulk insert is one statement,
//! `INSERT INTO t (…) SELECT c0, c1, … FROM pingan_rows($1)`, with one bound integer.
//!
//! Why: through sqlx's `Any` driver each bound value is cloned into its argument list, copied
//! again for the connection's thread and a third time by `sqlite3_bind_*`, and a multi-row
//! `VALUES` statement is parsed for every 256 rows. Profiles of a million-row import put those
//! copies, their allocations and the hand-offs at more than half of the writer's time. Here
//! SQLite reads each value once, straight from the batch, on the connection's own thread.
//!
//! The module is registered on each connection as it opens (`sqlite3_auto_extension`), so the
//! single-writer rule is untouched: the statement runs on the writer connection, inside the
//! caller's transaction, like any other.

use std::collections::BTreeMap;
use std::os::raw::{c_char, c_int};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Once};

use rusqlite::ffi;
use rusqlite::vtab::{
    eponymous_only_module, Context, IndexConstraintOp, IndexInfo, VTab, VTabConfig, VTabConnection, VTabCursor, Values,
};

use super::bulk::Value;

/// Columns a batch may have; the table declares this many (a bulk table has at most about 30).
pub const MAX_COLUMNS: usize = 64;

type Rows = Arc<Vec<Vec<Value>>>;

/// Batches waiting for (or being read by) their statement, by number.
static BATCHES: Mutex<BTreeMap<i64, Rows>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicI64 = AtomicI64::new(1);

/// Registers the table on every SQLite connection opened after this call. Called before the
/// first pool opens; later calls do nothing.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // No memory statistics: with them every SQLite allocation takes one process-wide mutex,
        // which the writer and the readers fought over during a bulk load. Only possible before
        // SQLite initialises (the first connection); later it refuses, harmlessly.
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int.
        let _ = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) };
        super::sqlite_malloc::install();
        // SAFETY: `register` has the entry-point signature SQLite expects and only registers a
        // module on the handle it is given.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(register)) };
        assert_eq!(rc, ffi::SQLITE_OK, "BUG: SQLite refused an auto extension");
    });
}

unsafe extern "C" fn register(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // A panic must not unwind into C.
    std::panic::catch_unwind(|| {
        // SAFETY: SQLite hands us the connection it is opening; `from_handle` borrows it without
        // taking ownership, so dropping the wrapper leaves the connection open.
        let conn = match unsafe { rusqlite::Connection::from_handle(db) } {
            Ok(c) => c,
            Err(_) => return ffi::SQLITE_ERROR,
        };
        match conn.create_module("pingan_rows", eponymous_only_module::<RowsTable>(), None) {
            Ok(()) => ffi::SQLITE_OK,
            Err(_) => ffi::SQLITE_ERROR,
        }
    })
    .unwrap_or(ffi::SQLITE_ERROR)
}

/// A batch handed to SQLite under a number, taken back when this guard drops (after its
/// statement, or when the statement's future is dropped half-way; a cursor still reading keeps
/// its own reference).
pub struct Handed(i64);

impl Handed {
    pub fn new(rows: Vec<Vec<Value>>) -> Handed {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        lock().insert(id, Arc::new(rows));
        Handed(id)
    }

    pub fn id(&self) -> i64 {
        self.0
    }
}

impl Drop for Handed {
    fn drop(&mut self) {
        let rows = lock().remove(&self.0);
        // Freeing a large batch (20,000 rows of a dozen values each) took a fifth of the time
        // between a bulk load's statements; another thread does it while the next one runs
        // (when no thread can be had, the refused closure frees them here).
        if let Some(rows) = rows.filter(|r| r.len() >= FREE_APART_FROM) {
            let _ = std::thread::Builder::new().name("bulk-free".into()).spawn(move || drop(rows));
        }
    }
}

/// Batches of at least this many rows are freed on a thread of their own.
const FREE_APART_FROM: usize = 4_096;

fn lock() -> std::sync::MutexGuard<'static, BTreeMap<i64, Rows>> {
    // The map stays consistent whatever a panicking holder was doing: each step is one insert
    // or remove.
    BATCHES.lock().unwrap_or_else(|p| p.into_inner())
}

/// The column that takes the batch number: after the `MAX_COLUMNS` value columns.
const BATCH_COLUMN: c_int = MAX_COLUMNS as c_int;

#[repr(C)]
struct RowsTable {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab,
}

// SAFETY: `RowsTable` and `RowsCursor` are `repr(C)` with SQLite's struct first, as the trait
// requires.
unsafe impl<'vtab> VTab<'vtab> for RowsTable {
    type Aux = ();
    type Cursor = RowsCursor;

    fn connect(db: &mut VTabConnection, _aux: Option<&()>, _args: &[&[u8]]) -> rusqlite::Result<(String, Self)> {
        // Not callable from triggers or views: only our own statements name it.
        db.config(VTabConfig::DirectOnly)?;
        let columns: Vec<String> = (0..MAX_COLUMNS).map(|i| format!("c{i}")).collect();
        let schema = format!("CREATE TABLE x({}, batch HIDDEN)", columns.join(","));
        Ok((schema, RowsTable { base: ffi::sqlite3_vtab::default() }))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        let found = info.constraints().position(|c| {
            c.column() == BATCH_COLUMN && c.is_usable() && c.operator() == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ
        });
        let Some(i) = found else {
            // Without its batch number the table has nothing to yield; refuse the plan.
            return Err(rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_CONSTRAINT), None));
        };
        let mut usage = info.constraint_usage(i);
        usage.set_argv_index(1);
        usage.set_omit(true);
        info.set_estimated_cost(1.0);
        Ok(())
    }

    fn open(&'vtab mut self) -> rusqlite::Result<RowsCursor> {
        Ok(RowsCursor { base: ffi::sqlite3_vtab_cursor::default(), batch: 0, rows: Arc::new(Vec::new()), at: 0 })
    }
}

#[repr(C)]
struct RowsCursor {
    /// SQLite's part; must come first.
    base: ffi::sqlite3_vtab_cursor,
    batch: i64,
    rows: Rows,
    at: usize,
}

// SAFETY: see `RowsTable`.
unsafe impl VTabCursor for RowsCursor {
    fn filter(&mut self, _idx_num: c_int, _idx_str: Option<&str>, args: &Values<'_>) -> rusqlite::Result<()> {
        self.batch = args.get::<i64>(0)?;
        let found = lock().get(&self.batch).cloned();
        let Some(rows) = found else {
            return Err(rusqlite::Error::ModuleError(format!("no bulk batch {} is waiting", self.batch)));
        };
        (self.rows, self.at) = (rows, 0);
        Ok(())
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.at += 1;
        Ok(())
    }

    fn eof(&self) -> bool {
        self.at >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        if i == BATCH_COLUMN {
            return ctx.set_result(&self.batch);
        }
        match self.rows[self.at].get(i as usize) {
            Some(Value::Int(x)) => ctx.set_result(x),
            Some(Value::Real(x)) => ctx.set_result(x),
            Some(Value::Text(x)) => ctx.set_result(x),
            Some(Value::Blob(x)) => ctx.set_result(x),
            None => ctx.set_result(&rusqlite::types::Null),
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok(self.at as i64)
    }
}
