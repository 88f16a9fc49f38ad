//! Issue #6, end-to-end test 5: four repositories of mixed types in one cluster, as PGO allows: `repo1` on a
//! volume (the docs' hippo), `repo2` in S3, `repo3` in GCS and `repo4` in Azure Blob (the object-store test bed,
//! `tusk_e2e::objstore`). The stanza is created in all four, WAL reaches all four, and backups to all four (full
//! schedules of repo1 and repo4, an incremental schedule of repo3 that pgBackRest turns into a full one, a manual
//! full backup to repo2, all requested together) land and never run at once: every backup Job locks on repo1's
//! volume.

use std::time::Duration;
use tusk_e2e::objstore::{self, ObjectStores, Store};
use tusk_e2e::pgbackrest::{archived, backups, status};
use tusk_e2e::{Namespace, hippo, install_operator, require_cluster, wait_for};

const NAMESPACE: &str = "tusk-e2e-repos";

/// The object-store repositories, after the docs' `repo1` on a volume.
const CLOUD: [(Store, u8); 3] = [(Store::S3, 2), (Store::Gcs, 3), (Store::Azure, 4)];

fn psql(pod: &str, sql: &str) -> anyhow::Result<String> {
    tusk_e2e::psql_in(NAMESPACE, pod, sql)
}

#[test]
fn wal_reaches_four_repositories_of_every_type_and_backups_take_turns() {
    require_cluster();
    install_operator().expect("the operator installs");
    let namespace = Namespace::fresh(NAMESPACE).expect("namespace");
    let _stores = ObjectStores::deploy(NAMESPACE, &CLOUD).expect("the object stores run");
    namespace
        .apply(&hippo::with_backups(
            &hippo::manifest(1, ""),
            &objstore::backups(NAMESPACE, &CLOUD, true),
        ))
        .expect("hippo with four repositories applies");
    let (leader, _) =
        hippo::wait_for_roles(NAMESPACE, 0, Duration::from_secs(420)).expect("hippo becomes Ready");
    wait_for(
        "the stanza in every repository",
        Duration::from_secs(300),
        || {
            let repos = status(NAMESPACE, "hippo")?["repos"].clone();
            Ok((0..4)
                .all(|i| repos[i]["stanzaCreated"] == true)
                .then_some(()))
        },
    )
    .expect("the stanza is created");

    let segment = psql(&leader.pod, "select pg_walfile_name(pg_switch_wal())").expect("a switch");
    let archived = wait_for(
        &format!("segment {segment} in every repository"),
        Duration::from_secs(120),
        || {
            let archived = archived(NAMESPACE, "hippo")?;
            let reached = |repo| {
                archived
                    .iter()
                    .any(|(number, max)| *number == repo && max.as_str() >= segment.as_str())
            };
            Ok((1..=4).all(reached).then_some(archived))
        },
    )
    .expect("WAL reaches every repository");
    eprintln!("e2e: archived {archived:?}");

    // Full backups of repo1 and repo4 and an incremental one of repo3 every minute, and a manual full backup
    // to repo2, requested together.
    tusk_e2e::patch_cluster(NAMESPACE, "hippo", "json", r#"[{"op":"add","path":"/spec/backups/pgbackrest/repos/0/schedules","value":{"full":"* * * * *"}},
            {"op":"add","path":"/spec/backups/pgbackrest/repos/2/schedules","value":{"incremental":"* * * * *"}},
            {"op":"add","path":"/spec/backups/pgbackrest/repos/3/schedules","value":{"full":"* * * * *"}},
            {"op":"add","path":"/spec/backups/pgbackrest/manual","value":{"repoName":"repo2","options":["--type=full","--start-fast"]}},
            {"op":"add","path":"/metadata/annotations","value":{"postgres-operator.crunchydata.com/pgbackrest-backup":"to-repo2"}}]"#)
    .expect("patch");
    let all = wait_for(
        "full backups in every repository",
        Duration::from_secs(420),
        || {
            let all = backups(NAMESPACE, "hippo")?;
            let manual = status(NAMESPACE, "hippo")?["manualBackup"].clone();
            let in_repo = |repo| all.iter().any(|b| b.repo == repo && b.type_ == "full");
            Ok(((1..=4).all(in_repo) && manual["succeeded"] == 1).then_some(all))
        },
    )
    .expect("backups reach every repository");
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
