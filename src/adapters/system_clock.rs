//! The system's clock and random (version 4) UUIDs: the [`Clock`] and [`IdSource`] of production.

use crate::ports::clock::{Clock, IdSource};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The wall clock and random ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

impl IdSource for SystemClock {
    fn new_id(&self) -> Uuid {
        Uuid::new_v4()
    }
}
