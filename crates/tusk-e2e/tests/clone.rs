//! Issue #6, end-to-end tests 6 and 7: clusters bootstrapped from hippo's backup through
//! `spec.dataSource.postgresCluster` (docs: Disaster Recovery, "Clone a Postgres Cluster" and "Perform a
//! Point-in-time-Recovery").
//!
//! Rows are written to hippo in three batches: before a manual full backup, after it, and after a recorded time T;
//! the WAL is archived to the end. Then:
//! * `elephant`, a clone in hippo's namespace, has all three batches (the restore replays the archive to its
//!   end, as `pgbackrest restore` does by default);
//! * `rhino`, in another namespace (`clusterNamespace`), restored with `--type=time` and a `--target` holding a
//!   space (quoted as in the docs), has exactly the first two batches;
//! * each then runs as a cluster of its own: its stanza is created and its WAL archived in its own repository,
//!   it takes writes, its user's Secret logs in, and hippo is untouched;
//! * `ghost`, a clone of a cluster that does not exist, reports `SourceNotFound` and starts no instance.

use std::time::{Duration, Instant};
use tusk_e2e::{
    ConditionSeen, HostPsql, Namespace, condition, get_json, hippo, kubectl, secret_field, wait_for,
};

const NAMESPACE: &str = "tusk-e2e-clone";
const OTHER_NAMESPACE: &str = "tusk-e2e-clone-pitr";
const ROWS_PER_BATCH: u32 = 100;

/// `sql` as `postgres` over the local socket of `pod`, in database `postgres`.
fn psql(namespace: &str, pod: &str, sql: &str) -> anyhow::Result<String> {
    tusk_e2e::psql_in(namespace, pod, sql)
}

/// Waits until `cluster`'s stanza exists (`status.pgbackrest.repos[0].stanzaCreated`).
fn stanza_created(namespace: &str, cluster: &str) {
    wait_for(
        &format!("{cluster}'s stanza"),
        Duration::from_secs(300),
        || {
            let found = get_json(namespace, &["postgrescluster", cluster])?;
            Ok((found["status"]["pgbackrest"]["repos"][0]["stanzaCreated"] == true).then_some(()))
        },
    )
    .expect("the stanza is created");
}

/// Switches the WAL of `pod` and waits until the segment is archived.
fn archive_to_the_end(namespace: &str, pod: &str) -> String {
    let segment =
        psql(namespace, pod, "select pg_walfile_name(pg_switch_wal())").expect("a switch");
    wait_for(
        &format!("segment {segment} archived"),
        Duration::from_secs(120),
        || {
            let last = psql(
                namespace,
                pod,
                "select coalesce(last_archived_wal, '') from pg_stat_archiver",
            )?;
            Ok((!last.is_empty() && last.as_str() >= segment.as_str()).then_some(last))
        },
    )
    .expect("the WAL reaches the repository")
}

fn insert_batch(pod: &str, batch: u32) {
    let first = batch * ROWS_PER_BATCH + 1;
    let last = (batch + 1) * ROWS_PER_BATCH;
    psql(
        NAMESPACE,
        pod,
        &format!(
            "insert into animals (id, batch) select i, 'batch {batch}' from generate_series({first}, {last}) i"
        ),
    )
    .expect("rows are written");
}

/// A full manual backup of hippo's repo1 (`spec.backups.pgbackrest.manual` and the `pgbackrest-backup`
/// annotation), once it finished.
fn full_backup() -> Duration {
    tusk_e2e::patch_cluster(NAMESPACE, "hippo", "merge", r#"{"spec":{"backups":{"pgbackrest":{"manual":{"repoName":"repo1","options":["--type=full"]}}}}}"#)
    .expect("the manual backup is declared");
    kubectl(&[
        "-n",
        NAMESPACE,
        "annotate",
        "--overwrite",
        "postgrescluster",
        "hippo",
        "postgres-operator.crunchydata.com/pgbackrest-backup=before-clone",
    ])
    .expect("the backup is requested");
    let started = Instant::now();
    wait_for("the manual backup", Duration::from_secs(300), || {
        let manual = get_json(NAMESPACE, &["postgrescluster", "hippo"])?["status"]["pgbackrest"]
            ["manualBackup"]
            .clone();
        anyhow::ensure!(
            manual["failed"].as_i64().unwrap_or(0) == 0,
            "the backup failed: {manual}"
        );
        Ok((manual["id"] == "before-clone"
            && manual["finished"] == true
            && manual["succeeded"] == 1)
            .then_some(()))
    })
    .expect("the backup succeeds");
    started.elapsed()
}

/// How a restored cluster came up: when its restore Job was first seen succeeded and when its leader was first
/// seen Ready (polled every second), after `applied`.
#[derive(Debug, Default)]
struct Restore {
    restored: Option<Duration>,
    leading: Option<(Duration, String)>,
}

/// Watches the restores of `clusters` (namespace, name) applied at `applied` until each has a Ready leader.
fn watch_restores(clusters: &[(&str, &str)], applied: Instant) -> Vec<Restore> {
    let mut seen: Vec<Restore> = clusters.iter().map(|_| Restore::default()).collect();
    wait_for(
        "the restored clusters to lead",
        Duration::from_secs(600),
        || {
            for ((namespace, cluster), restore) in clusters.iter().zip(seen.iter_mut()) {
                if restore.leading.is_some() {
                    continue;
                }
                let job = format!("job/{cluster}-pgbackrest-restore");
                if let Ok(found) = get_json(namespace, &[&job]) {
                    anyhow::ensure!(
                        found["status"]["failed"].as_i64().unwrap_or(0) == 0,
                        "the restore of {cluster} failed: {}",
                        kubectl(&["-n", namespace, "logs", &job]).unwrap_or_default()
                    );
                    if found["status"]["succeeded"] == 1 && restore.restored.is_none() {
                        restore.restored = Some(applied.elapsed());
                    }
                }
                if let Some(pod) = hippo::ready_leader(namespace, cluster)? {
                    restore.leading = Some((applied.elapsed(), pod));
                }
            }
            Ok(seen.iter().all(|r| r.leading.is_some()).then_some(()))
        },
    )
    .expect("every restored cluster gets a Ready leader");
    seen
}

/// hippo's manifest as cluster `name` with `spec_lines` (see `hippo::manifest`).
fn manifest(name: &str, spec_lines: &str) -> String {
    hippo::manifest(1, spec_lines).replacen("  name: hippo\n", &format!("  name: {name}\n"), 1)
}

fn rows(namespace: &str, pod: &str) -> String {
    psql(
        namespace,
        pod,
        "select count(*) || ' rows, batches ' || string_agg(distinct batch, ', ' order by batch) from animals",
    )
    .expect("the rows are read")
}

#[test]
fn clones_have_the_archived_rows_and_point_in_time_recovery_stops_at_the_target() {
    let (namespace, hippo_leader, _) = hippo::start(NAMESPACE, 1, "");
    stanza_created(NAMESPACE, "hippo");
    psql(
        NAMESPACE,
        &hippo_leader.pod,
        "create table animals (id int primary key, batch text not null)",
    )
    .expect("a table");
    insert_batch(&hippo_leader.pod, 0);
    let backup = full_backup();
    eprintln!("e2e: manual full backup of hippo finished {backup:.1?} after it was requested");
    insert_batch(&hippo_leader.pod, 1);
    std::thread::sleep(Duration::from_secs(2));
    let target = psql(NAMESPACE, &hippo_leader.pod, "select clock_timestamp()").expect("a time");
    std::thread::sleep(Duration::from_secs(2));
    insert_batch(&hippo_leader.pod, 2);
    let archived = archive_to_the_end(NAMESPACE, &hippo_leader.pod);
    eprintln!(
        "e2e: 3 batches written, target {target} after the second; WAL archived up to {archived}"
    );

    namespace
        .apply(&manifest(
            "ghost",
            "  dataSource:\n    postgresCluster:\n      clusterName: nobody\n      repoName: repo1\n",
        ))
        .expect("ghost applies");
    let started = Instant::now();
    namespace
        .apply(&manifest(
            "elephant",
            "  dataSource:\n    postgresCluster:\n      clusterName: hippo\n      repoName: repo1\n",
        ))
        .expect("elephant applies");
    let other = Namespace::fresh(OTHER_NAMESPACE).expect("a second namespace");
    other
        .apply(&manifest(
            "rhino",
            &format!(
                "  dataSource:\n    postgresCluster:\n      clusterName: hippo\n      clusterNamespace: {NAMESPACE}\n      \
                 repoName: repo1\n      options:\n      - --type=time\n      - '--target=\"{target}\"'\n"
            ),
        ))
        .expect("rhino applies");

    let watched = watch_restores(
        &[(NAMESPACE, "elephant"), (OTHER_NAMESPACE, "rhino")],
        started,
    );
    let [elephant_seen, rhino_seen] = &watched[..] else {
        unreachable!("two clusters watched")
    };
    let (elephant_ready, elephant) = elephant_seen.leading.clone().expect("leading");
    let elephant_restored = elephant_seen.restored;
    let (rhino_ready, rhino) = rhino_seen.leading.clone().expect("leading");
    let rhino_restored = rhino_seen.restored;
    let all = format!(
        "{} rows, batches batch 0, batch 1, batch 2",
        3 * ROWS_PER_BATCH
    );
    assert_eq!(
        rows(NAMESPACE, &elephant),
        all,
        "the clone has every archived row"
    );
    eprintln!(
        "e2e: elephant (clone) restored {elephant_restored:.1?} and leading {elephant_ready:.1?} after it was applied: {all}"
    );

    let before = format!("{} rows, batches batch 0, batch 1", 2 * ROWS_PER_BATCH);
    assert_eq!(
        rows(OTHER_NAMESPACE, &rhino),
        before,
        "the recovery stops at the target"
    );
    eprintln!(
        "e2e: rhino (PITR, other namespace) restored {rhino_restored:.1?} and leading {rhino_ready:.1?} after it was applied: {before}"
    );

    for (ns, cluster, pod) in [
        (NAMESPACE, "elephant", &elephant),
        (OTHER_NAMESPACE, "rhino", &rhino),
    ] {
        wait_for(
            &format!("{cluster}'s PostgresDataInitialized"),
            Duration::from_secs(60),
            || {
                let ConditionSeen { status, reason, .. } =
                    condition(ns, cluster, "PostgresDataInitialized");
                Ok((status == "True").then_some(reason))
            },
        )
        .expect("the condition says the data is initialized");
        stanza_created(ns, cluster);
        wait_for(
            &format!("{cluster}'s own replica-create backup"),
            Duration::from_secs(300),
            || {
                let found = get_json(ns, &["postgrescluster", cluster])?;
                Ok(
                    (found["status"]["pgbackrest"]["repos"][0]["replicaCreateBackupComplete"]
                        == true)
                        .then_some(()),
                )
            },
        )
        .expect("the restored cluster backs up into its own repository");
        psql(
            ns,
            pod,
            "insert into animals (id, batch) values (1000, 'own write')",
        )
        .expect("the restored cluster takes writes");
        let archived = archive_to_the_end(ns, pod);
        let failed = psql(ns, pod, "select failed_count from pg_stat_archiver").expect("stats");
        eprintln!(
            "e2e: {cluster} archives its own WAL (up to {archived}, {failed} failed attempts)"
        );

        let password = secret_field(ns, &format!("{cluster}-pguser-{cluster}"), "password")
            .expect("the user's Secret");
        let host = HostPsql::new(ns, cluster).expect("the primary is reachable");
        let user = wait_for(
            &format!("{cluster}'s user to log in"),
            Duration::from_secs(120),
            || {
                Ok(host
                    .run(cluster, &password, cluster, "select current_user")
                    .ok())
            },
        )
        .expect("the clone's user logs in with its Secret's password");
        assert_eq!(user, cluster);
        let restore_jobs = kubectl(&[
            "-n",
            ns,
            "get",
            "jobs",
            "-l",
            "postgres-operator.crunchydata.com/pgbackrest-restore",
            "-o",
            "name",
        ])
        .expect("jobs");
        assert_eq!(
            restore_jobs.trim(),
            "",
            "the restore Job is gone once initialized"
        );
    }
    let ConditionSeen { status, reason, .. } =
        condition(NAMESPACE, "ghost", "PostgresDataInitialized");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "SourceNotFound"),
        "a clone of a cluster that does not exist says so"
    );
    let ghost_pods = kubectl(&[
        "-n",
        NAMESPACE,
        "get",
        "pods",
        "-l",
        "postgres-operator.crunchydata.com/cluster=ghost,postgres-operator.crunchydata.com/instance",
        "-o",
        "name",
    ])
    .expect("pods");
    assert_eq!(ghost_pods.trim(), "", "and starts no instance");
    let events = tusk_e2e::event_messages(NAMESPACE, "reason=SourceNotFound").expect("events");
    assert!(!events.is_empty(), "a Warning Event says why");
    assert_eq!(
        rows(NAMESPACE, &hippo_leader.pod),
        all,
        "hippo is untouched"
    );
    drop(other);
}
