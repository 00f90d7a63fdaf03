//! SQLite's memory through the process's own allocator instead of the C library's `malloc`.
//!
//! The bundled SQLite allocates with `malloc` and `free`, which in a process of many threads take glibc's arena locks
//! and showed as ~5 % of Herald's CPU in profiles of the hot path (docs/PERFORMANCE.md). [`use_process_allocator`]
//! hands SQLite Rust's global allocator (mimalloc in the `herald` binary) and switches off SQLite's allocation
//! statistics (a global mutex taken on every allocation, for figures Herald never reads). It must run before
//! SQLite is first used in the process: `herald serve` calls it at start, before its runtime exists.

use std::alloc::Layout;
use std::os::raw::{c_int, c_void};
use std::ptr::null_mut;

use libsqlite3_sys as ffi;

/// Bytes before each block, holding the size SQLite asked for (SQLite wants 8-byte alignment; 16 keeps the block
/// aligned as the allocator returned it).
const HEADER: usize = 16;
const ALIGN: usize = 16;

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, ALIGN).ok()
}

/// The block's start and the size SQLite asked for, from the pointer SQLite holds.
///
/// # Safety
/// `p` was returned by [`x_malloc`] or [`x_realloc`] and not freed.
unsafe fn block(p: *mut c_void) -> (*mut u8, usize) {
    // SAFETY: `p` is HEADER bytes into a block whose first bytes hold its size (the caller's contract).
    unsafe {
        let base = p.cast::<u8>().sub(HEADER);
        (base, base.cast::<usize>().read())
    }
}

unsafe extern "C" fn x_malloc(n: c_int) -> *mut c_void {
    let Some(layout) = usize::try_from(n).ok().filter(|n| *n > 0).and_then(layout) else {
        return null_mut();
    };
    // SAFETY: the layout has a non-zero size; the block is at least HEADER bytes, aligned for a usize.
    unsafe {
        let base = std::alloc::alloc(layout);
        if base.is_null() {
            return null_mut();
        }
        base.cast::<usize>().write(layout.size() - HEADER);
        base.add(HEADER).cast()
    }
}

unsafe extern "C" fn x_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: SQLite frees only what `x_malloc`/`x_realloc` returned, once; the layout is the one it was made with.
    unsafe {
        let (base, size) = block(p);
        std::alloc::dealloc(base, Layout::from_size_align_unchecked(size + HEADER, ALIGN));
    }
}

unsafe extern "C" fn x_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    if p.is_null() {
        // SAFETY: as `x_malloc`.
        return unsafe { x_malloc(n) };
    }
    let Some(new) = usize::try_from(n).ok().filter(|n| *n > 0).and_then(layout) else {
        return null_mut();
    };
    // SAFETY: `p` came from this allocator (SQLite's contract); on failure the old block stays valid, as SQLite
    // expects of `xRealloc`.
    unsafe {
        let (base, size) = block(p);
        let moved = std::alloc::realloc(base, Layout::from_size_align_unchecked(size + HEADER, ALIGN), new.size());
        if moved.is_null() {
            return null_mut();
        }
        moved.cast::<usize>().write(new.size() - HEADER);
        moved.add(HEADER).cast()
    }
}

unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    // SAFETY: as `x_free`.
    unsafe { c_int::try_from(block(p).1).unwrap_or(c_int::MAX) }
}

unsafe extern "C" fn x_roundup(n: c_int) -> c_int {
    n.saturating_add(7) & !7
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

/// Makes SQLite allocate through Rust's global allocator and stop counting its allocations. Returns `false` (and
/// changes nothing) when SQLite was already in use in this process: call it before any database is opened, while no
/// other thread can be opening one.
pub fn use_process_allocator() -> bool {
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
    // SAFETY: `sqlite3_config` copies the methods; before SQLite is initialised it only sets its global
    // configuration, and after it refuses (`SQLITE_MISUSE`) without touching anything.
    unsafe {
        if ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods) != ffi::SQLITE_OK
        {
            return false;
        }
        ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) == ffi::SQLITE_OK
    }
}
