//! The operator against a real API server: it creates the docs' hippo cluster's Services with PGO's names and
//! owner references, points `hippo-primary` at the leader Service, heals deleted and hand-edited objects, reports
//! a valid spec in status, keeps the user Secret's custom password, adds and removes an instance set's
//! disruption budget as it scales, removes the Secret of a user removed from the spec; a cluster whose spec is
//! invalid gets a condition and an Event naming the field, no objects, and stalls no other cluster.

mod common;

use common::operator::{create, eventually, heals_deletion, hippo};
use k8s_openapi::api::core::v1::{Endpoints, Secret, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use tusk_api::PostgresCluster;
use tusk_api::status::Condition;

const NAMESPACE: &str = "zoo";
/// The docs' Custom Passwords verifier, for the password `datalake`.
const DATALAKE: &str = "SCRAM-SHA-256$4096:FAnSkUrL3jH6Bp17P5FTuQ==$BecLU0YXzBUwnTk3b3ghIZ7/zS2XvD8wX50Hz5JL0q4=:pxuEtozYTZpAc6wINV53sCr4Afxk8LLfor5MvkYp21s=";
const SERVICES: [&str; 5] = [
    "hippo-ha",
    "hippo-ha-config",
    "hippo-primary",
    "hippo-replicas",
    "hippo-pods",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_and_heals_the_hippo_services() {
    let plane = common::api_server::control_plane_with_crd().await;
    common::api_server::postgresclusters(&plane, NAMESPACE).await;
    let client = plane.client().await.expect("an admin client");
    let operator = tokio::spawn(tusk::controller::run(client.clone(), Some(NAMESPACE)));

    let clusters: Api<PostgresCluster> = Api::namespaced(client.clone(), NAMESPACE);
    let broken = hippo().replace("name: hippo", "name: broken").replace(
        "      - name: repo1\n",
        "      - name: repo1\n        schedules:\n          full: \"61 * * * *\"\n",
    );
    create(&clusters, &broken).await;
    let hippo = create(&clusters, &hippo()).await;

    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    let took = eventually("every hippo Service exists", || all_exist(&services)).await;
    println!("the five hippo Services existed {took:.2?} after the cluster was created");
    for name in SERVICES {
        let service = services.get(name).await.unwrap();
        let owner = &service.owner_references()[0];
        assert_eq!(owner.uid, hippo.uid().unwrap(), "{name} is owned by hippo");
        assert_eq!(
            owner.controller,
            Some(true),
            "{name} is controlled by hippo"
        );
        assert_eq!(
            service.labels()["postgres-operator.crunchydata.com/cluster"],
            "hippo"
        );
    }

    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), NAMESPACE);
    let roles: Api<Role> = Api::namespaced(client.clone(), NAMESPACE);
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("Patroni's account, Role and RoleBinding exist", || async {
        matches!(accounts.get_opt("hippo-instance").await, Ok(Some(_)))
            && matches!(roles.get_opt("hippo-instance").await, Ok(Some(_)))
            && matches!(bindings.get_opt("hippo-instance").await, Ok(Some(_)))
    })
    .await;
    let took = heals_deletion(&bindings, "hippo-instance").await;
    println!("a deleted hippo-instance RoleBinding was back after {took:.2?}");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("the user's Secret exists", || async {
        matches!(secrets.get_opt("hippo-pguser-hippo").await, Ok(Some(_)))
    })
    .await;
    let took = heals_deletion(&secrets, "hippo-pguser-hippo").await;
    println!("a deleted hippo-pguser-hippo Secret was back after {took:.2?}");

    let leader_ip = services
        .get("hippo-ha")
        .await
        .unwrap()
        .spec
        .unwrap()
        .cluster_ip
        .unwrap();
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("hippo-primary points at hippo-ha", || async {
        let primary = endpoints.get_opt("hippo-primary").await.ok().flatten();
        let ip = primary
            .and_then(|e| e.subsets)
            .and_then(|s| s[0].addresses.clone())
            .map(|a| a[0].ip.clone());
        ip.as_deref() == Some(leader_ip.as_str())
    })
    .await;

    let took = heals_deletion(&services, "hippo-primary").await;
    println!("a deleted hippo-primary was back after {took:.2?}");

    let edit = serde_json::json!({"spec": {"selector": {"app": "impostor"}}});
    services
        .patch(
            "hippo-replicas",
            &PatchParams::default(),
            &Patch::Merge(&edit),
        )
        .await
        .unwrap();
    let took = eventually("a hand-edited selector is restored", || async {
        let selector = services
            .get("hippo-replicas")
            .await
            .unwrap()
            .spec
            .unwrap()
            .selector
            .unwrap_or_default();
        selector
            .get("postgres-operator.crunchydata.com/role")
            .map(String::as_str)
            == Some("replica")
            && !selector.contains_key("app")
    })
    .await;
    println!("a hand-edited hippo-replicas selector was restored after {took:.2?}");

    eventually("hippo reports a valid spec for its generation", || async {
        let (valid, generation) = spec_valid(&clusters, "hippo").await;
        valid.is_some_and(|c| c.reason == "Valid") && generation == hippo.metadata.generation
    })
    .await;
    eventually("broken reports its invalid field in status", || async {
        let (valid, _) = spec_valid(&clusters, "broken").await;
        valid.is_some_and(|c| {
            c.reason == "InvalidSpec"
                && c.message
                    .contains("spec.backups.pgbackrest.repos[0].schedules.full")
        })
    })
    .await;
    let events: Api<Event> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("an InvalidSpec event names broken", || async {
        let listed = events.list(&Default::default()).await.unwrap();
        listed.items.iter().any(|event| {
            event.reason.as_deref() == Some("InvalidSpec")
                && event.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("broken")
        })
    })
    .await;

    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("hippo-pguser-hippo holds the docs' keys", || async {
        let secret = secrets.get_opt("hippo-pguser-hippo").await.ok().flatten();
        let keys: Vec<String> = secret
            .and_then(|s| s.data)
            .map(|d| d.into_keys().collect())
            .unwrap_or_default();
        keys == [
            "dbname", "host", "jdbc-uri", "password", "port", "uri", "user", "verifier",
        ]
    })
    .await;
    let custom = serde_json::json!({"stringData": {"password": "datalake", "verifier": DATALAKE}});
    secrets
        .patch(
            "hippo-pguser-hippo",
            &PatchParams::default(),
            &Patch::Merge(&custom),
        )
        .await
        .unwrap();
    eventually("the uri follows the custom password", || async {
        let data = secrets
            .get("hippo-pguser-hippo")
            .await
            .unwrap()
            .data
            .unwrap();
        String::from_utf8_lossy(&data["uri"].0).contains(":datalake@")
    })
    .await;
    let kept = secrets
        .get("hippo-pguser-hippo")
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(kept["password"].0, b"datalake", "a custom password is kept");
    assert_eq!(
        kept["verifier"].0,
        DATALAKE.as_bytes(),
        "a custom verifier is kept"
    );

    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), NAMESPACE);
    assert!(
        budgets
            .get_opt("hippo-set-instance1")
            .await
            .unwrap()
            .is_none(),
        "one instance needs no budget"
    );
    let scale = |replicas: i32| {
        serde_json::json!({"spec": {"instances": [{"name": "instance1", "replicas": replicas,
        "dataVolumeClaimSpec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}})
    };
    clusters
        .patch("hippo", &PatchParams::default(), &Patch::Merge(&scale(2)))
        .await
        .unwrap();
    eventually("two instances get a disruption budget", || async {
        matches!(budgets.get_opt("hippo-set-instance1").await, Ok(Some(_)))
    })
    .await;
    clusters
        .patch("hippo", &PatchParams::default(), &Patch::Merge(&scale(1)))
        .await
        .unwrap();
    eventually("back to one instance, the budget is removed", || async {
        matches!(budgets.get_opt("hippo-set-instance1").await, Ok(None))
    })
    .await;

    let users = serde_json::json!({"spec": {"users": [{"name": "rhino", "databases": ["zoo"]}]}});
    clusters
        .patch("hippo", &PatchParams::default(), &Patch::Merge(&users))
        .await
        .unwrap();
    eventually(
        "rhino gets a Secret and the default user's goes, as with PGO",
        || async {
            matches!(secrets.get_opt("hippo-pguser-rhino").await, Ok(Some(_)))
                && matches!(secrets.get_opt("hippo-pguser-hippo").await, Ok(None))
        },
    )
    .await;

    let of_broken = services.list(&Default::default()).await.unwrap();
    assert!(
        of_broken
            .items
            .iter()
            .all(|s| !s.name_any().starts_with("broken-")),
        "an invalid cluster gets no objects"
    );
    operator.abort();
}

async fn all_exist(services: &Api<Service>) -> bool {
    for name in SERVICES {
        if !matches!(services.get_opt(name).await, Ok(Some(_))) {
            return false;
        }
    }
    true
}

/// The `SpecValid` condition of cluster `name`, and the generation its status describes.
async fn spec_valid(
    clusters: &Api<PostgresCluster>,
    name: &str,
) -> (Option<Condition>, Option<i64>) {
    let status = clusters.get(name).await.unwrap().status.unwrap_or_default();
    let valid = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "SpecValid");
    (valid, status.observed_generation)
}
