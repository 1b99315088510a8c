//! SQLite's memory from the process's allocator (mimalloc, `lib.rs`) instead of the C
//! library's. Every text and blob a bulk insert hands SQLite is copied into an allocation of
//! its own, and building an index sorts millions of records: with glibc's allocator those
//! calls were 6–7 % of the writer's time during a history load and of its index builds
//! (`_int_malloc`, `unlink_chunk`, `malloc_consolidate` in the profiles).
//!
//! SQLite asks for the size of an allocation it made, which Rust's allocator interface does not
//! answer: each block carries its size in a header of [`HEADER`] bytes, which also keeps the
//! 8-byte alignment SQLite needs.

use std::alloc::{alloc, dealloc, realloc, Layout};
use std::os::raw::{c_int, c_void};
use std::ptr::null_mut;

use rusqlite::ffi;

const HEADER: usize = 8;

/// Has SQLite take its memory from the functions below. Only possible before SQLite
/// initialises (the first connection); later SQLite refuses and keeps its own, harmlessly.
pub fn install() {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(x_malloc),
        xFree: Some(x_free),
        xRealloc: Some(x_realloc),
        xSize: Some(x_size),
        xRoundup: Some(x_roundup),
        xInit: Some(x_init),
        xShutdown: Some(x_shutdown),
        pAppData: null_mut(),
    };
    // SAFETY: SQLITE_CONFIG_MALLOC takes a pointer to the methods, and SQLite copies the struct
    // before returning. Each method keeps the contract of the C library's function it stands
    // for, as SQLite requires.
    let _ = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods) };
}

/// The layout of a block holding `n` bytes for SQLite, `None` past what a layout can describe.
fn layout(n: usize) -> Option<Layout> {
    Layout::from_size_align(n.checked_add(HEADER)?, HEADER).ok()
}

/// The block whose data starts at `p`, and the size it was asked for.
///
/// SAFETY: `p` was returned by `x_malloc` or `x_realloc` and not freed since.
unsafe fn block(p: *mut c_void) -> (*mut u8, usize) {
    let base = p.cast::<u8>().sub(HEADER);
    (base, base.cast::<usize>().read())
}

unsafe extern "C" fn x_malloc(n: c_int) -> *mut c_void {
    let Some(l) = usize::try_from(n).ok().and_then(layout) else { return null_mut() };
    let base = alloc(l);
    if base.is_null() {
        return null_mut();
    }
    base.cast::<usize>().write(l.size() - HEADER);
    base.add(HEADER).cast()
}

unsafe extern "C" fn x_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    let (base, n) = block(p);
    // The layout it was allocated with: `layout(n)` succeeded then.
    dealloc(base, Layout::from_size_align_unchecked(n + HEADER, HEADER));
}

unsafe extern "C" fn x_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    if p.is_null() {
        return x_malloc(n);
    }
    let Some(l) = usize::try_from(n).ok().and_then(layout) else { return null_mut() };
    let (base, old) = block(p);
    let moved = realloc(base, Layout::from_size_align_unchecked(old + HEADER, HEADER), l.size());
    if moved.is_null() {
        // As C's realloc: the old block stays where it was.
        return null_mut();
    }
    moved.cast::<usize>().write(l.size() - HEADER);
    moved.add(HEADER).cast()
}

unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    c_int::try_from(block(p).1).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn x_roundup(n: c_int) -> c_int {
    n.checked_add(7).map_or(n, |m| m & !7)
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_size_and_content_through_realloc() {
        // SAFETY: each pointer comes from the functions under test and is freed once.
        unsafe {
            let p = x_malloc(10).cast::<u8>();
            assert!(!p.is_null());
            assert_eq!(p as usize % 8, 0, "SQLite needs 8-byte alignment");
            assert_eq!(x_size(p.cast()), 10);
            for i in 0..10 {
                p.add(i).write(i as u8);
            }
            let q = x_realloc(p.cast(), 4000).cast::<u8>();
            assert_eq!(x_size(q.cast()), 4000);
            assert_eq!(std::slice::from_raw_parts(q, 10), &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
            x_free(q.cast());
            assert!(x_malloc(-1).is_null(), "a negative size is refused, not wrapped");
            assert_eq!(x_roundup(9), 16);
        }
    }
}
