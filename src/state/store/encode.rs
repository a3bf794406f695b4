//! The state file's bytes: written by hand exactly as `serde_json::to_vec_pretty` writes a
//! [`State`] (the tests compare them byte for byte), because the end of every apply writes
//! the whole state and the derived serializer cost ~7,000 instructions a change order.
//! Every field is destructured, so a field added to the model fails to compile here until
//! it is written.

use crate::state::journal::{push_decimal, push_json_string};
use crate::state::model::{ChangeOrderRecord, RollbackStatus, State};

/// `state` as pretty JSON (two-space indent), without the final newline.
pub(crate) fn state_json(state: &State) -> Vec<u8> {
    let State {
        format_version,
        lineage,
        serial,
        tool_version,
        change_orders,
    } = state;
    let mut out = Vec::with_capacity(256 + change_orders.len() * 512);
    let mut top = Object::open(&mut out, 1);
    top.key("format_version");
    push_decimal(top.out, u64::from(*format_version));
    top.string("lineage", lineage);
    top.key("serial");
    push_decimal(top.out, *serial);
    top.string("tool_version", tool_version);
    top.key("change_orders");
    let mut records = Object::open(top.out, 2);
    for (id, record) in change_orders {
        records.data_key(id.as_str());
        write_record(records.out, record);
    }
    records.close();
    top.close();
    out
}

fn write_record(out: &mut Vec<u8>, record: &ChangeOrderRecord) {
    let ChangeOrderRecord {
        status,
        attempts,
        last_attempt_at,
        request_id,
        trace_id,
        http_status,
        code,
        error_code,
        message,
        rollback_change_order_id,
        rollback_status,
        operation,
        change_order_status,
        confirmed_by_status,
        app,
        reason,
        endpoint,
    } = record;
    let mut object = Object::open(out, 3);
    object.string("status", status.as_str());
    object.key("attempts");
    push_decimal(object.out, u64::from(*attempts));
    object.optional_string("last_attempt_at", last_attempt_at.as_deref());
    object.optional_string("request_id", request_id.as_deref());
    object.optional_string("trace_id", trace_id.as_deref());
    if let Some(http_status) = http_status {
        object.key("http_status");
        push_decimal(object.out, u64::from(*http_status));
    }
    object.optional_string("code", code.as_deref());
    object.optional_string("error_code", error_code.as_deref());
    object.optional_string("message", message.as_deref());
    object.optional_string(
        "rollback_change_order_id",
        rollback_change_order_id.as_deref(),
    );
    object.optional_string("rollback_status", rollback_status.map(rollback_word));
    object.optional_string("operation", operation.map(|operation| operation.as_str()));
    if let Some(status) = change_order_status {
        object.key("change_order_status");
        let code = i32::from(*status);
        if code < 0 {
            object.out.push(b'-');
        }
        push_decimal(object.out, u64::from(code.unsigned_abs()));
    }
    if *confirmed_by_status {
        object.key("confirmed_by_status");
        object.out.extend_from_slice(b"true");
    }
    object.optional_string("app", app.as_deref());
    object.optional_string("reason", reason.as_deref());
    object.optional_string("endpoint", endpoint.as_deref());
    object.close();
}

fn rollback_word(status: RollbackStatus) -> &'static str {
    match status {
        RollbackStatus::Running => "running",
        RollbackStatus::Succeeded => "succeeded",
        RollbackStatus::PartiallySucceeded => "partially_succeeded",
        RollbackStatus::Failed => "failed",
        RollbackStatus::TimedOut => "timed_out",
    }
}

/// A pretty JSON object at nesting `depth` (its keys are indented `depth` times): `{`, then
/// `\n<indent>"key": value` separated by commas, then `\n<indent - 1>}`, or `{}` when empty.
struct Object<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
    empty: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut Vec<u8>, depth: usize) -> Self {
        out.push(b'{');
        Self {
            out,
            depth,
            empty: true,
        }
    }

    /// A field name of the model: plain ASCII, written as it is.
    fn key(&mut self, key: &'static str) {
        self.start_key();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\": ");
    }

    /// A key from the data (a change order id), escaped.
    fn data_key(&mut self, key: &str) {
        self.start_key();
        push_json_string(self.out, key);
        self.out.extend_from_slice(b": ");
    }

    fn start_key(&mut self) {
        if self.empty {
            self.empty = false;
            self.out.push(b'\n');
        } else {
            self.out.extend_from_slice(b",\n");
        }
        indent(self.out, self.depth);
    }

    fn string(&mut self, key: &'static str, value: &str) {
        self.key(key);
        push_json_string(self.out, value);
    }

    fn optional_string(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.string(key, value);
        }
    }

    fn close(self) {
        if !self.empty {
            self.out.push(b'\n');
            indent(self.out, self.depth - 1);
        }
        self.out.push(b'}');
    }
}

fn indent(out: &mut Vec<u8>, depth: usize) {
    for _ in 0..depth {
        out.extend_from_slice(b"  ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edas::request::RollbackOperation;
    use crate::edas::wire::ChangeOrderStatus;
    use crate::ids::ChangeOrderId;
    use crate::state::model::RecordStatus;
    use proptest::prelude::*;

    fn full_record(text: &str, status: i32) -> ChangeOrderRecord {
        ChangeOrderRecord {
            status: RecordStatus::Finished,
            attempts: u32::MAX,
            last_attempt_at: Some(text.to_string()),
            request_id: Some(format!("{text}\u{1}\"\\")),
            trace_id: Some("trace/é中😀".into()),
            http_status: Some(503),
            code: Some(String::new()),
            error_code: Some("Error.Code".into()),
            message: Some(format!("line\nnext\t{text}")),
            rollback_change_order_id: Some("rb".into()),
            rollback_status: Some(RollbackStatus::PartiallySucceeded),
            operation: Some(RollbackOperation::Rollback),
            change_order_status: Some(ChangeOrderStatus::from(status)),
            confirmed_by_status: true,
            app: Some(text.to_string()),
            reason: Some("bad release".into()),
            endpoint: Some("http://127.0.0.1:1".into()),
        }
    }

    fn assert_as_serde(state: &State) {
        assert_eq!(
            String::from_utf8(state_json(state)).unwrap(),
            serde_json::to_string_pretty(state).unwrap()
        );
    }

    #[test]
    fn a_state_is_written_exactly_as_serde_jsons_pretty_printer_writes_it() {
        let mut state = State::new_empty("lineage-\"1\"", "0.1.0");
        assert_as_serde(&state);
        state.serial = u64::MAX;
        state.change_orders.insert(
            ChangeOrderId::new("minimal"),
            ChangeOrderRecord::new(RecordStatus::Unknown),
        );
        assert_as_serde(&state);
        state
            .change_orders
            .insert(ChangeOrderId::new("full\n\"id\""), full_record("x", -3));
        for (index, rollback_status) in [
            RollbackStatus::Running,
            RollbackStatus::Succeeded,
            RollbackStatus::Failed,
            RollbackStatus::TimedOut,
        ]
        .into_iter()
        .enumerate()
        {
            let mut record = ChangeOrderRecord::new(RecordStatus::Aborted);
            record.rollback_status = Some(rollback_status);
            record.operation = Some(RollbackOperation::AbortAndRollback);
            state
                .change_orders
                .insert(ChangeOrderId::new(format!("rollback-{index}")), record);
        }
        assert_as_serde(&state);
    }

    proptest! {
        #[test]
        fn any_text_in_a_state_is_written_as_serde_json_writes_it(
            text in any::<String>(),
            status in any::<i32>(),
        ) {
            let mut state = State::new_empty(text.clone(), text.clone());
            state
                .change_orders
                .insert(ChangeOrderId::new(text.clone()), full_record(&text, status));
            prop_assert_eq!(
                String::from_utf8(state_json(&state)).unwrap(),
                serde_json::to_string_pretty(&state).unwrap()
            );
        }
    }
}
