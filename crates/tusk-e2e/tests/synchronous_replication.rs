//! Issue #5, end-to-end test 10, "Synchronous replication": the docs' hippo with two instances and
//! `spec.patroni.dynamicConfiguration` `synchronous_mode: true` from creation. A row acknowledged as committed
//! survives killing the primary right after the commit (its pod deleted with `--grace-period=0 --force`, kept
//! down as if its node had died): the promoted replica has it, and so does the old instance when it returns.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tusk_e2e::client::{Client, Target};
use tusk_e2e::{OperatorStopped, hippo, kubectl, wait_for};

const NAMESPACE: &str = "tusk-e2e-synchronous-replication";
const PRIMARY: Target = Target::Service("hippo-primary");
const SYNCHRONOUS: &str = "  patroni:\n    dynamicConfiguration:\n      synchronous_mode: true\n";

#[test]
fn acknowledged_commit_survives_killing_the_primary() {
    let started = Instant::now();
    let (_namespace, leader, replicas) = hippo::start(NAMESPACE, 2, SYNCHRONOUS);
    let client = Client::start(NAMESPACE).expect("the client pod runs");
    wait_for(
        "Patroni to name the replica in synchronous_standby_names",
        Duration::from_secs(180),
        || {
            let names = client.psql(PRIMARY, "show synchronous_standby_names")?;
            Ok(names.contains(&replicas[0].pod).then_some(()))
        },
    )
    .expect("the replica is synchronous");
    client
        .psql(
            PRIMARY,
            "create schema if not exists tusk_e2e; create table tusk_e2e.acknowledged (v text)",
        )
        .expect("a table is created");

    // So that nothing brings the killed primary back before Patroni promotes the replica (a pod replaced at
    // once keeps the leader lock and its own data), the operator is stopped and the primary's StatefulSet
    // deleted without its pod: the pod is then killed as if its node had died.
    let stopped = OperatorStopped::stop().expect("the operator scales to zero");
    kubectl(&[
        "-n",
        NAMESPACE,
        "delete",
        "statefulset",
        &leader.instance,
        "--cascade=orphan",
    ])
    .expect("the primary's StatefulSet is deleted, its pod kept");
    let value = format!(
        "committed at {}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis()
    );
    let inserted = client
        .psql(
            PRIMARY,
            &format!("insert into tusk_e2e.acknowledged values ('{value}') returning v"),
        )
        .expect("the insert is acknowledged");
    assert_eq!(inserted, value);
    kubectl(&[
        "-n",
        NAMESPACE,
        "delete",
        "pod",
        &leader.pod,
        "--grace-period=0",
        "--force",
    ])
    .expect("the primary's pod is killed");
    let killed = Instant::now();
    let promoted = wait_for("the replica to lead", Duration::from_secs(180), || {
        Ok(hippo::instances(NAMESPACE)?
            .into_iter()
            .find(|i| i.is_leader() && i.pod != leader.pod))
    })
    .expect("Patroni promotes the synchronous replica");
    assert_eq!(promoted.pod, replicas[0].pod);
    eprintln!(
        "e2e: {} leads {:.1?} after {} was killed",
        promoted.pod,
        killed.elapsed(),
        leader.pod
    );
    let sql = format!("select count(*) from tusk_e2e.acknowledged where v = '{value}'");
    let on_new_primary = wait_for(
        "the new primary to leave recovery",
        Duration::from_secs(60),
        || {
            let answer = client.psql(
                Target::Pod(&promoted.ip),
                &format!("select not pg_is_in_recovery(), ({sql})"),
            )?;
            Ok(answer.starts_with("t|").then_some(answer))
        },
    )
    .expect("the new primary answers");
    assert_eq!(
        on_new_primary, "t|1",
        "the acknowledged row is on the new primary"
    );

    stopped.start_again().expect("the operator comes back");
    let (_, others) = hippo::wait_for_roles(NAMESPACE, 1, Duration::from_secs(300))
        .expect("the old instance returns");
    assert_eq!(
        others[0].pod, leader.pod,
        "the old primary returns as the replica"
    );
    wait_for(
        "the returned replica to have the row",
        Duration::from_secs(60),
        || Ok((client.psql(Target::Pod(&others[0].ip), &sql)? == "1").then_some(())),
    )
    .expect("the returned replica has the acknowledged row");
    eprintln!(
        "e2e: synchronous replication passed in {:.1?}",
        started.elapsed()
    );
}
