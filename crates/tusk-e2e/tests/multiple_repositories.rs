//! Issue #6, end-to-end test 5 (volume repositories; the object-store repositories join them in
//! `object_stores`): with two repositories, the stanza is created in both, WAL reaches both, a manual backup
//! goes to the second, and backups of the two repositories started at the same time never run at once.

use std::time::Duration;
use tusk_e2e::pgbackrest::{archived, backups, status};
use tusk_e2e::{Namespace, hippo, install_operator, require_cluster, wait_for};

const NAMESPACE: &str = "tusk-e2e-repos";

/// A second volume repository, after the docs' `repo1`.
const REPO2: &str = "      - name: repo2
        volume:
          volumeClaimSpec:
            accessModes:
            - \"ReadWriteOnce\"
            resources:
              requests:
                storage: 1Gi
";

fn psql(pod: &str, sql: &str) -> anyhow::Result<String> {
    tusk_e2e::psql_in(NAMESPACE, pod, sql)
}

#[test]
fn wal_reaches_every_repository_and_backups_take_turns() {
    require_cluster();
    install_operator().expect("the operator installs");
    let namespace = Namespace::fresh(NAMESPACE).expect("namespace");
    namespace
        .apply(&(hippo::manifest(1, "") + REPO2))
        .expect("hippo with two repositories applies");
    let (leader, _) =
        hippo::wait_for_roles(NAMESPACE, 0, Duration::from_secs(420)).expect("hippo becomes Ready");
    wait_for(
        "the stanza in both repositories",
        Duration::from_secs(300),
        || {
            let repos = status(NAMESPACE, "hippo")?["repos"].clone();
            Ok(
                (repos[0]["stanzaCreated"] == true && repos[1]["stanzaCreated"] == true)
                    .then_some(()),
            )
        },
    )
    .expect("the stanza is created");

    let segment = psql(&leader.pod, "select pg_walfile_name(pg_switch_wal())").expect("a switch");
    let archived = wait_for(
        &format!("segment {segment} in both repositories"),
        Duration::from_secs(120),
        || {
            let archived = archived(NAMESPACE, "hippo")?;
            let reached = |repo| {
                archived
                    .iter()
                    .any(|(number, max)| *number == repo && max.as_str() >= segment.as_str())
            };
            Ok((reached(1) && reached(2)).then_some(archived))
        },
    )
    .expect("WAL reaches every repository");
    eprintln!("e2e: archived {archived:?}");

    // A full backup of repo1 every minute and a manual one to repo2, requested together.
    tusk_e2e::patch_cluster(NAMESPACE, "hippo", "json", r#"[{"op":"add","path":"/spec/backups/pgbackrest/repos/0/schedules","value":{"full":"* * * * *"}},
            {"op":"add","path":"/spec/backups/pgbackrest/manual","value":{"repoName":"repo2","options":["--type=full","--start-fast"]}},
            {"op":"add","path":"/metadata/annotations","value":{"postgres-operator.crunchydata.com/pgbackrest-backup":"to-repo2"}}]"#)
    .expect("patch");
    let all = wait_for(
        "full backups in both repositories",
        Duration::from_secs(300),
        || {
            let all = backups(NAMESPACE, "hippo")?;
            let manual = status(NAMESPACE, "hippo")?["manualBackup"].clone();
            let in_repo = |repo| all.iter().any(|b| b.repo == repo && b.type_ == "full");
            Ok((in_repo(1) && in_repo(2) && manual["succeeded"] == 1).then_some(all))
        },
    )
    .expect("backups reach both repositories");
    eprintln!("e2e: backups {all:?}");
    for (index, one) in all.iter().enumerate() {
        for other in &all[index + 1..] {
            assert!(
                one.stopped <= other.started || other.stopped <= one.started,
                "backups {} (repo{}) and {} (repo{}) ran at the same time",
                one.label,
                one.repo,
                other.label,
                other.repo
            );
        }
    }
}
