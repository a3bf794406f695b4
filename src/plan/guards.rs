//! The blast-radius guards of the config's `apply:` section that judge a whole plan
//! (docs/CONFIG.md, "Guards"): `max_change_orders` and `require_refresh`. Pure: `plan` checks
//! them before a plan is shown or saved, and `apply` checks them again on the plan it is about
//! to carry out (a saved plan may have been made before the guard was written). The third
//! guard, `halt_after_failures`, acts during a run and lives in the apply engine.

use super::{Plan, PlanSummary};
use crate::config::ApplySettings;

/// Why a plan must not run under the config's guards.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GuardError {
    #[error(
        "the plan would abort {count} change orders, more than `apply.max_change_orders: {max}` allows; nothing was sent"
    )]
    TooManyChangeOrders { count: usize, max: u32 },
    #[error(
        "the config sets `apply.require_refresh: true`, and this plan was made without `--refresh`; nothing was sent"
    )]
    NotRefreshed,
    #[error(
        "the config sets `apply.require_refresh: true`, and `apply` without a plan file cannot refresh; nothing was sent"
    )]
    NeedsPlanFile,
}

impl GuardError {
    /// What a person should do about it.
    pub(crate) fn hint(&self) -> &'static str {
        match self {
            GuardError::TooManyChangeOrders { .. } => {
                "check that the runbook (its ids and selectors) names only the change orders you mean; \
                 if the count is right, raise `apply.max_change_orders` in a reviewed change"
            }
            GuardError::NotRefreshed | GuardError::NeedsPlanFile => {
                "make the plan with `edas-rollback plan --refresh --out FILE`, review it, and run \
                 `edas-rollback apply FILE`"
            }
        }
    }
}

/// `apply.max_change_orders`: the plan (of this summary) sends at most that many aborts.
pub(crate) fn check_size(
    summary: &PlanSummary,
    settings: &ApplySettings,
) -> Result<(), GuardError> {
    let count = summary.will_send();
    match settings.max_change_orders {
        Some(max) if count > max as usize => Err(GuardError::TooManyChangeOrders { count, max }),
        _ => Ok(()),
    }
}

/// Every guard `apply` checks before it sends anything: the size, and, with
/// `apply.require_refresh`, that the plan is a saved plan made with `--refresh`.
pub(crate) fn check_for_apply(
    plan: &Plan,
    saved: bool,
    settings: &ApplySettings,
) -> Result<(), GuardError> {
    check_size(&plan.summary, settings)?;
    if settings.require_refresh && !plan.refreshed {
        return Err(if saved {
            GuardError::NotRefreshed
        } else {
            GuardError::NeedsPlanFile
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ChangeOrderSpec, DesiredState, Provider};
    use crate::ids::ChangeOrderId;
    use crate::plan::{PlanInputs, plan};

    fn plan_of(count: usize) -> Plan {
        let desired = DesiredState {
            selectors: Vec::new(),
            version: 1,
            provider: Provider {
                region: "cn-hangzhou".to_string(),
                endpoint: None,
                profile: None,
                signature_algorithm: Default::default(),
                endpoint_type: Default::default(),
            },
            apply: ApplySettings::default(),
            state: None,
            state_name: None,
            change_orders: (0..count)
                .map(|index| ChangeOrderSpec {
                    id: ChangeOrderId::new(format!("co-{index}")),
                    app: None,
                    reason: None,
                    operation: Default::default(),
                    app_id: None,
                    selected_by: None,
                })
                .collect(),
        };
        plan(
            &desired,
            None,
            &PlanInputs {
                created_at: "2026-11-30T00:00:00Z".to_string(),
                config_path: "c.yaml".to_string(),
                config_sha256: "0".repeat(64),
                endpoint: "http://127.0.0.1:1".to_string(),
                tool_version: "0".to_string(),
            },
        )
    }

    #[test]
    fn a_plan_above_max_change_orders_is_refused_with_the_count() {
        let settings = ApplySettings {
            max_change_orders: Some(3),
            ..ApplySettings::default()
        };
        assert_eq!(check_size(&plan_of(3).summary, &settings), Ok(()));
        let error = check_size(&plan_of(4).summary, &settings).unwrap_err();
        assert_eq!(error, GuardError::TooManyChangeOrders { count: 4, max: 3 });
        assert!(error.to_string().contains("abort 4 change orders"));
        assert_eq!(
            check_size(&plan_of(400).summary, &ApplySettings::default()),
            Ok(())
        );
    }

    #[test]
    fn require_refresh_refuses_a_plan_made_without_it() {
        let settings = ApplySettings {
            require_refresh: true,
            ..ApplySettings::default()
        };
        let mut plan = plan_of(1);
        assert_eq!(
            check_for_apply(&plan, true, &settings),
            Err(GuardError::NotRefreshed)
        );
        assert_eq!(
            check_for_apply(&plan, false, &settings),
            Err(GuardError::NeedsPlanFile)
        );
        plan.refreshed = true;
        assert_eq!(check_for_apply(&plan, true, &settings), Ok(()));
        assert_eq!(
            check_for_apply(&plan_of(1), true, &ApplySettings::default()),
            Ok(())
        );
    }
}
