//! Checks a manifest against the CRD's own OpenAPI schema, the way the API server does before it stores an
//! object: types, required fields, enums, patterns, bounds, lengths, list sizes and list keys.
//!
//! The schema is the one `crd` generates, so offline validation (`tusk render`) and the API server apply the
//! same rules from one source. What the schema leaves to CEL rules and to the operator is in `validation`.

use crate::validation::Violation;
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

/// The PostgresCluster schema (`openAPIV3Schema` of the CRD), generated once.
static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    let crd = serde_json::to_value(crate::crd::crd()).expect("the CRD serializes");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
});

/// Compiled patterns of the schema, by source.
static PATTERNS: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);

/// Every way `document` breaks the PostgresCluster schema, each with the field's path.
pub fn check(document: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    node(document, &SCHEMA, "", &mut out);
    out
}

fn fail(out: &mut Vec<Violation>, path: &str, rule: impl Into<String>) {
    let field = if path.is_empty() {
        "(document)".to_string()
    } else {
        path.to_string()
    };
    out.push(Violation {
        field,
        rule: rule.into(),
    });
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn node(value: &Value, schema: &Value, path: &str, out: &mut Vec<Violation>) {
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            fail(out, path, "must not be null");
        }
        return;
    }
    let int_or_string = schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let expected = schema.get("type").and_then(Value::as_str);
    let type_ok = match (expected, value) {
        (None, Value::Number(n)) if int_or_string => n.is_i64() || n.is_u64(),
        (None, Value::String(_)) if int_or_string => true,
        (None, _) => !int_or_string,
        (Some("object"), Value::Object(_)) | (Some("array"), Value::Array(_)) => true,
        (Some("string"), Value::String(_)) | (Some("boolean"), Value::Bool(_)) => true,
        (Some("integer"), Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Some("number"), Value::Number(_)) => true,
        _ => false,
    };
    if !type_ok {
        let wanted = if int_or_string {
            "an integer or a string"
        } else {
            article(expected.unwrap_or("value"))
        };
        fail(
            out,
            path,
            format!("must be {wanted}, not {}", describe(value)),
        );
        return;
    }
    match value {
        Value::Object(map) => object(map, schema, path, out),
        Value::Array(items) => array(items, schema, path, out),
        Value::String(text) => string(text, schema, path, out),
        Value::Number(number) => bounds(number.as_f64().unwrap_or_default(), schema, path, out),
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed.iter().map(Value::to_string).collect();
        fail(
            out,
            path,
            format!("must be one of {}, not {value}", names.join(", ")),
        );
    }
}

fn object(map: &Map<String, Value>, schema: &Value, path: &str, out: &mut Vec<Violation>) {
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = required.as_str().unwrap_or_default();
        if !map.contains_key(key) {
            fail(out, &child(path, key), "is required");
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let values = schema.get("additionalProperties").filter(|v| v.is_object());
    let open = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        || (properties.is_none() && values.is_none());
    for (key, item) in map {
        match (properties.and_then(|p| p.get(key)), values) {
            (Some(field), _) | (None, Some(field)) => node(item, field, &child(path, key), out),
            (None, None) if open => {}
            (None, None) => fail(
                out,
                &child(path, key),
                "is not a field of PostgresCluster (unknown field)",
            ),
        }
    }
}

fn array(items: &[Value], schema: &Value, path: &str, out: &mut Vec<Violation>) {
    let count = items.len() as f64;
    if let Some(min) = schema
        .get("minItems")
        .and_then(Value::as_f64)
        .filter(|min| count < *min)
    {
        fail(
            out,
            path,
            format!("must have at least {min} item(s), not {count}"),
        );
    }
    if let Some(max) = schema
        .get("maxItems")
        .and_then(Value::as_f64)
        .filter(|max| count > *max)
    {
        fail(
            out,
            path,
            format!("must have at most {max} item(s), not {count}"),
        );
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            node(item, item_schema, &format!("{path}[{i}]"), out);
        }
    }
    let keys: Vec<&str> = schema
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("map") => unique(
            items.iter().map(|item| {
                keys.iter()
                    .map(|k| item.get(*k).cloned().unwrap_or_default())
                    .collect()
            }),
            path,
            out,
        ),
        Some("set") => unique(items.iter().map(|item| vec![item.clone()]), path, out),
        _ => {}
    }
}

fn unique(keys: impl Iterator<Item = Vec<Value>>, path: &str, out: &mut Vec<Violation>) {
    let mut seen = BTreeSet::new();
    for (i, key) in keys.enumerate() {
        let shown = Value::Array(key).to_string();
        if !seen.insert(shown.clone()) {
            fail(
                out,
                &format!("{path}[{i}]"),
                format!("duplicate entry {shown}"),
            );
        }
    }
}

fn string(text: &str, schema: &Value, path: &str, out: &mut Vec<Violation>) {
    let length = text.chars().count() as f64;
    if let Some(min) = schema
        .get("minLength")
        .and_then(Value::as_f64)
        .filter(|min| length < *min)
    {
        fail(out, path, format!("must be at least {min} characters long"));
    }
    if let Some(max) = schema
        .get("maxLength")
        .and_then(Value::as_f64)
        .filter(|max| length > *max)
    {
        fail(out, path, format!("must be at most {max} characters long"));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && !matches(pattern, text)
    {
        fail(out, path, format!("{text:?} must match {pattern}"));
    }
}

fn bounds(number: f64, schema: &Value, path: &str, out: &mut Vec<Violation>) {
    if let Some(min) = schema
        .get("minimum")
        .and_then(Value::as_f64)
        .filter(|min| number < *min)
    {
        fail(out, path, format!("must be at least {min}, not {number}"));
    }
    if let Some(max) = schema
        .get("maximum")
        .and_then(Value::as_f64)
        .filter(|max| number > *max)
    {
        fail(out, path, format!("must be at most {max}, not {number}"));
    }
}

fn matches(pattern: &str, text: &str) -> bool {
    let mut compiled = PATTERNS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let regex = compiled.entry(pattern.to_string()).or_insert_with(|| {
        Regex::new(pattern).expect("the schema's patterns are valid regular expressions")
    });
    regex.is_match(text)
}

fn article(type_name: &str) -> &'static str {
    match type_name {
        "object" => "an object",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        _ => "a value",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".into(),
        Value::Array(_) => "a list".into(),
        other => other.to_string(),
    }
}
