//! The engine's clock: what `now` reads in templates, what the `limits` windows count in and
//! what the jobs' scheduler sleeps by. Seconds since the Unix epoch, UTC.
//!
//! The system clock in production; in tests a manual clock, pinned to a chosen time and moved
//! with [`Clock::set`], so that nothing a test checks depends on the wall clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::time::Instant;

/// A clock, cheap to clone; clones of a manual clock share its time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. `Some`: the time set, and the Tokio instant it was set at.
    manual: Option<Arc<Mutex<(u64, Instant)>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A manual clock reading `wall` now and advancing with Tokio's clock (under Tokio's paused
    /// test time, with the test).
    pub fn at(wall: u64) -> Clock {
        Clock { manual: Some(Arc::new(Mutex::new((wall, Instant::now())))) }
    }

    /// Moves a manual clock to `wall`; does nothing to the system clock. A job scheduler
    /// already sleeping keeps its wake-up time.
    pub fn set(&self, wall: u64) {
        if let Some(manual) = &self.manual {
            *manual.lock() = (wall, Instant::now());
        }
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        match &self.manual {
            None => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default(),
            Some(manual) => {
                let (wall, base) = *manual.lock();
                wall + base.elapsed().as_secs()
            }
        }
    }

    /// The Tokio instant at which this clock reads `wall` (now, for times already past).
    pub fn instant_of(&self, wall: u64) -> Instant {
        Instant::now() + Duration::from_secs(wall.saturating_sub(self.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_manual_clock_advances_with_tokio_and_can_be_set() {
        let clock = Clock::at(1_000);
        let shared = clock.clone();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(shared.now(), 1_030);
        clock.set(5_000);
        assert_eq!(shared.now(), 5_000, "clones share the time");
        assert_eq!(clock.instant_of(5_010) - Instant::now(), Duration::from_secs(10));
        assert_eq!(clock.instant_of(10), Instant::now(), "a time past is now");
        Clock::system().set(1);
        assert!(Clock::system().now() > 1_700_000_000);
    }
}
