//! The pace of the whole run: at most `requests_per_second` requests started per second
//! (aborts and info requests alike), slowed down for everyone when the service throttles.
//!
//! Policy (decided here, documented in `docs/APPLY.md`):
//! - Requests start on slots spaced `1/rate` apart (a token bucket of capacity one). Idle time
//!   earns no burst, so no window of one second ever sees more than `rate` starts.
//! - On a throttled answer the rate is cut to 0.95× what the service accepted during the last
//!   second (its quota, measured), or halved when nothing was accepted; never above 0.95× the
//!   rate the request went out at, never below 1/s. That measured rate becomes the `mark`.
//!   Halving blindly (plain AIMD) would average ¾ of the quota, which the 1.2× bound
//!   does not tolerate; measuring finds a fixed quota (the usual EDAS `Throttling.User`) at once.
//! - After a cut, further throttles of requests started within one second are ignored: a quota
//!   is counted over a second, so the service keeps refusing until the burst that caused the
//!   cut has left its window, whatever the new rate. Reacting to each of those refusals would
//!   cut the rate to the floor (the same reason TCP cuts once per round trip, not per loss).
//! - The server's `x-acs-retry-after` pauses every start until it has passed, up to
//!   `retry::MAX_RETRY_AFTER` (10 s).
//! - Recovery is additive, after each quarter of a second's worth of successes: quickly (a
//!   fifth of the mark per step) up to 0.9× the mark, then by a fiftieth of the configured
//!   limit per step to probe above it, never above the limit, so a quota that was raised, or a
//!   cut caused by someone else's burst, is won back within seconds.
//!
//! [`RateControl`] is the pure state machine (time is an argument); [`Pacer`] shares it
//! between tasks and sleeps on tokio's clock.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// The share of the measured quota to run at after a cut.
const BELOW_QUOTA: f64 = 0.95;
/// The cut when nothing was accepted to measure.
const BLIND_DECREASE: f64 = 0.5;
/// Quotas are counted per second; so are the measurement and the cooldown after a cut.
const QUOTA_WINDOW: Duration = Duration::from_secs(1);
const FLOOR_PER_SECOND: f64 = 1.0;
const FAST_RECOVERY_UNTIL: f64 = 0.9;
const FAST_STEP: f64 = 0.2;
const SLOW_STEP: f64 = 0.02;
/// Successes that make a recovery step, in seconds' worth at the current rate.
const RECOVERY_WINDOW_SECONDS: f64 = 0.25;

/// A change of the whole run's pace, for the reporter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateChange {
    pub from: f64,
    pub to: f64,
}

/// The pure pacing state: the current rate and the next free start slot.
#[derive(Clone, Debug)]
pub(crate) struct RateControl {
    limit: f64,
    rate: f64,
    mark: Option<f64>,
    next_slot: Option<Instant>,
    cooldown_until: Option<Instant>,
    successes: u32,
    /// When each answer of the last second that was not throttled arrived.
    accepted: VecDeque<Instant>,
}

impl RateControl {
    pub(crate) fn new(requests_per_second: u32) -> Self {
        let limit = f64::from(requests_per_second.max(1));
        Self {
            limit,
            rate: limit,
            mark: None,
            next_slot: None,
            cooldown_until: None,
            successes: 0,
            accepted: VecDeque::new(),
        }
    }

    /// The current rate, in requests started per second.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// Reserves the next start slot at or after `now` and returns it.
    pub(crate) fn reserve(&mut self, now: Instant) -> Instant {
        let slot = match self.next_slot {
            Some(next) if next > now => next,
            _ => now,
        };
        self.next_slot = Some(slot + Duration::from_secs_f64(1.0 / self.rate));
        slot
    }

    /// A request started at `started` was throttled; `after` is the server's retry-after.
    pub(crate) fn on_throttled(
        &mut self,
        started: Instant,
        now: Instant,
        after: Option<Duration>,
    ) -> Option<RateChange> {
        if let Some(after) = after {
            // Capped like one change order's retry: a hint of years must not stop the run.
            let resume = now + after.min(super::retry::MAX_RETRY_AFTER);
            if self.next_slot.is_none_or(|next| next < resume) {
                self.next_slot = Some(resume);
            }
        }
        if self.cooldown_until.is_some_and(|until| started < until) {
            return None;
        }
        let from = self.rate;
        let accepted = self.accepted_in_window(now);
        let (to, mark) = if accepted > 0.0 {
            (
                (accepted * BELOW_QUOTA).min(from * BELOW_QUOTA),
                accepted.min(from),
            )
        } else {
            let halved = from * BLIND_DECREASE;
            (halved, halved)
        };
        self.rate = to.clamp(FLOOR_PER_SECOND, self.limit);
        self.mark = Some(mark.max(self.rate));
        self.cooldown_until = Some(now + QUOTA_WINDOW);
        self.successes = 0;
        // Slots already handed out keep their spacing; the next one is pushed out so that the
        // slower pace starts at once.
        if let Some(next) = self.next_slot {
            let slower = next + Duration::from_secs_f64(1.0 / self.rate - 1.0 / from);
            self.next_slot = Some(slower.max(next));
        }
        (self.rate != from).then_some(RateChange {
            from,
            to: self.rate,
        })
    }

    /// Answers not throttled in the second before `now`.
    fn accepted_in_window(&mut self, now: Instant) -> f64 {
        while self
            .accepted
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= QUOTA_WINDOW)
        {
            self.accepted.pop_front();
        }
        self.accepted.len() as f64
    }

    /// The service answered at `now` without throttling.
    pub(crate) fn on_success(&mut self, now: Instant) -> Option<RateChange> {
        self.accepted.push_back(now);
        self.accepted_in_window(now);
        if self.rate >= self.limit {
            return None;
        }
        self.successes += 1;
        let window = (self.rate * RECOVERY_WINDOW_SECONDS).ceil().max(1.0);
        if f64::from(self.successes) < window {
            return None;
        }
        self.successes = 0;
        let from = self.rate;
        let mark = self.mark.unwrap_or(self.limit);
        let fast_until = mark * FAST_RECOVERY_UNTIL;
        self.rate = if from < fast_until {
            (from + mark * FAST_STEP).min(fast_until)
        } else {
            from + (self.limit * SLOW_STEP).max(0.5)
        }
        .min(self.limit);
        Some(RateChange {
            from,
            to: self.rate,
        })
    }
}

/// [`RateControl`] shared by every task of a run.
#[derive(Debug)]
pub struct Pacer {
    control: Mutex<RateControl>,
}

impl Pacer {
    pub fn new(requests_per_second: u32) -> Self {
        Self {
            control: Mutex::new(RateControl::new(requests_per_second)),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut RateControl) -> T) -> T {
        // A panic while holding this lock cannot leave the rate half-updated in a way that
        // matters; carry on with what is there.
        let mut guard = self
            .control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Waits for this task's start slot and returns the instant it started.
    pub async fn acquire(&self) -> Instant {
        match self.reserve() {
            Ok(now) => now,
            Err(slot) => {
                tokio::time::sleep_until(slot).await;
                Instant::now()
            }
        }
    }

    /// Reserves this task's start slot: `Ok(now)` when it is due already, `Err(slot)` when
    /// the task must wait until `slot` to start. A slot that is already due needs no timer:
    /// registering one costs a timer-wheel entry, and one due within the current millisecond
    /// made tokio wake its driver through the eventfd (a `write` system call per request
    /// when the rate is high).
    pub fn reserve(&self) -> Result<Instant, Instant> {
        let now = Instant::now();
        let slot = self.with(|control| control.reserve(now));
        if slot > now { Err(slot) } else { Ok(now) }
    }

    pub fn on_throttled(&self, started: Instant, after: Option<Duration>) -> Option<RateChange> {
        self.with(|control| control.on_throttled(started, Instant::now(), after))
    }

    pub fn on_success(&self) -> Option<RateChange> {
        self.with(|control| control.on_success(Instant::now()))
    }

    pub fn rate(&self) -> f64 {
        self.with(|control| control.rate())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn slots_are_spaced_one_over_the_rate_and_idle_time_earns_no_burst() {
        let start = Instant::now();
        let mut control = RateControl::new(4);
        let slots: Vec<Duration> = (0..4).map(|_| control.reserve(start) - start).collect();
        assert_eq!(
            slots,
            [0, 250, 500, 750].map(Duration::from_millis).to_vec()
        );
        // Long after, the next start is immediate, and the one after it is spaced again.
        assert_eq!(control.reserve(at(start, 5_000)), at(start, 5_000));
        assert_eq!(control.reserve(at(start, 5_000)), at(start, 5_250));
    }

    #[test]
    fn a_throttle_cuts_the_rate_to_just_under_what_the_service_accepted_in_the_last_second() {
        let start = Instant::now();
        let mut control = RateControl::new(200);
        for millis in 0..50 {
            control.on_success(at(start, millis * 5));
        }
        let change = control.on_throttled(at(start, 250), at(start, 255), None);
        assert_eq!(
            change,
            Some(RateChange {
                from: 200.0,
                to: 47.5
            })
        );
    }

    #[test]
    fn a_throttle_with_nothing_accepted_halves_the_rate() {
        let start = Instant::now();
        let mut control = RateControl::new(100);
        let change = control.on_throttled(start, at(start, 10), None);
        assert_eq!(
            change,
            Some(RateChange {
                from: 100.0,
                to: 50.0
            })
        );
    }

    #[test]
    fn throttles_within_a_second_of_a_cut_are_the_same_news() {
        let start = Instant::now();
        let mut control = RateControl::new(100);
        assert!(control.on_throttled(start, at(start, 10), None).is_some());
        // The service's window still holds the burst that caused the cut.
        assert_eq!(
            control.on_throttled(at(start, 500), at(start, 505), None),
            None
        );
        assert_eq!(
            control.on_throttled(at(start, 1_000), at(start, 1_005), None),
            None
        );
        // Started a second after the cut: the slower rate is still too fast.
        let change = control.on_throttled(at(start, 1_011), at(start, 1_020), None);
        assert_eq!(
            change,
            Some(RateChange {
                from: 50.0,
                to: 25.0
            })
        );
    }

    #[test]
    fn the_rate_never_falls_below_one_per_second() {
        let start = Instant::now();
        let mut control = RateControl::new(2);
        for step in 0..10 {
            control.on_throttled(at(start, step * 2_000), at(start, step * 2_000 + 1), None);
        }
        assert_eq!(control.rate(), 1.0);
    }

    #[test]
    fn retry_after_pauses_every_start() {
        let start = Instant::now();
        let mut control = RateControl::new(10);
        control.reserve(start);
        control.on_throttled(start, start, Some(Duration::from_secs(2)));
        assert!(control.reserve(start) >= at(start, 2_000));
    }

    #[test]
    fn recovery_is_quick_up_to_nine_tenths_of_the_mark_then_slow_and_never_above_the_limit() {
        let start = Instant::now();
        let mut control = RateControl::new(100);
        control.on_throttled(start, start, None);
        assert_eq!(control.rate(), 50.0);
        let mut rates = Vec::new();
        for step in 0..2_000 {
            if let Some(change) = control.on_success(at(start, 2_000 + step)) {
                rates.push(change.to);
            }
        }
        // The mark is 50 (nothing was measured): 50 is above 0.9 × 50, so it probes by a
        // fiftieth of the limit per step.
        assert_eq!(rates[0], 52.0);
        assert_eq!(rates[1], 54.0);
        assert_eq!(*rates.last().unwrap_or(&0.0), 100.0);
        assert!(rates.iter().all(|rate| *rate <= 100.0));
        assert_eq!(control.on_success(at(start, 9_000)), None);
    }

    #[test]
    fn a_deep_cut_is_won_back_in_steps_of_the_configured_limit() {
        let start = Instant::now();
        let mut control = RateControl::new(100);
        for millis in 0..80 {
            control.on_success(at(start, millis));
        }
        control.on_throttled(at(start, 100), at(start, 100), None);
        assert_eq!(control.rate(), 76.0);
        // Someone else's burst cut us deeply: a later measure shows little accepted.
        for millis in 0..10 {
            control.on_success(at(start, 2_000 + millis));
        }
        control.on_throttled(at(start, 2_100), at(start, 2_100), None);
        assert_eq!(control.rate(), 9.5);
        let first = (0..100)
            .find_map(|step| control.on_success(at(start, 4_000 + step)))
            .map(|change| change.to);
        assert_eq!(first, Some(11.5));
    }
}
