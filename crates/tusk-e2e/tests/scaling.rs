//! Issue #5, end-to-end test 4, "Scale an instance set": the docs' hippo goes from 1 to 3 to 2 replicas in
//! `instance1`. New replicas stream from the primary (the primary's `pg_stat_replication` lists them, and a row
//! written on the primary is read on each replica); scaling down removes a replica, never the primary.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tusk_e2e::client::{Client, Target};
use tusk_e2e::hippo::{self, Instance};
use tusk_e2e::wait_for;

const NAMESPACE: &str = "tusk-e2e-scaling";
const PRIMARY: Target = Target::Service("hippo-primary");

/// Writes row `value` on the primary; waits until the primary's `pg_stat_replication` names exactly the
/// replicas' pods and each replica reads the row.
fn check_streaming(client: &Client, replicas: &[Instance], value: &str) {
    client
        .psql(
            PRIMARY,
            &format!("insert into tusk_e2e.scaling values ('{value}')"),
        )
        .expect("a row is written on the primary");
    let wanted: BTreeSet<String> = replicas.iter().map(|r| r.pod.clone()).collect();
    wait_for(
        "pg_stat_replication to list the replicas",
        Duration::from_secs(120),
        || {
            let names = client.psql(PRIMARY, "select application_name from pg_stat_replication")?;
            let streaming: BTreeSet<String> = names.lines().map(str::to_string).collect();
            Ok((streaming == wanted).then_some(()))
        },
    )
    .expect("every replica, and nothing else, streams from the primary");
    for replica in replicas {
        let sql = format!("select count(*) from tusk_e2e.scaling where v = '{value}'");
        wait_for(
            &format!("{} to read {value}", replica.pod),
            Duration::from_secs(60),
            || Ok((client.psql(Target::Pod(&replica.ip), &sql)? == "1").then_some(())),
        )
        .expect("the replica reads the row written on the primary");
    }
}

#[test]
fn scale_one_three_two() {
    let started = Instant::now();
    let (namespace, leader, _) = hippo::start(NAMESPACE, 1, "");
    let client = Client::start(NAMESPACE).expect("the client pod runs");
    client
        .psql_until_ok(
            PRIMARY,
            "create schema if not exists tusk_e2e; create table tusk_e2e.scaling (v text)",
            Duration::from_secs(180),
        )
        .expect("a table is created");

    let scaling = Instant::now();
    namespace
        .apply(&hippo::manifest(3, ""))
        .expect("replicas: 3 applies");
    let (after_up, replicas) =
        hippo::wait_for_roles(NAMESPACE, 2, Duration::from_secs(420)).expect("two replicas join");
    eprintln!("e2e: 1 → 3 instances Ready in {:.1?}", scaling.elapsed());
    assert_eq!(after_up.pod, leader.pod, "scaling up keeps the leader");
    check_streaming(&client, &replicas, "after 1 → 3");

    let scaling = Instant::now();
    namespace
        .apply(&hippo::manifest(2, ""))
        .expect("replicas: 2 applies");
    let (after_down, left) =
        hippo::wait_for_roles(NAMESPACE, 1, Duration::from_secs(300)).expect("one replica goes");
    eprintln!("e2e: 3 → 2 instances in {:.1?}", scaling.elapsed());
    assert_eq!(
        after_down.pod, leader.pod,
        "scaling down never removes the primary"
    );
    assert!(
        replicas.iter().any(|r| r.pod == left[0].pod),
        "the replica left is one of the two ({} of {replicas:?})",
        left[0].pod
    );
    check_streaming(&client, &left, "after 3 → 2");
    eprintln!("e2e: scaling passed in {:.1?}", started.elapsed());
}
