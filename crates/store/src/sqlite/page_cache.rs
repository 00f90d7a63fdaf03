//! SQLite's page cache, without a scan of the whole cache at the end of most write transactions.
//!
//! At the end of every transaction SQLite drops the cached pages past the end of the database
//! (`sqlite3PcacheTruncate`). Its default page cache (`pcache1`) knows the highest page number it has held since the
//! last such drop, and when that is far past the end it walks its whole hash table instead of the few slots past the
//! end. SQLite's B-tree puts it far past the end itself: when it rebalances sibling pages, it swaps two of them
//! through a temporary page number, that of the lock-byte page (the page holding byte 2^30 of the file, page 262,145
//! with 4 KiB pages), which no database below 1 GiB has. From then on, every commit of the writer walked its
//! 4,096-slot table and ~4,000 pages: 2.7 % of Herald's CPU at 20 changes per request (docs/PERFORMANCE.md).
//!
//! [`install`] puts a thin layer over the default page cache that keeps its own highest page number, not counting
//! the lock-byte page while it is only a swap's stopover. A drop that has nothing to drop (no page at or past its
//! limit: the usual case) is not passed on; any other is, unchanged. Every page is still SQLite's own cache's.

use std::os::raw::{c_int, c_uint, c_void};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use libsqlite3_sys as ffi;

/// Where SQLite's lock byte is (`PENDING_BYTE`), fixed unless a test build moves it.
const PENDING_BYTE: c_uint = 0x4000_0000;

/// The default page cache, which does the work.
struct Inner(ffi::sqlite3_pcache_methods2);

// SAFETY: the methods are SQLite's functions and `pArg` its pointer, which SQLite itself passes between threads; the
// value is written once, before SQLite is initialised, and only read after.
unsafe impl Send for Inner {}
unsafe impl Sync for Inner {}

static INNER: OnceLock<Inner> = OnceLock::new();

/// One page cache (one per connection and database).
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    /// No page numbered above this is in the cache, but the lock-byte page for the moment of a swap.
    max_key: AtomicU32,
    lock_page: c_uint,
}

/// Puts the layer over SQLite's page cache for the process. Returns `false` (and changes nothing) when SQLite was
/// already initialised; must run before any database is opened, while no other thread can be opening one.
pub(crate) fn install() -> bool {
    let mut default = ffi::sqlite3_pcache_methods2 {
        iVersion: 0,
        pArg: std::ptr::null_mut(),
        xInit: None,
        xShutdown: None,
        xCreate: None,
        xCachesize: None,
        xPagecount: None,
        xFetch: None,
        xUnpin: None,
        xRekey: None,
        xTruncate: None,
        xDestroy: None,
        xShrink: None,
    };
    // SAFETY: `GETPCACHE2` copies the configured methods into the struct given; it refuses after initialisation.
    if unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETPCACHE2, &mut default as *mut _) } != ffi::SQLITE_OK {
        return false;
    }
    if INNER.set(Inner(default)).is_err() {
        return false; // installed already: the methods read were the layer's own
    }
    let layer = ffi::sqlite3_pcache_methods2 {
        iVersion: 1,
        pArg: std::ptr::null_mut(),
        xInit: Some(init),
        xShutdown: Some(shutdown),
        xCreate: Some(create),
        xCachesize: Some(cachesize),
        xPagecount: Some(pagecount),
        xFetch: Some(fetch),
        xUnpin: Some(unpin),
        xRekey: Some(rekey),
        xTruncate: Some(truncate),
        xDestroy: Some(destroy),
        xShrink: Some(shrink),
    };
    // SAFETY: `PCACHE2` copies the struct (its functions are `'static`); before initialisation it only sets SQLite's
    // global configuration, after it refuses without touching anything.
    unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_PCACHE2, &layer as *const _) == ffi::SQLITE_OK }
}

fn inner() -> &'static ffi::sqlite3_pcache_methods2 {
    // Only SQLite calls the functions below, and only after `install` set INNER.
    &INNER.get().expect("the page cache layer is installed before SQLite calls it").0
}

/// The layer's cache behind SQLite's handle.
///
/// # Safety
/// `p` is a handle `create` returned and `destroy` has not freed.
unsafe fn cache<'a>(p: *mut ffi::sqlite3_pcache) -> &'a Cache {
    unsafe { &*(p as *const Cache) }
}

unsafe extern "C" fn init(_: *mut c_void) -> c_int {
    let m = inner();
    match m.xInit {
        Some(f) => unsafe { f(m.pArg) },
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn shutdown(_: *mut c_void) {
    let m = inner();
    if let Some(f) = m.xShutdown {
        unsafe { f(m.pArg) }
    }
}

unsafe extern "C" fn create(page_size: c_int, extra: c_int, purgeable: c_int) -> *mut ffi::sqlite3_pcache {
    let Some(f) = inner().xCreate else { return std::ptr::null_mut() };
    let handle = unsafe { f(page_size, extra, purgeable) };
    if handle.is_null() {
        return handle;
    }
    let lock_page = PENDING_BYTE / c_uint::try_from(page_size.max(1)).unwrap_or(1) + 1;
    Box::into_raw(Box::new(Cache { inner: handle, max_key: AtomicU32::new(0), lock_page })) as *mut ffi::sqlite3_pcache
}

unsafe extern "C" fn cachesize(p: *mut ffi::sqlite3_pcache, pages: c_int) {
    let c = unsafe { cache(p) };
    if let Some(f) = inner().xCachesize {
        unsafe { f(c.inner, pages) }
    }
}

unsafe extern "C" fn pagecount(p: *mut ffi::sqlite3_pcache) -> c_int {
    let c = unsafe { cache(p) };
    inner().xPagecount.map_or(0, |f| unsafe { f(c.inner) })
}

unsafe extern "C" fn fetch(p: *mut ffi::sqlite3_pcache, key: c_uint, create: c_int) -> *mut ffi::sqlite3_pcache_page {
    let c = unsafe { cache(p) };
    let Some(f) = inner().xFetch else { return std::ptr::null_mut() };
    let page = unsafe { f(c.inner, key, create) };
    if !page.is_null() {
        c.max_key.fetch_max(key, Ordering::Relaxed);
    }
    page
}

unsafe extern "C" fn unpin(p: *mut ffi::sqlite3_pcache, page: *mut ffi::sqlite3_pcache_page, discard: c_int) {
    let c = unsafe { cache(p) };
    if let Some(f) = inner().xUnpin {
        unsafe { f(c.inner, page, discard) }
    }
}

unsafe extern "C" fn rekey(p: *mut ffi::sqlite3_pcache, page: *mut ffi::sqlite3_pcache_page, old: c_uint, new: c_uint) {
    let c = unsafe { cache(p) };
    if let Some(f) = inner().xRekey {
        unsafe { f(c.inner, page, old, new) }
    }
    if new != c.lock_page {
        c.max_key.fetch_max(new, Ordering::Relaxed);
    }
}

unsafe extern "C" fn truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    let c = unsafe { cache(p) };
    let Some(f) = inner().xTruncate else { return };
    // Pages numbered `limit` and above go. Nothing to do when none can be there: none above `max_key`, and the
    // lock-byte page, if at or past the limit, not in the cache (a look-up, not a scan).
    let lock_page_held = || {
        c.lock_page >= limit && inner().xFetch.is_some_and(|fetch| !unsafe { fetch(c.inner, c.lock_page, 0) }.is_null())
    };
    if limit > c.max_key.load(Ordering::Relaxed) && !lock_page_held() {
        return;
    }
    unsafe { f(c.inner, limit) }
    c.max_key.fetch_min(limit.saturating_sub(1), Ordering::Relaxed);
}

unsafe extern "C" fn destroy(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: `p` came from `Box::into_raw` in `create`, and SQLite destroys a cache once.
    let c = unsafe { Box::from_raw(p as *mut Cache) };
    if let Some(f) = inner().xDestroy {
        unsafe { f(c.inner) }
    }
}

unsafe extern "C" fn shrink(p: *mut ffi::sqlite3_pcache) {
    let c = unsafe { cache(p) };
    if let Some(f) = inner().xShrink {
        unsafe { f(c.inner) }
    }
}
