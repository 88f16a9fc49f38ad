//! Every object the operator makes for a cluster is owned by it, so deleting the cluster collects them all:
//! for each kind the builders produce (taken from `tusk render`, so a new kind is covered without editing
//! this test), plus the Endpoints of `hippo-primary`, every object labelled with the cluster carries exactly
//! one controller owner reference, to the cluster, with `blockOwnerDeletion`; and every object exists.

mod common;

use common::operator::{create, eventually, hippo};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{GroupVersionKind, PartialObjectMeta};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;

const NAMESPACE: &str = "owners";
const CLUSTER: &str = "postgres-operator.crunchydata.com/cluster";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_of_a_cluster_is_owned_by_it() {
    let running = common::operator::start(NAMESPACE).await;
    let (client, clusters) = (running.client.clone(), running.clusters.clone());
    let hippo = create(&clusters, &hippo()).await;
    let mut expected = kinds_of(&hippo);
    assert!(expected.len() >= 8, "render makes many kinds: {expected:?}");
    // Built by the controller, not the builders: it needs the ClusterIP of `hippo-ha`.
    expected.insert(("v1".into(), "Endpoints".into()), 1);
    // The stanza Jobs are created only once a primary runs, which needs pods (the end-to-end tier); their
    // builder sets the same owner reference as every other (`metadata::owned_by`).
    expected.remove(&("batch/v1".into(), "Job".into()));

    let mut apis = Vec::new();
    for ((api_version, kind), count) in &expected {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, _) = kube::discovery::pinned_kind(&client, &gvk)
            .await
            .unwrap_or_else(|error| panic!("{kind} is served: {error}"));
        let api: Api<PartialObjectMeta<DynamicObject>> =
            Api::namespaced_with(client.clone(), NAMESPACE, &resource);
        apis.push((kind.clone(), *count, api));
    }
    eventually("every object hippo's builders make exists", || async {
        for (_, count, api) in &apis {
            if listed(api).await.len() < *count {
                return false;
            }
        }
        true
    })
    .await;

    let uid = hippo.uid().expect("the API server set a uid");
    let mut checked = 0;
    for (kind, _, api) in &apis {
        for object in listed(api).await {
            let name = object.name_any();
            let controllers: Vec<_> = object
                .owner_references()
                .iter()
                .filter(|owner| owner.controller == Some(true))
                .collect();
            assert_eq!(controllers.len(), 1, "{kind} {name} has one controller");
            let owner = controllers[0];
            assert_eq!(owner.uid, uid, "{kind} {name} is controlled by hippo");
            assert_eq!(owner.kind, "PostgresCluster", "{kind} {name}");
            assert_eq!(
                owner.block_owner_deletion,
                Some(true),
                "{kind} {name} holds back hippo's foreground deletion until it is gone"
            );
            checked += 1;
        }
    }
    println!(
        "{checked} objects of {} kinds are owned by hippo",
        apis.len()
    );
}

/// The kinds of the objects `tusk render` prints for `cluster`, with how many of each.
fn kinds_of(cluster: &PostgresCluster) -> BTreeMap<(String, String), usize> {
    let images = tusk::images::Images::from_environment(std::iter::empty());
    let mut kinds = BTreeMap::new();
    for object in tusk::build::render(cluster, &images)
        .expect("the cluster builds")
        .to_json()
        .into_iter()
        // Objects a cluster shares with its namespace (the root CA) carry no cluster label and no owner.
        .filter(|object| object["metadata"]["labels"][CLUSTER].is_string())
    {
        let key = (
            object["apiVersion"].as_str().unwrap().to_owned(),
            object["kind"].as_str().unwrap().to_owned(),
        );
        *kinds.entry(key).or_insert(0) += 1;
    }
    kinds
}

/// The objects of `api`'s kind that carry hippo's cluster label.
async fn listed(
    api: &Api<PartialObjectMeta<DynamicObject>>,
) -> Vec<PartialObjectMeta<DynamicObject>> {
    api.list(&ListParams::default().labels(&format!("{CLUSTER}=hippo")))
        .await
        .expect("the kind lists")
        .items
}
