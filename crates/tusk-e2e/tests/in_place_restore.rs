//! Issue #6, end-to-end test 8: an in-place point-in-time recovery (docs: Disaster Recovery, "Perform an
//! In-Place Point-in-time-Recovery (PITR)"): `spec.backups.pgbackrest.restore` and the annotation
//! `postgres-operator.crunchydata.com/pgbackrest-restore`.
//!
//! hippo (a leader and a replica, repo1 on a volume) gets a batch of rows, then a recorded time T, then an
//! accident: the batch is deleted and another written. A restore from a repository that does not exist is
//! refused (`SpecValid` False) without stopping anything. The restore to T, asked for with `tusk restore --target`
//! (which writes the same fields), then brings back exactly the first batch on the leader and the replica (rewound onto the new timeline), the cluster takes writes again, and `enabled: false` after it
//! changes nothing.

use std::time::{Duration, Instant};
use tusk_e2e::{
    ConditionSeen, condition, get_json, hippo, kubectl, patch_cluster, pgbackrest, psql_in,
    wait_for,
};

const NAMESPACE: &str = "tusk-e2e-in-place";
const ANNOTATION: &str = "postgres-operator.crunchydata.com/pgbackrest-restore";

fn psql(pod: &str, sql: &str) -> String {
    psql_in(NAMESPACE, pod, sql).expect("the query runs")
}

fn rows(pod: &str) -> String {
    psql(
        pod,
        "select count(*) || ' rows, batches ' || coalesce(string_agg(distinct batch, ', ' order by batch), '') from animals",
    )
}

/// Asks for an in-place restore `id` from `repo` with `options`, in one merge patch.
fn request(id: &str, repo: &str, options: &[&str]) {
    let patch = serde_json::json!({
        "metadata": {"annotations": {ANNOTATION: id}},
        "spec": {"backups": {"pgbackrest": {"restore": {
            "enabled": true, "repoName": repo, "options": options,
        }}}},
    });
    patch_cluster(NAMESPACE, "hippo", "merge", &patch.to_string())
        .expect("the restore is asked for");
}

/// `PGBackRestRestoreProgressing` of hippo.
fn progressing() -> ConditionSeen {
    condition(NAMESPACE, "hippo", "PGBackRestRestoreProgressing")
}

fn pod_uids() -> Vec<String> {
    let pods = get_json(
        NAMESPACE,
        &[
            "pods",
            "-l",
            &format!("{},{}", hippo::CLUSTER, hippo::INSTANCE),
        ],
    )
    .expect("pods");
    let mut uids: Vec<String> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pod| pod["metadata"]["uid"].as_str().map(str::to_string))
        .collect();
    uids.sort();
    uids
}

#[test]
fn an_in_place_restore_brings_the_cluster_back_to_the_target_time() {
    let (_namespace, leader, replicas) = hippo::start(NAMESPACE, 2, "");
    pgbackrest::wait_for_stanza(NAMESPACE, "hippo").expect("the stanza");
    wait_for(
        "the replica-create backup",
        Duration::from_secs(300),
        || {
            let status = pgbackrest::status(NAMESPACE, "hippo")?;
            Ok((status["repos"][0]["replicaCreateBackupComplete"] == true).then_some(()))
        },
    )
    .expect("a full backup to restore from");
    psql(
        &leader.pod,
        "create table animals (id int primary key, batch text not null)",
    );
    psql(
        &leader.pod,
        "insert into animals select i, 'batch 0' from generate_series(1, 100) i",
    );
    std::thread::sleep(Duration::from_secs(2));
    let target = psql(&leader.pod, "select clock_timestamp()");
    std::thread::sleep(Duration::from_secs(2));
    psql(&leader.pod, "delete from animals where batch = 'batch 0'");
    psql(
        &leader.pod,
        "insert into animals select i, 'batch 1' from generate_series(101, 150) i",
    );
    let archived =
        pgbackrest::archive_to_the_end(NAMESPACE, &leader.pod).expect("the WAL is archived");
    assert_eq!(rows(&leader.pod), "50 rows, batches batch 1");
    eprintln!(
        "e2e: target {target}; then batch 0 deleted and batch 1 written; WAL archived up to {archived}"
    );

    let before = pod_uids();
    request("wrong-repo", "repo3", &[]);
    let refused = wait_for("the refusal", Duration::from_secs(60), || {
        let found = get_json(NAMESPACE, &["postgrescluster", "hippo"])?;
        Ok(found["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "SpecValid" && c["status"] == "False")
            .map(|c| c["message"].as_str().unwrap_or_default().to_string()))
    })
    .expect("a restore from a repository hippo does not have is refused");
    eprintln!("e2e: refused: {refused}");
    assert!(refused.contains("restore.repoName"), "{refused}");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(pod_uids(), before, "a refused restore stops nothing");
    assert_eq!(rows(&leader.pod), "50 rows, batches batch 1");

    let asked = Instant::now();
    let answer = tusk_e2e::tusk_here(&[
        "restore",
        "hippo",
        "-n",
        NAMESPACE,
        "--target",
        &target,
        "--no-wait",
    ])
    .expect("tusk restore asks for the restore");
    let id = get_json(NAMESPACE, &["postgrescluster", "hippo"]).expect("hippo")["metadata"]
        ["annotations"][ANNOTATION]
        .as_str()
        .expect("tusk restore set the annotation")
        .to_string();
    assert!(
        answer.starts_with(&format!(
            "restore {id} of {NAMESPACE}/hippo from repo1 requested"
        )),
        "{answer}"
    );
    let mut steps: Vec<(String, Duration)> = Vec::new();
    let recorded = wait_for(
        "the in-place restore to finish",
        Duration::from_secs(600),
        || {
            let reason = progressing().reason;
            if steps.last().is_none_or(|(last, _)| *last != reason) {
                steps.push((reason, asked.elapsed()));
            }
            let restore = pgbackrest::status(NAMESPACE, "hippo")?["restore"].clone();
            Ok((restore["id"] == id.as_str() && restore["finished"] == true).then_some(restore))
        },
    )
    .expect("the restore finishes");
    let finished = asked.elapsed();
    eprintln!(
        "e2e: in-place restore finished {finished:.1?} after it was asked for; steps {steps:?}"
    );
    assert_eq!(
        recorded["succeeded"],
        1,
        "the restore succeeded: {recorded} {:?}\n{}",
        progressing(),
        kubectl(&["-n", NAMESPACE, "logs", "job/hippo-pgbackrest-restore"]).unwrap_or_default()
    );
    let ConditionSeen { status, reason, .. } = progressing();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "RestoreComplete")
    );
    let found = get_json(NAMESPACE, &["postgrescluster", "hippo"]).expect("hippo");
    assert_eq!(
        found["status"]["startupInstance"], leader.instance,
        "the restore went into the leader's volume"
    );

    let (new_leader, new_replicas) =
        hippo::wait_for_roles(NAMESPACE, replicas.len(), Duration::from_secs(300))
            .expect("both instances run again, one leading");
    let ready = asked.elapsed();
    assert_eq!(
        rows(&new_leader.pod),
        "100 rows, batches batch 0",
        "the leader has exactly what was there at the target"
    );
    psql(
        &new_leader.pod,
        "insert into animals values (1000, 'after the restore')",
    );
    let replica = &new_replicas[0];
    let on_replica = wait_for("the replica to follow", Duration::from_secs(120), || {
        let seen = psql_in(
            NAMESPACE,
            &replica.pod,
            "select count(*) from animals where id = 1000",
        )?;
        Ok((seen == "1").then(|| rows(&replica.pod)))
    })
    .expect("the replica streams from the restored leader");
    assert_eq!(on_replica, "101 rows, batches after the restore, batch 0");
    let timeline = psql(
        &new_leader.pod,
        "select timeline_id from pg_control_checkpoint()",
    );
    eprintln!(
        "e2e: both instances Ready {ready:.1?} after the request; leader {} on timeline {timeline}; replica {} follows",
        new_leader.pod, replica.pod
    );
    let replica_log =
        kubectl(&["-n", NAMESPACE, "logs", &replica.pod, "-c", "database"]).unwrap_or_default();
    let healed_by = if replica_log.contains("rewind") {
        "pg_rewind"
    } else if replica_log.contains("pgbackrest") {
        "pgBackRest"
    } else {
        "streaming"
    };
    eprintln!("e2e: the replica rejoined the new timeline by {healed_by}");
    let events = tusk_e2e::event_messages(NAMESPACE, "reason=RestoreComplete").expect("events");
    assert!(!events.is_empty(), "an Event says the restore is complete");

    let running = pod_uids();
    patch_cluster(
        NAMESPACE,
        "hippo",
        "merge",
        r#"{"spec":{"backups":{"pgbackrest":{"restore":{"enabled":false}}}}}"#,
    )
    .expect("restores are disabled again");
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(pod_uids(), running, "disabling restores restarts nothing");
    let restore = pgbackrest::status(NAMESPACE, "hippo").expect("status")["restore"].clone();
    assert_eq!(restore["id"], id.as_str());
    let archived =
        pgbackrest::archive_to_the_end(NAMESPACE, &new_leader.pod).expect("WAL archiving goes on");
    eprintln!("e2e: the restored cluster archives its WAL again (up to {archived})");
}
