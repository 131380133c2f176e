//! The one place the server reads the time. The rules never do: the service stamps each
//! command's `at` with this clock (never behind the tenant's last event), and sessions,
//! sign-in links, report ranges and retention are measured against it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch (0 for a clock set before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
