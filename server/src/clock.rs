//! The time as the stores and checks keep it.

use time::OffsetDateTime;

/// Now, in whole seconds since the Unix epoch.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}
