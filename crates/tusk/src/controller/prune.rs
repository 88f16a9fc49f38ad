//! Removing what the spec no longer asks for: objects of a kind that this cluster controls but the build stage
//! did not produce. Only kinds that hold no data are ever pruned; volumes are never deleted here.

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;
use tusk_api::PostgresCluster;

/// Deletes the objects of kind `K` in the cluster's namespace that carry its label, are controlled by it, and
/// are not in `keep`.
pub async fn prune<K>(
    client: &Client,
    cluster: &PostgresCluster,
    keep: &[K],
) -> Result<(), kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + DeserializeOwned + Clone + Debug,
    K::DynamicType: Default,
{
    let (Some(namespace), Some(uid)) = (cluster.namespace(), cluster.uid()) else {
        return Ok(());
    };
    let keep: BTreeSet<String> = keep.iter().map(ResourceExt::name_any).collect();
    let api: Api<K> = Api::namespaced(client.clone(), &namespace);
    let selector = format!("{}={}", crate::naming::labels::CLUSTER, cluster.name_any());
    for object in api.list(&ListParams::default().labels(&selector)).await? {
        let controlled = object
            .owner_references()
            .iter()
            .any(|owner| owner.controller == Some(true) && owner.uid == uid);
        if controlled && !keep.contains(&object.name_any()) {
            tracing::info!(kind = %K::kind(&Default::default()), name = %object.name_any(), "deleting what the spec no longer asks for");
            api.delete(&object.name_any(), &DeleteParams::default())
                .await?;
        }
    }
    Ok(())
}
