//! Issue #5, end-to-end test 2, "Services": with two instances of the docs' hippo, `hippo-primary` reaches the
//! leader, `hippo-replicas` reaches only replicas (`pg_is_in_recovery()` is true through it), and each instance's
//! pod name resolves through `hippo-pods` (`<pod>.hippo-pods`) to that pod.

use std::time::{Duration, Instant};
use tusk_e2e::client::{Client, Target};
use tusk_e2e::hippo;

const NAMESPACE: &str = "tusk-e2e-services";

#[test]
fn services_reach_the_right_instances() {
    let started = Instant::now();
    let (_namespace, leader, replicas) = hippo::start(NAMESPACE, 2, "");
    eprintln!(
        "e2e: leader {} and replica {} Ready {:.1?} after start",
        leader.pod,
        replicas[0].pod,
        started.elapsed()
    );
    let client = Client::start(NAMESPACE).expect("the client pod runs");

    let through_primary = client
        .psql_until_ok(
            Target::Service("hippo-primary"),
            "select not pg_is_in_recovery(), host(inet_server_addr())",
            Duration::from_secs(180),
        )
        .expect("a query through hippo-primary");
    assert_eq!(
        through_primary,
        format!("t|{}", leader.ip),
        "hippo-primary reaches the leader"
    );

    for attempt in 0..10 {
        let through_replicas = client
            .psql(
                Target::Service("hippo-replicas"),
                "select pg_is_in_recovery(), host(inet_server_addr())",
            )
            .expect("a query through hippo-replicas");
        let (recovery, address) = through_replicas.split_once('|').expect("two columns");
        assert_eq!(
            recovery, "t",
            "attempt {attempt}: hippo-replicas reached a primary"
        );
        assert!(
            replicas.iter().any(|replica| replica.ip == address),
            "attempt {attempt}: hippo-replicas reached {address}, not a replica ({replicas:?})"
        );
    }

    for instance in replicas.iter().chain([&leader]) {
        let name = format!("{}.hippo-pods", instance.pod);
        let resolved = client
            .sh("getent hosts \"$1\"", &[&name])
            .unwrap_or_else(|error| panic!("{name} resolves: {error:#}"));
        assert_eq!(
            resolved.split_whitespace().next(),
            Some(instance.ip.as_str()),
            "{name} resolves to its pod"
        );
        let in_recovery = client
            .psql(Target::Pod(&instance.ip), "select pg_is_in_recovery()")
            .expect("a query to the pod behind the name");
        assert_eq!(in_recovery == "f", instance.is_leader(), "{name}");
    }
    eprintln!("e2e: services passed in {:.1?}", started.elapsed());
}
