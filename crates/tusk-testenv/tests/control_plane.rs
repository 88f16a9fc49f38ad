//! The control plane starts, serves the Kubernetes API to a client and to kubectl, and leaves nothing
//! running when dropped.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use tusk_testenv::ControlPlane;

#[tokio::test]
async fn serves_the_api_and_stops_cleanly() {
    let plane = ControlPlane::start()
        .await
        .expect("the control plane starts");
    let client = plane.client().await.expect("an admin client");

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "smoke"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("a namespace is created");

    let config_maps: Api<ConfigMap> = Api::namespaced(client, "smoke");
    let config_map = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("greeting".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("hello".to_string(), "world".to_string())])),
        ..Default::default()
    };
    config_maps
        .create(&PostParams::default(), &config_map)
        .await
        .expect("a ConfigMap is created");
    let read = config_maps
        .get("greeting")
        .await
        .expect("the ConfigMap reads back");
    assert_eq!(read.data.unwrap()["hello"], "world");

    let version = plane
        .kubectl()
        .args(["version", "-o", "json"])
        .output()
        .expect("kubectl runs");
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.contains("\"gitVersion\": \"v1.34."),
        "kubectl and the server are v1.34: {version}"
    );
    assert!(
        version.contains("serverVersion"),
        "kubectl reached the server: {version}"
    );

    let pids = plane.pids();
    let dir = plane.dir().to_path_buf();
    let address = plane.url().trim_start_matches("https://").to_string();
    drop(plane);
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "the API server still listens on {address} after the control plane was dropped"
    );
    for pid in pids {
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(
            !alive,
            "process {pid} still runs after the control plane was dropped"
        );
    }
    assert!(!dir.exists(), "{} was not removed", dir.display());
}
