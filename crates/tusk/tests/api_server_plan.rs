//! `tusk plan` against a real API server with the operator running: the docs' hippo, once the operator made
//! its objects, previews as no change; more CPU for its instances previews as a rolling restart of its
//! instance; a new user as a new Secret (and, as PGO does, the default user's Secret going); a second volume
//! repository as a new volume. The preview writes nothing.

mod common;

use common::operator::{create, eventually, hippo};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use tusk::changes::{Action, Change};
use tusk::controller::preview::preview;
use tusk::images::Images;
use tusk_api::PostgresCluster;

const NAMESPACE: &str = "plan";

fn with(manifest: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PostgresCluster {
    let cluster: PostgresCluster = serde_saphyr::from_str(manifest).expect("a PostgresCluster");
    let mut value = serde_json::to_value(&cluster).expect("JSON");
    edit(&mut value);
    serde_json::from_value(value).expect("still a PostgresCluster")
}

fn names(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            let sign = match c.action {
                Action::Create => '+',
                Action::Update(_) => '~',
                Action::Delete => '-',
            };
            format!("{sign} {} {}", c.kind, c.name)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_previews_restarts_users_and_volumes_without_writing() {
    let running = common::operator::start(NAMESPACE).await;
    let client = running.client.clone();
    let created = create(&running.clusters, &hippo()).await;
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    eventually("hippo's instance and user Secret exist", || async {
        let sets = statefulsets
            .list(&ListParams::default())
            .await
            .map(|l| l.items.len());
        let user = secrets.get_opt("hippo-pguser-hippo").await.ok().flatten();
        sets.is_ok_and(|n| n >= 1) && user.is_some()
    })
    .await;
    // Let the operator finish its first rounds (status, Endpoints) before comparing.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let images = Images::from_environment(std::iter::empty());

    let same = preview(&client, NAMESPACE, &with(&hippo(), |_| {}), &images)
        .await
        .expect("a preview");
    assert!(same.exists);
    assert!(
        same.changes.is_empty(),
        "the applied spec previews as no change: {:?}",
        same.changes
    );

    let more_cpu = with(&hippo(), |c| {
        c["spec"]["instances"][0]["resources"] = serde_json::json!({"limits": {"cpu": "2"}});
    });
    let restart = preview(&client, NAMESPACE, &more_cpu, &images)
        .await
        .expect("a preview");
    let instance = statefulsets
        .list(&ListParams::default().labels("postgres-operator.crunchydata.com/instance"))
        .await
        .expect("instances")
        .items[0]
        .name_any();
    assert_eq!(
        names(&restart.changes),
        [format!("~ StatefulSet {instance}")],
        "{:?}",
        restart.changes
    );
    let consequence = restart.changes[0].consequence(None).expect("a consequence");
    assert!(consequence.starts_with("rolling restart"), "{consequence}");
    let Action::Update(paths) = &restart.changes[0].action else {
        unreachable!()
    };
    assert_eq!(
        paths,
        &["spec.template.spec.containers[database].resources.limits"]
    );

    let rhino = with(&hippo(), |c| {
        c["spec"]["users"] = serde_json::json!([{"name": "rhino", "databases": ["zoo"]}]);
    });
    let users = preview(&client, NAMESPACE, &rhino, &images)
        .await
        .expect("a preview");
    let listed = names(&users.changes);
    assert!(
        listed.contains(&"+ Secret hippo-pguser-rhino".to_string()),
        "{listed:?}"
    );
    assert!(
        listed.contains(&"- Secret hippo-pguser-hippo".to_string()),
        "{listed:?}"
    );

    let repo2 = with(&hippo(), |c| {
        let repo1 = c["spec"]["backups"]["pgbackrest"]["repos"][0].clone();
        let mut repo2 = repo1;
        repo2["name"] = "repo2".into();
        c["spec"]["backups"]["pgbackrest"]["repos"]
            .as_array_mut()
            .unwrap()
            .push(repo2);
    });
    let volumes = preview(&client, NAMESPACE, &repo2, &images)
        .await
        .expect("a preview");
    let volume = volumes
        .changes
        .iter()
        .find(|c| c.kind == "PersistentVolumeClaim" && c.name == "hippo-repo2")
        .unwrap_or_else(|| panic!("a new repository volume: {:?}", volumes.changes));
    assert_eq!(volume.action, Action::Create);
    assert!(
        volume
            .consequence(None)
            .is_some_and(|c| c.contains("repo2")),
        "{volume:?}"
    );

    // Nothing was written: no new Secret, and the cluster is as it was.
    assert!(
        secrets
            .get_opt("hippo-pguser-rhino")
            .await
            .expect("get")
            .is_none()
    );
    let now = running.clusters.get("hippo").await.expect("hippo");
    assert_eq!(now.spec.users, created.spec.users);
    assert!(now.spec.instances[0].resources.is_none());
    println!(
        "plan: {} change(s) for more CPU, {} for a new user, {} for a new repository",
        restart.changes.len(),
        users.changes.len(),
        volumes.changes.len()
    );
}
