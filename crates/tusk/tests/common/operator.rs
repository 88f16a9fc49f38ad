//! Helpers for tests that run the operator against a real API server: the docs' hippo manifest, creating a
//! cluster, waiting for a condition, and checking that a deleted object comes back.

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use std::future::Future;
use std::time::{Duration, Instant};
use tusk_api::PostgresCluster;

/// The docs' quickstart cluster.
pub fn hippo() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/hippo/postgres.yaml"
    ))
    .unwrap()
}

/// Creates the cluster `manifest` describes.
pub async fn create(clusters: &Api<PostgresCluster>, manifest: &str) -> PostgresCluster {
    let cluster: PostgresCluster = serde_saphyr::from_str(manifest).expect("a PostgresCluster");
    clusters
        .create(&PostParams::default(), &cluster)
        .await
        .expect("the cluster is created")
}

/// Deletes `name` and waits until the operator has made it again; returns how long that took.
pub async fn heals_deletion<K>(api: &Api<K>, name: &str) -> Duration
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let old = api.get(name).await.unwrap().uid();
    api.delete(name, &DeleteParams::default()).await.unwrap();
    eventually(&format!("a deleted {name} comes back"), || async {
        api.get_opt(name)
            .await
            .ok()
            .flatten()
            .is_some_and(|now| now.uid() != old)
    })
    .await
}

/// Waits up to 30 s for `condition`; returns how long it took.
pub async fn eventually<F: Future<Output = bool>>(
    what: &str,
    mut condition: impl FnMut() -> F,
) -> Duration {
    let started = Instant::now();
    while !condition().await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// A real API server with the CRD, namespace `namespace`, and the operator running in-process over it. Dropping
/// it stops the operator, then the API server.
pub struct Running {
    /// An administrator's client.
    pub client: kube::Client,
    /// The PostgresClusters of the namespace.
    pub clusters: Api<PostgresCluster>,
    operator: tokio::task::JoinHandle<()>,
    _plane: tusk_testenv::ControlPlane,
}

/// Starts the API server, creates `namespace` and runs the operator over it.
pub async fn start(namespace: &'static str) -> Running {
    let plane = super::api_server::control_plane_with_crd().await;
    super::api_server::postgresclusters(&plane, namespace).await;
    let client = plane.client().await.expect("an admin client");
    Running {
        operator: tokio::spawn(tusk::controller::run(client.clone(), Some(namespace))),
        clusters: Api::namespaced(client.clone(), namespace),
        client,
        _plane: plane,
    }
}

impl Running {
    /// A kubeconfig file for an administrator of the API server.
    pub fn kubeconfig(&self) -> &std::path::Path {
        self._plane.kubeconfig_path()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.operator.abort();
    }
}
