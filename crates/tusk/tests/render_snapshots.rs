//! Snapshots of what the builders make for a few manifests: every object `tusk render` prints, as YAML. A change
//! to any builder shows here as a reviewed diff (`cargo insta review`, or `INSTA_UPDATE=always` to accept).
//! Secret values are replaced by their length, since keys and passwords are generated afresh on every run.

mod common;

use tusk::images::Images;

fn render(manifest: &str) -> String {
    let cluster = tusk_api::manifest::parse(manifest).expect("a valid manifest");
    let mut out = String::new();
    for mut object in tusk::build::render(&cluster, &Images::default()).to_json() {
        if object["kind"] == "Secret" {
            for field in ["data", "stringData"] {
                if let Some(values) = object[field].as_object_mut() {
                    for value in values.values_mut() {
                        let length = value.as_str().map_or(0, str::len);
                        *value = format!("<{length} bytes>").into();
                    }
                }
            }
        }
        out.push_str("---\n");
        out.push_str(&tusk_api::yaml::to_yaml(&object).expect("YAML"));
    }
    out
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
