//! Issue #6, object stores: hippo with its only repository in S3 (versitygw), GCS (fake-gcs-server) or Azure
//! Blob (Azurite), each a real server of the protocol in the test's namespace, reached over TLS with a CA that
//! pgBackRest trusts through `spec.backups.pgbackrest.configuration` (`tusk_e2e::objstore`). Each test shows:
//! the stanza created (`status.pgbackrest.repos[0].stanzaCreated`); WAL archived into the bucket (PostgreSQL's
//! `pg_stat_archiver`, pgBackRest's listing, and the object on the server's side); the operator's backup Jobs
//! writing into the bucket (the replica-create backup after stanza creation, then a manual full backup by
//! annotation), both listed by `pgbackrest info` and accepted by `pgbackrest verify`; and a restore from the
//! bucket (the manual backup and the WAL archived after it) into a scratch directory whose PostgreSQL has every
//! row written before and after the backup; then a clone (`spec.dataSource.postgresCluster`) restored from the
//! bucket with hippo's credentials has every row too.

use std::time::Duration;
use tusk_e2e::objstore::{ObjectStores, Store};
use tusk_e2e::{
    Namespace, hippo, install_operator, kubectl, pgbackrest, require_cluster, wait_for,
};

/// `command` in the `database` container of `pod`; its standard output, trimmed.
fn exec(namespace: &str, pod: &str, command: &[&str]) -> anyhow::Result<String> {
    let mut args = vec!["-n", namespace, "exec", pod, "-c", "database", "--"];
    args.extend_from_slice(command);
    Ok(kubectl(&args)?.trim().to_string())
}

/// `sql` as `postgres` over the local socket of `pod`.
fn psql(namespace: &str, pod: &str, sql: &str) -> anyhow::Result<String> {
    exec(
        namespace,
        pod,
        &["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
    )
}

/// Restores repository 1's latest backup, and the WAL archived after it, into a scratch directory of `pod`,
/// starts a PostgreSQL on it (no archiving, its own socket) until recovery ends, and prints
/// `count|min|max` of `objstore_rows` there; the scratch directory goes afterwards.
const RESTORE_CHECK: &str = r#"set -e
dir=/pgdata/objstore-restore
sock=$(mktemp -d)
rm -rf "$dir"
mkdir -m 0700 "$dir"
trap 'pg_ctl -D "$dir" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir" "$sock"' EXIT
pgbackrest --stanza=db --repo=1 --pg1-path="$dir" --archive-mode=off --log-level-console=warn restore
pg_ctl -D "$dir" -l "$sock/log" -w -t 120 -o "-p 5499 -c listen_addresses= -c unix_socket_directories=$sock -c archive_mode=off -c hot_standby=on" start >/dev/null
for _ in $(seq 120); do
  [ "$(psql -h "$sock" -p 5499 -XAtq -c 'select pg_is_in_recovery()')" = f ] && break
  sleep 1
done
psql -h "$sock" -p 5499 -XAtq -v ON_ERROR_STOP=1 -c 'select count(*), min(n), max(n) from objstore_rows'
"#;

fn repository_in(store: Store) {
    let namespace = format!("tusk-e2e-objstore-{}", store.container());
    let namespace = namespace.as_str();
    require_cluster();
    install_operator().expect("the operator installs and becomes available");
    let made = Namespace::fresh(namespace).expect("namespace");
    let stores = ObjectStores::deploy(namespace, &[(store, 1)]).expect("the object stores run");
    made.apply(&hippo::with_backups(
        &hippo::manifest(1, ""),
        &store.backups(namespace),
    ))
    .expect("hippo applies");
    let (leader, _) = hippo::wait_for_roles(namespace, 0, Duration::from_secs(420))
        .expect("hippo's instance becomes Ready");
    let pod = leader.pod.as_str();

    pgbackrest::wait_for_stanza(namespace, "hippo").expect("the stanza is created in the bucket");

    wait_for(
        "status.pgbackrest.repos[0].replicaCreateBackupComplete",
        Duration::from_secs(300),
        || {
            let repo = pgbackrest::status(namespace, "hippo")?["repos"][0].clone();
            Ok((repo["replicaCreateBackupComplete"] == true).then_some(()))
        },
    )
    .expect("the operator's first backup lands in the bucket");

    psql(
        namespace,
        pod,
        "create table objstore_rows (n int primary key); \
         insert into objstore_rows select generate_series(1, 100)",
    )
    .expect("rows before the manual backup");
    let manual = pgbackrest::manual_backup(
        namespace,
        "hippo",
        "repo1",
        "objstore",
        &["--type=full", "--start-fast"],
    )
    .expect("the manual backup finishes");
    assert_eq!(
        manual["succeeded"], 1,
        "the manual backup succeeded: {manual}"
    );
    let info = exec(
        namespace,
        pod,
        &[
            "pgbackrest",
            "--stanza=db",
            "--repo=1",
            "--output=json",
            "info",
        ],
    )
    .expect("pgbackrest info");
    let backups = pgbackrest::parse(&info).expect("pgbackrest info is JSON");
    assert_eq!(
        backups.iter().map(|b| b.type_.as_str()).collect::<Vec<_>>(),
        ["full", "full"],
        "the replica-create backup and the manual one: {info}"
    );
    let label = backups[1].label.clone();

    psql(
        namespace,
        pod,
        "insert into objstore_rows select generate_series(101, 200)",
    )
    .expect("rows after the backup");
    let segment = pgbackrest::archive_to_the_end(namespace, pod).expect("WAL reaches the bucket");
    let listing = exec(
        namespace,
        pod,
        &[
            "pgbackrest",
            "--stanza=db",
            "--repo=1",
            "--recurse",
            "repo-ls",
            "archive/db",
        ],
    )
    .expect("pgbackrest repo-ls");
    assert!(
        listing.contains(&segment),
        "{segment} listed in the bucket:\n{listing}"
    );
    wait_for(
        "the segment and the backup on the server's side",
        Duration::from_secs(30),
        || Ok((stores.holds(store, &segment)? && stores.holds(store, &label)?).then_some(())),
    )
    .expect("the server keeps the segment and the backup");
    exec(
        namespace,
        pod,
        &[
            "pgbackrest",
            "--stanza=db",
            "--repo=1",
            "--log-level-console=warn",
            "verify",
        ],
    )
    .expect("pgbackrest verify accepts the repository");

    let restored = exec(namespace, pod, &["sh", "-c", RESTORE_CHECK]).expect("the restore check");
    assert_eq!(
        restored.lines().last(),
        Some("200|1|200"),
        "every row back from the bucket:\n{restored}"
    );
    let archiver = psql(
        namespace,
        pod,
        "select archived_count, failed_count from pg_stat_archiver",
    )
    .expect("pg_stat_archiver");
    eprintln!(
        "e2e: {store:?}: stanza created, backup {label}, WAL archived up to {segment} (archived|failed {archiver}), \
         restore read back 200 rows"
    );

    // A clone from the bucket: its restore Job reads the repository with hippo's credentials (same namespace).
    let applied = std::time::Instant::now();
    made.apply(
        &hippo::manifest(
            1,
            "  dataSource:\n    postgresCluster:\n      clusterName: hippo\n      repoName: repo1\n",
        )
        .replacen("  name: hippo\n", "  name: elephant\n", 1),
    )
    .expect("the clone applies");
    let clone = wait_for("the clone's leader", Duration::from_secs(300), || {
        hippo::ready_leader(namespace, "elephant")
    })
    .expect("the clone from the bucket leads");
    let cloned = psql(
        namespace,
        &clone,
        "select count(*) || '|' || min(n) || '|' || max(n) from objstore_rows",
    )
    .expect("the clone's rows");
    assert_eq!(
        cloned, "200|1|200",
        "the clone has every row from the bucket"
    );
    eprintln!(
        "e2e: {store:?}: a clone from the bucket led {:.1?} after it was applied, with 200 rows",
        applied.elapsed()
    );
}

#[test]
fn s3_repository() {
    repository_in(Store::S3);
}

#[test]
fn gcs_repository() {
    repository_in(Store::Gcs);
}

#[test]
fn azure_repository() {
    repository_in(Store::Azure);
}
