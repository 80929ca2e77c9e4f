//! The one clock every bench process reads: `CLOCK_MONOTONIC`.
//!
//! A sender stamps each payload with it and a receiver in another worker
//! process subtracts the stamp from its own reading, so the clock has to be
//! system-wide. `std::time::Instant` uses the same clock on Linux but does not
//! expose the raw value, hence `clock_gettime`.

/// Nanoseconds since an arbitrary, system-wide fixed point (boot).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always
    // exists on Linux, so the call cannot fail.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
