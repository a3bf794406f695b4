//! Finding the rollback change order of an abort whose answer was lost (issue 11,
//! docs/APPLY.md "The rollback change order's id"): when `GetChangeOrderInfo` confirmed the
//! abort (status 6) no `Data.ChangeOrderId` was seen, so `apply --wait` asks
//! ListRecentChangeOrder for the change order's application and picks the rollback by
//! [`find_rollback`] (pure). The asking goes through the run's one transport, pacer and retry
//! policy, like every other request.

use super::paced_read::{PacedReader, Read};
use super::pacing::Pacer;
use super::{CancelToken, FatalError, RetryPolicy, Transport};
use crate::edas::wire::ListedChangeOrder;
use crate::ids::ChangeOrderId;

/// The `CoTypeCode` of a rollback change order ("rolls back the application" in the official
/// API reference's list of change types).
pub(crate) const ROLLBACK_CO_TYPE_CODE: &str = "CoRollback";

fn is_rollback(row: &ListedChangeOrder) -> bool {
    match &row.co_type_code {
        Some(code) => code == ROLLBACK_CO_TYPE_CODE,
        // Rows without a code: judged by the displayed type.
        None => row
            .co_type
            .as_deref()
            .is_some_and(|co_type| co_type.to_ascii_lowercase().contains("rollback")),
    }
}

/// The rollback change order of `aborted` in its application's `listing`, or why none can be
/// named. The rule (docs/DECISIONS.md): the aborted change order must be in the listing (its
/// `CreateTime` anchors the search); the answer is the newest row with a rollback type
/// ([`ROLLBACK_CO_TYPE_CODE`]) created at or after it. Two rollbacks sharing that newest
/// time are ambiguous and none is named: following the wrong one would report another
/// change's result. `CreateTime` is `YYYY-MM-DD HH:MM:SS`, zero padded, so comparing the text
/// compares the times. Pure.
pub(crate) fn find_rollback(
    listing: &[ListedChangeOrder],
    aborted: &ChangeOrderId,
) -> Result<String, String> {
    let Some(anchor) = listing
        .iter()
        .find(|row| row.change_order_id == aborted.as_str())
    else {
        return Err(format!(
            "`{aborted}` is not among its application's recent change orders"
        ));
    };
    if anchor.create_time.is_empty() {
        return Err(format!("the list gives no CreateTime for `{aborted}`"));
    }
    let mut candidates: Vec<&ListedChangeOrder> = listing
        .iter()
        .filter(|row| row.change_order_id != aborted.as_str())
        .filter(|row| is_rollback(row))
        .filter(|row| row.create_time.as_str() >= anchor.create_time.as_str())
        .collect();
    candidates.sort_by(|a, b| b.create_time.cmp(&a.create_time));
    match candidates.as_slice() {
        [] => Err(format!(
            "no rollback change order (CoTypeCode {ROLLBACK_CO_TYPE_CODE}) created at or after \
             `{aborted}` ({}) is listed",
            anchor.create_time
        )),
        [newest, next, ..] if next.create_time == newest.create_time => Err(format!(
            "rollback change orders `{}` and `{}` were both created at {}; cannot tell which \
             rolls back `{aborted}`",
            newest.change_order_id, next.change_order_id, newest.create_time
        )),
        [newest, ..] => Ok(newest.change_order_id.clone()),
    }
}

/// How asking ListRecentChangeOrder ended.
pub(crate) enum Listed {
    Rows(Vec<ListedChangeOrder>),
    /// Refused, or no usable answer within the retries: the reason.
    Failed(String),
    Fatal(FatalError),
    Stopped,
}

/// Asks ListRecentChangeOrder for `app_id` through the run's pacer and retry policy
/// ([`PacedReader`]).
pub(crate) async fn list_app(
    transport: &impl Transport,
    pacer: &Pacer,
    retry: RetryPolicy,
    stop: &CancelToken,
    app_id: &str,
    rng: &mut fastrand::Rng,
) -> Listed {
    let reader = PacedReader {
        pacer,
        retry,
        stop,
        in_flight: None,
    };
    match reader.read(rng, || transport.list(app_id)).await {
        Read::Answer { answer, .. } => Listed::Rows(answer),
        Read::Refused { details } => Listed::Failed(
            details
                .message
                .unwrap_or_else(|| "the service refused `ListRecentChangeOrder`".to_string()),
        ),
        Read::Unanswered {
            attempts, reason, ..
        } => Listed::Failed(format!(
            "`ListRecentChangeOrder` gave no answer after {attempts} attempts: {reason}"
        )),
        Read::Fatal {
            details,
            kind,
            server_string_to_sign,
        } => Listed::Fatal(FatalError {
            change_order_id: ChangeOrderId::new(app_id),
            kind,
            details,
            server_string_to_sign,
        }),
        Read::Stopped => Listed::Stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edas::wire::ChangeOrderStatus;

    fn row(
        id: &str,
        create_time: &str,
        code: Option<&str>,
        co_type: Option<&str>,
    ) -> ListedChangeOrder {
        ListedChangeOrder {
            change_order_id: id.to_string(),
            status: ChangeOrderStatus::Running,
            create_time: create_time.to_string(),
            co_type: co_type.map(str::to_string),
            co_type_code: code.map(str::to_string),
        }
    }

    #[test]
    fn the_rule_over_a_table_of_listings() {
        let aborted = row("co-a", "2026-11-30 19:00:00", Some("CoDeploy"), None);
        let cases: Vec<(&str, Vec<ListedChangeOrder>, Result<&str, &str>)> = vec![
            (
                "the newest rollback at or after the aborted one",
                vec![
                    row("rb-old", "2026-11-30 18:59:59", Some("CoRollback"), None),
                    aborted.clone(),
                    row("rb-1", "2026-11-30 19:00:00", Some("CoRollback"), None),
                    row("rb-2", "2026-11-30 19:00:05", Some("CoRollback"), None),
                    row("deploy", "2026-11-30 19:10:00", Some("CoDeploy"), None),
                ],
                Ok("rb-2"),
            ),
            (
                "a rollback created before the aborted one is another change's",
                vec![
                    aborted.clone(),
                    row("rb-old", "2026-11-30 18:00:00", Some("CoRollback"), None),
                ],
                Err("no rollback change order"),
            ),
            (
                "not in the list",
                vec![row("rb", "2026-11-30 19:00:05", Some("CoRollback"), None)],
                Err("is not among"),
            ),
            (
                "two rollbacks at the same newest time are ambiguous",
                vec![
                    aborted.clone(),
                    row("rb-x", "2026-11-30 19:00:05", Some("CoRollback"), None),
                    row("rb-y", "2026-11-30 19:00:05", Some("CoRollback"), None),
                ],
                Err("cannot tell which"),
            ),
            (
                "without a code, the displayed type decides",
                vec![
                    aborted.clone(),
                    row(
                        "rb",
                        "2026-11-30 19:00:01",
                        None,
                        Some("Application Rollback"),
                    ),
                    row(
                        "scale",
                        "2026-11-30 19:00:02",
                        None,
                        Some("Application Scale Out"),
                    ),
                ],
                Ok("rb"),
            ),
            ("an empty list", vec![], Err("is not among")),
        ];
        for (name, listing, expected) in cases {
            let found = find_rollback(&listing, &ChangeOrderId::new("co-a"));
            match (found, expected) {
                (Ok(id), Ok(want)) => assert_eq!(id, want, "{name}"),
                (Err(why), Err(want)) => assert!(why.contains(want), "{name}: {why}"),
                (found, expected) => panic!("{name}: {found:?}, expected {expected:?}"),
            }
        }
    }
}
