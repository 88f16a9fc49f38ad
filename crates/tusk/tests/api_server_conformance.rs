//! Every published PGO `v1beta1` example (and each of our own manifests in `tests/valid-manifests/`) is accepted
//! by a real API server serving our CRD, read back with no field pruned, defaulted exactly as `tusk render`
//! defaults it, and parsed by the Rust types with unknown fields denied.

mod common;

use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use serde_json::Value;
use std::path::PathBuf;

#[tokio::test]
async fn every_pgo_example_is_accepted_without_pruning() {
    let plane = common::api_server::control_plane_with_crd().await;
    let api: Api<DynamicObject> = common::api_server::postgresclusters(&plane, "conformance").await;

    let examples = common::api_server::v1beta1_examples();
    assert!(!examples.is_empty(), "no v1beta1 examples found");
    let ours = common::api_server::yaml_files(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/valid-manifests"),
    );
    let mut problems = Vec::new();
    let mut pruned_total = 0;
    for path in examples.iter().chain(&ours) {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let sent: Value = serde_saphyr::from_str(&text).unwrap();

        let rendered = match tusk_api::manifest::from_value(sent.clone()) {
            Ok(cluster) => serde_json::to_value(&cluster).unwrap(),
            Err(violations) => {
                problems.push(format!("{file}: the Rust types reject it: {violations:?}"));
                continue;
            }
        };

        let object: DynamicObject = serde_json::from_value(sent.clone()).unwrap();
        let name = object.metadata.name.clone().unwrap();
        let stored = match api.create(&PostParams::default(), &object).await {
            Ok(stored) => serde_json::to_value(&stored).unwrap(),
            Err(error) => {
                problems.push(format!("{file}: the API server rejects it: {error}"));
                continue;
            }
        };
        api.delete(&name, &DeleteParams::default()).await.unwrap();

        let mut pruned = Vec::new();
        missing_leaves(&sent["spec"], &stored["spec"], ".spec".into(), &mut pruned);
        pruned_total += pruned.len();
        if !pruned.is_empty() {
            problems.push(format!(
                "{file}: fields pruned by the API server: {}",
                pruned.join(", ")
            ));
        }
        if stored["spec"] != rendered["spec"] {
            problems.push(format!(
                "{file}: the API server's defaults differ from tusk render's:\n  stored:   {}\n  rendered: {}",
                stored["spec"], rendered["spec"]
            ));
        }
    }
    let failed: std::collections::BTreeSet<&str> = problems
        .iter()
        .filter_map(|p| p.split(':').next())
        .collect();
    let accepted = |files: &[PathBuf]| {
        files
            .iter()
            .filter(|f| !failed.contains(f.file_name().unwrap().to_str().unwrap()))
            .count()
    };
    println!(
        "accepted {}/{} v1beta1 examples and {}/{} of our own manifests, {pruned_total} fields pruned",
        accepted(&examples),
        examples.len(),
        accepted(&ours),
        ours.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Paths of the leaves of `sent` that `stored` lacks.
fn missing_leaves(sent: &Value, stored: &Value, path: String, out: &mut Vec<String>) {
    match (sent, stored) {
        (Value::Object(sent), Value::Object(stored)) => {
            for (key, value) in sent {
                match stored.get(key) {
                    Some(kept) => missing_leaves(value, kept, format!("{path}.{key}"), out),
                    None => out.push(format!("{path}.{key}")),
                }
            }
        }
        (Value::Array(sent), Value::Array(stored)) => {
            for (i, value) in sent.iter().enumerate() {
                match stored.get(i) {
                    Some(kept) => missing_leaves(value, kept, format!("{path}[{i}]"), out),
                    None => out.push(format!("{path}[{i}]")),
                }
            }
        }
        _ => {}
    }
}
