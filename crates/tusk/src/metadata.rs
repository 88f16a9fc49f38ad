//! The metadata of every object Tusk builds for a cluster: name, namespace, labels, annotations and the
//! controller owner reference that lets Kubernetes collect the object with its cluster.

use crate::naming::labels::{self, Labels};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use tusk_api::PostgresCluster;
use tusk_api::common::Metadata;

/// Metadata for an object of `cluster` named `name`.
///
/// Labels and annotations merge, lowest precedence first: the cluster's `spec.metadata`, the component's own
/// `metadata` (an instance set's, PgBouncer's, ...), then `ours` — Tusk's labels always win, so a user's
/// label can never make an object match the wrong selector. The owner reference is left out when the
/// cluster has no UID yet (`tusk render`, offline).
pub fn owned_by(
    cluster: &PostgresCluster,
    name: String,
    component: Option<&Metadata>,
    ours: Labels,
) -> ObjectMeta {
    let user = [cluster.spec.metadata.as_ref(), component];
    let user_labels: Vec<&Labels> = user
        .iter()
        .flatten()
        .filter_map(|m| m.labels.as_ref())
        .collect();
    let annotations: Labels = user
        .iter()
        .flatten()
        .filter_map(|m| m.annotations.as_ref())
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut labels = labels::merge(user_labels);
    labels.extend(ours);
    ObjectMeta {
        name: Some(name),
        namespace: cluster.metadata.namespace.clone(),
        labels: Some(labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: cluster.controller_owner_ref(&()).map(|owner| {
            vec![OwnerReference {
                block_owner_deletion: Some(true),
                ..owner
            }]
        }),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::owned_by;
    use crate::naming::labels;
    use tusk_api::PostgresCluster;

    fn hippo() -> PostgresCluster {
        tusk_api::manifest::parse(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: hippo, namespace: zoo, uid: 6b3b3c3e-0000-4000-8000-000000000001}
spec:
  metadata:
    labels: {team: mammals, postgres-operator.crunchydata.com/cluster: spoofed}
    annotations: {owner: keeper}
  postgresVersion: 15
  instances:
  - name: instance1
    metadata: {labels: {team: hippos}}
    dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  backups: {pgbackrest: {repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]}}
",
        )
        .expect("valid")
    }

    #[test]
    fn ours_win_then_component_then_cluster() {
        let cluster = hippo();
        let set = cluster.spec.instances[0].metadata.as_ref();
        let meta = owned_by(
            &cluster,
            "hippo-instance1-x2bc".into(),
            set,
            labels::cluster("hippo"),
        );
        let labels = meta.labels.unwrap();
        assert_eq!(labels[labels::CLUSTER], "hippo");
        assert_eq!(labels["team"], "hippos");
        assert_eq!(meta.annotations.unwrap()["owner"], "keeper");
        assert_eq!(meta.namespace.as_deref(), Some("zoo"));
    }

    #[test]
    fn the_cluster_is_the_controller_owner() {
        let meta = owned_by(
            &hippo(),
            "hippo-primary".into(),
            None,
            labels::cluster("hippo"),
        );
        let owner = &meta.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("PostgresCluster", "hippo")
        );
        assert_eq!(
            owner.api_version,
            "postgres-operator.crunchydata.com/v1beta1"
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
    }
}
