//! A real API server with the PostgresCluster CRD installed, for the integration tests.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::runtime::wait::{await_condition, conditions};
use std::path::PathBuf;
use std::time::Duration;
use tusk_api::PostgresCluster;
use tusk_testenv::ControlPlane;

/// Starts etcd and kube-apiserver, installs the CRD that `tusk crd` prints, and waits until it is Established.
pub async fn control_plane_with_crd() -> ControlPlane {
    let plane = ControlPlane::start()
        .await
        .expect("the control plane starts");
    install_crd(&plane, &tusk_api::crd::crd()).await;
    plane
}

/// Installs (or replaces) `crd` and waits until it is Established.
pub async fn install_crd(plane: &ControlPlane, crd: &CustomResourceDefinition) {
    let client = plane.client().await.expect("an admin client");
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let name = crd.metadata.name.clone().expect("the CRD has a name");
    crds.patch(
        &name,
        &PatchParams::apply("tusk-tests").force(),
        &Patch::Apply(crd),
    )
    .await
    .expect("the API server accepts the CRD");
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .expect("the CRD becomes Established within 30 s")
    .expect("watching the CRD works");
}

/// The PostgresCluster API of `namespace`, which is created first. Objects are handled untyped, so that what
/// the API server stores can be compared with what was sent.
pub async fn postgresclusters(plane: &ControlPlane, namespace: &str) -> Api<DynamicObject> {
    let client = plane.client().await.expect("an admin client");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let object: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}})).unwrap();
    namespaces
        .create(&PostParams::default(), &object)
        .await
        .expect("the namespace is created");
    Api::namespaced_with(
        client,
        namespace,
        &ApiResource::erase::<PostgresCluster>(&()),
    )
}

/// The typed PostgresCluster API of `namespace`, which is created first.
pub async fn typed_postgresclusters(plane: &ControlPlane, namespace: &str) -> Api<PostgresCluster> {
    let untyped = postgresclusters(plane, namespace).await;
    Api::namespaced(untyped.into_client(), namespace)
}

/// `shared/` beside the checkout (or `$TUSK_SHARED_DIR`): PGO's docs, schema and examples.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("TUSK_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// PGO's published `v1beta1` example manifests, sorted.
pub fn v1beta1_examples() -> Vec<PathBuf> {
    yaml_files(&shared_dir().join("conformance/pgo-examples"))
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            text.lines()
                .any(|line| line.trim() == "apiVersion: postgres-operator.crunchydata.com/v1beta1")
        })
        .collect()
}

/// The `*.yaml` files of `dir`, sorted.
pub fn yaml_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}
