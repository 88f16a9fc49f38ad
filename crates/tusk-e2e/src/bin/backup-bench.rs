//! Backup and restore of a generated database on the local Kubernetes: pgBackRest run by hand versus through
//! Tusk, on the same data, and Tusk's overhead. Run by `cargo xtask bench-backup [--scale N]` (pgbench's scale:
//! 140 makes about 2.1 GB).
//!
//! "By hand" is a pod made from the very pod template of Tusk's backup Jobs (same image, configuration,
//! certificates and volumes) that sleeps, with the Jobs' `pgbackrest backup` command run in it through
//! `kubectl exec` before and after the backup through Tusk (the mean is compared, so a warmer cache favours
//! neither), then `pgbackrest restore`: pgBackRest's own time. "Through Tusk" is what a user waits for: from the
//! `pgbackrest-backup` annotation to `status.pgbackrest.manualBackup` finished (the Job created, scheduled,
//! started, the backup, the status written); for the restore, the clone's restore Job from creation to
//! completion, split (from its pod, read while it exists) into waiting for scheduling, the container's start and
//! the container's run, which does the same work as the restore and recovery by hand.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tusk_e2e::pgbackrest::{self, status};
use tusk_e2e::{
    Namespace, get_json, hippo, install_operator, kubectl, kubectl_with, require_cluster, wait_for,
};

const NAMESPACE: &str = "tusk-bench-backup";
/// pgbench's scale for about 2.1 GB.
const DEFAULT_SCALE: u32 = 140;
/// The pod that runs pgBackRest by hand.
const BY_HAND: &str = "pgbackrest-by-hand";
/// What a person does to get a usable database from a backup: the restore (the arguments, into
/// `/tmp/restored`), then a PostgreSQL on it that replays the WAL and is promoted, then stops. The same work as
/// the clone's restore Job.
const RECOVER_BY_HAND: &str = r#"set -eu
rm -rf /tmp/restored
"$@"
printf 'local all all trust\n' > /tmp/bench_hba.conf
: > /tmp/bench_ident.conf
postgres -D /tmp/restored -c port=5499 -c listen_addresses= -c unix_socket_directories=/tmp \
  -c archive_mode=off -c ssl=off -c hba_file=/tmp/bench_hba.conf -c ident_file=/tmp/bench_ident.conf \
  -c logging_collector=off >/tmp/bench_postgres.log 2>&1 &
server=$!
until [ "$(psql -XAtq -h /tmp -p 5499 -U postgres -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null || true)" = f ]; do
  kill -0 "$server"
  sleep 0.2
done
kill -INT "$server"
wait "$server"
"#;

fn main() -> Result<()> {
    let scale = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => DEFAULT_SCALE,
        [flag, value] if flag == "--scale" => value.parse().context("--scale takes a number")?,
        _ => bail!("usage: backup-bench [--scale N]"),
    };
    require_cluster();
    install_operator()?;
    let namespace = Namespace::fresh(NAMESPACE)?;
    namespace.apply(&hippo::manifest(1, "").replace("storage: 1Gi", "storage: 20Gi"))?;
    let (leader, _) = hippo::wait_for_roles(NAMESPACE, 0, Duration::from_secs(420))?;
    wait_for("the first backup", Duration::from_secs(300), || {
        Ok(
            (status(NAMESPACE, "hippo")?["repos"][0]["replicaCreateBackupComplete"] == true)
                .then_some(()),
        )
    })?;

    let generated = Instant::now();
    kubectl(&[
        "-n",
        NAMESPACE,
        "exec",
        &leader.pod,
        "-c",
        "database",
        "--",
        "/usr/lib/postgresql/15/bin/pgbench",
        "-i",
        "-q",
        "-s",
        &scale.to_string(),
        "postgres",
    ])?;
    let size = psql(&leader.pod, "select pg_database_size('postgres')")?;
    psql(&leader.pod, "checkpoint")?;
    let bytes: u64 = size.parse()?;
    println!(
        "database: pgbench scale {scale}, {:.2} GB, generated in {:.0} s",
        bytes as f64 / 1e9,
        generated.elapsed().as_secs_f64()
    );

    // The by-hand pod is made from the first backup's Job: the same pod as every backup Job but its command.
    let job = backup_job("replica-create")?;
    let command = job_command(&job)?;
    start_by_hand_pod(&job)?;
    let first_by_hand = time(|| exec_by_hand(&command))?;

    let requested = Instant::now();
    let manual = pgbackrest::manual_backup(
        NAMESPACE,
        "hippo",
        "repo1",
        "bench-full",
        &["--type=full", "--start-fast"],
    )?;
    let through_tusk = requested.elapsed().as_secs_f64();
    if manual["succeeded"] != 1 {
        bail!("the backup through Tusk failed: {manual}");
    }
    if job_command(&backup_job("manual")?)? != command {
        bail!("the manual backup Job runs another command than the by-hand pod");
    }
    let second_by_hand = time(|| exec_by_hand(&command))?;
    println!(
        "backup by hand: {first_by_hand:.1} s before, {second_by_hand:.1} s after the one through Tusk"
    );
    report(
        "backup",
        (first_by_hand + second_by_hand) / 2.0,
        through_tusk,
    );

    let restore = [
        "pgbackrest",
        "restore",
        "--stanza=db",
        "--repo=1",
        "--reset-pg1-host",
        "--pg1-path=/tmp/restored",
        "--log-level-console=warn",
        "--log-level-file=off",
    ]
    .map(String::from);
    let by_hand = time(|| exec_by_hand(&restore))?;
    println!("restore by hand (pgbackrest restore of the latest backup): {by_hand:.1} s");
    let mut recover = vec![
        "sh".to_string(),
        "-c".into(),
        RECOVER_BY_HAND.into(),
        "recover".into(),
    ];
    recover.extend(restore.iter().cloned());
    let by_hand = time(|| exec_by_hand(&recover))?;
    println!(
        "restore and recovery by hand (the same restore into a fresh directory, then PostgreSQL replays and is \
         promoted, then stops): {by_hand:.1} s"
    );

    // Through Tusk: a clone of hippo; its restore Job restores the same backup, replays the WAL after it
    // (little here) and promotes a temporary PostgreSQL.
    let applied = Instant::now();
    namespace.apply(
        &hippo::manifest(
            1,
            "  dataSource:\n    postgresCluster:\n      clusterName: hippo\n      repoName: repo1\n",
        )
        .replacen("  name: hippo\n", "  name: elephant\n", 1)
        .replace("storage: 1Gi", "storage: 20Gi"),
    )?;
    // The operator deletes the restore Job once Patroni has bootstrapped the clone: its duration is read from
    // the Job's Events (whole seconds), which stay, and its pod is read while it exists.
    let mut restore_pod = Value::Null;
    wait_for(
        "the clone's data initialized",
        Duration::from_secs(3600),
        || {
            let pods = get_json(
                NAMESPACE,
                &["pods", "-l", "job-name=elephant-pgbackrest-restore"],
            )?;
            if let Some(pod) = pods["items"].as_array().and_then(|items| items.last()) {
                restore_pod = pod.clone();
            }
            let clone = get_json(NAMESPACE, &["postgrescluster", "elephant"])?;
            let initialized = clone["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "PostgresDataInitialized" && c["status"] == "True");
            Ok(initialized.then_some(()))
        },
    )?;
    let restored = applied.elapsed().as_secs_f64();
    let events = get_json(
        NAMESPACE,
        &[
            "events",
            "--field-selector",
            "involvedObject.name=elephant-pgbackrest-restore",
        ],
    )?;
    let at = |reason: &str| {
        events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|event| event["reason"] == reason)
            .map(|event| event["lastTimestamp"].clone())
            .unwrap_or_default()
    };
    let restore_job = seconds_between(&at("SuccessfulCreate"), &at("Completed"))?;
    println!(
        "restore through Tusk: the clone's restore Job ran {restore_job:.0} s (its Events, whole seconds); \
         {restored:.1} s from applying the clone to its data initialized (Patroni bootstrapped it)"
    );
    let scheduled = restore_pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "PodScheduled")
        .map(|c| c["lastTransitionTime"].clone())
        .unwrap_or_default();
    let ran = &restore_pod["status"]["containerStatuses"][0]["state"]["terminated"];
    let waiting = seconds_between(&at("SuccessfulCreate"), &scheduled)?;
    let starting = seconds_between(&scheduled, &ran["startedAt"])?;
    let container = seconds_between(&ran["startedAt"], &ran["finishedAt"])?;
    println!(
        "the restore Job's life (whole seconds): {waiting:.0} s until its pod was scheduled (the clone's new \
         data volume is provisioned when it is), {starting:.0} s until its container started, {container:.0} s \
         in the container (restore, replay, promotion, stop)"
    );
    report("restore in the Job's container", by_hand, container);
    report("restore, the Job's whole life", by_hand, restore_job);
    drop(namespace);
    Ok(())
}

fn psql(pod: &str, sql: &str) -> Result<String> {
    tusk_e2e::psql_in(NAMESPACE, pod, sql)
}

/// The backup Job of `kind` (`manual`, `replica-create`).
fn backup_job(kind: &str) -> Result<Value> {
    let jobs = get_json(
        NAMESPACE,
        &[
            "jobs",
            "-l",
            &format!("postgres-operator.crunchydata.com/pgbackrest-backup={kind}"),
        ],
    )?;
    jobs["items"][0]
        .as_object()
        .map(|job| Value::Object(job.clone()))
        .with_context(|| format!("the {kind} backup Job"))
}

/// The command of `job`'s container.
fn job_command(job: &Value) -> Result<Vec<String>> {
    Ok(job["spec"]["template"]["spec"]["containers"][0]["command"]
        .as_array()
        .context("the Job's command")?
        .iter()
        .filter_map(|arg| arg.as_str().map(str::to_string))
        .collect())
}

/// The seconds from the RFC 3339 time `from` to `to`.
fn seconds_between(from: &Value, to: &Value) -> Result<f64> {
    let parse =
        |time: &Value| -> Result<jiff::Timestamp> { Ok(time.as_str().context("a time")?.parse()?) };
    Ok((parse(to)?.as_second() - parse(from)?.as_second()) as f64)
}

/// How long `run` takes, in seconds.
fn time(run: impl FnOnce() -> Result<()>) -> Result<f64> {
    let started = Instant::now();
    run()?;
    Ok(started.elapsed().as_secs_f64())
}

/// Starts a pod from `job`'s pod template that sleeps, and waits until it runs.
fn start_by_hand_pod(job: &Value) -> Result<()> {
    let mut spec = job["spec"]["template"]["spec"].clone();
    spec["containers"][0]["command"] = json!(["sleep", "infinity"]);
    spec["restartPolicy"] = json!("Never");
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": BY_HAND, "namespace": NAMESPACE},
        "spec": spec,
    });
    kubectl_with(&["apply", "-f", "-"], Some(&pod.to_string()))?;
    kubectl(&[
        "-n",
        NAMESPACE,
        "wait",
        "--for=condition=Ready",
        &format!("pod/{BY_HAND}"),
        "--timeout=300s",
    ])?;
    Ok(())
}

fn exec_by_hand(command: &[String]) -> Result<()> {
    let mut args = vec!["-n", NAMESPACE, "exec", BY_HAND, "--"];
    args.extend(command.iter().map(String::as_str));
    kubectl(&args)?;
    Ok(())
}

fn report(what: &str, by_hand: f64, through_tusk: f64) {
    println!(
        "{what}: by hand {by_hand:.1} s, through Tusk {through_tusk:.1} s, overhead {:+.1} % ({:+.1} s)",
        (through_tusk / by_hand - 1.0) * 100.0,
        through_tusk - by_hand
    );
}
