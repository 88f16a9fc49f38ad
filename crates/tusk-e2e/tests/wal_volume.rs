//! Issue #5, end-to-end test 11: a separate WAL volume added to a running two-instance hippo and later removed.
//! Each change rolls the instances (replicas first, then a switchover); each pod's start moves the WAL to where
//! the spec wants it before PostgreSQL starts. A writer inserts through `hippo-primary` all along: every
//! acknowledged row is there at the end, and the WAL volume claims are kept (Tusk never deletes them).

use std::time::Duration;
use tusk_e2e::client::Client;
use tusk_e2e::hippo;
use tusk_e2e::writer::{self, Writer};
use tusk_e2e::{kubectl, wait_for};

const NAMESPACE: &str = "tusk-e2e-wal-volume";
/// Where the WAL of hippo's PostgreSQL 13 data directory goes on a WAL volume.
const WAL_DIRECTORY: &str = "/pgwal/pg13_wal";

/// Where `pod`'s `pg_wal` points: the WAL volume's directory, or `data` when it is a directory of its own.
fn wal_location(pod: &str) -> anyhow::Result<String> {
    Ok(kubectl(&[
        "-n",
        NAMESPACE,
        "exec",
        pod,
        "-c",
        "database",
        "--",
        "sh",
        "-c",
        r#"readlink "$PGDATA/pg_wal" || echo data"#,
    ])?
    .trim()
    .to_string())
}

/// The names of hippo's WAL volume claims, one a line.
fn wal_claims() -> String {
    kubectl(&[
        "-n",
        NAMESPACE,
        "get",
        "pvc",
        "-l",
        "postgres-operator.crunchydata.com/role=pgwal",
        "-o",
        "name",
    ])
    .expect("the claims list")
}

/// Waits until both instances are Ready (one leading) with their WAL at `location`.
fn wal_everywhere(location: &str) {
    wait_for(
        &format!("the WAL of both instances at {location}"),
        Duration::from_secs(600),
        || {
            let (leader, replicas) = hippo::wait_for_roles(NAMESPACE, 1, Duration::from_secs(600))?;
            for instance in [leader].iter().chain(&replicas) {
                if wal_location(&instance.pod)? != location {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    )
    .expect("the WAL moves");
}

#[test]
fn a_wal_volume_added_and_removed_keeps_every_row() {
    let (namespace, _, _) = hippo::start(NAMESPACE, 2, "");
    let without = hippo::manifest(2, "");
    let client = Client::start(NAMESPACE).expect("the client pod runs");
    let writer = Writer::start(NAMESPACE, "writer").expect("the writer writes");

    let with = without.replace(
        "      dataVolumeClaimSpec:",
        "      walVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n      dataVolumeClaimSpec:",
    );
    namespace.apply(&with).expect("the WAL volume is added");
    wal_everywhere(WAL_DIRECTORY);
    let claims = wal_claims();
    assert_eq!(claims.lines().count(), 2, "{claims}");

    namespace
        .apply(&without)
        .expect("the WAL volume is removed");
    wal_everywhere("data");
    let kept = wal_claims();
    assert_eq!(kept, claims, "the WAL volume claims are kept");

    let log = writer.stop().expect("the writer stops");
    let lost = log.lost(&writer::rows(&client).expect("the rows"));
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    eprintln!(
        "e2e: WAL volume added and removed; {} writes acknowledged, none lost; longest stretch without an accepted write {:.1}s",
        log.committed().len(),
        log.longest_refusal().as_secs_f64()
    );
}
