//! Issue #6, end-to-end test 11: a new cluster adopts existing volumes through `spec.dataSource.volumes`
//! (docs: Guides, Data Migration, "Configure your PostgresCluster CRD").
//!
//! Claims `oldhippo`, `oldhippo-wal` and `oldhippo-pgbr-repo` are filled as PGO v4 left them: a PostgreSQL data
//! directory in `/pgdata/oldhippo` holding rows, its `pg_wal` a link to `/pgwal/oldhippo-wal` on the WAL volume,
//! its WAL archived by pgBackRest (stanza `db`) into the repository `/backrestrepo/oldhippo-backrest-shared-repo`
//! with a full backup, stopped with its `postmaster.pid` left behind. Then:
//! * `oldhippo` with the docs' `pgDataVolume {pvcName: oldhippo, directory: oldhippo}`,
//!   `pgWALVolume {pvcName: oldhippo-wal}` and `pgBackRestVolume {pvcName: oldhippo-pgbr-repo, directory:
//!   oldhippo-backrest-shared-repo}` becomes Ready on that data: the rows are there,
//!   `PostgresDataInitialized` is True, the claims carry the instance's (and `repo1`'s) labels and the cluster's
//!   owner reference, no `oldhippo-repo1` is made, the stanza is created on the adopted repository,
//!   `pgbackrest info` lists the old backup, a WAL segment switched after the adoption is archived into it, the
//!   WAL stays where the link points, and the user's Secret logs in over `verify-full`;
//! * removing `spec.dataSource.volumes` changes nothing: same pod, same postmaster start, same rows;
//! * `lost`, adopting a claim that does not exist, reports `VolumeNotFound` and runs no instance and makes no
//!   data claim; given `directory: ..` it reports `InvalidDataSource`; given `pgBackRestVolume` with
//!   `postgresCluster` it reports `PGBackRestVolumeAdopted` False `NotSupported`.

use std::time::{Duration, Instant};
use tusk_e2e::{
    ConditionSeen, HostPsql, Namespace, POSTGRES_IMAGE, condition, get_json, hippo,
    install_operator, kubectl, kubectl_with, patch_cluster, pgbackrest, psql_in, require_cluster,
    secret_field, wait_for,
};

const NAMESPACE: &str = "tusk-e2e-volumes";
const ROWS: u32 = 1000;

/// The claims and the Job that fills them with an old cluster's data directory and its pgBackRest repository
/// with a full backup (PostgreSQL and pgBackRest of the local image, as uid 26 like the instances); its log
/// says `old backup: <label>`.
fn old_volume() -> String {
    format!(
        r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: oldhippo}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: oldhippo-wal}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: oldhippo-pgbr-repo}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: batch/v1
kind: Job
metadata: {{name: fill-oldhippo}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      securityContext: {{runAsUser: 26, runAsGroup: 26, fsGroup: 26, runAsNonRoot: true}}
      containers:
      - name: fill
        image: {POSTGRES_IMAGE}
        imagePullPolicy: IfNotPresent
        volumeMounts:
        - {{name: data, mountPath: /pgdata}}
        - {{name: wal, mountPath: /pgwal}}
        - {{name: repo, mountPath: /backrestrepo}}
        env: [{{name: PGBACKREST_CONFIG, value: /tmp/pgbackrest.conf}}]
        command:
        - bash
        - -ceu
        - |
          data=/pgdata/oldhippo
          repo=/backrestrepo/oldhippo-backrest-shared-repo
          mkdir -p "$repo"
          printf '%s\n' '[global]' "repo1-path=$repo" log-path=/tmp lock-path=/tmp log-level-console=warn \
            '[db]' "pg1-path=$data" pg1-socket-path=/tmp pg1-user=postgres > /tmp/pgbackrest.conf
          initdb -D "$data" --waldir=/pgwal/oldhippo-wal -U postgres --auth=trust -E UTF8 >/dev/null
          pg_ctl -D "$data" -o "-c listen_addresses='' -k /tmp -c archive_mode=on -c archive_command='pgbackrest --stanza=db archive-push %p'" -w start >/dev/null
          pgbackrest --stanza=db stanza-create
          psql -h /tmp -U postgres -XAtq -v ON_ERROR_STOP=1 \
            -c 'create table animals (id int primary key, name text not null)' \
            -c "insert into animals select i, 'animal ' || i from generate_series(1, {ROWS}) i" \
            -c 'create database oldhippo' -c 'select count(*) from animals'
          pgbackrest --stanza=db --type=full --start-fast backup
          pgbackrest --stanza=db info | sed -n 's/^ *full backup: /old backup: /p'
          cp "$data/postmaster.pid" /tmp/postmaster.pid
          pg_ctl -D "$data" -m fast -w stop >/dev/null
          cp /tmp/postmaster.pid "$data/postmaster.pid"
          ls -la /pgdata "$data/pg_wal" "$repo"
      volumes:
      - name: data
        persistentVolumeClaim: {{claimName: oldhippo}}
      - name: wal
        persistentVolumeClaim: {{claimName: oldhippo-wal}}
      - name: repo
        persistentVolumeClaim: {{claimName: oldhippo-pgbr-repo}}
"#
    )
}

/// hippo's manifest as cluster `name` on PostgreSQL 15 (the local image's, which the old data is) with
/// `spec_lines`.
fn manifest(name: &str, spec_lines: &str) -> String {
    hippo::manifest(1, spec_lines)
        .replacen("  name: hippo\n", &format!("  name: {name}\n"), 1)
        .replacen("postgresVersion: 13", "postgresVersion: 15", 1)
}

/// [`manifest`] with a WAL volume in `instance1`, as the docs' example.
fn with_wal_volume(manifest: &str) -> String {
    manifest.replacen(
        "      dataVolumeClaimSpec:",
        "      walVolumeClaimSpec:\n        accessModes: [ReadWriteOnce]\n        resources: {requests: {storage: 1Gi}}\n      dataVolumeClaimSpec:",
        1,
    )
}

/// The Ready leader pod of `cluster`, if it has one.
fn ready_leader(cluster: &str) -> anyhow::Result<Option<(String, String)>> {
    let selector = format!(
        "postgres-operator.crunchydata.com/cluster={cluster},{}=master",
        hippo::ROLE
    );
    let pods = get_json(NAMESPACE, &["pods", "-l", &selector])?;
    Ok(pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|pod| tusk_e2e::pod_ready(pod))
        .map(|pod| {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&pod["metadata"]["name"]),
                text(&pod["metadata"]["uid"]),
            )
        }))
}

fn rows(pod: &str) -> String {
    psql_in(
        NAMESPACE,
        pod,
        "select count(*) || ' rows, max ' || max(id) from animals",
    )
    .expect("the rows are read")
}

#[test]
fn a_new_cluster_adopts_an_existing_data_volume() {
    require_cluster();
    install_operator().expect("the operator installs");
    let namespace = Namespace::fresh(NAMESPACE).expect("namespace");
    let began = Instant::now();
    kubectl_with(&["-n", NAMESPACE, "apply", "-f", "-"], Some(&old_volume()))
        .expect("the old volume and its fill Job");
    let filled = wait_for("the old data", Duration::from_secs(300), || {
        let job = get_json(NAMESPACE, &["job/fill-oldhippo"])?;
        anyhow::ensure!(
            job["status"]["failed"].as_i64().unwrap_or(0) == 0,
            "the fill Job failed: {}",
            kubectl(&["-n", NAMESPACE, "logs", "job/fill-oldhippo"]).unwrap_or_default()
        );
        Ok((job["status"]["succeeded"] == 1).then_some(()))
    });
    filled.expect("the old data directory is written");
    let log = kubectl(&["-n", NAMESPACE, "logs", "job/fill-oldhippo"]).expect("its log");
    eprintln!("e2e: old volumes filled in {:.1?}:\n{log}", began.elapsed());
    let old_backup = log
        .lines()
        .find_map(|line| line.strip_prefix("old backup: "))
        .expect("the fill Job took a full backup")
        .trim()
        .to_string();
    kubectl(&[
        "-n",
        NAMESPACE,
        "delete",
        "job/fill-oldhippo",
        "--wait=true",
    ])
    .expect("the fill Job goes (its pod no longer holds the claim)");

    namespace
        .apply(&manifest(
            "lost",
            "  dataSource:\n    volumes:\n      pgDataVolume: {pvcName: nothere}\n",
        ))
        .expect("lost applies");
    let applied = Instant::now();
    namespace
        .apply(&with_wal_volume(&manifest(
            "oldhippo",
            "  dataSource:\n    volumes:\n      pgDataVolume: {pvcName: oldhippo, directory: oldhippo}\n      \
             pgWALVolume: {pvcName: oldhippo-wal}\n      \
             pgBackRestVolume: {pvcName: oldhippo-pgbr-repo, directory: oldhippo-backrest-shared-repo}\n",
        )))
        .expect("oldhippo applies");

    let mut moved = None;
    let mut repo_moved = None;
    let (leader, pod_uid) = wait_for("oldhippo to lead", Duration::from_secs(420), || {
        if moved.is_none()
            && let Ok(job) = get_json(NAMESPACE, &["job/oldhippo-move-pgdata-dir"])
            && job["status"]["succeeded"] == 1
        {
            moved = Some(applied.elapsed());
        }
        if repo_moved.is_none()
            && let Ok(job) = get_json(NAMESPACE, &["job/oldhippo-move-pgbackrest-repo-dir"])
            && job["status"]["succeeded"] == 1
        {
            repo_moved = Some(applied.elapsed());
        }
        let ConditionSeen {
            status,
            reason,
            message,
        } = condition(NAMESPACE, "oldhippo", "PostgresDataInitialized");
        anyhow::ensure!(
            ![
                "MoveFailed",
                "VolumeNotFound",
                "VolumeInUse",
                "InvalidDataSource",
                "NoVolumeRepository"
            ]
            .contains(&reason.as_str()),
            "{status} {reason}: {message}"
        );
        ready_leader("oldhippo")
    })
    .expect("the adopted cluster gets a Ready leader");
    let leading = applied.elapsed();
    assert_eq!(
        rows(&leader),
        format!("{ROWS} rows, max {ROWS}"),
        "the old rows"
    );
    eprintln!(
        "e2e: oldhippo: move Jobs seen succeeded {moved:.1?} (data), {repo_moved:.1?} (repository), leader {leader} Ready {leading:.1?} after it was applied; {ROWS} old rows there"
    );
    let initialized = wait_for(
        "oldhippo's PostgresDataInitialized",
        Duration::from_secs(60),
        || {
            let ConditionSeen {
                status,
                reason,
                message,
            } = condition(NAMESPACE, "oldhippo", "PostgresDataInitialized");
            Ok((status == "True").then_some(format!("{reason}: {message}")))
        },
    )
    .expect("the data is initialized");
    eprintln!("e2e: PostgresDataInitialized True, {initialized}");

    let claim = get_json(NAMESPACE, &["pvc/oldhippo"]).expect("the claim");
    let labels = &claim["metadata"]["labels"];
    let instance = leader.trim_end_matches("-0");
    assert_eq!(
        labels["postgres-operator.crunchydata.com/instance"],
        instance
    );
    assert_eq!(labels["postgres-operator.crunchydata.com/role"], "pgdata");
    assert_eq!(
        claim["metadata"]["ownerReferences"][0]["name"], "oldhippo",
        "owned by the cluster"
    );
    let wal_claim = get_json(NAMESPACE, &["pvc/oldhippo-wal"]).expect("the WAL claim");
    assert_eq!(
        wal_claim["metadata"]["labels"]["postgres-operator.crunchydata.com/role"],
        "pgwal"
    );
    assert_eq!(
        wal_claim["metadata"]["ownerReferences"][0]["name"],
        "oldhippo"
    );
    let repo_claim =
        get_json(NAMESPACE, &["pvc/oldhippo-pgbr-repo"]).expect("the repository claim");
    let repo_labels = &repo_claim["metadata"]["labels"];
    assert_eq!(
        (
            &repo_labels["postgres-operator.crunchydata.com/cluster"],
            &repo_labels["postgres-operator.crunchydata.com/pgbackrest-repo"],
            &repo_labels["postgres-operator.crunchydata.com/pgbackrest-volume"],
        ),
        (&"oldhippo".into(), &"repo1".into(), &"".into()),
        "labelled as repo1's volume: {repo_labels}"
    );
    assert_eq!(
        repo_claim["metadata"]["ownerReferences"][0]["name"],
        "oldhippo"
    );
    let repo_host = get_json(NAMESPACE, &["statefulset/oldhippo-repo-host"]).expect("repo host");
    let repo_host_volumes = repo_host["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(
        repo_host_volumes.contains(r#""claimName":"oldhippo-pgbr-repo""#),
        "the repository host mounts the adopted claim: {repo_host_volumes}"
    );
    pgbackrest::wait_for_stanza(NAMESPACE, "oldhippo").expect("the stanza is created");
    let stanza_at = applied.elapsed();
    let labels_now: Vec<String> = pgbackrest::backups(NAMESPACE, "oldhippo")
        .expect("pgbackrest info")
        .into_iter()
        .map(|backup| backup.label)
        .collect();
    assert!(
        labels_now.contains(&old_backup),
        "the old backup {old_backup} is listed: {labels_now:?}"
    );
    let segment =
        pgbackrest::archive_to_the_end(NAMESPACE, &leader).expect("a segment is archived");
    let archived = pgbackrest::archived(NAMESPACE, "oldhippo").expect("archive info");
    assert!(
        archived
            .iter()
            .any(|(repo, max)| *repo == 1 && max.as_str() >= segment.as_str()),
        "segment {segment} reached the adopted repository: {archived:?}"
    );
    eprintln!(
        "e2e: repository adopted: claim oldhippo-pgbr-repo labelled repo1 and owned, stanza created {stanza_at:.1?} after the apply, pgbackrest info lists the old backup {old_backup} ({labels_now:?}), segment {segment} archived into it ({archived:?}) {:.1?} after the apply",
        applied.elapsed()
    );
    let statefulset = get_json(NAMESPACE, &[&format!("statefulset/{instance}")]).expect("sts");
    let volumes = statefulset["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(
        volumes.contains(r#""claimName":"oldhippo""#)
            && volumes.contains(r#""claimName":"oldhippo-wal""#),
        "the instance mounts the adopted claims: {volumes}"
    );
    let claims = kubectl(&["-n", NAMESPACE, "get", "pvc", "-o", "name"]).expect("claims");
    assert!(
        !claims.contains(&format!("{instance}-pgdata"))
            && !claims.contains(&format!("{instance}-pgwal"))
            && !claims.contains("oldhippo-repo1"),
        "no claims of its own: {claims}"
    );
    let link = kubectl(&[
        "-n",
        NAMESPACE,
        "exec",
        &leader,
        "-c",
        "database",
        "--",
        "readlink",
        "/pgdata/pg15/pg_wal",
    ])
    .expect("pg_wal");
    assert_eq!(
        link.trim(),
        "/pgwal/oldhippo-wal",
        "the WAL stays where it was"
    );
    let segment = psql_in(
        NAMESPACE,
        &leader,
        "select pg_walfile_name(pg_current_wal_lsn())",
    )
    .expect("the current segment");
    kubectl(&[
        "-n",
        NAMESPACE,
        "exec",
        &leader,
        "-c",
        "database",
        "--",
        "test",
        "-f",
        &format!("/pgwal/oldhippo-wal/{segment}"),
    ])
    .expect("the current WAL segment is on the adopted WAL volume");
    eprintln!(
        "e2e: pg_wal links to {} on claim oldhippo-wal (segment {segment} there)",
        link.trim()
    );
    let system = psql_in(
        NAMESPACE,
        &leader,
        "select rolname from pg_roles where rolname in ('_tusk', '_crunchyrepl') order by 1",
    )
    .expect("roles");
    assert_eq!(
        system, "_crunchyrepl\n_tusk",
        "post_bootstrap and Patroni made their roles"
    );

    let password =
        secret_field(NAMESPACE, "oldhippo-pguser-oldhippo", "password").expect("the user's Secret");
    let host = HostPsql::new(NAMESPACE, "oldhippo").expect("the primary is reachable");
    let user = wait_for(
        "oldhippo's user to log in",
        Duration::from_secs(120),
        || {
            Ok(host
                .run(
                    "oldhippo",
                    &password,
                    "oldhippo",
                    "select current_user || ' in ' || current_database()",
                )
                .ok())
        },
    )
    .expect("the user logs in with verify-full");
    eprintln!(
        "e2e: the users Secret logs in over verify-full: {user} ({:.1?} after the apply)",
        applied.elapsed()
    );

    let started =
        psql_in(NAMESPACE, &leader, "select pg_postmaster_start_time()").expect("start time");
    patch_cluster(
        NAMESPACE,
        "oldhippo",
        "json",
        r#"[{"op":"remove","path":"/spec/dataSource"}]"#,
    )
    .expect("spec.dataSource goes, as the docs tell");
    std::thread::sleep(Duration::from_secs(30));
    let (still, still_uid) = ready_leader("oldhippo")
        .expect("pods")
        .expect("still leading");
    assert_eq!(
        (still.as_str(), still_uid.as_str()),
        (leader.as_str(), pod_uid.as_str()),
        "the same pod"
    );
    assert_eq!(
        psql_in(NAMESPACE, &still, "select pg_postmaster_start_time()").expect("start"),
        started,
        "no restart"
    );
    assert_eq!(rows(&still), format!("{ROWS} rows, max {ROWS}"));
    let statefulset = get_json(NAMESPACE, &[&format!("statefulset/{instance}")]).expect("sts");
    assert_eq!(
        statefulset["spec"]["template"]["spec"]["volumes"].to_string(),
        volumes,
        "the instance keeps the adopted claim"
    );
    assert!(
        get_json(NAMESPACE, &["job/oldhippo-move-pgdata-dir"]).is_err()
            && get_json(NAMESPACE, &["job/oldhippo-move-pgbackrest-repo-dir"]).is_err(),
        "the move Jobs are gone"
    );
    eprintln!(
        "e2e: spec.dataSource removed: 30 s later the same pod ({still}), same start ({started}), same rows"
    );

    let ConditionSeen {
        status,
        reason,
        message,
    } = condition(NAMESPACE, "lost", "PostgresDataInitialized");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "VolumeNotFound"),
        "{message}"
    );
    let lost = get_json(
        NAMESPACE,
        &[
            "pods,pvc",
            "-l",
            "postgres-operator.crunchydata.com/cluster=lost",
        ],
    )
    .expect("lost's objects");
    let names: Vec<&str> = lost["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .filter(|n| n.contains("instance1"))
        .collect();
    assert!(names.is_empty(), "no instance pod or data claim: {names:?}");
    eprintln!("e2e: lost: {reason}: {message}");
    patch_cluster(
        NAMESPACE,
        "lost",
        "merge",
        r#"{"spec":{"dataSource":{"volumes":{"pgDataVolume":{"pvcName":"nothere","directory":".."}}}}}"#,
    )
    .expect("a directory outside the volume");
    let refused = wait_for("lost's InvalidDataSource", Duration::from_secs(60), || {
        let ConditionSeen {
            reason, message, ..
        } = condition(NAMESPACE, "lost", "PostgresDataInitialized");
        Ok((reason == "InvalidDataSource").then_some(message))
    })
    .expect("the directory is refused");
    eprintln!("e2e: lost with directory '..': InvalidDataSource: {refused}");
    patch_cluster(
        NAMESPACE,
        "lost",
        "merge",
        r#"{"spec":{"dataSource":{"postgresCluster":{"repoName":"repo1"},"volumes":{"pgBackRestVolume":{"pvcName":"nothere-repo"}}}}}"#,
    )
    .expect("a restore from an adopted repository");
    let unsupported = wait_for(
        "lost's PGBackRestVolumeAdopted",
        Duration::from_secs(60),
        || {
            let ConditionSeen {
                status,
                reason,
                message,
            } = condition(NAMESPACE, "lost", "PGBackRestVolumeAdopted");
            Ok((status == "False" && reason == "NotSupported").then_some(message))
        },
    )
    .expect("the combination is reported as not supported");
    eprintln!(
        "e2e: lost with pgBackRestVolume and postgresCluster: NotSupported: {unsupported}; {:.1?} since the namespace was made",
        began.elapsed()
    );
}
