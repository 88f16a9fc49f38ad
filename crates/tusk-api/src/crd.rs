//! The CustomResourceDefinition of PostgresCluster, generated from the Rust types.
//!
//! schemars writes the schema from the types; a few rewrites then bring the embedded Kubernetes types to the
//! shape Kubernetes' own CRD generator gives them, which is also the shape of PGO's published schema.

use crate::cluster::PostgresCluster;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Value, json};

/// The pattern of a Kubernetes resource quantity (`500m`, `1Gi`, `2e3`), as Kubernetes' CRD generator writes it.
pub const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// The PostgresCluster CRD (apiextensions.k8s.io/v1): structural schema, status subresource, printer columns.
pub fn crd() -> CustomResourceDefinition {
    let mut crd = PostgresCluster::crd();
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            let mut value = serde_json::to_value(&*schema).expect("a JSON schema serializes");
            add_type_meta(&mut value);
            rewrite(&mut value);
            *schema = serde_json::from_value(value).expect("the rewritten schema reads back");
        }
    }
    crd
}

/// The CRD as YAML, as `tusk crd` prints it and `deploy/crd/` keeps it.
pub fn crd_yaml() -> String {
    crate::yaml::to_yaml(&crd()).expect("a CRD serializes to YAML")
}

/// `apiVersion`, `kind` and `metadata` at the root, so that `kubectl explain` lists them as for any kind.
fn add_type_meta(root: &mut Value) {
    let properties = root["properties"]
        .as_object_mut()
        .expect("the root schema has properties");
    properties.insert(
        "apiVersion".into(),
        json!({"type": "string", "description": "The versioned schema of this object: postgres-operator.crunchydata.com/v1beta1."}),
    );
    properties.insert(
        "kind".into(),
        json!({"type": "string", "description": "The kind of this object: PostgresCluster."}),
    );
    properties.insert("metadata".into(), json!({"type": "object"}));
}

/// Rewrites every node of the schema, depth first.
fn rewrite(node: &mut Value) {
    match node {
        Value::Array(items) => items.iter_mut().for_each(rewrite),
        Value::Object(map) => {
            map.values_mut().for_each(rewrite);
            whole_numbers(map);
            free_form(map);
            if is_quantity(map) {
                *node = quantity();
            } else {
                optional_reference_name(map);
                if let Some(divisor) = map.get_mut("properties").and_then(|p| p.get_mut("divisor"))
                {
                    divisor["pattern"] = QUANTITY_PATTERN.into();
                }
            }
        }
        _ => {}
    }
}

/// A free-form object (`x-kubernetes-preserve-unknown-fields`) must not also say `additionalProperties: true`:
/// the API server would then keep its keys but prune everything below them.
fn free_form(map: &mut serde_json::Map<String, Value>) {
    if map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && map.get("additionalProperties") == Some(&Value::Bool(true))
    {
        map.remove("additionalProperties");
    }
}

/// schemars writes bounds as floats (`minimum: 1024.0`); Kubernetes writes integers.
fn whole_numbers(map: &mut serde_json::Map<String, Value>) {
    for key in ["minimum", "maximum"] {
        if let Some(bound) = map
            .get(key)
            .and_then(Value::as_f64)
            .filter(|f| f.fract() == 0.0)
        {
            map.insert(key.into(), Value::from(bound as i64));
        }
    }
}

/// k8s-openapi describes every quantity with several kilobytes of prose; Kubernetes' CRD generator writes a
/// pattern instead, so that the API server rejects `cpu: lots` before a pod does. (A field's own description
/// hides the type's, as on `resourceFieldRef.divisor`, which `rewrite` patterns by name.)
fn is_quantity(map: &serde_json::Map<String, Value>) -> bool {
    map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        && map
            .get("description")
            .and_then(Value::as_str)
            .is_some_and(|d| d.starts_with("Quantity is a fixed-point representation of a number."))
}

fn quantity() -> Value {
    json!({
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": QUANTITY_PATTERN,
        "x-kubernetes-int-or-string": true,
    })
}

/// A reference's `name` is optional in PGO's schema (the Kubernetes API defaults it to ""); k8s-openapi makes
/// it a required string.
fn optional_reference_name(map: &mut serde_json::Map<String, Value>) {
    let names_only = map.get("required") == Some(&json!(["name"]));
    let is_reference = map
        .get("properties")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.get("description"))
        .and_then(Value::as_str)
        .is_some_and(|d| d.starts_with("Name of the referent."));
    if names_only && is_reference {
        map.remove("required");
    }
}
