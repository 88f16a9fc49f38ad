//! Issue #6, end-to-end tests 1–4 and 9 on one hippo (a volume repository on the repository host), in order:
//!
//! 1. the stanza is created, WAL is archived (and `status.pgbackrest.walArchiving` says so), and a full backup
//!    exists soon after creation (`replicaCreateBackupComplete`), as PGO does;
//! 2. full, differential and incremental CronJobs fire and their backups appears in `pgbackrest info`; `shutdown` suspends the CronJobs;
//! 3. manual backups: `spec.backups.pgbackrest.manual` + the `pgbackrest-backup` annotation run one Job, the
//!    status reports it; a new annotation value runs another; a failing backup is reported and the cluster
//!    keeps taking writes;
//! 4. retention: `repo1-retention-full: "1"` expires the older full backup and its dependents;
//! 9. a new replica is made from the latest backup by pgBackRest (Patroni's `pgbackrest` replica method), not
//!    copied from the primary, and has every row.
//!
//! Every step checks what pgBackRest lists in the repository, not only Job statuses, and the rows written
//! meanwhile.

use std::time::{Duration, Instant};
use tusk_e2e::pgbackrest::{self, Backup, backups, status};
use tusk_e2e::{get_json, hippo, kubectl, wait_for};

const NAMESPACE: &str = "tusk-e2e-backups";

/// `sql` as `postgres` over the local socket of `pod`.
fn psql(pod: &str, sql: &str) -> anyhow::Result<String> {
    tusk_e2e::psql_in(NAMESPACE, pod, sql)
}

fn patch(kind: &str, patch: &str) {
    tusk_e2e::patch_cluster(NAMESPACE, "hippo", kind, patch)
        .unwrap_or_else(|error| panic!("patch {patch}: {error:#}"));
}

/// Requests a manual backup of repo1 with `options` under the annotation value `id` and waits until the
/// status reports it finished; the status of the request.
fn manual_backup(id: &str, options: &[&str]) -> serde_json::Value {
    let started = Instant::now();
    let manual = pgbackrest::manual_backup(NAMESPACE, "hippo", "repo1", id, options)
        .expect("the manual backup finishes");
    eprintln!(
        "e2e: manual backup {id} ({options:?}) finished in {:.1} s: {manual}",
        started.elapsed().as_secs_f64()
    );
    manual
}

fn new_backups(before: &[Backup]) -> Vec<Backup> {
    backups(NAMESPACE, "hippo")
        .expect("pgbackrest info")
        .into_iter()
        .filter(|backup| !before.contains(backup))
        .collect()
}

fn count_rows(pod: &str) -> i64 {
    psql(pod, "select count(*) from tusk_e2e_backups")
        .expect("count")
        .parse()
        .expect("a number")
}

#[test]
fn backups_are_taken_reported_scheduled_and_expired() {
    let created = Instant::now();
    let (_namespace, leader, _) = hippo::start(NAMESPACE, 1, "");
    let pod = leader.pod.clone();
    psql(
        &pod,
        "create table tusk_e2e_backups (id serial primary key, at timestamptz default now()); \
         insert into tusk_e2e_backups default values",
    )
    .expect("a table");

    // 1. Stanza, WAL archiving, the first full backup.
    wait_for(
        "status.pgbackrest.repos[0].stanzaCreated",
        Duration::from_secs(300),
        || Ok((status(NAMESPACE, "hippo")?["repos"][0]["stanzaCreated"] == true).then_some(())),
    )
    .expect("the stanza is created");
    let segment = psql(&pod, "select pg_walfile_name(pg_switch_wal())").expect("a WAL switch");
    let archived = wait_for(
        &format!("segment {segment} archived"),
        Duration::from_secs(120),
        || {
            let last = psql(
                &pod,
                "select coalesce(last_archived_wal, '') from pg_stat_archiver",
            )?;
            Ok((last.as_str() >= segment.as_str() && !last.is_empty()).then_some(last))
        },
    )
    .expect("WAL reaches the repository");
    wait_for(
        "status.pgbackrest.repos[0].replicaCreateBackupComplete",
        Duration::from_secs(300),
        || {
            let repo = status(NAMESPACE, "hippo")?["repos"][0].clone();
            Ok((repo["replicaCreateBackupComplete"] == true).then_some(()))
        },
    )
    .expect("the first full backup is taken");
    let first = backups(NAMESPACE, "hippo").expect("pgbackrest info");
    eprintln!(
        "e2e: {:.1} s from apply to the first full backup; WAL archived up to {archived}; backups {first:?}",
        created.elapsed().as_secs_f64()
    );
    assert_eq!(first.len(), 1, "one backup after creation: {first:?}");
    assert_eq!(first[0].type_, "full");
    let archiving = status(NAMESPACE, "hippo").expect("status")["walArchiving"].clone();
    let last_archived = archiving["lastArchivedWAL"].as_str().unwrap_or_default();
    assert!(
        last_archived >= segment.as_str(),
        "status.pgbackrest.walArchiving reports archiving ({archiving}), at least up to {segment}"
    );
    assert_eq!(archiving["failedCount"], 0, "{archiving}");
    let conditions =
        get_json(NAMESPACE, &["postgrescluster", "hippo"]).expect("hippo")["status"]["conditions"]
            .clone();
    for type_ in [
        "PGBackRestRepoHostReady",
        "PGBackRestReplicaRepoReady",
        "PGBackRestReplicaCreate",
        "WALArchiving",
    ] {
        let condition = conditions
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == type_);
        assert!(
            condition.is_some_and(|c| c["status"] == "True"),
            "condition {type_} is True: {conditions}"
        );
    }

    // 3. Manual backups: one Job per annotation value; a failing one is reported.
    let manual = manual_backup("first", &["--type=incr", "--start-fast"]);
    assert_eq!(manual["succeeded"], 1, "{manual}");
    let added = new_backups(&first);
    assert!(
        added.len() == 1
            && added[0].type_ == "incr"
            && added[0].prior.as_ref() == Some(&first[0].label),
        "an incremental backup on the full one: {added:?}"
    );
    let manual = manual_backup("second", &["--type=diff", "--start-fast"]);
    assert_eq!(manual["succeeded"], 1, "{manual}");
    let all = backups(NAMESPACE, "hippo").expect("pgbackrest info");
    assert_eq!(
        all.iter().map(|b| b.type_.as_str()).collect::<Vec<_>>(),
        ["full", "incr", "diff"]
    );
    let manual_jobs = kubectl(&[
        "-n",
        NAMESPACE,
        "get",
        "jobs",
        "-l",
        "postgres-operator.crunchydata.com/pgbackrest-backup=manual",
        "-o",
        "name",
    ])
    .expect("jobs");
    assert_eq!(
        manual_jobs.lines().count(),
        1,
        "the earlier manual Job is replaced: {manual_jobs}"
    );

    let rows_before = count_rows(&pod);
    let manual = manual_backup("third", &["--type=bogus"]);
    assert!(
        manual["failed"].as_i64().unwrap_or(0) >= 1 && manual["succeeded"].is_null(),
        "the failed backup is reported: {manual}"
    );
    let events = get_json(
        NAMESPACE,
        &["events", "--field-selector", "reason=ManualBackupFailed"],
    )
    .expect("events");
    assert!(
        !events["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .is_empty(),
        "a ManualBackupFailed event"
    );
    psql(&pod, "insert into tusk_e2e_backups default values").expect("writes still work");
    assert_eq!(count_rows(&pod), rows_before + 1);
    assert_eq!(
        backups(NAMESPACE, "hippo").expect("pgbackrest info").len(),
        3,
        "the failed backup left nothing behind"
    );

    // 2. Full, differential and incremental schedules fire (at the same minute: pgBackRest's lock on the
    // repository serializes them, and a Job that met the lock is retried).
    let before_schedule = backups(NAMESPACE, "hippo").expect("pgbackrest info");
    patch(
        "json",
        r#"[{"op":"add","path":"/spec/backups/pgbackrest/repos/0/schedules",
             "value":{"full":"* * * * *","differential":"* * * * *","incremental":"* * * * *"}}]"#,
    );
    let mut succeeded = std::collections::BTreeSet::new();
    wait_for(
        "a scheduled backup of each type succeeded",
        Duration::from_secs(300),
        || {
            let scheduled = status(NAMESPACE, "hippo")?["scheduledBackups"].clone();
            for run in scheduled.as_array().into_iter().flatten() {
                if run["succeeded"] == 1 {
                    succeeded.insert(run["type"].as_str().unwrap_or_default().to_string());
                }
            }
            Ok((succeeded.len() == 3).then_some(()))
        },
    )
    .expect("the CronJobs fire and their backups succeed");
    let added = new_backups(&before_schedule);
    for type_ in ["full", "diff", "incr"] {
        assert!(
            added.iter().any(|b| b.type_ == type_),
            "a scheduled {type_} backup in the repository: {added:?}"
        );
    }
    eprintln!("e2e: scheduled backups taken: {added:?}");

    // 4. Retention: a new full backup expires the older one and what depends on it. A new pgBackRest
    // configuration replaces the instance pod (its template carries the configuration's hash): wait for it.
    let uid_before = tusk_e2e::uid(NAMESPACE, &format!("pod/{pod}")).expect("the pod's uid");
    patch(
        "json",
        r#"[{"op":"remove","path":"/spec/backups/pgbackrest/repos/0/schedules"},
            {"op":"add","path":"/spec/backups/pgbackrest/global","value":{"repo1-retention-full":"1"}}]"#,
    );
    wait_for(
        "the instance replaced and Ready",
        Duration::from_secs(300),
        || {
            let uid = tusk_e2e::uid(NAMESPACE, &format!("pod/{pod}"))?;
            Ok((uid != uid_before && psql(&pod, "select 1")? == "1").then_some(()))
        },
    )
    .expect("the instance rolls to the new configuration");
    let manual = manual_backup("fourth", &["--type=full", "--start-fast"]);
    assert_eq!(manual["succeeded"], 1, "{manual}");
    let left = backups(NAMESPACE, "hippo").expect("pgbackrest info");
    assert!(
        left.len() == 1 && left[0].type_ == "full" && left[0].label != first[0].label,
        "only the newest full backup is kept: {left:?}"
    );
    let rows = count_rows(&pod);
    assert!(rows >= 2, "the rows are all there: {rows}");

    // 9. A new replica is restored from the latest backup (and then replays WAL), not copied from the primary.
    psql(
        &pod,
        "create table tusk_e2e_bulk as \
         select g, repeat('x', 200) as filler from generate_series(1, 200000) g",
    )
    .expect("bulk rows");
    let manual = manual_backup("fifth", &["--type=incr", "--start-fast"]);
    assert_eq!(manual["succeeded"], 1, "{manual}");
    psql(
        &pod,
        "insert into tusk_e2e_bulk values (0, 'after the backup')",
    )
    .expect("a row");
    patch(
        "json",
        r#"[{"op":"add","path":"/spec/instances/0/replicas","value":2}]"#,
    );
    let scaled = Instant::now();
    let (_, replicas) = hippo::wait_for_roles(NAMESPACE, 1, Duration::from_secs(300))
        .expect("the new replica becomes Ready");
    let replica = &replicas[0];
    eprintln!(
        "e2e: new replica {} Ready in {:.1} s",
        replica.pod,
        scaled.elapsed().as_secs_f64()
    );
    let log = kubectl(&["-n", NAMESPACE, "logs", &replica.pod, "-c", "database"]).expect("logs");
    assert!(
        log.contains("replica has been created using pgbackrest"),
        "Patroni made the replica with pgBackRest:\n{log}"
    );
    let copied = wait_for("the replica has every row", Duration::from_secs(60), || {
        let count = psql(&replica.pod, "select count(*) from tusk_e2e_bulk")?;
        Ok((count == "200001").then_some(count))
    })
    .expect("the replica catches up");
    eprintln!("e2e: the replica has {copied} bulk rows");

    // 2 (end). Shutting down suspends the schedules.
    patch(
        "json",
        r#"[{"op":"add","path":"/spec/backups/pgbackrest/repos/0/schedules","value":{"full":"0 1 * * *"}},
            {"op":"add","path":"/spec/shutdown","value":true}]"#,
    );
    wait_for("the CronJob suspended", Duration::from_secs(60), || {
        let cron_job = get_json(NAMESPACE, &["cronjob", "hippo-pgbackrest-repo1-full"])?;
        Ok((cron_job["spec"]["suspend"] == true).then_some(()))
    })
    .expect("shutdown suspends the backup CronJobs");
}
