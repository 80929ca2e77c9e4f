//! jemalloc as the binary's allocator, its options, and the tokio hook that
//! gives an idle worker's cached memory back.
//!
//! Idle sessions are a few small long-lived allocations each (the session's
//! task, its peer, its hub entries); glibc's malloc fragments around them
//! and jemalloc does not: 2.58 against 2.05 KiB of RSS per idle session at
//! 19,000 sessions, at the same CPU per delivery (docs/BENCHMARKS.md).

use std::cell::Cell;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

// jemalloc's options, read once at its start (`malloc_conf`, a
// NUL-terminated C string; jemalloc is the process's `malloc` as well, so
// SQLite's memory is purged the same way). Memory freed after a burst (a
// login storm's buffers, 19,000 sessions ending at once) goes back to the
// system even while the server then sits idle: a background thread purges,
// freed pages are returned within about a second instead of ten
// (`dirty_decay_ms`), and straight away with MADV_DONTNEED, which lowers
// RSS at once, rather than first through MADV_FREE, which leaves the pages
// counted until the kernel wants them (`muzzy_decay_ms:0`). One arena, not
// four per core: the few objects that outlive a burst pin fewer
// half-empty slabs (RSS 10 s after 19,000 sessions left: 16.2 against
// 16.9 MB with two arenas and 17.6 with eight), at the same CPU per
// delivery (threads allocate from their own caches first). At most 32
// cached objects per small size class per thread, not up to 200: what a
// thread caches pins slabs (see `flush_idle_thread_cache`), and SQLite's
// and the blocking pool's threads never park (RSS 10 s after 19,000
// resets: 16.1 against 17.1 MB, medians of 3, at the same CPU per
// delivery).
#[unsafe(export_name = "malloc_conf")]
static JEMALLOC_CONF: &[u8; 97] = b"narenas:1,background_thread:true,dirty_decay_ms:1000,\
muzzy_decay_ms:0,tcache_nslots_small_max:32\0";

/// Warns if jemalloc's background purging thread, which `JEMALLOC_CONF`
/// asks for, could not start.
pub(crate) fn check_background_thread() {
    if !tikv_jemalloc_ctl::background_thread::read().unwrap_or(false) {
        tracing::warn!("jemalloc's background purging is not running");
    }
}

/// The least time between two flushes of one worker's cache.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

thread_local! {
    static LAST_FLUSH: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Gives the calling worker's cache of freed objects back to jemalloc when
/// it parks (runs out of work), at most once per [`FLUSH_EVERY`].
///
/// Each thread keeps freed objects per size class for its next
/// allocations, and trims that cache only while it allocates. A worker
/// that goes idle after a burst (19,000 sessions ending) kept them, and
/// each kept object pins its half-empty slab. With this hook RSS is back
/// within 20% of the pre-connection baseline 2.1 s after 19,000 resets
/// (15.0 MB from 13.3), where it stayed 1.2× above it without. Flushing at
/// every park cost 6–11% more CPU per delivery under load (a park every
/// few hundred microseconds); once per quarter second costs nothing
/// measurable (0.176 against 0.179 CPU-s per million deliveries at 100
/// receivers, medians of 3), and an idle worker still parks within it.
pub(crate) fn flush_idle_thread_cache() {
    let now = Instant::now();
    let due = LAST_FLUSH.with(|last| match last.get() {
        Some(at) if now.duration_since(at) < FLUSH_EVERY => false,
        _ => {
            last.set(Some(now));
            true
        }
    });
    if !due {
        return;
    }
    // SAFETY: `thread.tcache.flush` reads and writes nothing: jemalloc
    // expects a NUL-terminated name and null pointers with a zero length,
    // and acts only on the calling thread's own cache. Its result (an
    // error if the thread has no cache) needs no handling.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"thread.tcache.flush".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}
