//! Patroni's state in its Kubernetes DCS (the `<c>-ha*` Endpoints it writes, not owned by the cluster): what an
//! earlier cluster of the same name left behind is removed.

use k8s_openapi::api::core::v1::Endpoints;
use kube::api::{Api, DeleteParams, Preconditions};
use kube::{Client, ResourceExt};
use tusk_api::PostgresCluster;

/// Deletes the Patroni DCS Endpoints (`<c>-ha`, `<c>-ha-config`: labelled with the cluster and Patroni's scope)
/// that are not younger than the cluster itself: they belong to an earlier cluster of the same name. Patroni makes
/// them and they are not owned by the cluster; when a cluster is deleted, its still-running Patroni can write
/// them again after Kubernetes removed them, and a new cluster of the same name then finds the old
/// `initialize` system identifier and leader and never bootstraps (its pod logs `waiting for leader to
/// bootstrap` or `failed to bootstrap from leader '<old pod>'` forever). The cluster's own Patroni can only
/// have made them after the cluster existed, so those are kept.
/// `found`: the cluster's Patroni Endpoints as observed.
pub async fn forget_earlier_patroni(
    client: &Client,
    cluster: &PostgresCluster,
    found: &[Endpoints],
) -> Result<(), kube::Error> {
    let Some(born) = cluster.metadata.creation_timestamp.as_ref() else {
        return Ok(());
    };
    let name = cluster.name_any();
    let endpoints: Api<Endpoints> =
        Api::namespaced(client.clone(), &cluster.namespace().unwrap_or_default());
    for stale in found.iter().filter(|e| {
        e.metadata
            .creation_timestamp
            .as_ref()
            // Creation times have whole seconds; the cluster's own Patroni starts seconds after the cluster.
            .is_some_and(|made| made.0 <= born.0)
    }) {
        tracing::info!(cluster = %name, endpoints = %stale.name_any(), "deleting an earlier cluster's Patroni Endpoints");
        let precondition = DeleteParams {
            preconditions: Some(Preconditions {
                uid: stale.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match endpoints.delete(&stale.name_any(), &precondition).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
