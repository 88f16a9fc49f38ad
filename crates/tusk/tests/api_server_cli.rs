//! The day-2 commands (also `kubectl tusk ...`) against a real API server with the operator running: they
//! drive the documented fields and annotations, and the operator acts on them. `connection-info` prints the
//! user Secret's settings with the password hidden unless asked; `restart` sets `restarted` in
//! `spec.metadata.annotations` and the operator puts it on the instances' pod templates; `backup` writes
//! `spec.backups.pgbackrest.manual` and the `pgbackrest-backup` annotation (the backup itself needs pods: the
//! end-to-end tier). `status` reads what the API server holds (no pods here: it says no instance is primary);
//! a switchover to an instance the cluster lacks is refused with a Warning and not recorded; `restore` writes
//! `spec.backups.pgbackrest.restore` and the `pgbackrest-restore` annotation, a target time quoted into one word.

mod common;

use common::operator::{create, eventually, hippo};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use std::process::{Command, Output};

const NAMESPACE: &str = "cli";

fn tusk(running: &common::operator::Running, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tusk"))
        .args(args)
        .env("KUBECONFIG", running.kubeconfig())
        .output()
        .expect("tusk runs")
}

/// The value of `cluster`'s annotation `key`, which a command must have set.
fn annotation(cluster: &tusk_api::PostgresCluster, key: &str) -> String {
    cluster
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .unwrap_or_else(|| panic!("the annotation {key} is set"))
        .clone()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "tusk failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_two_commands_drive_the_documented_fields() {
    let running = common::operator::start(NAMESPACE).await;
    create(&running.clusters, &hippo()).await;
    let secrets: Api<Secret> = Api::namespaced(running.client.clone(), NAMESPACE);
    eventually("hippo's user Secret exists", || async {
        secrets
            .get_opt("hippo-pguser-hippo")
            .await
            .ok()
            .flatten()
            .is_some()
    })
    .await;
    let secret = secrets.get("hippo-pguser-hippo").await.expect("the Secret");
    let password = String::from_utf8(secret.data.unwrap()["password"].0.clone()).unwrap();

    let hidden = stdout(&tusk(
        &running,
        &["connection-info", "hippo", "-n", NAMESPACE],
    ));
    assert!(
        hidden.contains("host               hippo-primary.cli.svc\n"),
        "{hidden}"
    );
    assert!(hidden.contains("user               hippo\n"), "{hidden}");
    assert!(
        hidden.contains("uri                postgresql://hippo:********@"),
        "{hidden}"
    );
    assert!(
        !hidden.contains(&password),
        "the password is hidden: {hidden}"
    );
    let shown = stdout(&tusk(
        &running,
        &[
            "connection-info",
            "hippo",
            "-n",
            NAMESPACE,
            "--show-password",
        ],
    ));
    assert!(
        shown.contains(&format!("password           {password}\n")),
        "{shown}"
    );
    let missing = tusk(
        &running,
        &[
            "connection-info",
            "hippo",
            "-n",
            NAMESPACE,
            "--user",
            "nobody",
        ],
    );
    assert!(!missing.status.success());
    let error = String::from_utf8_lossy(&missing.stderr);
    assert!(
        error.contains("no Secret cli/hippo-pguser-nobody"),
        "{error}"
    );

    let restart = stdout(&tusk(&running, &["restart", "hippo", "-n", NAMESPACE]));
    let cluster = running.clusters.get("hippo").await.expect("hippo");
    let value = cluster
        .spec
        .metadata
        .and_then(|m| m.annotations)
        .and_then(|a| a.get("restarted").cloned())
        .expect("spec.metadata.annotations.restarted is set");
    assert!(restart.contains(&format!("restarted={value}")), "{restart}");
    let statefulsets: Api<StatefulSet> = Api::namespaced(running.client.clone(), NAMESPACE);
    eventually(
        "the instances' pod templates carry the new annotation",
        || async {
            let instances = statefulsets
                .list(&ListParams::default().labels("postgres-operator.crunchydata.com/instance"))
                .await
                .map(|l| l.items)
                .unwrap_or_default();
            !instances.is_empty()
                && instances.iter().all(|s| {
                    s.spec
                        .as_ref()
                        .and_then(|spec| spec.template.metadata.as_ref())
                        .and_then(|m| m.annotations.as_ref())
                        .and_then(|a| a.get("restarted"))
                        == Some(&value)
                })
        },
    )
    .await;

    let backup = stdout(&tusk(
        &running,
        &[
            "backup",
            "hippo",
            "-n",
            NAMESPACE,
            "--type",
            "incr",
            "--no-wait",
        ],
    ));
    let cluster = running.clusters.get("hippo").await.expect("hippo");
    let id = annotation(
        &cluster,
        "postgres-operator.crunchydata.com/pgbackrest-backup",
    );
    assert!(
        backup.starts_with(&format!("backup {id} of cli/hippo to repo1 requested")),
        "{backup}"
    );
    let manual = cluster
        .spec
        .backups
        .pgbackrest
        .manual
        .expect("spec.backups.pgbackrest.manual");
    assert_eq!(manual.repo_name, "repo1");
    assert_eq!(manual.options, Some(vec!["--type=incr".to_string()]));

    let mut manifest = running.clusters.get("hippo").await.expect("hippo");
    manifest.status = None;
    manifest.metadata.managed_fields = None;
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), serde_json::to_string(&manifest).unwrap()).expect("written");
    let path = file.path().to_str().expect("a UTF-8 path");
    let plan: serde_json::Value = serde_json::from_str(&stdout(&tusk(
        &running,
        &[
            "plan",
            "-f",
            path,
            "-o",
            "json",
            "--operator-namespace",
            NAMESPACE,
        ],
    )))
    .expect("JSON");
    assert_eq!(plan["cluster"], "cli/hippo", "{plan:#}");
    assert_eq!(plan["exists"], true, "{plan:#}");
    assert_eq!(
        plan["restarts"], 0,
        "the live spec changes nothing: {plan:#}"
    );

    let status: serde_json::Value = serde_json::from_str(&stdout(&tusk(
        &running,
        &["status", "hippo", "-n", NAMESPACE, "-o", "json"],
    )))
    .expect("JSON");
    assert_eq!(status["members"], serde_json::json!([]), "{status:#}");
    assert_eq!(status["repositories"][0]["name"], "repo1", "{status:#}");
    let certificates: Vec<&str> = status["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .filter_map(|c| c["secret"].as_str())
        .collect();
    assert!(
        certificates.contains(&"hippo-cluster-cert") && certificates.contains(&"pgo-root-cacert"),
        "{status:#}"
    );
    assert!(
        status["problems"][0]
            .as_str()
            .is_some_and(|p| p.starts_with("no instance is primary")),
        "{status:#}"
    );
    let text = stdout(&tusk(&running, &["status", "hippo", "-n", NAMESPACE]));
    assert!(text.contains("Needs attention:"), "{text}");

    running
        .clusters
        .patch(
            "hippo",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({
                "metadata": {"annotations": {"postgres-operator.crunchydata.com/trigger-switchover": "one"}},
                "spec": {"patroni": {"switchover": {"enabled": true, "targetInstance": "rhino"}}},
            })),
        )
        .await
        .expect("the switchover request is written");
    let events: Api<Event> = Api::namespaced(running.client.clone(), NAMESPACE);
    eventually("a SwitchoverRefused event", || async {
        events.list(&Default::default()).await.is_ok_and(|listed| {
            listed.items.iter().any(|event| {
                event.reason.as_deref() == Some("SwitchoverRefused")
                    && event
                        .note
                        .as_deref()
                        .is_some_and(|note| note.contains("\"rhino\" is not an instance"))
            })
        })
    })
    .await;
    let cluster = running.clusters.get("hippo").await.expect("hippo");
    assert_eq!(
        cluster
            .status
            .and_then(|s| s.patroni)
            .and_then(|p| p.switchover),
        None,
        "a refused switchover is not recorded"
    );

    let restore = stdout(&tusk(
        &running,
        &[
            "restore",
            "hippo",
            "-n",
            NAMESPACE,
            "--target",
            "2026-11-29 14:15:11+00",
            "--no-wait",
        ],
    ));
    let cluster = running.clusters.get("hippo").await.expect("hippo");
    let id = annotation(
        &cluster,
        "postgres-operator.crunchydata.com/pgbackrest-restore",
    );
    assert!(
        restore.starts_with(&format!("restore {id} of cli/hippo from repo1 requested")),
        "{restore}"
    );
    let asked = cluster
        .spec
        .backups
        .pgbackrest
        .restore
        .expect("spec.backups.pgbackrest.restore");
    assert!(asked.enabled);
    assert_eq!(asked.repo_name, "repo1");
    assert_eq!(
        asked.options,
        Some(vec![
            "--type=time".to_string(),
            "'--target=2026-11-29 14:15:11+00'".to_string()
        ])
    );
}
