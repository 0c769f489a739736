//! Outbound ports: the time and the new ids the application stamps on what it creates (memories,
//! history rows, write ids), injected so that a plan computed in a test is the same every time.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Where the current time comes from.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// Where new ids come from (random in production, so ids never collide across processes).
pub trait IdSource: Send + Sync + 'static {
    /// A new id.
    fn new_id(&self) -> Uuid;
}
