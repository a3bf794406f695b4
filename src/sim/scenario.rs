//! Rehearsal scenarios: the statuses and faults `rehearse --scenario FILE` starts the
//! embedded simulator with, so a runbook can be rehearsed against a bad day (throttling, lost
//! responses, change orders that already finished) before it is needed.
//!
//! ```yaml
//! statuses:            # status of a change order when the simulator starts (default 1)
//!   6b55106c-c7f2-40f7-a1d4-0928700aaaaa: 2
//! faults:
//!   latency: 20ms..80ms
//!   requests_per_second: 5
//!   retry_after: 1s
//!   fail_rate: 0.05
//!   drop_rate: 0.05
//!   scripted:
//!     6b55106c-c7f2-40f7-a1d4-0928700aaaab: [drop]
//! seed: 7
//! rollback_duration: 2s
//! deny_permission: 401   # every request: HTTP 200, body Code 401 (no RAM permission)
//! ecs: [6b55106c-c7f2-40f7-a1d4-0928700aaaab]   # in an ECS cluster: RollbackChangeOrder
//! abort_delay: 1s        # accepted aborts take effect (status 6) this much later
//! applications:          # for selectors (ListApplication, ListRecentChangeOrder)
//!   - id: app-checkout
//!     name: checkout
//!     change_orders:
//!       - {id: co-c1, status: 1, create_time: "2026-11-30 19:00:00"}
//! ```
//!
//! Pure: text in, a scenario out; [`Scenario::configure`] applies it to a [`SimConfig`].

use super::{Latency, ScriptedOutcome, SimAppChangeOrder, SimApplication, SimConfig};
use crate::config::duration::parse_duration;
use crate::ids::ChangeOrderId;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read the scenario `{path}`: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid scenario `{path}`: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    statuses: BTreeMap<String, i32>,
    #[serde(default)]
    faults: RawFaults,
    seed: Option<u64>,
    rollback_duration: Option<String>,
    /// `401` or `403`: answer every request as EDAS answers a caller without the permission.
    deny_permission: Option<u16>,
    /// Change orders whose applications are in ECS clusters (RollbackChangeOrder only).
    #[serde(default)]
    ecs: Vec<String>,
    /// Accepted aborts take effect this long after they are answered.
    abort_delay: Option<String>,
    /// Applications and their change orders, for a config's selectors.
    #[serde(default)]
    applications: Vec<RawApplication>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    id: String,
    name: String,
    #[serde(default)]
    change_orders: Vec<RawAppChangeOrder>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppChangeOrder {
    id: String,
    status: i32,
    /// As ListRecentChangeOrder answers it: `2026-11-30 19:00:00` (UTC+8 wall time).
    create_time: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    latency: Option<String>,
    requests_per_second: Option<u32>,
    retry_after: Option<String>,
    #[serde(default)]
    fail_rate: f64,
    #[serde(default)]
    drop_rate: f64,
    #[serde(default)]
    scripted: BTreeMap<String, Vec<ScriptedOutcome>>,
}

/// A parsed scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenario {
    pub statuses: BTreeMap<ChangeOrderId, i32>,
    pub latency: Option<Latency>,
    pub requests_per_second: Option<u32>,
    pub retry_after: Option<Duration>,
    pub fail_rate: f64,
    pub drop_rate: f64,
    pub scripted: BTreeMap<ChangeOrderId, Vec<ScriptedOutcome>>,
    pub seed: Option<u64>,
    pub rollback_duration: Option<Duration>,
    pub deny_permission: Option<u16>,
    pub ecs: Vec<ChangeOrderId>,
    pub abort_delay: Option<Duration>,
    pub applications: Vec<SimApplication>,
}

impl Scenario {
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario =
            serde_saphyr::from_str(text).map_err(|error| ScenarioError::Syntax {
                path: path.to_path_buf(),
                message: error.to_string(),
            })?;
        let invalid = |message: String| ScenarioError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        for (id, status) in &raw.statuses {
            if !super::status::ALL.contains(status) {
                return Err(invalid(format!(
                    "status {status} of `{id}` is not an EDAS change order status \
                     (expected one of 0, 1, 2, 3, 6, 7, 8, 9, 10)"
                )));
            }
        }
        for application in &raw.applications {
            if !ChangeOrderId::is_well_formed(&application.id) {
                return Err(invalid(format!(
                    "application id `{}` is not letters and digits joined by single `-`",
                    application.id
                )));
            }
            for order in &application.change_orders {
                if !ChangeOrderId::is_well_formed(&order.id) {
                    return Err(invalid(format!(
                        "change order id `{}` of application `{}` is not letters and digits \
                         joined by single `-`",
                        order.id, application.id
                    )));
                }
                if !super::status::ALL.contains(&order.status) {
                    return Err(invalid(format!(
                        "status {} of `{}` (application `{}`) is not an EDAS change order \
                         status (expected one of 0, 1, 2, 3, 6, 7, 8, 9, 10)",
                        order.status, order.id, application.id
                    )));
                }
            }
        }
        for (name, rate) in [
            ("fail_rate", raw.faults.fail_rate),
            ("drop_rate", raw.faults.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(invalid(format!(
                    "`faults.{name}` is {rate}; expected a fraction between 0 and 1"
                )));
            }
        }
        if let Some(code) = raw.deny_permission
            && !matches!(code, 401 | 403)
        {
            return Err(invalid(format!(
                "`deny_permission` is {code}; expected 401 (no RAM permission) or 403 (denied)"
            )));
        }
        if raw.faults.requests_per_second == Some(0) {
            return Err(invalid(
                "`faults.requests_per_second` must be positive".to_string(),
            ));
        }
        let latency = raw
            .faults
            .latency
            .as_deref()
            .map(|text| {
                text.parse::<Latency>()
                    .map_err(|message| invalid(format!("`faults.latency`: {message}")))
            })
            .transpose()?;
        let duration = |key: &str, text: Option<&str>| {
            text.map(|text| {
                parse_duration(text).map_err(|message| invalid(format!("`{key}`: {message}")))
            })
            .transpose()
        };
        Ok(Scenario {
            statuses: raw
                .statuses
                .into_iter()
                .map(|(id, status)| (ChangeOrderId::new(id), status))
                .collect(),
            latency,
            requests_per_second: raw.faults.requests_per_second,
            retry_after: duration("faults.retry_after", raw.faults.retry_after.as_deref())?,
            fail_rate: raw.faults.fail_rate,
            drop_rate: raw.faults.drop_rate,
            scripted: raw
                .faults
                .scripted
                .into_iter()
                .map(|(id, outcomes)| (ChangeOrderId::new(id), outcomes))
                .collect(),
            seed: raw.seed,
            rollback_duration: duration("rollback_duration", raw.rollback_duration.as_deref())?,
            deny_permission: raw.deny_permission,
            ecs: raw.ecs.into_iter().map(ChangeOrderId::new).collect(),
            abort_delay: duration("abort_delay", raw.abort_delay.as_deref())?,
            applications: raw
                .applications
                .into_iter()
                .map(|application| SimApplication {
                    app_id: application.id,
                    name: application.name,
                    change_orders: application
                        .change_orders
                        .into_iter()
                        .map(|order| SimAppChangeOrder {
                            id: ChangeOrderId::new(order.id),
                            status: order.status,
                            create_time: order.create_time,
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// Seeds `config` with `declared` change orders (status 1 unless the scenario says
    /// otherwise, plus any extra ids the scenario names) and the scenario's faults.
    pub fn configure(&self, config: &mut SimConfig, declared: &[ChangeOrderId]) {
        let mut statuses: BTreeMap<ChangeOrderId, i32> = declared
            .iter()
            .map(|id| (id.clone(), super::status::RUNNING))
            .collect();
        statuses.extend(self.statuses.clone());
        config.change_orders = statuses.into_iter().collect();
        if let Some(latency) = self.latency {
            config.faults.latency = latency;
        }
        config.faults.requests_per_second = self.requests_per_second;
        config.faults.retry_after = self.retry_after;
        config.faults.fail_rate = self.fail_rate;
        config.faults.drop_rate = self.drop_rate;
        config.faults.scripted = self.scripted.clone();
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(duration) = self.rollback_duration {
            config.rollback_duration = duration;
        }
        config.denied = self.deny_permission;
        config.ecs_change_orders.extend(self.ecs.iter().cloned());
        if let Some(delay) = self.abort_delay {
            config.abort_delay = delay;
        }
        config.applications = self.applications.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
statuses:
  co-done: 2
faults:
  latency: 20ms..80ms
  requests_per_second: 5
  retry_after: 1s
  fail_rate: 0.05
  drop_rate: 0.1
  scripted:
    co-a: [drop, ok]
seed: 7
rollback_duration: 2s
ecs: [co-a]
abort_delay: 500ms
applications:
  - id: app-1
    name: checkout
    change_orders:
      - {id: co-s1, status: 8, create_time: \"2026-11-30 19:00:00\"}
";

    #[test]
    fn a_full_scenario_parses_and_configures_the_simulator() {
        let scenario = Scenario::parse(Path::new("s.yaml"), EXAMPLE).unwrap();
        let mut config = SimConfig::default();
        let declared = [ChangeOrderId::new("co-a"), ChangeOrderId::new("co-done")];
        scenario.configure(&mut config, &declared);
        assert_eq!(
            config.change_orders,
            vec![
                (ChangeOrderId::new("co-a"), 1),
                (ChangeOrderId::new("co-done"), 2)
            ]
        );
        assert_eq!(
            config.faults.latency,
            Latency::Range(Duration::from_millis(20), Duration::from_millis(80))
        );
        assert_eq!(config.faults.requests_per_second, Some(5));
        assert_eq!(config.faults.retry_after, Some(Duration::from_secs(1)));
        assert_eq!(config.faults.drop_rate, 0.1);
        assert_eq!(
            config.faults.scripted[&ChangeOrderId::new("co-a")],
            vec![ScriptedOutcome::Drop, ScriptedOutcome::Ok]
        );
        assert_eq!(config.seed, 7);
        assert_eq!(config.rollback_duration, Duration::from_secs(2));
        assert!(
            config
                .ecs_change_orders
                .contains(&ChangeOrderId::new("co-a"))
        );
        assert_eq!(config.abort_delay, Duration::from_millis(500));
        assert_eq!(
            config.applications,
            vec![SimApplication {
                app_id: "app-1".into(),
                name: "checkout".into(),
                change_orders: vec![SimAppChangeOrder {
                    id: ChangeOrderId::new("co-s1"),
                    status: 8,
                    create_time: "2026-11-30 19:00:00".into(),
                }],
            }]
        );
    }

    #[test]
    fn an_empty_scenario_leaves_every_declared_change_order_running() {
        let scenario = Scenario::parse(Path::new("s.yaml"), "{}").unwrap();
        let mut config = SimConfig::default();
        scenario.configure(&mut config, &[ChangeOrderId::new("x")]);
        assert_eq!(config.change_orders, vec![(ChangeOrderId::new("x"), 1)]);
    }

    #[test]
    fn bad_scenarios_are_refused_with_the_file_and_the_reason() {
        for (text, expected) in [
            ("statuses: {a: 4}", "status 4 of `a`"),
            ("faults: {fail_rate: 1.5}", "faults.fail_rate"),
            ("faults: {latency: fast}", "faults.latency"),
            ("faults: {requests_per_second: 0}", "must be positive"),
            ("rollback_duration: 10", "rollback_duration"),
            ("deny_permission: 500", "deny_permission"),
            ("surprise: 1", "surprise"),
            (
                "applications: [{id: a, name: n, change_orders: [{id: c, status: 5, create_time: x}]}]",
                "status 5 of `c`",
            ),
            (
                "applications: [{id: 'bad id', name: n}]",
                "application id `bad id`",
            ),
            (
                "applications: [{id: a, name: n, change_orders: [{id: c, status: 1}]}]",
                "create_time",
            ),
            ("faults: {scripted: {a: [explode]}}", "s.yaml"),
        ] {
            let error = Scenario::parse(Path::new("s.yaml"), text).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("s.yaml"), "{message}");
            assert!(message.contains(expected), "{text}: {message}");
        }
    }
}
