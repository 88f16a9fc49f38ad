//! PGO's published v5.0 schema is the oracle for our generated one: every field it has, we have, with the
//! same type and the same rules, except for the differences listed (and explained) in `DELIBERATE`.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where PGO's schema and ours differ on purpose: (field path, rule, why).
const DELIBERATE: &[(&str, &str, &str)] = &[
    (
        "",
        "required",
        "a PostgresCluster without a spec describes nothing; PGO cannot reconcile one either",
    ),
    (
        ".spec.postgresVersion",
        "maximum",
        "PGO v5.0 stopped at 14; later PGO and the published examples reach 18",
    ),
    (
        ".spec.backups.pgbackrest.repos[].name",
        "pattern",
        "anchored at the end: only repo1..repo4 exist",
    ),
    (
        ".spec.backups.pgbackrest.manual.repoName",
        "pattern",
        "anchored at the end: only repo1..repo4 exist",
    ),
    (
        ".spec.backups.pgbackrest.restore.repoName",
        "pattern",
        "anchored at the end: only repo1..repo4 exist",
    ),
    (
        ".spec.dataSource.postgresCluster.repoName",
        "pattern",
        "anchored at the end: only repo1..repo4 exist",
    ),
    (
        ".spec.standby.repoName",
        "pattern",
        "anchored at the end: only repo1..repo4 exist",
    ),
    (
        ".spec.instances[].name",
        "pattern",
        "a set name is part of object names, so it must be a DNS label",
    ),
    (
        ".spec.instances[].name",
        "maxLength",
        "a set name is part of object names, so it must be a DNS label",
    ),
    (
        ".spec.backups.pgbackrest.repos",
        "maxItems",
        "four repository names exist",
    ),
    (
        ".spec.users",
        "maxItems",
        "bounds the cost of the PASSWORD rule, which the API server estimates per item",
    ),
    (
        ".spec.users[].options",
        "maxLength",
        "bounds the cost of the PASSWORD rule (CEL on an unbounded string is rejected)",
    ),
    (
        ".spec.backups.pgbackrest.restore",
        "required",
        "`enabled` has a default, so it need not be sent",
    ),
    (
        ".spec.postgresVersion",
        "format",
        "int32 says what the maximum already says; the same values are accepted",
    ),
];

/// The rules compared between the two schemas.
const RULES: &[&str] = &[
    "type",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "default",
    "format",
    "required",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
];

fn shared_dir() -> PathBuf {
    std::env::var_os("TUSK_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

fn pgo_schema() -> Value {
    let path = shared_dir().join("spec/pgo-v5.0-postgresclusters-crd.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let crd: Value = serde_saphyr::from_str(&text).expect("PGO's CRD is YAML");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn our_schema() -> Value {
    let crd = serde_json::to_value(tusk_api::crd::crd()).expect("the CRD serializes");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Every schema node by path: `.spec.instances[].name`, `.spec.backups.pgbackrest.global{}`.
fn nodes(schema: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            nodes(child, format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = schema.get("items") {
        nodes(items, format!("{path}[]"), out);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        nodes(values, format!("{path}{{}}"), out);
    }
    out.insert(path, schema.clone());
}

/// A rule's value, normalized so that equal rules compare equal (`1024.0` and `1024`, order of `required`).
fn rule(schema: &Value, rule: &str) -> Option<Value> {
    let value = schema.get(rule)?.clone();
    Some(match (rule, value) {
        ("required", Value::Array(mut names)) => {
            names.sort_by_key(|n| n.to_string());
            Value::Array(names)
        }
        (_, Value::Number(n)) => Value::from(n.as_f64().expect("a number")),
        (_, value) => value,
    })
}

#[test]
fn every_pgo_field_exists_with_the_same_type_and_rules() {
    let mut pgo = BTreeMap::new();
    nodes(&pgo_schema(), String::new(), &mut pgo);
    let mut ours = BTreeMap::new();
    nodes(&our_schema(), String::new(), &mut ours);

    let mut problems = Vec::new();
    let mut compared = 0;
    for (path, theirs) in &pgo {
        let Some(mine) = ours.get(path) else {
            problems.push(format!("{path}: missing"));
            continue;
        };
        compared += 1;
        for name in RULES {
            let (a, b) = (rule(theirs, name), rule(mine, name));
            let deliberate = DELIBERATE.iter().any(|(p, r, _)| p == path && r == name);
            if a != b && !deliberate {
                problems.push(format!(
                    "{path}: {name} is {} in PGO, {} in ours",
                    show(&a),
                    show(&b)
                ));
            }
            if a == b && deliberate {
                problems.push(format!(
                    "{path}: {name} is listed as a deliberate difference but is the same"
                ));
            }
        }
    }
    println!("compared {compared} schema fields with PGO v5.0's");
    assert!(
        problems.is_empty(),
        "{} differences from PGO's schema:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_field_has_a_description() {
    let mut ours = BTreeMap::new();
    nodes(&our_schema(), String::new(), &mut ours);
    let undocumented: Vec<_> = ours
        .iter()
        .filter(|(path, node)| {
            !path.is_empty()
                && !path.ends_with("[]")
                && !path.ends_with("{}")
                && !path.starts_with(".metadata")
                && node.get("description").is_none()
        })
        .map(|(path, _)| path.as_str())
        .collect();
    assert!(
        undocumented.is_empty(),
        "fields without a description (kubectl explain shows nothing):\n{}",
        undocumented.join("\n")
    );
}

fn show(value: &Option<Value>) -> String {
    value.as_ref().map_or("absent".into(), Value::to_string)
}
