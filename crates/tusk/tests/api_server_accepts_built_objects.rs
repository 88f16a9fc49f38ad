//! Every object the build stage makes for every PGO `v1beta1` example is valid to a real API server (created
//! with a server-side dry run, so Kubernetes' own validation judges it).

mod common;

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};

#[tokio::test]
async fn built_objects_pass_api_server_validation() {
    let plane = common::api_server::control_plane_with_crd().await;
    common::api_server::postgresclusters(&plane, "built").await;
    let client = plane.client().await.expect("an admin client");
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };

    let mut problems = Vec::new();
    let mut checked = 0;
    for path in common::api_server::v1beta1_examples() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let mut cluster = tusk_api::manifest::parse(&std::fs::read_to_string(&path).unwrap())
            .expect("valid example");
        cluster.metadata.namespace = Some("built".into());
        let objects = match tusk::build::render(&cluster, &tusk::images::Images::default()) {
            Ok(objects) => objects,
            Err(error) => {
                problems.push(format!("{file}: does not build: {error}"));
                continue;
            }
        };
        for object in objects.to_json() {
            let api_version = object["apiVersion"].as_str().unwrap().to_string();
            let kind = object["kind"].as_str().unwrap().to_string();
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
            let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &kind));
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "built", &resource);
            let object: DynamicObject = serde_json::from_value(object).unwrap();
            let name = object.metadata.name.clone().unwrap_or_default();
            match api.create(&dry_run, &object).await {
                Ok(_) => checked += 1,
                Err(error) => problems.push(format!("{file}: {kind} {name}: {error}")),
            }
        }
    }
    println!("the API server accepted {checked} built objects");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
