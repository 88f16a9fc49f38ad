//! Snapshots of what the builders make for a few manifests: every object `tusk render` prints, as YAML. A change
//! to any builder shows here as a reviewed diff (`cargo insta review`, or `INSTA_UPDATE=always` to accept).
//! Secret values are redacted, since keys and passwords are generated afresh on every run.

mod common;

use tusk::images::Images;

fn render(manifest: &str) -> String {
    let cluster = tusk_api::manifest::parse(manifest).expect("a valid manifest");
    let mut out = String::new();
    let objects = tusk::build::render(&cluster, &Images::default()).expect("the cluster builds");
    for mut object in objects.to_json() {
        if object["kind"] == "Secret" {
            for field in ["data", "stringData"] {
                if let Some(values) = object[field].as_object_mut() {
                    for value in values.values_mut() {
                        *value = redacted(value.as_str().unwrap_or_default()).into();
                    }
                }
            }
        }
        out.push_str("---\n");
        out.push_str(&tusk_api::yaml::to_yaml(&object).expect("YAML"));
    }
    out
}

/// A Secret value (base64) as the snapshot shows it: PEM material (certificates and keys, whose length varies
/// with their signatures) as `<PEM>`, anything else as its length.
fn redacted(base64: &str) -> String {
    // "-----BEGIN" in base64.
    if base64.starts_with("LS0tLS1CRUdJTi") {
        "<PEM>".into()
    } else {
        format!("<{} bytes>", base64.len())
    }
}

#[test]
fn hippo() {
    let manifest = include_str!("../../../examples/hippo/postgres.yaml");
    insta::assert_snapshot!(render(manifest));
}

#[test]
fn high_availability_with_pgbouncer() {
    let path = common::api_server::shared_dir()
        .join("conformance/pgo-examples/kustomize_high-availability_ha-postgres-00b608d52c.yaml");
    let manifest = std::fs::read_to_string(&path).expect("the example exists");
    insta::assert_snapshot!(render(&manifest));
}
