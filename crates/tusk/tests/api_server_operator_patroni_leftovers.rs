//! A cluster created where an earlier cluster of the same name left Patroni's DCS Endpoints behind (Patroni
//! wrote them again while its pods were stopping): the operator deletes those older than the cluster, so the
//! new Patroni bootstraps instead of waiting for the old leader forever; Patroni Endpoints made after the
//! cluster are its own and stay, and Endpoints without Patroni's scope label are never touched.

mod common;

use common::operator::{create, eventually, hippo};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;

const NAMESPACE: &str = "zoo";

fn endpoints(name: &str, patroni: bool) -> Endpoints {
    let mut labels = BTreeMap::from([(
        "postgres-operator.crunchydata.com/cluster".to_string(),
        "hippo".to_string(),
    )]);
    if patroni {
        labels.insert(
            "postgres-operator.crunchydata.com/patroni".into(),
            "hippo-ha".into(),
        );
    }
    Endpoints {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "initialize".to_string(),
                "7400000000000000000".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        ..Endpoints::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_clusters_patroni_endpoints_are_forgotten() {
    let plane = common::api_server::control_plane_with_crd().await;
    common::api_server::postgresclusters(&plane, NAMESPACE).await;
    let client = plane.client().await.expect("an admin client");
    let all: Api<Endpoints> = Api::namespaced(client.clone(), NAMESPACE);
    for (name, patroni) in [
        ("hippo-ha", true),
        ("hippo-ha-config", true),
        ("unrelated", false),
    ] {
        all.create(&PostParams::default(), &endpoints(name, patroni))
            .await
            .expect("stale Endpoints");
    }
    let operator = tokio::spawn(tusk::controller::run(client.clone(), Some(NAMESPACE)));
    let clusters: Api<PostgresCluster> = Api::namespaced(client.clone(), NAMESPACE);
    create(&clusters, &hippo()).await;

    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("an instance StatefulSet exists", || async {
        statefulsets
            .list(&ListParams::default().labels("postgres-operator.crunchydata.com/instance-set"))
            .await
            .is_ok_and(|list| !list.items.is_empty())
    })
    .await;
    for name in ["hippo-ha", "hippo-ha-config"] {
        assert!(
            all.get_opt(name).await.unwrap().is_none(),
            "{name} of the earlier cluster is gone"
        );
    }
    assert!(
        all.get_opt("unrelated").await.unwrap().is_some(),
        "Endpoints without Patroni's scope label stay"
    );

    // The new Patroni writes its DCS (after the cluster was made: creation times have whole seconds); later
    // reconciles leave it alone.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    all.create(&PostParams::default(), &endpoints("hippo-ha-config", true))
        .await
        .expect("Patroni's Endpoints");
    let patch = serde_json::json!({"spec": {"metadata": {"annotations": {"touched": "yes"}}}});
    let touched = clusters
        .patch("hippo", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("a spec change");
    let generation = touched.metadata.generation;
    eventually("the operator reconciled the change", || async {
        clusters
            .get("hippo")
            .await
            .ok()
            .and_then(|c| c.status)
            .and_then(|s| s.observed_generation)
            == generation
    })
    .await;
    assert!(
        all.get_opt("hippo-ha-config").await.unwrap().is_some(),
        "a running cluster's DCS is kept"
    );
    operator.abort();
}
