//! The operator's instances against a real API server: the docs' hippo gets one StatefulSet
//! `hippo-instance1-<4 chars>` with its data volume and Patroni ConfigMaps, all owned by the cluster; a deleted
//! StatefulSet comes back under the same name (its volume names it); scaling 1 → 3 → 2 adds and removes whole
//! instances and keeps a removed instance's volume unless another instance leads; an added and then removed
//! instance set comes and goes; new resources reach the pod template; shutdown scales to zero and back.

mod common;

use common::operator::{create, eventually, heals_deletion, hippo};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use std::collections::BTreeSet;
use tusk_api::PostgresCluster;

const NAMESPACE: &str = "zoo";
const CLUSTER: &str = "postgres-operator.crunchydata.com/cluster";
const INSTANCE: &str = "postgres-operator.crunchydata.com/instance";
const INSTANCE_SET: &str = "postgres-operator.crunchydata.com/instance-set";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_are_built_healed_scaled_and_shut_down() {
    let running = common::operator::start(NAMESPACE).await;
    let (client, clusters) = (running.client.clone(), running.clusters.clone());
    let hippo = create(&clusters, &hippo()).await;
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NAMESPACE);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);

    let took = eventually("hippo has one instance", || async {
        instances(&statefulsets, "instance1").await.len() == 1
    })
    .await;
    println!("hippo's instance StatefulSet existed {took:.2?} after the cluster was created");
    let first = instances(&statefulsets, "instance1").await.remove(0);
    let suffix = first
        .strip_prefix("hippo-instance1-")
        .expect("PGO's instance name");
    assert!(tusk::naming::names::is_instance_suffix(suffix), "{first}");
    let statefulset = statefulsets.get(&first).await.unwrap();
    assert_eq!(statefulset.owner_references()[0].uid, hippo.uid().unwrap());
    assert_eq!(statefulset.labels()[INSTANCE], first);
    let pod = statefulset.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.containers[0].name, "database");
    assert_eq!(pod.service_account_name.as_deref(), Some("hippo-instance"));
    for (api_name, name) in [
        ("PersistentVolumeClaim", format!("{first}-pgdata")),
        ("ConfigMap", format!("{first}-config")),
        ("ConfigMap", "hippo-config".to_string()),
    ] {
        let owners = if api_name == "ConfigMap" {
            config_maps
                .get(&name)
                .await
                .map(|o| o.owner_references().to_vec())
        } else {
            claims
                .get(&name)
                .await
                .map(|o| o.owner_references().to_vec())
        };
        let owners = owners.unwrap_or_else(|_| panic!("{api_name} {name} exists"));
        assert_eq!(
            owners[0].uid,
            hippo.uid().unwrap(),
            "{name} is owned by hippo"
        );
    }

    eventually(
        "status counts the set's pods and says none is ready",
        || async {
            let status = clusters
                .get("hippo")
                .await
                .unwrap()
                .status
                .unwrap_or_default();
            let ready = status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.type_ == "InstancesReady");
            let sets = status.instances.unwrap_or_default();
            ready.is_some_and(|c| c.reason == "NotReady" && c.message == "instance1: 0/1 ready")
                && sets.len() == 1
                && sets[0].name == "instance1"
        },
    )
    .await;
    let events: Api<Event> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("an InstanceCreated event names the instance", || async {
        let listed = events.list(&Default::default()).await.unwrap();
        listed.items.iter().any(|event| {
            event.reason.as_deref() == Some("InstanceCreated")
                && event
                    .note
                    .as_deref()
                    .is_some_and(|note| note.contains(&first))
        })
    })
    .await;

    let took = heals_deletion(&statefulsets, &first).await;
    println!("a deleted instance StatefulSet was back, same name, after {took:.2?}");

    patch_spec(
        &clusters,
        serde_json::json!({"instances": [set("instance1", 3, None)]}),
    )
    .await;
    eventually("three instances", || async {
        instances(&statefulsets, "instance1").await.len() == 3
    })
    .await;
    let three = instances(&statefulsets, "instance1").await;
    assert!(
        three.contains(&first),
        "scaling up keeps the first instance"
    );

    patch_spec(
        &clusters,
        serde_json::json!({"instances": [set("instance1", 2, None)]}),
    )
    .await;
    eventually("two instances", || async {
        instances(&statefulsets, "instance1").await.len() == 2
    })
    .await;
    let two = instances(&statefulsets, "instance1").await;
    let removed: Vec<&String> = three.iter().filter(|i| !two.contains(i)).collect();
    assert_eq!(removed.len(), 1);
    let removed = removed[0].clone();
    assert!(
        claims
            .get_opt(&format!("{removed}-pgdata"))
            .await
            .unwrap()
            .is_some(),
        "with no instance known to lead, a removed instance's volume is kept"
    );
    assert!(
        config_maps
            .get_opt(&format!("{removed}-config"))
            .await
            .unwrap()
            .is_none(),
        "a removed instance's configuration goes"
    );

    // Patroni marks the leader's pod; with one marked, the removed instance's volume may go.
    let leader = &two[0];
    mark_leader(&client, leader).await;
    touch(&clusters).await;
    eventually("the removed instance's volume is deleted", || async {
        claims
            .get_opt(&format!("{removed}-pgdata"))
            .await
            .unwrap()
            .is_none_or(|claim| claim.metadata.deletion_timestamp.is_some())
    })
    .await;
    assert!(
        claims
            .get_opt(&format!("{leader}-pgdata"))
            .await
            .unwrap()
            .is_some(),
        "the leader's volume stays"
    );

    patch_spec(
        &clusters,
        serde_json::json!({"instances": [set("instance1", 2, None), set("analytics", 1, None)]}),
    )
    .await;
    eventually("an added set gets its instance", || async {
        instances(&statefulsets, "analytics").await.len() == 1
    })
    .await;
    patch_spec(
        &clusters,
        serde_json::json!({"instances": [set("instance1", 2, None)]}),
    )
    .await;
    eventually("a removed set's instance goes", || async {
        instances(&statefulsets, "analytics").await.is_empty()
    })
    .await;

    let resources = serde_json::json!({"limits": {"cpu": "2", "memory": "4Gi"}});
    patch_spec(
        &clusters,
        serde_json::json!({"instances": [set("instance1", 2, Some(resources))]}),
    )
    .await;
    eventually("new resources reach every pod template", || async {
        let listed = statefulsets.list(&of_set("instance1")).await.unwrap().items;
        listed.len() == 2
            && listed.iter().all(|s| {
                let template = s.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
                let limits = template.containers[0]
                    .resources
                    .as_ref()
                    .and_then(|r| r.limits.clone())
                    .unwrap_or_default();
                limits.get("memory").map(|q| q.0.as_str()) == Some("4Gi")
            })
    })
    .await;

    patch_spec(&clusters, serde_json::json!({"shutdown": true})).await;
    eventually("shutdown scales every instance to zero", || async {
        replicas(&statefulsets).await == [0, 0]
    })
    .await;
    patch_spec(&clusters, serde_json::json!({"shutdown": false})).await;
    eventually("and back to one pod each", || async {
        replicas(&statefulsets).await == [1, 1]
    })
    .await;
    assert_eq!(
        instances(&statefulsets, "instance1").await,
        two,
        "shutting down and starting again keeps the same instances"
    );
}

fn set(name: &str, replicas: i32, resources: Option<serde_json::Value>) -> serde_json::Value {
    let mut set = serde_json::json!({
        "name": name,
        "replicas": replicas,
        "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    });
    if let Some(resources) = resources {
        set["resources"] = resources;
    }
    set
}

async fn patch_spec(clusters: &Api<PostgresCluster>, spec: serde_json::Value) {
    clusters
        .patch(
            "hippo",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({ "spec": spec })),
        )
        .await
        .expect("the spec is patched");
}

/// Changes an annotation so the operator reconciles now, as a pod's role change would make it.
async fn touch(clusters: &Api<PostgresCluster>) {
    let annotation = serde_json::json!({"metadata": {"annotations": {"test/touched": "1"}}});
    clusters
        .patch("hippo", &PatchParams::default(), &Patch::Merge(&annotation))
        .await
        .expect("annotated");
}

fn of_set(set: &str) -> ListParams {
    ListParams::default().labels(&format!("{CLUSTER}=hippo,{INSTANCE_SET}={set}"))
}

/// The instance StatefulSets of `set`, by name.
async fn instances(statefulsets: &Api<StatefulSet>, set: &str) -> Vec<String> {
    let names: BTreeSet<String> = statefulsets
        .list(&of_set(set))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|s| s.metadata.deletion_timestamp.is_none())
        .map(ResourceExt::name_any)
        .collect();
    names.into_iter().collect()
}

async fn replicas(statefulsets: &Api<StatefulSet>) -> Vec<i32> {
    statefulsets
        .list(&of_set("instance1"))
        .await
        .unwrap()
        .items
        .iter()
        .filter_map(|s| s.spec.as_ref().and_then(|spec| spec.replicas))
        .collect()
}

/// Creates the pod of `instance` labelled as Patroni labels its leader (no kubelet runs it here).
async fn mark_leader(client: &Client, instance: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": format!("{instance}-0"),
            "labels": {
                CLUSTER: "hippo",
                INSTANCE_SET: "instance1",
                INSTANCE: instance,
                "postgres-operator.crunchydata.com/role": "master",
            },
        },
        "spec": {
            "serviceAccountName": "hippo-instance",
            "containers": [{"name": "database", "image": "localhost/tusk-postgres:dev"}],
        },
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("the leader's pod is created");
}
