//! Removing what the spec no longer asks for: objects of a kind that this cluster controls but the build stage
//! did not produce: disruption budgets of sets that shrank to one instance, Secrets of users removed from the
//! spec (as PGO does; the role itself is never dropped). Volumes are never deleted here.

use crate::naming::labels::{self, Labels};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;
use tusk_api::PostgresCluster;

/// Deletes the objects of kind `K` in the cluster's namespace that carry all of `labels`, are controlled by
/// the cluster, and are not in `keep`.
pub async fn prune<K>(
    client: &Client,
    cluster: &PostgresCluster,
    labels: &Labels,
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
    let selector = labels::selector(labels);
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
