//! SQLite's process-wide memory settings.
//!
//! SQLite counts every allocation it makes (`sqlite3_memory_used`, the soft heap limit) under one global mutex, taken
//! on every `malloc` and `free` of every connection: with the writer, the readers and the checkpointer on their own
//! threads, profiles of the hot path showed the C library's mutex calls at ~1.5 % of Herald's CPU. Herald reads none
//! of those figures, so [`disable_memory_statistics`] switches the counting off. It must run before SQLite is first
//! used in the process: [`super::configure_process`] calls it.
//!
//! (SQLite's allocations were also tried through Herald's allocator, mimalloc, with `SQLITE_CONFIG_MALLOC`: no CPU
//! gain once the statistics were off, and 20–30 % more resident memory; see docs/PERFORMANCE.md.)

use std::os::raw::c_int;

use libsqlite3_sys as ffi;

/// Stops SQLite's allocation statistics for the process. Returns `false` (and changes nothing) when SQLite was
/// already in use: call it before any database is opened, while no other thread can be opening one.
pub(crate) fn disable_memory_statistics() -> bool {
    // SAFETY: before SQLite is initialised `sqlite3_config` only sets its global configuration; after, it refuses
    // (`SQLITE_MISUSE`) without touching anything. The variadic argument is the `int` this option takes.
    unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) == ffi::SQLITE_OK }
}
