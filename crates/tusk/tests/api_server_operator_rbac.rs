//! The operator's RBAC in `deploy/rbac/` is enough: running as its service account (impersonated), the
//! controller builds a cluster's objects, reports status and records events, and the leader election holds its
//! Lease. And it is little: no `pods/exec`, no wildcards, deletes only of the kinds a smaller spec removes (and
//! outdated pods in a rolling update), and
//! Leases only in the operator's namespace. `deploy/install` (namespace, CRD, RBAC, Deployment) applies as is.
//! `deploy/install-single-namespace` (a Role instead of the ClusterRole) is enough for the operator limited to
//! its own namespace, and grants nothing elsewhere.

mod common;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, PostParams};
use std::path::Path;
use std::time::{Duration, Instant};
use tusk::runtime::leader;
use tusk_api::PostgresCluster;

const OPERATOR: &str = "system:serviceaccount:postgres-operator:tusk-operator";
const OPERATOR_GROUPS: [&str; 3] = [
    "system:serviceaccounts",
    "system:serviceaccounts:postgres-operator",
    "system:authenticated",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_needs_no_more_than_its_cluster_role() {
    let plane = common::api_server::control_plane_with_crd().await;
    let clusters: Api<PostgresCluster> =
        common::api_server::typed_postgresclusters(&plane, "zoo").await;
    apply_install(&plane, "install");
    let deployments: Api<Deployment> =
        Api::namespaced(plane.client().await.unwrap(), "postgres-operator");
    assert!(
        deployments
            .get_opt("tusk-operator")
            .await
            .unwrap()
            .is_some(),
        "deploy/install makes the operator's Deployment"
    );

    let operator = plane
        .client_as(OPERATOR, &OPERATOR_GROUPS)
        .await
        .expect("an impersonating client");
    let controller = tokio::spawn(tusk::controller::run(operator.clone(), None));

    // The leader election works as the service account in its namespace, and nowhere else.
    let config = leader::Config::new("postgres-operator", "tusk-operator-0");
    let elector = leader::Elector::new(operator.clone(), config.clone());
    assert_eq!(
        elector
            .try_acquire_or_renew()
            .await
            .expect("may create the Lease"),
        leader::Attempt::Leading
    );
    assert_eq!(
        elector
            .try_acquire_or_renew()
            .await
            .expect("may renew the Lease"),
        leader::Attempt::Leading
    );
    elector.release().await.expect("may release the Lease");
    let elsewhere = leader::Elector::new(
        operator.clone(),
        leader::Config {
            namespace: "zoo".into(),
            ..config
        },
    );
    assert!(
        matches!(elsewhere.try_acquire_or_renew().await, Err(kube::Error::Api(status)) if status.code == 403),
        "no Lease outside the operator's namespace"
    );

    create_hippo_and_broken(&clusters).await;
    built_as_operator(&plane, "zoo").await;
    controller.abort();
}

/// Creates the docs' hippo (two instances) and `broken` (a schedule that is not cron) through `clusters`.
async fn create_hippo_and_broken(clusters: &Api<PostgresCluster>) {
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
}

/// Waits (30 s at most) until the operator made in `namespace` all that [`missing`] looks for.
async fn built_as_operator(plane: &tusk_testenv::ControlPlane, namespace: &str) {
    let client = plane.client().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let missing = missing(&client, namespace).await;
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "as its service account the operator did not make: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `kubectl apply --server-side -k deploy/<install>` on `plane`.
fn apply_install(plane: &tusk_testenv::ControlPlane, install: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(install);
    let applied = plane
        .kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-k"])
        .arg(&path)
        .output()
        .expect("kubectl runs");
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
}

/// `deploy/install-single-namespace`: with a Role and RoleBinding in `postgres-operator` and nothing
/// cluster-wide, the controller limited to that namespace (`PGO_TARGET_NAMESPACE`) still makes every object,
/// status and event there, and cannot read anything of another namespace, whose cluster it leaves alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_namespace_operator_needs_nothing_outside_its_namespace() {
    let plane = common::api_server::control_plane_with_crd().await;
    let elsewhere: Api<PostgresCluster> =
        common::api_server::typed_postgresclusters(&plane, "zoo").await;
    apply_install(&plane, "install-single-namespace");
    let admin = plane.client().await.unwrap();
    let cluster_roles: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> =
        Api::all(admin.clone());
    assert!(
        cluster_roles
            .get_opt("tusk-operator")
            .await
            .unwrap()
            .is_none(),
        "no ClusterRoleBinding in the single-namespace install"
    );

    let operator = plane
        .client_as(OPERATOR, &OPERATOR_GROUPS)
        .await
        .expect("an impersonating client");
    let forbidden = |result: Result<_, kube::Error>| matches!(result, Err(kube::Error::Api(status)) if status.code == 403);
    let everywhere: Api<PostgresCluster> = Api::all(operator.clone());
    assert!(forbidden(
        everywhere.list(&Default::default()).await.map(|_| ())
    ));
    let secrets_elsewhere: Api<Secret> = Api::namespaced(operator.clone(), "zoo");
    assert!(forbidden(
        secrets_elsewhere
            .list(&Default::default())
            .await
            .map(|_| ())
    ));

    let controller = tokio::spawn(tusk::controller::run(
        operator.clone(),
        Some("postgres-operator"),
    ));
    let own: Api<PostgresCluster> = Api::namespaced(admin.clone(), "postgres-operator");
    create_hippo_and_broken(&own).await;
    create_hippo_and_broken(&elsewhere).await;
    built_as_operator(&plane, "postgres-operator").await;
    let services: Api<Service> = Api::namespaced(admin.clone(), "zoo");
    assert!(services.get_opt("hippo-primary").await.unwrap().is_none());
    let untouched = elsewhere.get("hippo").await.unwrap();
    assert!(untouched.status.is_none(), "{:?}", untouched.status);
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
                        "persistentvolumeclaims",
                        "cronjobs",
                        // A databaseInitSQL Job of an earlier version of the SQL (it holds no data).
                        "jobs",
                        // Patroni's DCS of an earlier cluster of the same name, never the cluster's own.
                        "endpoints",
                        // An outdated instance pod in a rolling update; its StatefulSet makes it anew.
                        "pods",
                        // PgBouncer's Service and Deployment, when spec.proxy goes (they hold no data).
                        "services",
                        "deployments"
                    ]
                    .contains(&resource.as_str()),
                    "{resource} is never deleted by Tusk"
                );
            }
        }
    }
}

/// What the operator should have made in `namespace` and has not yet.
async fn missing(client: &kube::Client, namespace: &str) -> Vec<&'static str> {
    let mut missing = Vec::new();
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    if !matches!(services.get_opt("hippo-primary").await, Ok(Some(_))) {
        missing.push("Service hippo-primary");
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if !matches!(secrets.get_opt("hippo-pguser-hippo").await, Ok(Some(_))) {
        missing.push("Secret hippo-pguser-hippo");
    }
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), namespace);
    if !matches!(bindings.get_opt("hippo-instance").await, Ok(Some(_))) {
        missing.push("RoleBinding hippo-instance");
    }
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), namespace);
    if !matches!(budgets.get_opt("hippo-set-instance1").await, Ok(Some(_))) {
        missing.push("PodDisruptionBudget hippo-set-instance1");
    }
    let clusters: Api<PostgresCluster> = Api::namespaced(client.clone(), namespace);
    let reported = clusters
        .get("hippo")
        .await
        .ok()
        .and_then(|c| c.status)
        .and_then(|s| s.observed_generation);
    if reported.is_none() {
        missing.push("status of hippo");
    }
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
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

#[test]
fn the_deployment_runs_as_the_service_account_non_root_with_probes_and_its_identity() {
    let read = |file: &str| {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../deploy")
                .join(file),
        )
        .unwrap()
    };
    let deployment: Deployment = serde_saphyr::from_str(&read("manager/deployment.yaml")).unwrap();
    assert_eq!(
        deployment.metadata.namespace.as_deref(),
        Some("postgres-operator")
    );
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(1));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("tusk-operator"));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    let container = &pod.containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some("localhost/tusk-operator:dev")
    );
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(container.args.as_ref().unwrap()[0], "operator");
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let probe_path = |probe: &Option<k8s_openapi::api::core::v1::Probe>| {
        probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .path
            .clone()
            .unwrap()
    };
    assert_eq!(probe_path(&container.liveness_probe), "/healthz");
    assert_eq!(probe_path(&container.readiness_probe), "/readyz");
    let env = container.env.as_ref().unwrap();
    for (name, field) in [
        ("PGO_NAMESPACE", "metadata.namespace"),
        ("POD_NAME", "metadata.name"),
    ] {
        let var = env
            .iter()
            .find(|var| var.name == name)
            .unwrap_or_else(|| panic!("{name} is set"));
        let from = var.value_from.as_ref().unwrap().field_ref.as_ref().unwrap();
        assert_eq!(from.field_path, field, "{name}");
    }

    // The service account is the one the bindings name, in the same namespace.
    let account = read("rbac/service-account.yaml");
    assert!(
        account.contains("name: tusk-operator\n  namespace: postgres-operator\n"),
        "{account}"
    );
    // Leases: only in the operator's namespace, and only create, get and update.
    let documents = read("rbac/leader-election.yaml");
    let role: k8s_openapi::api::rbac::v1::Role =
        serde_saphyr::from_str(documents.split("\n---\n").next().unwrap()).unwrap();
    assert_eq!(
        role.metadata.namespace.as_deref(),
        Some("postgres-operator")
    );
    for rule in role.rules.unwrap() {
        assert_eq!(rule.resources.unwrap(), ["leases"]);
        assert_eq!(rule.api_groups.unwrap(), ["coordination.k8s.io"]);
        assert!(
            rule.verbs
                .iter()
                .all(|verb| ["create", "get", "update"].contains(&verb.as_str()))
        );
    }
}
