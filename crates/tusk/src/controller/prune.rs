//! Removing what the spec no longer asks for: objects of a kind that this cluster controls but the build stage
//! did not produce: disruption budgets of sets that shrank to one instance, Secrets of users removed from the
//! spec (as PGO does; the role itself is never dropped), PgBouncer's objects without `spec.proxy`. Volumes are
//! never deleted here. The candidates are what the observe stage listed, so pruning costs no LIST of its own.

use crate::naming::labels::Labels;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;
use tusk_api::PostgresCluster;

/// Deletes the objects of `found` that [`unwanted`] picks.
pub async fn prune<'a, K>(
    client: &Client,
    cluster: &PostgresCluster,
    found: impl IntoIterator<Item = &'a K>,
    labels: &Labels,
    keep: &[K],
) -> Result<(), kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + DeserializeOwned + Clone + Debug + 'a,
    K::DynamicType: Default,
{
    let (Some(namespace), Some(uid)) = (cluster.namespace(), cluster.uid()) else {
        return Ok(());
    };
    let api: Api<K> = Api::namespaced(client.clone(), &namespace);
    for name in unwanted(&uid, found, labels, keep) {
        tracing::info!(kind = %K::kind(&Default::default()), %name, "deleting what the spec no longer asks for");
        match api.delete(&name, &DeleteParams::default()).await {
            // Gone since the observe stage listed it: what pruning wanted.
            Err(kube::Error::Api(response)) if response.code == 404 => {}
            result => {
                result?;
            }
        }
    }
    Ok(())
}

/// The names of the objects of `found` that carry all of `labels`, are controlled by the cluster of UID `uid`,
/// and are not in `keep`.
pub fn unwanted<'a, K: Resource + 'a>(
    uid: &str,
    found: impl IntoIterator<Item = &'a K>,
    labels: &Labels,
    keep: &[K],
) -> Vec<String> {
    let keep: BTreeSet<String> = keep.iter().map(ResourceExt::name_any).collect();
    found
        .into_iter()
        .filter(|object| {
            let carried = object.labels();
            labels
                .iter()
                .all(|(key, value)| carried.get(key) == Some(value))
        })
        .filter(|object| {
            object
                .owner_references()
                .iter()
                .any(|owner| owner.controller == Some(true) && owner.uid == uid)
        })
        .map(ResourceExt::name_any)
        .filter(|name| !keep.contains(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn config_map(name: &str, role: &str, controller: Option<&str>) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    [
                        ("cluster".to_string(), "hippo".to_string()),
                        ("role".to_string(), role.to_string()),
                    ]
                    .into(),
                ),
                owner_references: controller.map(|uid| {
                    vec![OwnerReference {
                        controller: Some(true),
                        uid: uid.into(),
                        ..OwnerReference::default()
                    }]
                }),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn only_the_clusters_own_unkept_objects_with_the_labels_go() {
        let found = [
            config_map("kept", "pgbouncer", Some("uid-1")),
            config_map("dropped", "pgbouncer", Some("uid-1")),
            config_map("other-role", "monitoring", Some("uid-1")),
            config_map("earlier-cluster", "pgbouncer", Some("uid-0")),
            config_map("made-by-hand", "pgbouncer", None),
        ];
        let labels: Labels = [
            ("cluster".to_string(), "hippo".to_string()),
            ("role".to_string(), "pgbouncer".to_string()),
        ]
        .into();
        let keep = [config_map("kept", "pgbouncer", Some("uid-1"))];
        assert_eq!(unwanted("uid-1", &found, &labels, &keep), ["dropped"]);
    }
}
