//! Reading a PostgresCluster manifest: YAML or JSON text in, a checked and defaulted PostgresCluster out.

use crate::cluster::PostgresCluster;
use crate::schema_check;
use crate::validation::{Violation, validate};
use kube::Resource;

/// Parses one PostgresCluster manifest and checks it.
///
/// Field defaults are applied as the API server applies the schema's defaults. Unknown fields, wrong types,
/// missing required fields and broken rules are all reported as [`Violation`]s naming the field.
pub fn parse(text: &str) -> Result<PostgresCluster, Vec<Violation>> {
    let value: serde_json::Value = serde_saphyr::from_str(text)
        .map_err(|error| vec![Violation { field: "(document)".into(), rule: format!("is not YAML: {error}") }])?;
    from_value(value)
}

/// Like [`parse`], from an already decoded document.
///
/// Three passes, each reporting every problem it finds: the document against the CRD's schema (as the API
/// server checks it), then into the Rust types, then the rules beyond the schema.
pub fn from_value(value: serde_json::Value) -> Result<PostgresCluster, Vec<Violation>> {
    check_type(&value)?;
    let violations = schema_check::check(&value);
    if !violations.is_empty() {
        return Err(violations);
    }
    let cluster: PostgresCluster = serde_path_to_error::deserialize(value).map_err(|error| {
        let field = match error.path().to_string() {
            path if path == "." => "(document)".to_string(),
            path => path,
        };
        vec![Violation { field, rule: error.inner().to_string() }]
    })?;
    let violations = validate(&cluster);
    if violations.is_empty() { Ok(cluster) } else { Err(violations) }
}

fn check_type(value: &serde_json::Value) -> Result<(), Vec<Violation>> {
    let expected_api_version = PostgresCluster::api_version(&());
    let expected_kind = PostgresCluster::kind(&());
    let mut violations = Vec::new();
    let api_version = value.get("apiVersion").and_then(|v| v.as_str());
    if api_version != Some(expected_api_version.as_ref()) {
        violations.push(Violation {
            field: "apiVersion".into(),
            rule: format!("must be {expected_api_version}, not {}", api_version.unwrap_or("missing")),
        });
    }
    let kind = value.get("kind").and_then(|v| v.as_str());
    if kind != Some(expected_kind.as_ref()) {
        violations.push(Violation { field: "kind".into(), rule: format!("must be {expected_kind}, not {}", kind.unwrap_or("missing")) });
    }
    if violations.is_empty() { Ok(()) } else { Err(violations) }
}
