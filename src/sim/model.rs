//! The change orders the simulator knows and how aborts change them (docs/CONTRACT.md, "Change
//! order statuses"). Pure: the time is an argument, and rollback ids come from the seed and a
//! counter, so a run is repeatable. Counters live beside each change order so stats are one lookup.

use super::stats::ChangeOrderStats;
use super::status;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct ChangeOrder {
    status: i32,
    /// A running rollback change order succeeds at this instant.
    finishes_at: Option<Instant>,
    /// An accepted abort takes effect (status 6) at this instant: EDAS applies aborts
    /// asynchronously, so the status reads abortable until then.
    stops_at: Option<Instant>,
    /// The application is in an ECS cluster: `RollbackChangeOrder`, not
    /// `AbortAndRollbackChangeOrder`.
    ecs: bool,
    stats: ChangeOrderStats,
}

impl ChangeOrder {
    fn new(status: i32) -> Self {
        Self {
            status,
            finishes_at: None,
            stops_at: None,
            ecs: false,
            stats: ChangeOrderStats {
                status,
                ..ChangeOrderStats::default()
            },
        }
    }

    /// Statuses move with time (a rollback finishes), so they are computed when read.
    fn status_at(&self, now: Instant) -> i32 {
        if let Some(at) = self.stops_at {
            return if now >= at {
                status::STOPPED
            } else {
                self.status
            };
        }
        match self.finishes_at {
            Some(at) if self.status == status::RUNNING && now >= at => status::SUCCEEDED,
            _ => self.status,
        }
    }
}

/// Which call asked for the rollback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RollbackCall {
    /// `AbortAndRollbackChangeOrder`: ACK (Kubernetes) clusters.
    AbortAndRollback,
    /// `RollbackChangeOrder`: ECS clusters.
    Rollback,
}

/// The answer to an abort.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AbortResult {
    Committed {
        rollback_change_order_id: String,
    },
    NotAbortable {
        status: i32,
    },
    /// An accepted abort is still being applied.
    InProgress,
    /// The call is for the other kind of cluster than the application's.
    WrongCluster {
        ecs: bool,
    },
    NotFound,
}

#[derive(Debug)]
pub(crate) struct ChangeOrders {
    orders: HashMap<String, ChangeOrder>,
    any_id: bool,
    seed: u64,
    rollback_duration: Duration,
    abort_delay: Duration,
    rollbacks_created: u64,
}

impl ChangeOrders {
    pub(crate) fn new(
        declared: impl IntoIterator<Item = (String, i32)>,
        any_id: bool,
        seed: u64,
        rollback_duration: Duration,
    ) -> Self {
        Self {
            orders: declared
                .into_iter()
                .map(|(id, status)| (id, ChangeOrder::new(status)))
                .collect(),
            any_id,
            seed,
            rollback_duration,
            abort_delay: Duration::ZERO,
            rollbacks_created: 0,
        }
    }

    /// Puts these change orders' applications in ECS clusters (created under `any_id` if
    /// they do not exist yet).
    pub(crate) fn in_ecs_clusters<'a>(mut self, ids: impl IntoIterator<Item = &'a str>) -> Self {
        for id in ids {
            if let Some(order) = self.lookup(id) {
                order.ecs = true;
            }
        }
        self
    }

    /// Accepted aborts take effect `delay` after they are answered.
    pub(crate) fn with_abort_delay(mut self, delay: Duration) -> Self {
        self.abort_delay = delay;
        self
    }

    /// The change order, created with status 1 under `any_id`.
    fn lookup(&mut self, id: &str) -> Option<&mut ChangeOrder> {
        if self.any_id && !self.orders.contains_key(id) {
            self.orders
                .insert(id.to_string(), ChangeOrder::new(status::RUNNING));
        }
        self.orders.get_mut(id)
    }

    /// Counts an authenticated abort request; false when the id does not exist.
    pub(crate) fn record_abort_received(&mut self, id: &str, call: RollbackCall) -> bool {
        // Under `any_id` an unknown change order is created by the first call naming it, in
        // the kind of cluster that call is for, so both calls work against `--any-id`.
        if self.any_id && !self.orders.contains_key(id) {
            let mut order = ChangeOrder::new(status::RUNNING);
            order.ecs = call == RollbackCall::Rollback;
            self.orders.insert(id.to_string(), order);
        }
        match self.lookup(id) {
            Some(order) => {
                order.stats.aborts_received += 1;
                if call == RollbackCall::Rollback {
                    order.stats.rollback_requests += 1;
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn abort(&mut self, id: &str, now: Instant, call: RollbackCall) -> AbortResult {
        let rollback_id = rollback_change_order_id(self.seed, self.rollbacks_created);
        let stops_at = now + self.abort_delay;
        let finishes_at = stops_at + self.rollback_duration;
        let delayed = !self.abort_delay.is_zero();
        let Some(order) = self.lookup(id) else {
            return AbortResult::NotFound;
        };
        if order.ecs != (call == RollbackCall::Rollback) {
            return AbortResult::WrongCluster { ecs: order.ecs };
        }
        let current = order.status_at(now);
        if !status::is_abortable(current) {
            return AbortResult::NotAbortable { status: current };
        }
        if order.stops_at.is_some() {
            return AbortResult::InProgress;
        }
        if delayed {
            order.stops_at = Some(stops_at);
        } else {
            order.status = status::STOPPED;
        }
        order.finishes_at = None;
        order.stats.aborts_committed += 1;
        order.stats.rollback_change_order_id = Some(rollback_id.clone());
        let mut rollback = ChangeOrder::new(status::RUNNING);
        rollback.finishes_at = Some(finishes_at);
        rollback.stats.rollback_of = Some(id.to_string());
        self.rollbacks_created += 1;
        self.orders.insert(rollback_id.clone(), rollback);
        AbortResult::Committed {
            rollback_change_order_id: rollback_id,
        }
    }

    /// Counts an info request and answers the status and, for a rollback change order, the
    /// change order it rolls back; `None` when the id does not exist.
    pub(crate) fn info(&mut self, id: &str, now: Instant) -> Option<(i32, Option<String>)> {
        let order = self.lookup(id)?;
        order.stats.info_requests += 1;
        Some((order.status_at(now), order.stats.rollback_of.clone()))
    }

    /// The current status of an existing change order, without counting a request (the
    /// list answer reads it).
    pub(crate) fn status_now(&self, id: &str, now: Instant) -> Option<i32> {
        self.orders.get(id).map(|order| order.status_at(now))
    }

    /// Whether `id` is a rollback change order this simulator created (listed with
    /// `CoTypeCode: CoRollback`).
    pub(crate) fn is_rollback(&self, id: &str) -> bool {
        self.orders
            .get(id)
            .is_some_and(|order| order.stats.rollback_of.is_some())
    }

    pub(crate) fn stats(&self, now: Instant) -> impl Iterator<Item = (String, ChangeOrderStats)> {
        self.orders.iter().map(move |(id, order)| {
            let mut stats = order.stats.clone();
            stats.status = order.status_at(now);
            (id.clone(), stats)
        })
    }
}

/// A UUID-shaped id (lowercase, like EDAS change order ids) from the seed and a counter.
pub(crate) fn rollback_change_order_id(seed: u64, counter: u64) -> String {
    uuid_like(seed ^ 0x5EED_0000_C4A9_6E00, counter, false)
}

/// 16 bytes from a generator seeded by `(seed, counter)`, formatted as a UUID. Independent of
/// the order in which concurrent requests arrive for a given counter value.
pub(crate) fn uuid_like(seed: u64, counter: u64, uppercase: bool) -> String {
    let mut rng =
        fastrand::Rng::with_seed(seed.wrapping_add(counter.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    let bytes = rng.u128(..).to_be_bytes();
    let hex = hex::encode(bytes);
    let text = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    if uppercase {
        text.to_ascii_uppercase()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ChangeOrders {
        fn abort_ack(&mut self, id: &str, now: Instant) -> AbortResult {
            self.abort(id, now, RollbackCall::AbortAndRollback)
        }
    }

    #[test]
    fn each_call_is_accepted_only_for_its_kind_of_cluster() {
        let now = Instant::now();
        let mut model = orders(false).in_ecs_clusters(["running"]);
        assert_eq!(
            model.abort_ack("running", now),
            AbortResult::WrongCluster { ecs: true }
        );
        assert!(matches!(
            model.abort("running", now, RollbackCall::Rollback),
            AbortResult::Committed { .. }
        ));
        let mut ack = orders(false);
        assert_eq!(
            ack.abort("running", now, RollbackCall::Rollback),
            AbortResult::WrongCluster { ecs: false }
        );
    }

    #[test]
    fn a_delayed_abort_reads_abortable_until_it_takes_effect() {
        let now = Instant::now();
        let mut model = orders(false).with_abort_delay(Duration::from_secs(2));
        assert!(matches!(
            model.abort_ack("running", now),
            AbortResult::Committed { .. }
        ));
        assert_eq!(model.info("running", now), Some((status::RUNNING, None)));
        assert_eq!(model.abort_ack("running", now), AbortResult::InProgress);
        let later = now + Duration::from_secs(2);
        assert_eq!(model.info("running", later), Some((status::STOPPED, None)));
        assert_eq!(
            model.abort_ack("running", later),
            AbortResult::NotAbortable {
                status: status::STOPPED
            }
        );
    }

    fn orders(any_id: bool) -> ChangeOrders {
        ChangeOrders::new(
            [
                ("running".to_string(), status::RUNNING),
                ("succeeded".to_string(), status::SUCCEEDED),
            ],
            any_id,
            7,
            Duration::from_secs(10),
        )
    }

    #[test]
    fn an_abortable_change_order_stops_and_gets_a_running_rollback_that_finishes_later() {
        let mut model = orders(false);
        let now = Instant::now();
        let AbortResult::Committed {
            rollback_change_order_id,
        } = model.abort_ack("running", now)
        else {
            panic!("expected a committed abort");
        };
        assert_eq!(model.info("running", now), Some((status::STOPPED, None)));
        let rollback_of = Some("running".to_string());
        assert_eq!(
            model.info(&rollback_change_order_id, now),
            Some((status::RUNNING, rollback_of.clone()))
        );
        assert_eq!(
            model.info(&rollback_change_order_id, now + Duration::from_secs(10)),
            Some((status::SUCCEEDED, rollback_of))
        );
        assert_eq!(
            model.abort_ack("running", now),
            AbortResult::NotAbortable {
                status: status::STOPPED
            }
        );
    }

    #[test]
    fn unknown_ids_exist_only_under_any_id() {
        let now = Instant::now();
        assert_eq!(orders(false).abort_ack("nope", now), AbortResult::NotFound);
        assert!(matches!(
            orders(true).abort_ack("nope", now),
            AbortResult::Committed { .. }
        ));
    }

    #[test]
    fn rollback_ids_are_repeatable_for_a_seed_and_differ_between_seeds() {
        assert_eq!(
            rollback_change_order_id(1, 0),
            rollback_change_order_id(1, 0)
        );
        assert_ne!(
            rollback_change_order_id(1, 0),
            rollback_change_order_id(1, 1)
        );
        assert_ne!(
            rollback_change_order_id(1, 0),
            rollback_change_order_id(2, 0)
        );
        assert_eq!(rollback_change_order_id(1, 0).len(), 36);
    }
}
