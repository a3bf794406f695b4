//! Selector resolution (docs/CONFIG.md, "Selectors"): a ListRecentChangeOrder listing of one
//! application × one selector × the plan time → the concrete change orders the selector
//! picks, and the combination of those with the explicit `change_orders:` (an id found twice
//! is planned once). Pure: the CLI asks the service and reads the clock; this decides.
//!
//! `CreateTime` arrives as `2019-11-13 14:23:46` (the official API reference's format, no
//! zone): it is read as wall time at `service_utc_offset` east of UTC, an argument because the
//! service does not say; RFC 3339 text is read as written.

use crate::config::ChangeOrderSpec;
use crate::edas::request::RollbackOperation;
use crate::edas::wire::ChangeOrderStatus;
pub(crate) use crate::edas::wire::{ListedApplication, ListedChangeOrder};
use crate::ids::ChangeOrderId;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

/// A selector of the config, as resolution needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorSpec {
    /// The application id; empty until [`resolve_app_name`] fills it when the config gave
    /// `app_name:` instead.
    pub app_id: String,
    /// `app_name:` of the config: the application is looked up by exact name (ListApplication).
    pub app_name: Option<String>,
    /// The label of the application in plans (its name when the config gave one).
    pub app: Option<String>,
    /// Which statuses it picks; `None`: every abortable one (0, 1, 8, 9).
    pub statuses: Option<Vec<ChangeOrderStatus>>,
    /// Only change orders created at most this long before the plan time.
    pub created_within: Option<Duration>,
    pub operation: RollbackOperation,
}

/// A change order a selector picked, with what the plan freezes about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selected {
    pub change_order_id: ChangeOrderId,
    pub app_id: String,
    pub app: Option<String>,
    pub status: ChangeOrderStatus,
    pub create_time: String,
    /// Which selector found it: its index in `select:` (0-based).
    pub selector: usize,
    pub operation: RollbackOperation,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SelectError {
    #[error(
        "selector {selector} (app `{app_id}`) has `created_within`, but change order `{change_order_id}` has a CreateTime `{create_time}` this tool cannot read; nothing was planned"
    )]
    UnreadableCreateTime {
        selector: usize,
        app_id: String,
        change_order_id: String,
        create_time: String,
    },
    #[error(
        "selector {selector} (app `{app_id}`): the service listed a change order id `{change_order_id}` that is not letters, digits and `-`; nothing was planned"
    )]
    MalformedId {
        selector: usize,
        app_id: String,
        change_order_id: String,
    },
    #[error(
        "selector {selector}: no application is named `{name}` in this region{}; nothing was planned",
        closest_text(.closest)
    )]
    UnknownAppName {
        selector: usize,
        name: String,
        /// The closest names with their ids, `name (id)`, closest first.
        closest: Vec<String>,
    },
    #[error(
        "selector {selector}: {} applications are named `{name}` (ids {}); give the one meant as `app_id:`; nothing was planned",
        .app_ids.len(),
        .app_ids.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ")
    )]
    AmbiguousAppName {
        selector: usize,
        name: String,
        app_ids: Vec<String>,
    },
}

fn closest_text(closest: &[String]) -> String {
    if closest.is_empty() {
        " (the region lists no applications)".to_string()
    } else {
        format!("; the closest names: {}", closest.join(", "))
    }
}

/// How many of the closest names an unknown name's error offers.
const CLOSEST_NAMES: usize = 3;

/// The id of the one application named exactly `name` in `applications` (the
/// ListApplication listing). Names are matched exactly, case included: a near match is a
/// different application. Unknown: an error with the closest names by edit distance;
/// several: an error with their ids (EDAS does not make names unique).
pub(crate) fn resolve_app_name(
    index: usize,
    name: &str,
    applications: &[ListedApplication],
) -> Result<String, SelectError> {
    let mut matched: Vec<&str> = applications
        .iter()
        .filter(|application| application.name == name)
        .map(|application| application.app_id.as_str())
        .collect();
    matched.dedup();
    match matched.as_slice() {
        [one] => Ok((*one).to_string()),
        [] => {
            let wanted = name.to_lowercase();
            let mut ranked: Vec<(usize, &ListedApplication)> = applications
                .iter()
                .map(|application| {
                    (
                        edit_distance(&wanted, &application.name.to_lowercase()),
                        application,
                    )
                })
                .collect();
            ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
            Err(SelectError::UnknownAppName {
                selector: index,
                name: name.to_string(),
                closest: ranked
                    .into_iter()
                    .take(CLOSEST_NAMES)
                    .map(|(_, application)| {
                        format!("`{}` ({})", application.name, application.app_id)
                    })
                    .collect(),
            })
        }
        several => Err(SelectError::AmbiguousAppName {
            selector: index,
            name: name.to_string(),
            app_ids: several.iter().map(|id| (*id).to_string()).collect(),
        }),
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// The status a name in `statuses:` stands for. Only abortable statuses can be selected: an
/// abort of any other is refused by the service.
pub(crate) fn status_by_name(name: &str) -> Option<ChangeOrderStatus> {
    match name {
        "ready" => Some(ChangeOrderStatus::Ready),
        "running" => Some(ChangeOrderStatus::Running),
        "waiting_for_manual_batch" => Some(ChangeOrderStatus::WaitingForManualConfirmation),
        "waiting_for_next_batch" => Some(ChangeOrderStatus::WaitingForNextBatch),
        _ => None,
    }
}

/// The names [`status_by_name`] reads, for messages and the schema.
pub(crate) const STATUS_NAMES: [&str; 4] = [
    "ready",
    "running",
    "waiting_for_manual_batch",
    "waiting_for_next_batch",
];

/// `CreateTime` as an instant: `YYYY-MM-DD HH:MM:SS` at `service_utc_offset` east of UTC,
/// or RFC 3339.
pub(crate) fn parse_create_time(text: &str, service_utc_offset: Duration) -> Option<SystemTime> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let zoneless = bytes.len() == 19 && bytes[10] == b' ';
    if zoneless {
        let as_utc = humantime::parse_rfc3339(&format!("{}T{}Z", &text[..10], &text[11..])).ok()?;
        as_utc.checked_sub(service_utc_offset)
    } else {
        humantime::parse_rfc3339_weak(text).ok()
    }
}

/// The change orders `selector` (number `index` in `select:`) picks from `listing`, in
/// listing order, each once.
pub(crate) fn resolve(
    index: usize,
    selector: &SelectorSpec,
    listing: &[ListedChangeOrder],
    plan_time: SystemTime,
    service_utc_offset: Duration,
) -> Result<Vec<Selected>, SelectError> {
    let earliest = selector.created_within.map(|window| {
        plan_time
            .checked_sub(window)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    });
    let mut seen = HashSet::new();
    let mut picked = Vec::new();
    for listed in listing {
        let wanted = match &selector.statuses {
            Some(statuses) => statuses.contains(&listed.status),
            None => listed.status.is_abortable(),
        };
        if !wanted {
            continue;
        }
        if let Some(earliest) = earliest {
            let Some(created) = parse_create_time(&listed.create_time, service_utc_offset) else {
                return Err(SelectError::UnreadableCreateTime {
                    selector: index,
                    app_id: selector.app_id.clone(),
                    change_order_id: listed.change_order_id.clone(),
                    create_time: listed.create_time.clone(),
                });
            };
            if created < earliest {
                continue;
            }
        }
        if !ChangeOrderId::is_well_formed(&listed.change_order_id) {
            return Err(SelectError::MalformedId {
                selector: index,
                app_id: selector.app_id.clone(),
                change_order_id: listed.change_order_id.clone(),
            });
        }
        if !seen.insert(ChangeOrderId::comparison_key(&listed.change_order_id)) {
            continue;
        }
        picked.push(Selected {
            change_order_id: ChangeOrderId::new(listed.change_order_id.clone()),
            app_id: selector.app_id.clone(),
            app: selector.app.clone(),
            status: listed.status,
            create_time: listed.create_time.clone(),
            selector: index,
            operation: selector.operation,
        });
    }
    Ok(picked)
}

/// The explicit change orders, then every selected one not already among them, each id once
/// (compared as [`ChangeOrderId::comparison_key`]): an explicit entry wins over a selector,
/// an earlier selector over a later one.
pub(crate) fn combine(explicit: &[ChangeOrderSpec], selected: &[Selected]) -> Vec<ChangeOrderSpec> {
    let mut seen: HashSet<String> = explicit
        .iter()
        .map(|spec| ChangeOrderId::comparison_key(spec.id.as_str()))
        .collect();
    let mut combined = explicit.to_vec();
    for found in selected {
        if !seen.insert(ChangeOrderId::comparison_key(
            found.change_order_id.as_str(),
        )) {
            continue;
        }
        combined.push(ChangeOrderSpec {
            id: found.change_order_id.clone(),
            app: found.app.clone().or_else(|| Some(found.app_id.clone())),
            reason: None,
            operation: found.operation,
            app_id: Some(found.app_id.clone()),
            selected_by: Some(crate::plan::SelectedBy {
                selector: found.selector,
                status: found.status,
                create_time: found.create_time.clone(),
            }),
        });
    }
    combined
}

#[cfg(test)]
mod tests {
    use super::*;

    const CST: Duration = Duration::from_secs(8 * 3600);

    fn at(rfc3339: &str) -> SystemTime {
        humantime::parse_rfc3339(rfc3339).unwrap()
    }

    fn listed(id: &str, status: i32, create_time: &str) -> ListedChangeOrder {
        ListedChangeOrder {
            change_order_id: id.to_string(),
            status: ChangeOrderStatus::from_code(status),
            create_time: create_time.to_string(),
            co_type: Some("Application Deploy".to_string()),
            co_type_code: Some("CoDeploy".to_string()),
        }
    }

    fn selector() -> SelectorSpec {
        SelectorSpec {
            app_id: "app-1".to_string(),
            app_name: None,
            app: Some("checkout".to_string()),
            statuses: None,
            created_within: None,
            operation: RollbackOperation::default(),
        }
    }

    fn app(app_id: &str, name: &str) -> ListedApplication {
        ListedApplication {
            app_id: app_id.to_string(),
            name: name.to_string(),
        }
    }

    #[test]
    fn an_app_name_resolves_to_the_one_application_named_exactly_so() {
        let apps = [
            app("a-1", "checkout"),
            app("a-2", "Checkout"),
            app("a-3", "payment"),
        ];
        assert_eq!(resolve_app_name(0, "checkout", &apps).unwrap(), "a-1");
        assert_eq!(resolve_app_name(0, "Checkout", &apps).unwrap(), "a-2");
    }

    #[test]
    fn an_unknown_app_name_names_the_closest_candidates() {
        let apps = [
            app("a-1", "checkout"),
            app("a-2", "payment"),
            app("a-3", "checkout-v2"),
            app("a-4", "inventory"),
            app("a-5", "zzzzzzzzzzzzzz"),
        ];
        let error = resolve_app_name(2, "chekout", &apps).unwrap_err();
        assert_eq!(
            error,
            SelectError::UnknownAppName {
                selector: 2,
                name: "chekout".into(),
                closest: vec![
                    "`checkout` (a-1)".into(),
                    "`checkout-v2` (a-3)".into(),
                    "`payment` (a-2)".into()
                ],
            }
        );
        let text = error.to_string();
        assert!(text.contains("no application is named `chekout`"), "{text}");
        assert!(text.contains("`checkout` (a-1)"), "{text}");
        let empty = resolve_app_name(0, "x", &[]).unwrap_err().to_string();
        assert!(empty.contains("lists no applications"), "{empty}");
    }

    #[test]
    fn an_app_name_shared_by_several_applications_is_refused_with_their_ids() {
        let apps = [app("a-1", "web"), app("a-2", "api"), app("a-3", "web")];
        let error = resolve_app_name(1, "web", &apps).unwrap_err();
        assert_eq!(
            error,
            SelectError::AmbiguousAppName {
                selector: 1,
                name: "web".into(),
                app_ids: vec!["a-1".into(), "a-3".into()],
            }
        );
        let text = error.to_string();
        assert!(text.contains("`a-1`, `a-3`"), "{text}");
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    fn ids(selected: &[Selected]) -> Vec<&str> {
        selected
            .iter()
            .map(|found| found.change_order_id.as_str())
            .collect()
    }

    /// The plan time: 2026-11-30 12:00:00 UTC = 20:00:00 in UTC+8.
    fn plan_time() -> SystemTime {
        at("2026-11-30T12:00:00Z")
    }

    #[test]
    fn resolution_table() {
        let listing = vec![
            listed("co-ready", 0, "2026-11-30 19:00:00"),
            listed("co-running", 1, "2026-11-30 19:30:00"),
            listed("co-succeeded", 2, "2026-11-30 19:40:00"),
            listed("co-failed", 3, "2026-11-30 19:41:00"),
            listed("co-stopped", 6, "2026-11-30 19:42:00"),
            listed("co-partial", 7, "2026-11-30 19:43:00"),
            listed("co-manual", 8, "2026-11-30 17:00:00"),
            listed("co-next", 9, "2026-11-29 20:00:00"),
            listed("co-error", 10, "2026-11-30 19:44:00"),
            listed("co-unknown", 42, "2026-11-30 19:45:00"),
        ];
        let hours = |h: u64| Some(Duration::from_secs(h * 3600));
        // (name, statuses, created_within, expected ids)
        type Case<'a> = (
            &'a str,
            Option<Vec<ChangeOrderStatus>>,
            Option<Duration>,
            Vec<&'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                "default: every abortable status",
                None,
                None,
                vec!["co-ready", "co-running", "co-manual", "co-next"],
            ),
            (
                "only running",
                Some(vec![ChangeOrderStatus::Running]),
                None,
                vec!["co-running"],
            ),
            (
                "manual and next batch",
                Some(vec![
                    ChangeOrderStatus::WaitingForManualConfirmation,
                    ChangeOrderStatus::WaitingForNextBatch,
                ]),
                None,
                vec!["co-manual", "co-next"],
            ),
            (
                "created within 2h (since 18:00 UTC+8)",
                None,
                hours(2),
                vec!["co-ready", "co-running"],
            ),
            (
                "created within 4h: 17:00 is inside",
                None,
                hours(4),
                vec!["co-ready", "co-running", "co-manual"],
            ),
            (
                "created within 24h: the boundary is inclusive",
                None,
                hours(24),
                vec!["co-ready", "co-running", "co-manual", "co-next"],
            ),
            (
                "created within 30m: 19:30 is on the boundary, kept",
                None,
                Some(Duration::from_secs(1800)),
                vec!["co-running"],
            ),
            (
                "within 1m: none",
                None,
                Some(Duration::from_secs(60)),
                vec![],
            ),
        ];
        for (name, statuses, created_within, expected) in cases {
            let spec = SelectorSpec {
                statuses,
                created_within,
                ..selector()
            };
            let found = resolve(0, &spec, &listing, plan_time(), CST).unwrap();
            assert_eq!(ids(&found), expected, "{name}");
        }
    }

    #[test]
    fn an_empty_listing_selects_nothing() {
        assert!(
            resolve(0, &selector(), &[], plan_time(), CST)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_id_listed_twice_is_selected_once() {
        let listing = vec![
            listed("co-a", 1, "2026-11-30 19:00:00"),
            listed("CO-A", 1, "2026-11-30 19:00:00"),
            listed("co-a", 9, "2026-11-30 19:00:00"),
        ];
        let found = resolve(0, &selector(), &listing, plan_time(), CST).unwrap();
        assert_eq!(ids(&found), ["co-a"]);
    }

    #[test]
    fn what_the_plan_freezes_is_taken_from_the_listing_and_the_selector() {
        let listing = vec![listed("co-a", 8, "2026-11-30 19:00:00")];
        let spec = SelectorSpec {
            operation: RollbackOperation::Rollback,
            ..selector()
        };
        let found = resolve(3, &spec, &listing, plan_time(), CST).unwrap();
        assert_eq!(
            found,
            [Selected {
                change_order_id: ChangeOrderId::new("co-a"),
                app_id: "app-1".to_string(),
                app: Some("checkout".to_string()),
                status: ChangeOrderStatus::WaitingForManualConfirmation,
                create_time: "2026-11-30 19:00:00".to_string(),
                selector: 3,
                operation: RollbackOperation::Rollback,
            }]
        );
    }

    #[test]
    fn an_app_with_500_change_orders_keeps_the_abortable_ones_in_listing_order() {
        let listing: Vec<ListedChangeOrder> = (0..500)
            .map(|index| {
                let status = [0, 1, 2, 3, 6, 7, 8, 9, 10][index % 9];
                listed(
                    &format!("co-{index:04}"),
                    status,
                    &format!("2026-11-30 {:02}:{:02}:00", 8 + index / 60, index % 60),
                )
            })
            .collect();
        let found = resolve(0, &selector(), &listing, plan_time(), CST).unwrap();
        let expected: Vec<String> = (0..500)
            .filter(|index| matches!(index % 9, 0 | 1 | 6 | 7))
            .map(|index| format!("co-{index:04}"))
            .collect();
        assert_eq!(ids(&found), expected);
        assert_eq!(found.len(), 222);
        // Three hours before 20:00 (UTC+8) is 17:00: only rows created from then on.
        let spec = SelectorSpec {
            created_within: Some(Duration::from_secs(3 * 3600)),
            ..selector()
        };
        let recent = resolve(0, &spec, &listing, plan_time(), CST).unwrap();
        assert!(
            recent
                .iter()
                .all(|found| found.create_time.as_str() >= "2026-11-30 17:00:00")
        );
        assert_eq!(
            recent.len(),
            (0..500)
                .filter(|index| matches!(index % 9, 0 | 1 | 6 | 7) && 8 + index / 60 >= 17)
                .count()
        );
    }

    #[test]
    fn an_unreadable_create_time_is_an_error_only_when_a_window_needs_it() {
        let listing = vec![listed("co-a", 1, "yesterday")];
        assert_eq!(
            resolve(0, &selector(), &listing, plan_time(), CST)
                .unwrap()
                .len(),
            1
        );
        let spec = SelectorSpec {
            created_within: Some(Duration::from_secs(60)),
            ..selector()
        };
        let error = resolve(2, &spec, &listing, plan_time(), CST).unwrap_err();
        assert!(error.to_string().contains("`yesterday`"), "{error}");
    }

    #[test]
    fn create_times_read_zoneless_at_the_offset_and_rfc3339_as_written() {
        assert_eq!(
            parse_create_time("2019-11-13 14:23:46", CST),
            Some(at("2019-11-13T06:23:46Z"))
        );
        assert_eq!(
            parse_create_time("2019-11-13T14:23:46Z", CST),
            Some(at("2019-11-13T14:23:46Z"))
        );
        assert_eq!(parse_create_time("2019-13-45 99:00:00", CST), None);
        assert_eq!(parse_create_time("", CST), None);
    }

    #[test]
    fn a_malformed_listed_id_is_refused() {
        let listing = vec![listed("co a/../", 1, "2026-11-30 19:00:00")];
        assert!(matches!(
            resolve(0, &selector(), &listing, plan_time(), CST),
            Err(SelectError::MalformedId { .. })
        ));
    }

    #[test]
    fn explicit_ids_and_selected_ones_combine_each_id_once() {
        let explicit = vec![ChangeOrderSpec {
            id: ChangeOrderId::new("co-a"),
            app: Some("checkout".to_string()),
            reason: Some("by hand".to_string()),
            operation: RollbackOperation::default(),
            app_id: None,
            selected_by: None,
        }];
        let listing = vec![
            listed("CO-A", 1, "2026-11-30 19:00:00"),
            listed("co-b", 1, "2026-11-30 19:00:00"),
        ];
        let first = resolve(0, &selector(), &listing, plan_time(), CST).unwrap();
        let second = resolve(
            1,
            &SelectorSpec {
                app_id: "app-2".to_string(),
                app: Some("payment".to_string()),
                ..selector()
            },
            &[listed("co-b", 1, "x"), listed("co-c", 9, "x")],
            plan_time(),
            CST,
        )
        .unwrap();
        let all: Vec<Selected> = first.into_iter().chain(second).collect();
        let combined = combine(&explicit, &all);
        let combined_ids: Vec<&str> = combined.iter().map(|spec| spec.id.as_str()).collect();
        assert_eq!(combined_ids, ["co-a", "co-b", "co-c"]);
        assert_eq!(
            combined[0].reason.as_deref(),
            Some("by hand"),
            "explicit wins"
        );
        assert_eq!(
            combined[1].app.as_deref(),
            Some("checkout"),
            "first selector wins"
        );
        assert_eq!(combined[2].app_id.as_deref(), Some("app-2"));
        assert!(combine(&[], &[]).is_empty());
    }

    #[test]
    fn only_abortable_statuses_have_names() {
        for name in STATUS_NAMES {
            assert!(status_by_name(name).is_some_and(ChangeOrderStatus::is_abortable));
        }
        assert_eq!(status_by_name("succeeded"), None);
    }
}
