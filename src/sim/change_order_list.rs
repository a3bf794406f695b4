//! The change orders a simulator starts with, from text (the CLI reads the file): either an
//! edas-rollback YAML config (only `change_orders[].id` is read, each starting running) or
//! plain lines `ID [STATUS]` with `#` comments. Never opens files.

use super::status;
use crate::ids::ChangeOrderId;
use serde::Deserialize;

/// How to read the text; the CLI picks YAML for `.yaml`/`.yml` files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOrderListFormat {
    Yaml,
    Lines,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeOrderListError {
    #[error("line {line}: expected `ID [STATUS]`, found `{text}`")]
    Malformed { line: usize, text: String },
    #[error(
        "line {line}: `{status}` is not a change order status; expected one of 0, 1, 2, 3, 6, 7, 8, 9, 10"
    )]
    UnknownStatus { line: usize, status: String },
    #[error("line {line}: change order `{id}` is listed twice (first on line {first_line})")]
    Duplicate {
        line: usize,
        id: String,
        first_line: usize,
    },
    #[error("the YAML does not hold a change order list")]
    Yaml {
        #[source]
        source: serde_saphyr::Error,
    },
}

/// Only what the simulator needs from a config; the other keys are ignored here because the
/// config loader validates them.
#[derive(Deserialize)]
struct ConfigView {
    #[serde(default)]
    change_orders: Vec<ConfigChangeOrder>,
}

#[derive(Deserialize)]
struct ConfigChangeOrder {
    id: String,
}

/// Parses the text into `(id, status)` pairs, in file order.
pub fn parse_change_order_list(
    text: &str,
    format: ChangeOrderListFormat,
) -> Result<Vec<(ChangeOrderId, i32)>, ChangeOrderListError> {
    match format {
        ChangeOrderListFormat::Yaml => {
            let view: Option<ConfigView> = serde_saphyr::from_str(text)
                .map_err(|source| ChangeOrderListError::Yaml { source })?;
            Ok(view
                .map(|view| view.change_orders)
                .unwrap_or_default()
                .into_iter()
                .map(|entry| (ChangeOrderId::new(entry.id), status::RUNNING))
                .collect())
        }
        ChangeOrderListFormat::Lines => parse_lines(text),
    }
}

fn parse_lines(text: &str) -> Result<Vec<(ChangeOrderId, i32)>, ChangeOrderListError> {
    let mut seen = std::collections::HashMap::new();
    let mut list = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let mut words = content.split_whitespace();
        let (Some(id), status_text, None) = (words.next(), words.next(), words.next()) else {
            return Err(ChangeOrderListError::Malformed {
                line,
                text: raw.to_string(),
            });
        };
        let status = match status_text {
            None => status::RUNNING,
            Some(text) => text
                .parse::<i32>()
                .ok()
                .filter(|value| status::ALL.contains(value))
                .ok_or_else(|| ChangeOrderListError::UnknownStatus {
                    line,
                    status: text.to_string(),
                })?,
        };
        if let Some(first_line) = seen.insert(id.to_string(), line) {
            return Err(ChangeOrderListError::Duplicate {
                line,
                id: id.to_string(),
                first_line,
            });
        }
        list.push((ChangeOrderId::new(id), status));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_take_an_optional_status_and_skip_comments() {
        let list = parse_change_order_list(
            "# incident 42\nco-a\nco-b 2   # already done\n\n  co-c 8\n",
            ChangeOrderListFormat::Lines,
        )
        .unwrap();
        let shown: Vec<(&str, i32)> = list.iter().map(|(id, s)| (id.as_str(), *s)).collect();
        assert_eq!(shown, vec![("co-a", 1), ("co-b", 2), ("co-c", 8)]);
    }

    #[test]
    fn bad_lines_name_their_line_number() {
        let error = parse_change_order_list("a\nb 4\n", ChangeOrderListFormat::Lines).unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 2: `4` is not a change order status; expected one of 0, 1, 2, 3, 6, 7, 8, 9, 10"
        );
        let error = parse_change_order_list("a\na 1\n", ChangeOrderListFormat::Lines).unwrap_err();
        assert!(error.to_string().contains("first on line 1"), "{error}");
        let error =
            parse_change_order_list("a 1 extra\n", ChangeOrderListFormat::Lines).unwrap_err();
        assert!(error.to_string().starts_with("line 1: expected"), "{error}");
    }

    #[test]
    fn a_config_yields_its_change_order_ids_running() {
        let yaml = "version: 1\nprovider:\n  region: cn-hangzhou\nchange_orders:\n  - id: co-1\n    app: checkout\n  - id: co-2\n";
        let list = parse_change_order_list(yaml, ChangeOrderListFormat::Yaml).unwrap();
        assert_eq!(
            list,
            vec![
                (ChangeOrderId::new("co-1"), 1),
                (ChangeOrderId::new("co-2"), 1)
            ]
        );
        assert!(
            parse_change_order_list("change_orders: 3\n", ChangeOrderListFormat::Yaml).is_err()
        );
    }
}
