//! The JSON Schemas of what edas-rollback prints for machines, generated from the types that
//! print it and checked in under `schemas/`: the `apply --json` lines
//! ([`super::json_events::JsonLine`]) and the plan (`plan --format json`, `plan --out`, the
//! [`crate::plan::Plan`] type). Schemas of output describe what is written
//! ([`SchemaSettings::for_serialize`]): a field is `required` exactly when it is always
//! written. The tests here fail when a checked-in schema is not the generated one
//! (`UPDATE_SCHEMAS=1 cargo test --lib cli::render::schemas` rewrites them) and when
//! docs/json-output.md names a field the schema does not have, or misses one it has.

use schemars::generate::SchemaSettings;

/// Where the `apply --json` line schema is checked in, from the repository's root.
pub(crate) const APPLY_EVENTS_SCHEMA: &str = "schemas/apply-events.schema.json";
/// Where the plan schema is checked in.
pub(crate) const PLAN_SCHEMA: &str = "schemas/plan-output.schema.json";

fn pretty(schema: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(schema)
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

fn output_schema<T: schemars::JsonSchema>(title: &str, null_for_none: bool) -> String {
    let mut schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    let mut schema = schema.to_value();
    if !null_for_none {
        never_null(&mut schema);
    }
    pretty(&schema)
}

/// Drops `null` from every type in `schema`: for output whose `Option`s are all left out
/// when `None` (`skip_serializing_if`), which schemars still types as nullable.
fn never_null(schema: &mut serde_json::Value) {
    use serde_json::Value;
    match schema {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|kind| kind != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    object.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(branches)) = object.get_mut("anyOf") {
                branches.retain(|branch| branch.get("type").is_none_or(|kind| kind != "null"));
                if let [only] = branches.as_slice() {
                    let only = only.clone();
                    object.remove("anyOf");
                    if let Value::Object(only) = only {
                        object.extend(only);
                    }
                }
            }
            object.values_mut().for_each(never_null);
        }
        Value::Array(items) => items.iter_mut().for_each(never_null),
        _ => {}
    }
}

/// The schema of one `apply --json` line. Every optional field there is left out when it
/// has no value, so no field may be `null`.
pub(crate) fn apply_events() -> String {
    output_schema::<super::json_events::JsonLine<'static>>("edas-rollback apply --json line", false)
}

/// The schema of a plan as `plan --format json` prints it and `plan --out` writes it
/// (`state.lineage` is `null` when no state existed).
pub(crate) fn plan() -> String {
    output_schema::<crate::plan::Plan>("edas-rollback plan (format_version 1)", true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn repository() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn the_checked_in_schemas_are_the_generated_ones() {
        for (path, generated) in [(APPLY_EVENTS_SCHEMA, apply_events()), (PLAN_SCHEMA, plan())] {
            let file = repository().join(path);
            if std::env::var_os("UPDATE_SCHEMAS").is_some() {
                std::fs::write(&file, &generated).unwrap();
                continue;
            }
            let committed = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(
                committed == generated,
                "{path} is not the schema the Rust types generate; if the change is intended \
                 (and keeps the wire backward compatible, docs/json-output.md), run\n  \
                 UPDATE_SCHEMAS=1 cargo test --lib cli::render::schemas\nand commit the file.\n\
                 generated:\n{generated}"
            );
        }
    }

    /// Follows a `$ref` into `$defs`.
    fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                let name = reference.trim_start_matches("#/$defs/");
                resolve(root, &root["$defs"][name])
            }
            None => schema,
        }
    }

    /// The object schema inside `schema`: itself, a `$ref`'s target, or the non-null branch of
    /// an `anyOf`/`oneOf` with `null` (an `Option`).
    fn object<'a>(root: &'a Value, schema: &'a Value) -> Option<&'a Value> {
        let schema = resolve(root, schema);
        if schema.get("properties").is_some() {
            return Some(schema);
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            for branch in schema[key].as_array().into_iter().flatten() {
                if let Some(found) = object(root, branch) {
                    return Some(found);
                }
            }
        }
        None
    }

    /// Every field path under an object schema (`a`, `a.b`, and `a[].b` through arrays),
    /// with whether it is optional (not `required`).
    fn fields(root: &Value, schema: &Value, prefix: &str, out: &mut BTreeMap<String, bool>) {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            let path = format!("{prefix}{name}");
            out.insert(path.clone(), !required.contains(&name.as_str()));
            let property = resolve(root, property);
            if let Some(inner) = object(root, property) {
                fields(root, inner, &format!("{path}."), out);
            } else if let Some(items) = property.get("items")
                && let Some(inner) = object(root, items)
            {
                fields(root, inner, &format!("{path}[]."), out);
            }
        }
    }

    /// The rows of the markdown table that follows `heading`'s line, up to the next heading:
    /// each row's cells, trimmed.
    fn table_rows(doc: &str, heading: &str, first_header: &str) -> Vec<Vec<String>> {
        let section = doc
            .split_once(heading)
            .unwrap_or_else(|| panic!("docs/json-output.md has no `{heading}`"))
            .1;
        let section = section.split("\n#").next().unwrap_or_default();
        let mut rows = Vec::new();
        let mut in_table = false;
        for line in section.lines() {
            if line.starts_with(&format!("| {first_header} |")) {
                in_table = true;
                continue;
            }
            if in_table && line.starts_with("|---") {
                continue;
            }
            if in_table && line.starts_with('|') {
                let cells = line
                    .trim_matches('|')
                    .split(" | ")
                    .map(|cell| cell.trim().to_string())
                    .collect();
                rows.push(cells);
            } else if in_table {
                break;
            }
        }
        assert!(
            !rows.is_empty(),
            "no `| {first_header} |` table after `{heading}`"
        );
        rows
    }

    fn unquoted(cell: &str) -> String {
        cell.trim_matches('`').to_string()
    }

    fn doc() -> String {
        std::fs::read_to_string(repository().join("docs/json-output.md")).unwrap()
    }

    /// The documented fields, `path → optional`, from rows whose cells `path_cell` and
    /// `type_cell` hold the field and its type (`…, optional`).
    fn documented(
        rows: &[Vec<String>],
        path_cell: usize,
        type_cell: usize,
    ) -> BTreeMap<String, bool> {
        rows.iter()
            .map(|row| {
                (
                    unquoted(&row[path_cell]),
                    row[type_cell].contains("optional"),
                )
            })
            .collect()
    }

    /// Fails naming each field the doc and the schema disagree on.
    fn assert_same(in_doc: &BTreeMap<String, bool>, in_schema: &BTreeMap<String, bool>) {
        let mut problems = Vec::new();
        for (path, optional) in in_schema {
            match in_doc.get(path) {
                None => problems.push(format!("`{path}` is in the schema, not in the doc")),
                Some(documented) if documented != optional => problems.push(format!(
                    "`{path}`: the schema says optional={optional}, the doc optional={documented}"
                )),
                Some(_) => {}
            }
        }
        for path in in_doc.keys().filter(|path| !in_schema.contains_key(*path)) {
            problems.push(format!("`{path}` is in the doc, not in the schema"));
        }
        assert!(
            problems.is_empty(),
            "docs/json-output.md and the schema differ:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn the_plan_doc_names_exactly_the_plan_schemas_fields() {
        let schema: Value = serde_json::from_str(&plan()).unwrap();
        let mut in_schema = BTreeMap::new();
        fields(&schema, &schema, "", &mut in_schema);
        let rows = table_rows(&doc(), "## Plan (`format_version` 1)", "field");
        assert_same(&documented(&rows, 0, 1), &in_schema);
    }

    #[test]
    fn the_apply_events_doc_names_exactly_the_schemas_types_and_fields() {
        let schema: Value = serde_json::from_str(&apply_events()).unwrap();
        // Each line: the common fields, then one of the event types (a `oneOf` branch).
        let mut common = BTreeMap::new();
        fields(&schema, &schema, "", &mut common);
        let mut in_schema: BTreeMap<String, bool> = common
            .into_iter()
            .map(|(path, optional)| (format!("*.{path}"), optional))
            .collect();
        let branches = schema["oneOf"].as_array().expect("a oneOf of event types");
        for branch in branches {
            let branch = resolve(&schema, branch);
            let kind = branch["properties"]["type"]["const"]
                .as_str()
                .expect("each event type is a `const` of `type`");
            let mut own = BTreeMap::new();
            fields(&schema, branch, "", &mut own);
            assert!(!own["type"], "`type` is required in `{kind}`");
            for (path, optional) in own.into_iter().filter(|(path, _)| path != "type") {
                in_schema.insert(format!("{kind}.{path}"), optional);
            }
        }
        // Every line's `type` (each event type's tag, always written).
        in_schema.insert("*.type".to_string(), false);
        let doc = doc();
        // The common fields' table names them as `@level`; the event table's rows are
        // `| event | field | type | meaning |`.
        let mut in_doc: BTreeMap<String, bool> =
            documented(&table_rows(&doc, "## Apply events", "field"), 0, 1)
                .into_iter()
                .map(|(path, optional)| (format!("*.{path}"), optional))
                .collect();
        for row in table_rows(&doc, "## Apply events", "event") {
            let kind = unquoted(&row[0]);
            let field = unquoted(&row[1]);
            let optional = row[2].contains("optional");
            in_doc.insert(format!("{kind}.{field}"), optional);
        }
        assert_same(&in_doc, &in_schema);
    }
}
