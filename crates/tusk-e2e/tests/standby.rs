//! Issue #6, end-to-end test 10 (docs: Disaster Recovery, "Standby Cluster"): `hippo-standby` follows `hippo`
//! through their shared S3 repository (a real S3 server, `tusk_e2e::objstore`): it is made from hippo's backup,
//! replays the WAL hippo archives, and refuses writes; then hippo is shut down and the standby promoted
//! (`standby.enabled: false`), and it takes writes with every row hippo had.

use std::time::Duration;
use tusk_e2e::objstore::{ObjectStores, Store};
use tusk_e2e::pgbackrest::{archive_to_the_end, status};
use tusk_e2e::{Namespace, hippo, install_operator, kubectl, require_cluster, wait_for};

const NAMESPACE: &str = "tusk-e2e-standby";

fn psql(pod: &str, sql: &str) -> anyhow::Result<String> {
    tusk_e2e::psql_in(NAMESPACE, pod, sql)
}

/// The Ready leader pod of `cluster` (a standby leader carries the same role label).
fn leader(cluster: &str) -> anyhow::Result<Option<String>> {
    let pods = tusk_e2e::get_json(
        NAMESPACE,
        &[
            "pods",
            "-l",
            &format!(
                "postgres-operator.crunchydata.com/cluster={cluster},postgres-operator.crunchydata.com/role=master"
            ),
        ],
    )?;
    Ok(pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|pod| tusk_e2e::pod_ready(pod))
        .and_then(|pod| pod["metadata"]["name"].as_str().map(str::to_string)))
}

fn count(pod: &str) -> anyhow::Result<String> {
    psql(pod, "select count(*) from standby_rows")
}

#[test]
fn a_standby_follows_through_s3_and_is_promoted() {
    require_cluster();
    install_operator().expect("the operator installs");
    let namespace = Namespace::fresh(NAMESPACE).expect("namespace");
    let _stores = ObjectStores::deploy(NAMESPACE, &[(Store::S3, 1)]).expect("the S3 server runs");
    let backups = Store::S3.backups(NAMESPACE);
    namespace
        .apply(&hippo::with_backups(&hippo::manifest(1, ""), &backups))
        .expect("hippo applies");
    let primary = wait_for("hippo's leader", Duration::from_secs(420), || {
        leader("hippo")
    })
    .expect("hippo runs");
    wait_for("hippo's first backup", Duration::from_secs(300), || {
        Ok(
            (status(NAMESPACE, "hippo")?["repos"][0]["replicaCreateBackupComplete"] == true)
                .then_some(()),
        )
    })
    .expect("hippo's backup is in the bucket");
    psql(
        &primary,
        "create table standby_rows (n int primary key); \
         insert into standby_rows select generate_series(1, 100)",
    )
    .expect("rows");
    archive_to_the_end(NAMESPACE, &primary).expect("WAL reaches the bucket");

    let standby_manifest = hippo::with_backups(
        &hippo::manifest(1, "  standby:\n    enabled: true\n    repoName: repo1\n"),
        &backups,
    )
    .replacen("  name: hippo\n", "  name: hippo-standby\n", 1);
    namespace
        .apply(&standby_manifest)
        .expect("the standby applies");
    let standby = wait_for("the standby leader", Duration::from_secs(420), || {
        leader("hippo-standby")
    })
    .expect("the standby runs");
    wait_for(
        "the standby has hippo's rows",
        Duration::from_secs(120),
        || Ok((count(&standby).ok().as_deref() == Some("100")).then_some(())),
    )
    .expect("the standby is made from hippo's backup and WAL");
    assert!(
        psql(&standby, "insert into standby_rows values (0)").is_err(),
        "a standby refuses writes"
    );

    psql(
        &primary,
        "insert into standby_rows select generate_series(101, 200)",
    )
    .expect("rows");
    archive_to_the_end(NAMESPACE, &primary).expect("WAL reaches the bucket");
    wait_for("the standby follows", Duration::from_secs(120), || {
        Ok((count(&standby).ok().as_deref() == Some("200")).then_some(()))
    })
    .expect("the standby replays what hippo archives");

    let patch = |cluster: &str, json: &str| {
        tusk_e2e::patch_cluster(NAMESPACE, cluster, "merge", json).expect("patch")
    };
    patch("hippo", r#"{"spec":{"shutdown":true}}"#);
    wait_for("hippo shut down", Duration::from_secs(180), || {
        let pods = kubectl(&[
            "-n",
            NAMESPACE,
            "get",
            "pods",
            "-l",
            "postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/instance",
            "-o",
            "name",
        ])?;
        Ok(pods.trim().is_empty().then_some(()))
    })
    .expect("hippo's instances stop");
    patch("hippo-standby", r#"{"spec":{"standby":{"enabled":false}}}"#);
    let promoted = wait_for("the standby promoted", Duration::from_secs(180), || {
        let Some(pod) = leader("hippo-standby")? else {
            return Ok(None);
        };
        Ok((psql(&pod, "select pg_is_in_recovery()")? == "f").then_some(pod))
    })
    .expect("the standby is promoted");
    psql(&promoted, "insert into standby_rows values (201)")
        .expect("the promoted standby takes writes");
    assert_eq!(
        count(&promoted).expect("count"),
        "201",
        "every row of hippo, and the new one"
    );
    wait_for(
        "the promoted cluster's stanza",
        Duration::from_secs(300),
        || {
            Ok(
                (status(NAMESPACE, "hippo-standby")?["repos"][0]["stanzaCreated"] == true)
                    .then_some(()),
            )
        },
    )
    .expect("the promoted cluster archives to the repository");
}
