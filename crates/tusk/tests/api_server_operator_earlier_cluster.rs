//! A cluster created again under the name of a deleted one whose objects are not collected yet: the earlier
//! cluster's data volume (labelled like an instance of the new one, but controlled by the old cluster) is not
//! taken for an instance of the new cluster, and is left alone.

mod common;

use common::operator::{create, eventually, hippo};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use tusk_api::PostgresCluster;

const NAMESPACE: &str = "again";
const EARLIER_INSTANCE: &str = "hippo-instance1-zzzz";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_clusters_volume_is_not_an_instance() {
    let plane = common::api_server::control_plane_with_crd().await;
    common::api_server::postgresclusters(&plane, NAMESPACE).await;
    let client = plane.client().await.expect("an admin client");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NAMESPACE);
    leave_earlier_volume(&client).await;

    let operator = tokio::spawn(tusk::controller::run(client.clone(), Some(NAMESPACE)));
    let clusters: Api<PostgresCluster> = Api::namespaced(client.clone(), NAMESPACE);
    let hippo = create(&clusters, &hippo()).await;
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    let of_set = ListParams::default().labels(
        "postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance-set=instance1",
    );
    eventually("hippo has its instance", || async {
        !statefulsets.list(&of_set).await.unwrap().items.is_empty()
    })
    .await;
    let names: Vec<String> = statefulsets
        .list(&of_set)
        .await
        .unwrap()
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(names.len(), 1, "one instance: {names:?}");
    assert_ne!(
        names[0], EARLIER_INSTANCE,
        "the earlier cluster's volume does not name an instance of the new one"
    );
    let earlier = claims
        .get(&format!("{EARLIER_INSTANCE}-pgdata"))
        .await
        .expect("the earlier volume is left alone");
    assert_ne!(
        earlier.owner_references()[0].uid,
        hippo.uid().unwrap(),
        "the new cluster did not adopt it"
    );
    operator.abort();
}

/// A data volume of an instance of an earlier `hippo`, controlled by that (deleted) cluster.
async fn leave_earlier_volume(client: &Client) {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NAMESPACE);
    let claim: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": format!("{EARLIER_INSTANCE}-pgdata"),
            "labels": {
                "postgres-operator.crunchydata.com/cluster": "hippo",
                "postgres-operator.crunchydata.com/instance-set": "instance1",
                "postgres-operator.crunchydata.com/instance": EARLIER_INSTANCE,
                "postgres-operator.crunchydata.com/role": "pgdata",
                "postgres-operator.crunchydata.com/data": "postgres",
            },
            "ownerReferences": [{
                "apiVersion": "postgres-operator.crunchydata.com/v1beta1",
                "kind": "PostgresCluster",
                "name": "hippo",
                "uid": "00000000-0000-0000-0000-000000000001",
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }))
    .unwrap();
    claims
        .create(&PostParams::default(), &claim)
        .await
        .expect("the earlier volume is created");
}
