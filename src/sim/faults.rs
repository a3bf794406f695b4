//! Fault decisions: the requests-per-second token bucket and latency sampling. Pure: the
//! time and the random generator are arguments, so a seeded run decides the same way twice.

use super::Latency;
use std::time::{Duration, Instant};

/// A token bucket over all authenticated requests: `rate` tokens a second, holding at most
/// one second's worth, so a burst may reach the limit but a second never goes over twice it.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(requests_per_second: u32, now: Instant) -> Self {
        let rate = f64::from(requests_per_second.max(1));
        Self {
            rate,
            capacity: rate,
            tokens: rate,
            last: now,
        }
    }

    /// Takes a token when one is there; false means the request is throttled.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The delay before answering one request.
pub(crate) fn sample_latency(latency: &Latency, rng: &mut fastrand::Rng) -> Duration {
    match *latency {
        Latency::None => Duration::ZERO,
        Latency::Fixed(delay) => delay,
        Latency::Range(low, high) => {
            let (low, high) = (low.as_nanos() as u64, high.as_nanos() as u64);
            Duration::from_nanos(rng.u64(low..=high.max(low)))
        }
    }
}

/// True with probability `rate` (0 never draws, so a fault-free run consumes no randomness).
pub(crate) fn roll(rate: f64, rng: &mut fastrand::Rng) -> bool {
    rate > 0.0 && rng.f64() < rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_of_one_second_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(5, start);
        let allowed = (0..10).filter(|_| bucket.try_take(start)).count();
        assert_eq!(allowed, 5);
        assert!(!bucket.try_take(start + Duration::from_millis(100)));
        assert!(bucket.try_take(start + Duration::from_millis(200)));
        let later = start + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.try_take(later)).count(), 5);
    }

    #[test]
    fn latency_samples_stay_in_their_range_and_repeat_for_a_seed() {
        let latency = Latency::Range(Duration::from_millis(20), Duration::from_millis(80));
        let draw = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..100)
                .map(|_| sample_latency(&latency, &mut rng))
                .collect::<Vec<_>>()
        };
        let samples = draw(3);
        assert_eq!(samples, draw(3));
        assert!(
            samples
                .iter()
                .all(|d| *d >= Duration::from_millis(20) && *d <= Duration::from_millis(80))
        );
        assert_eq!(
            sample_latency(
                &Latency::Fixed(Duration::from_millis(5)),
                &mut fastrand::Rng::with_seed(0)
            ),
            Duration::from_millis(5)
        );
    }

    #[test]
    fn rolls_follow_the_rate() {
        let mut rng = fastrand::Rng::with_seed(9);
        assert!(!(0..1000).any(|_| roll(0.0, &mut rng)));
        assert!((0..1000).all(|_| roll(1.0, &mut rng)));
        let hits = (0..10_000).filter(|_| roll(0.1, &mut rng)).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }
}
