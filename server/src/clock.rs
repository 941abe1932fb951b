//! The wall clock, in the unit every timestamp on the wire uses.
//!
//! Prices, snapshots and heartbeats all carry milliseconds since the Unix epoch;
//! this is the one place that reads the clock for them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
