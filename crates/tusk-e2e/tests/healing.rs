//! Issue #6, end-to-end test 12: a primary that failed and was replaced heals through pgBackRest delta restore
//! and rejoins.
//!
//! hippo with two instances and a volume repository; rows written and replicated; then the primary's data is
//! damaged (`global/pg_control` removed) and its PostgreSQL killed. Patroni cannot start it again, gives up
//! the leader key, and the replica is promoted and takes writes. The old primary stays down (Patroni reports
//! it `start failed` or similar and never repairs it by itself) until the operator asks Patroni to
//! reinitialize it (`POST /reinitialize`, Event `InstanceReinitializing`): pgBackRest restores it with
//! `--delta` over its existing files and it rejoins as a streaming replica with every row, old and new.
//! Prints the figures: failure → new leader, → the operator's Event, → the old primary Ready again.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tusk_e2e::hippo::{self, Instance};
use tusk_e2e::{get_json, kubectl, pgbackrest, psql_in, wait_for};

const NAMESPACE: &str = "tusk-e2e-healing";

fn psql(pod: &str, sql: &str) -> anyhow::Result<String> {
    psql_in(NAMESPACE, pod, sql)
}

/// Runs `script` with `sh -c` in the database container of `pod`.
fn sh(pod: &str, script: &str) -> anyhow::Result<String> {
    kubectl(&[
        "-n", NAMESPACE, "exec", pod, "-c", "database", "--", "sh", "-c", script,
    ])
}

/// The state Patroni reports of `member`, as `patronictl list` on `pod` shows it (test-side `exec`).
fn patroni_state(pod: &str, member: &str) -> anyhow::Result<Option<String>> {
    let out = kubectl(&[
        "-n",
        NAMESPACE,
        "exec",
        pod,
        "-c",
        "database",
        "--",
        "patronictl",
        "list",
        "-f",
        "json",
    ])?;
    let members: serde_json::Value = serde_json::from_str(&out)?;
    Ok(members
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["Member"] == member)
        .and_then(|m| m["State"].as_str())
        .map(str::to_string))
}

/// The notes of the Events of `reason` in the namespace.
fn event_notes(reason: &str) -> anyhow::Result<Vec<String>> {
    let selector = format!("reason={reason}");
    let events = get_json(NAMESPACE, &["events", "--field-selector", &selector])?;
    Ok(events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str().or(e["note"].as_str()))
        .map(str::to_string)
        .collect())
}

fn count(pod: &str) -> anyhow::Result<String> {
    psql(pod, "select count(*) from tusk_e2e_healing")
}

#[test]
fn a_failed_primary_heals_through_a_delta_restore_and_rejoins() {
    let (_namespace, leader, replicas) = hippo::start(NAMESPACE, 2, "");
    let replica: Instance = replicas[0].clone();
    pgbackrest::wait_for_stanza(NAMESPACE, "hippo").expect("the stanza is created");
    wait_for(
        "status.pgbackrest.repos[0].replicaCreateBackupComplete",
        Duration::from_secs(300),
        || {
            let repo = pgbackrest::status(NAMESPACE, "hippo")?["repos"][0].clone();
            Ok((repo["replicaCreateBackupComplete"] == true).then_some(()))
        },
    )
    .expect("the first full backup is taken: the delta restore needs one");
    psql(
        &leader.pod,
        "create table tusk_e2e_healing (id int primary key); \
         insert into tusk_e2e_healing select generate_series(1, 100)",
    )
    .expect("rows on the primary");
    wait_for("the replica has the rows", Duration::from_secs(60), || {
        Ok((count(&replica.pod)? == "100").then_some(()))
    })
    .expect("the replica streams");
    let data = psql(&leader.pod, "show data_directory").expect("the data directory");

    // The primary's data is damaged and its PostgreSQL killed: Patroni cannot start it again.
    let failed = Instant::now();
    sh(
        &leader.pod,
        &format!("rm {data}/global/pg_control && kill -9 $(head -1 {data}/postmaster.pid)"),
    )
    .expect("pg_control removed and the postmaster killed");
    eprintln!(
        "e2e: removed {data}/global/pg_control on {} and killed its postmaster",
        leader.pod
    );

    // The replica takes over and takes writes. Meanwhile, what Patroni says of the old primary.
    let mut states: Vec<String> = Vec::new();
    let note = |state: Option<String>, states: &mut Vec<String>| {
        let state = state.unwrap_or_else(|| "(not listed)".into());
        if states.last() != Some(&state) {
            eprintln!(
                "e2e: {:>5.1} s: Patroni reports {} as {state}",
                failed.elapsed().as_secs_f64(),
                leader.pod
            );
            states.push(state);
        }
    };
    let promoted = wait_for(
        "the replica to be the Ready leader",
        Duration::from_secs(240),
        || {
            note(
                patroni_state(&replica.pod, &leader.pod).ok().flatten(),
                &mut states,
            );
            let now = hippo::instances(NAMESPACE)?;
            Ok(now
                .into_iter()
                .find(|i| i.is_leader() && i.pod == replica.pod))
        },
    )
    .expect("the replica is promoted");
    let failover = failed.elapsed();
    // Patroni labels the leader when it takes the lock, a moment before PostgreSQL leaves recovery.
    wait_for(
        "the new primary to take writes",
        Duration::from_secs(30),
        || {
            Ok(psql(
                &promoted.pod,
                "insert into tusk_e2e_healing select generate_series(101, 200)",
            )
            .ok())
        },
    )
    .expect("the new primary takes writes");

    // The operator reinitializes the old primary once Patroni has had its chance.
    let event = wait_for(
        "the operator's InstanceReinitializing Event",
        Duration::from_secs(300),
        || {
            note(
                patroni_state(&promoted.pod, &leader.pod).ok().flatten(),
                &mut states,
            );
            Ok(event_notes("InstanceReinitializing")?
                .into_iter()
                .find(|n| n.contains(&leader.pod)))
        },
    )
    .expect("the operator reinitializes the failed member");
    let reinitialized = failed.elapsed();
    eprintln!("e2e: Event InstanceReinitializing: {event}");
    let (now_leader, now_replicas) = loop {
        note(
            patroni_state(&promoted.pod, &leader.pod).ok().flatten(),
            &mut states,
        );
        let all = hippo::instances(NAMESPACE).expect("instances");
        let back = all.iter().any(|i| i.pod == leader.pod && i.is_replica());
        let leads = all.iter().find(|i| i.is_leader()).cloned();
        if let (true, Some(leads)) = (back, leads) {
            break (
                leads,
                all.into_iter()
                    .filter(Instance::is_replica)
                    .collect::<Vec<_>>(),
            );
        }
        assert!(
            failed.elapsed() < Duration::from_secs(900),
            "the old primary rejoins as a Ready replica within 15 minutes (states: {states:?})"
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    let healed = failed.elapsed();
    assert_eq!(
        now_leader.pod, replica.pod,
        "the promoted replica still leads"
    );
    assert_eq!(now_replicas.len(), 1, "{now_replicas:?}");
    let rows = wait_for(
        "the healed member has all 200 rows",
        Duration::from_secs(120),
        || {
            let ids = psql(
                &leader.pod,
                "select string_agg(id::text, ',' order by id) from tusk_e2e_healing",
            )?;
            let ids: BTreeSet<u32> = ids.split(',').filter_map(|id| id.parse().ok()).collect();
            Ok((ids == (1..=200).collect::<BTreeSet<u32>>()).then_some(ids.len()))
        },
    )
    .expect("every row, old and new, reaches the healed member");
    let streaming = psql(
        &now_leader.pod,
        "select string_agg(application_name || ':' || state, ',') from pg_stat_replication",
    )
    .expect("pg_stat_replication");
    assert!(
        streaming.contains(&format!("{}:streaming", leader.pod)),
        "the healed member streams from the new primary: {streaming}"
    );
    let log = kubectl(&["-n", NAMESPACE, "logs", &leader.pod, "-c", "database"]).expect("logs");
    let restore = log
        .lines()
        .find(|line| line.contains("restore command begin"))
        .unwrap_or_default()
        .to_string();
    assert!(
        restore.contains("--delta"),
        "pgBackRest restored the member with --delta:\n{log}"
    );
    assert!(
        log.contains("Leaving data directory uncleaned")
            && log.contains("replica has been created using pgbackrest"),
        "Patroni kept the member's files and made it again with pgBackRest:\n{log}"
    );
    eprintln!("e2e: {restore}");
    eprintln!(
        "e2e: Patroni's states of the failed primary: {states:?}; failure → {} leads {:.1} s, → \
         reinitialized {:.1} s, → Ready replica with all {rows} rows {:.1} s",
        replica.pod,
        failover.as_secs_f64(),
        reinitialized.as_secs_f64(),
        healed.as_secs_f64()
    );
}
