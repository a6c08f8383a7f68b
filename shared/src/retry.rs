//! The one backoff rule every retry uses: "full jitter" exponential waits (a uniform wait up to
//! `base × 2^attempt`, capped), so racing callers spread out instead of colliding in lockstep.

use std::time::Duration;

/// A backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first retry's wait, in milliseconds.
    pub base_ms: u64,
    /// Largest ceiling, in milliseconds.
    pub cap_ms: u64,
}

impl Backoff {
    /// Optimistic DynamoDB writes and unprocessed batch items: 4 ms doubling to 250 ms.
    pub const WRITES: Backoff = Backoff {
        base_ms: 4,
        cap_ms: 250,
    };
    /// A throttled email send: 200 ms doubling to 5 s (SES counts its rate per second).
    pub const SENDS: Backoff = Backoff {
        base_ms: 200,
        cap_ms: 5_000,
    };

    /// The ceiling of the wait before retry `attempt` (1 = the first retry).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doubled = self.base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        Duration::from_millis(doubled.min(self.cap_ms))
    }

    /// Waits a uniformly random time up to [`Backoff::ceiling`].
    pub async fn wait(&self, attempt: u32) {
        let ceiling = self.ceiling(attempt).as_millis() as u64;
        let millis = (uuid::Uuid::new_v4().as_u128() % u128::from(ceiling + 1)) as u64;
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff::SENDS;
        let ms: Vec<u128> = (1..=7).map(|a| b.ceiling(a).as_millis()).collect();
        assert_eq!(ms, [200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(Backoff::WRITES.ceiling(30).as_millis(), 250);
    }
}
