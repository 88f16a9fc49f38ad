//! Issue #5, end-to-end test 12, "Self-healing while Postgres serves traffic": with the docs' hippo at two
//! instances and a writer loop inserting through `hippo-primary`, the test deletes objects the operator owns
//! (the Services clients use, Patroni's and pgBackRest's ConfigMaps, the certificate Secrets, the disruption
//! budget, the Role and RoleBinding Patroni needs for its DCS). Each comes back, and at the end every row the
//! writer saw committed is in the table: no write is lost.

use std::time::{Duration, Instant};
use tusk_e2e::client::Client;
use tusk_e2e::writer::{self, Writer};
use tusk_e2e::{hippo, kubectl, uid, wait_for};

const NAMESPACE: &str = "tusk-e2e-self-healing";

#[test]
fn deleted_objects_come_back_and_no_write_is_lost() {
    let started = Instant::now();
    let (_namespace, leader, replicas) = hippo::start(NAMESPACE, 2, "");
    let client = Client::start(NAMESPACE).expect("the client pod runs");
    let writer = Writer::start(NAMESPACE, "writer").expect("the writer loop writes");

    let mut objects: Vec<String> = [
        "service/hippo-primary",
        "service/hippo-replicas",
        "service/hippo-pods",
        "configmap/hippo-config",
        "configmap/hippo-pgbackrest-config",
        "secret/hippo-cluster-cert",
        "secret/hippo-replication-cert",
        "poddisruptionbudget/hippo-set-instance1",
        "role/hippo-instance",
        "rolebinding/hippo-instance",
    ]
    .map(String::from)
    .to_vec();
    for instance in [&leader, &replicas[0]] {
        objects.push(format!("configmap/{}-config", instance.instance));
        objects.push(format!("secret/{}-certs", instance.instance));
    }
    let before: Vec<String> = objects
        .iter()
        .map(|object| uid(NAMESPACE, object).unwrap_or_else(|e| panic!("{object}: {e:#}")))
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let deleted = Instant::now();
    for object in &objects {
        kubectl(&["-n", NAMESPACE, "delete", object, "--wait=false"])
            .unwrap_or_else(|e| panic!("{object} deletes: {e:#}"));
    }
    for (object, old) in objects.iter().zip(&before) {
        wait_for(
            &format!("{object} to come back"),
            Duration::from_secs(60),
            || Ok(uid(NAMESPACE, object).ok().filter(|new| new != old)),
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
    }
    eprintln!(
        "e2e: {} deleted objects back within {:.1?}",
        objects.len(),
        deleted.elapsed()
    );

    // Keep writing a while: a broken object may show only after Patroni's next loops.
    std::thread::sleep(Duration::from_secs(30));
    let (after, _) = hippo::wait_for_roles(NAMESPACE, 1, Duration::from_secs(60))
        .expect("still a leader and a replica");
    let log = writer.stop().expect("the writer stops");
    let lost = log.lost(&writer::rows(&client).expect("the rows read"));
    eprintln!(
        "e2e: writer: {} committed, {} refused, longest stretch without an accepted write {:.1?}; leader {} → {}",
        log.committed().len(),
        log.refused(),
        log.longest_refusal(),
        leader.pod,
        after.pod
    );
    eprintln!(
        "e2e: figure self_healing_longest_refusal_seconds={:.1}",
        log.longest_refusal().as_secs_f64()
    );
    assert!(lost.is_empty(), "committed writes lost: {lost:?}");
    assert!(
        log.committed().len() > 50,
        "the writer kept writing ({} committed)",
        log.committed().len()
    );
    eprintln!("e2e: self-healing passed in {:.1?}", started.elapsed());
}
