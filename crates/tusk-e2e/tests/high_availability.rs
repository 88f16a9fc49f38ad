//! Issue #5, end-to-end test 3, "High availability" (the docs' tests #1 and #2, with hippo at two instances and
//! a writer loop running throughout): Service `hippo-primary` deleted → the operator recreates it and clients
//! reconnect; the primary's StatefulSet deleted → the replica is promoted (the `role` label moves), answers
//! `SELECT NOT pg_is_in_recovery()` with true, and the old instance returns as a replica; then the same with the
//! operator scaled to zero during the failover (Patroni fails over on its own; the operator, back, brings the
//! old instance back). Prints the failover time (primary killed → a write accepted again) of both failovers.
//! Last, a switchover on request: `tusk switchover --to` the replica (`spec.patroni.switchover` and the
//! `trigger-switchover` annotation) makes it the primary, and `tusk status` shows the new roles.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tusk_e2e::client::{Client, Target};
use tusk_e2e::hippo::{self, Instance};
use tusk_e2e::writer::{self, Writer};
use tusk_e2e::{OperatorStopped, kubectl, uid, wait_for};

const NAMESPACE: &str = "tusk-e2e-high-availability";

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

/// Deletes the leader's StatefulSet (the docs' test #2); waits until another pod carries the leader label
/// and a write is accepted by it; returns the new leader and the seconds from the deletion to that write.
fn kill_leader(client: &Client, writer: &Writer, leader: &Instance) -> (Instance, f64) {
    let killed = epoch_ms();
    kubectl(&[
        "-n",
        NAMESPACE,
        "delete",
        "statefulset",
        &leader.instance,
        "--wait=false",
    ])
    .expect("the primary's StatefulSet deletes");
    let promoted = wait_for(
        "another pod to be the Ready leader",
        Duration::from_secs(180),
        || {
            let instances = hippo::instances(NAMESPACE)?;
            Ok(instances
                .into_iter()
                .find(|i| i.is_leader() && i.pod != leader.pod))
        },
    )
    .expect("a replica is promoted");
    wait_for(
        "the promoted instance to answer NOT pg_is_in_recovery() with true",
        Duration::from_secs(60),
        || {
            let out = client.psql(Target::Pod(&promoted.ip), "select not pg_is_in_recovery()")?;
            Ok((out == "t").then_some(()))
        },
    )
    .expect("the promoted instance leaves recovery");
    let accepted = wait_for(
        "a write accepted after the kill",
        Duration::from_secs(180),
        || Ok(writer.log()?.first_ok_on_after(&promoted.ip, killed)),
    )
    .expect("writes resume");
    (promoted, (accepted - killed) as f64 / 1000.0)
}

/// Waits until `old` is back as a Ready replica beside one Ready leader.
fn wait_for_return_as_replica(old: &Instance) {
    let (_, replicas) = hippo::wait_for_roles(NAMESPACE, 1, Duration::from_secs(300))
        .expect("the cluster is back to a leader and a replica");
    assert_eq!(
        replicas[0].pod, old.pod,
        "the old primary returns as the replica"
    );
}

#[test]
fn failover_with_and_without_the_operator() {
    let started = Instant::now();
    let (_namespace, leader, _) = hippo::start(NAMESPACE, 2, "");
    let client = Client::start(NAMESPACE).expect("the client pod runs");
    let writer = Writer::start(NAMESPACE, "writer").expect("the writer loop writes");
    eprintln!("e2e: hippo with a writer after {:.1?}", started.elapsed());

    // Docs' test #1: remove the primary Service.
    let before = uid(NAMESPACE, "service/hippo-primary").expect("hippo-primary exists");
    let deleted = Instant::now();
    kubectl(&["-n", NAMESPACE, "delete", "service", "hippo-primary"]).expect("deletes");
    wait_for(
        "hippo-primary to be recreated",
        Duration::from_secs(60),
        || {
            Ok(uid(NAMESPACE, "service/hippo-primary")
                .ok()
                .filter(|now| *now != before))
        },
    )
    .expect("the operator recreates hippo-primary");
    let reconnected = client
        .psql_until_ok(
            Target::Service("hippo-primary"),
            "select not pg_is_in_recovery()",
            Duration::from_secs(60),
        )
        .expect("a client reconnects through the new hippo-primary");
    assert_eq!(reconnected, "t");
    eprintln!(
        "e2e: hippo-primary recreated and reachable {:.1?} after its deletion",
        deleted.elapsed()
    );

    // Docs' test #2: remove the primary's StatefulSet.
    let (promoted, seconds) = kill_leader(&client, &writer, &leader);
    eprintln!(
        "e2e: {} promoted after {} was killed",
        promoted.pod, leader.pod
    );
    eprintln!("e2e: figure failover_seconds={seconds:.1}");
    wait_for_return_as_replica(&leader);

    // The same with the operator stopped: Patroni fails over alone.
    let stopped = OperatorStopped::stop().expect("the operator scales to zero");
    let (again, seconds) = kill_leader(&client, &writer, &promoted);
    eprintln!(
        "e2e: {} promoted after {} was killed, operator stopped",
        again.pod, promoted.pod
    );
    eprintln!("e2e: figure failover_seconds_operator_stopped={seconds:.1}");
    stopped.start_again().expect("the operator comes back");
    wait_for_return_as_replica(&promoted);

    let asked = Instant::now();
    let answer = tusk_e2e::tusk_here(&[
        "switchover",
        "hippo",
        "-n",
        NAMESPACE,
        "--to",
        &promoted.instance,
    ])
    .expect("tusk switchover succeeds");
    assert!(
        answer.contains(&format!("the primary is {}", promoted.pod)),
        "{answer}"
    );
    let status = wait_for(
        "tusk status to show the new primary and the old one as a running replica",
        Duration::from_secs(60),
        || {
            let text = tusk_e2e::tusk_here(&["status", "hippo", "-n", NAMESPACE, "-o", "json"])?;
            let status: serde_json::Value = serde_json::from_str(&text)?;
            let roles = (
                &status["members"][0]["pod"],
                &status["members"][0]["role"],
                &status["members"][1]["pod"],
                &status["members"][1]["role"],
            );
            let wanted = roles.0 == promoted.pod.as_str()
                && roles.1 == "primary"
                && roles.2 == again.pod.as_str()
                && roles.3 == "replica"
                && status["members"][1]["state"] == "running";
            Ok(wanted.then_some(status))
        },
    )
    .expect("the roles moved");
    assert!(status["members"][1]["lagBytes"].is_u64(), "{status:#}");
    eprintln!(
        "e2e: tusk switchover --to {} done in {:.1?}: {}",
        promoted.instance,
        asked.elapsed(),
        answer.trim()
    );
    let events = tusk_e2e::event_messages(NAMESPACE, "reason=Switchover").expect("events");
    assert!(
        events
            .iter()
            .any(|message| message.starts_with("Switchover ")),
        "{events:?}"
    );

    let log = writer.stop().expect("the writer stops");
    let lost = log.lost(&writer::rows(&client).expect("the rows read"));
    eprintln!(
        "e2e: writer: {} committed, {} refused, longest refusal {:.1?}, lost after two failovers: {lost:?}",
        log.committed().len(),
        log.refused(),
        log.longest_refusal()
    );
    eprintln!("e2e: high availability passed in {:.1?}", started.elapsed());
}
