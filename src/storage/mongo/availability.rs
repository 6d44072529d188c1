//! A circuit breaker for an unreachable MongoDB.
//!
//! Without it every request made during an outage waits for the driver's server selection to time
//! out before failing, so a down database turns into a pile of slow requests (and, with the driver's
//! default of 30 s, into client timeouts). Once an operation finds the deployment unreachable, the
//! breaker opens: operations fail at once with `Unavailable` (503) and a background probe pings the
//! deployment every [`PROBE_INTERVAL`]; the first successful ping closes it again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Availability {
    up: AtomicBool,
}

impl Default for Availability {
    /// Starts closed (reachable): the first operation finds out.
    fn default() -> Self {
        Self {
            up: AtomicBool::new(true),
        }
    }
}

impl Availability {
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Logs only on the transition, so an outage is one warning, not one per request.
    pub fn mark_down(&self, reason: &str) {
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                %reason,
                "MongoDB is unreachable; answering 503 until it is back (probing every {}s)",
                PROBE_INTERVAL.as_secs()
            );
        }
    }

    pub fn mark_up(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            tracing::info!("MongoDB is reachable again; serving");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_and_closes() {
        let breaker = Availability::default();
        assert!(breaker.is_up());
        breaker.mark_down("test");
        breaker.mark_down("test");
        assert!(!breaker.is_up());
        breaker.mark_up();
        assert!(breaker.is_up());
    }
}
