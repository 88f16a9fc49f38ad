//! One cluster Tusk cannot read never stalls the others: with a newer CRD installed (here, ours plus a field
//! Tusk does not know), a cluster that uses the new field gets an `InvalidSpec` event and a `SpecValid=False`
//! condition saying why, and a cluster created after it is still reconciled.

mod common;

use common::operator::{create, eventually, hippo};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DynamicObject, PostParams};
use tusk_api::PostgresCluster;

const NAMESPACE: &str = "zoo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_cluster_is_reported_and_stalls_no_other() {
    let plane = common::api_server::control_plane_with_crd().await;
    let mut newer = tusk_api::crd::crd();
    let spec = &mut newer.spec.versions[0]
        .schema
        .as_mut()
        .and_then(|s| s.open_api_v3_schema.as_mut())
        .and_then(|s| s.properties.as_mut())
        .expect("a schema")
        .get_mut("spec")
        .expect("spec");
    let field: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps =
        serde_json::from_value(serde_json::json!({"type": "string"})).unwrap();
    spec.properties
        .as_mut()
        .expect("spec properties")
        .insert("fieldFromTheFuture".into(), field);
    common::api_server::install_crd(&plane, &newer).await;
    let untyped = common::api_server::postgresclusters(&plane, NAMESPACE).await;
    let client = plane.client().await.expect("an admin client");
    let operator = tokio::spawn(tusk::controller::run(client.clone(), Some(NAMESPACE)));

    let mut future: serde_json::Value =
        serde_saphyr::from_str(&hippo().replace("name: hippo", "name: future")).unwrap();
    future["spec"]["fieldFromTheFuture"] = "yes".into();
    let future: DynamicObject = serde_json::from_value(future).unwrap();
    untyped
        .create(&PostParams::default(), &future)
        .await
        .expect("the newer CRD accepts the field");
    let clusters: Api<PostgresCluster> = Api::namespaced(client.clone(), NAMESPACE);
    create(&clusters, &hippo()).await;

    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("hippo is reconciled", || async {
        matches!(services.get_opt("hippo-primary").await, Ok(Some(_)))
    })
    .await;
    let events: Api<Event> = Api::namespaced(client.clone(), NAMESPACE);
    eventually(
        "an InvalidSpec event names future and the field",
        || async {
            let listed = events.list(&Default::default()).await.unwrap();
            listed.items.iter().any(|event| {
                event.reason.as_deref() == Some("InvalidSpec")
                    && event.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("future")
                    && event
                        .note
                        .as_deref()
                        .is_some_and(|n| n.contains("fieldFromTheFuture"))
            })
        },
    )
    .await;
    let status = untyped.get("future").await.unwrap().data["status"].clone();
    let condition = &status["conditions"][0];
    assert_eq!(condition["type"], "SpecValid");
    assert_eq!(condition["status"], "False");
    assert_eq!(condition["reason"], "UnreadableSpec");
    assert!(
        services.get_opt("future-primary").await.unwrap().is_none(),
        "nothing is applied for a cluster Tusk cannot read"
    );
    operator.abort();
}
