//! The operator's ClusterRole in `deploy/rbac/` is enough: running as its service account (impersonated), the
//! controller builds a cluster's objects, reports status and records events. And it is little: no `pods/exec`,
//! no wildcards, and deletes only of the kinds a smaller spec removes.

mod common;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, PostParams};
use std::path::Path;
use std::time::{Duration, Instant};
use tusk_api::PostgresCluster;

const OPERATOR: &str = "system:serviceaccount:tusk-system:tusk-operator";
const OPERATOR_GROUPS: [&str; 3] = [
    "system:serviceaccounts",
    "system:serviceaccounts:tusk-system",
    "system:authenticated",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_needs_no_more_than_its_cluster_role() {
    let plane = common::api_server::control_plane_with_crd().await;
    common::api_server::postgresclusters(&plane, "tusk-system").await;
    let clusters: Api<PostgresCluster> =
        common::api_server::typed_postgresclusters(&plane, "zoo").await;
    let rbac = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rbac");
    let applied = plane
        .kubectl()
        .args(["apply", "-f"])
        .arg(&rbac)
        .output()
        .expect("kubectl runs");
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );

    let operator = plane
        .client_as(OPERATOR, &OPERATOR_GROUPS)
        .await
        .expect("an impersonating client");
    let controller = tokio::spawn(tusk::controller::run(operator, None));

    let hippo = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hippo/postgres.yaml"),
    )
    .unwrap()
    .replace(
        "    - name: instance1\n",
        "    - name: instance1\n      replicas: 2\n",
    );
    let broken = hippo.replace("name: hippo", "name: broken").replace(
        "name: repo1",
        "name: repo1\n        schedules: {full: \"every day\"}",
    );
    for manifest in [&hippo, &broken] {
        let cluster: PostgresCluster = serde_saphyr::from_str(manifest).unwrap();
        clusters
            .create(&PostParams::default(), &cluster)
            .await
            .expect("created");
    }

    let client = plane.client().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let missing = missing(&client).await;
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "as its service account the operator did not make: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    controller.abort();
}

#[test]
fn the_cluster_role_grants_no_exec_no_wildcard_and_deletes_only_what_a_smaller_spec_removes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rbac/cluster-role.yaml");
    let role: k8s_openapi::api::rbac::v1::ClusterRole =
        serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for rule in role.rules.unwrap() {
        let resources = rule.resources.unwrap_or_default();
        assert!(
            !resources
                .iter()
                .any(|r| r.contains("exec") || r.contains("attach") || r == "*"),
            "{resources:?}"
        );
        assert!(
            !rule
                .verbs
                .iter()
                .any(|verb| verb == "*" || verb == "escalate" || verb == "bind"),
            "{:?}",
            rule.verbs
        );
        if rule.verbs.iter().any(|verb| verb == "delete") {
            for resource in &resources {
                assert!(
                    [
                        "poddisruptionbudgets",
                        "statefulsets",
                        "configmaps",
                        "secrets",
                        "persistentvolumeclaims"
                    ]
                    .contains(&resource.as_str()),
                    "{resource} is never deleted by Tusk"
                );
            }
        }
    }
}

/// What the operator should have made in `zoo` and has not yet.
async fn missing(client: &kube::Client) -> Vec<&'static str> {
    let mut missing = Vec::new();
    let services: Api<Service> = Api::namespaced(client.clone(), "zoo");
    if !matches!(services.get_opt("hippo-primary").await, Ok(Some(_))) {
        missing.push("Service hippo-primary");
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "zoo");
    if !matches!(secrets.get_opt("hippo-pguser-hippo").await, Ok(Some(_))) {
        missing.push("Secret hippo-pguser-hippo");
    }
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), "zoo");
    if !matches!(bindings.get_opt("hippo-instance").await, Ok(Some(_))) {
        missing.push("RoleBinding hippo-instance");
    }
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "zoo");
    if !matches!(budgets.get_opt("hippo-set-instance1").await, Ok(Some(_))) {
        missing.push("PodDisruptionBudget hippo-set-instance1");
    }
    let clusters: Api<PostgresCluster> = Api::namespaced(client.clone(), "zoo");
    let reported = clusters
        .get("hippo")
        .await
        .ok()
        .and_then(|c| c.status)
        .and_then(|s| s.observed_generation);
    if reported.is_none() {
        missing.push("status of hippo");
    }
    let events: Api<Event> = Api::namespaced(client.clone(), "zoo");
    let listed = events
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    if !listed
        .iter()
        .any(|event| event.reason.as_deref() == Some("InvalidSpec"))
    {
        missing.push("InvalidSpec event of broken");
    }
    missing
}
