//! How long one change order waits before trying again, and how often it may. Pure: the
//! randomness of the jitter is an argument. The pace of the whole run is `pacing`'s job.

use std::time::Duration;

/// The longest wait a server's `x-acs-retry-after` can impose: 10 s, the same cap as our own
/// backoff. The hint is honoured up to this, but a hint of hours or years (`999999999999`) is
/// a broken or hostile server, and an incident rollback must not sleep on it. EDAS quotas are
/// counted per second (`Throttling.User`), so a longer hint is not about our quota; a service
/// that keeps refusing is met by the next hint, the pacer's rate cut and, after 8 attempts, a
/// `failed` record the next apply retries. Applied here (one change order's retry) and by
/// `pacing` (the whole run's pause). docs/APPLY.md ("Pace").
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Bounded attempts with exponential backoff and full jitter ("Exponential Backoff and
/// Jitter", AWS Architecture Blog): the wait before retry `n` (1-based) is uniform in
/// `[0, min(cap, base · 2^(n-1))]`, and never shorter than the server's `x-acs-retry-after`.
/// Full jitter spreads retries of many change orders throttled at the same moment, so they
/// do not come back as one burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests of one kind (abort, or info) for one change order, the first included.
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry). `unit` is a random
    /// number in `[0, 1)`; `server_after` is the server's `x-acs-retry-after`, honoured as a
    /// lower bound.
    pub fn backoff(&self, retry: u32, unit: f64, server_after: Option<Duration>) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let ceiling = self
            .base
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.cap)
            .min(self.cap);
        let jittered = ceiling.mul_f64(unit.clamp(0.0, 1.0));
        match server_after {
            Some(after) => jittered.max(after.min(MAX_RETRY_AFTER)),
            None => jittered,
        }
    }

    /// True when `attempts` requests have been made and no more are allowed.
    pub fn exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_the_base_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let almost_one = 0.999_999;
        let ceilings: Vec<u128> = (1..=9)
            .map(|retry| policy.backoff(retry, almost_one, None).as_millis())
            .collect();
        assert_eq!(
            ceilings,
            [199, 399, 799, 1599, 3199, 6399, 9999, 9999, 9999]
        );
    }

    #[test]
    fn full_jitter_can_wait_nothing_at_all() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(5, 0.0, None), Duration::ZERO);
    }

    #[test]
    fn the_servers_retry_after_is_a_lower_bound() {
        let policy = RetryPolicy::default();
        let after = Some(Duration::from_secs(3));
        assert_eq!(policy.backoff(1, 0.5, after), Duration::from_secs(3));
        assert_eq!(
            policy.backoff(9, 0.999_999, Some(Duration::from_millis(1))),
            Duration::from_secs(10).mul_f64(0.999_999)
        );
    }

    #[test]
    fn a_servers_retry_after_of_years_is_capped() {
        let policy = RetryPolicy::default();
        let years = Some(Duration::from_millis(999_999_999_999));
        assert_eq!(policy.backoff(1, 0.5, years), MAX_RETRY_AFTER);
    }

    #[test]
    fn huge_retry_numbers_do_not_overflow() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(u32::MAX, 1.0, None), Duration::from_secs(10));
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy::default();
        assert!(!policy.exhausted(7));
        assert!(policy.exhausted(8));
    }
}
