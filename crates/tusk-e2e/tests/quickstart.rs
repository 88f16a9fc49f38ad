//! Issue #5, end-to-end test 1, "Quickstart and connect": the docs' hippo cluster (local images) becomes ready
//! under the installed operator; `psql` with the user Secret's `uri` and `sslmode=verify-full` against the
//! cluster CA runs a query from a pod, and so does a pod that takes host, port, database, user and password
//! from the Secret through `secretKeyRef` (the docs' Keycloak pattern). Then the day-2 commands a user runs
//! next: `tusk status` shows the primary and the first (replica-create) backup, `tusk backup --type incr`
//! follows a backup to its end, `tusk status` shows it, `tusk psql` logs in as the user over TLS, and
//! `kubectl tusk connection-info` runs as a kubectl plugin.

use std::time::{Duration, Instant};
use tusk_e2e::{
    Namespace, POSTGRES_IMAGE, get_json, install_operator, kubectl, local_hippo, pod_ready,
    require_cluster, wait_for,
};

const NAMESPACE: &str = "tusk-e2e-quickstart";
const CLUSTER: &str = "postgres-operator.crunchydata.com/cluster=hippo";
const LEADER: &str = "postgres-operator.crunchydata.com/role=master";

/// A Job `name` of the PostgreSQL image that runs `psql <args> -XAt -c 'select 1'`, verifying the server
/// against the cluster certificate's CA (mounted) with `sslmode=verify-full`; `env` adds variables. It retries
/// for a while: the operator creates the role and database once the primary is up.
fn psql_job(name: &str, args: &str, env: &str) -> String {
    format!(
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  backoffLimit: 0
  activeDeadlineSeconds: 240
  template:
    spec:
      restartPolicy: Never
      enableServiceLinks: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 26
        seccompProfile: {{type: RuntimeDefault}}
      containers:
        - name: psql
          image: {POSTGRES_IMAGE}
          imagePullPolicy: IfNotPresent
          env:
            - {{name: PGSSLMODE, value: verify-full}}
            - {{name: PGSSLROOTCERT, value: /cluster-cert/ca.crt}}
            - {{name: PGCONNECT_TIMEOUT, value: "5"}}
{env}
          command:
            - sh
            - -c
            - |
              for attempt in $(seq 90); do
                if psql {args} -XAt -c 'select 1 as answer'; then exit 0; fi
                sleep 2
              done
              exit 1
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
          volumeMounts:
            - {{name: user, mountPath: /user, readOnly: true}}
            - {{name: cluster-cert, mountPath: /cluster-cert, readOnly: true}}
      volumes:
        - name: user
          secret: {{secretName: hippo-pguser-hippo}}
        - name: cluster-cert
          secret: {{secretName: hippo-cluster-cert, items: [{{key: ca.crt, path: ca.crt}}]}}
"#
    )
}

/// The Secret's `uri`, as the docs' quickstart connects.
fn uri_job() -> String {
    psql_job("psql-uri", r#""$(cat /user/uri)""#, "")
}

/// Host, port, database, user and password from the Secret through `secretKeyRef`, as the docs' Keycloak
/// example connects.
fn secret_key_ref_job() -> String {
    let env: String = [
        ("PGHOST", "host"),
        ("PGPORT", "port"),
        ("PGDATABASE", "dbname"),
        ("PGUSER", "user"),
        ("PGPASSWORD", "password"),
    ]
    .iter()
    .map(|(variable, key)| {
        format!(
            "            - {{name: {variable}, valueFrom: {{secretKeyRef: {{name: hippo-pguser-hippo, key: {key}}}}}}}\n"
        )
    })
    .collect();
    psql_job("psql-env", "", env.trim_end())
}

/// Waits for Job `name` to finish; its success and its logs.
fn job_outcome(name: &str) -> (bool, String) {
    let outcome = wait_for(
        &format!("Job {name} to finish"),
        Duration::from_secs(300),
        || {
            let job = get_json(NAMESPACE, &["job", name])?;
            let status = &job["status"];
            Ok(if status["succeeded"].as_i64().unwrap_or(0) > 0 {
                Some(true)
            } else if status["failed"].as_i64().unwrap_or(0) > 0 {
                Some(false)
            } else {
                None
            })
        },
    )
    .expect("the Job finishes");
    let logs = kubectl(&["-n", NAMESPACE, "logs", &format!("job/{name}")]).unwrap_or_default();
    (outcome, logs)
}

#[test]
fn quickstart_and_connect() {
    require_cluster();
    let started = Instant::now();
    install_operator().expect("the operator installs and becomes available");
    eprintln!("e2e: operator available after {:.1?}", started.elapsed());

    let namespace = Namespace::fresh(NAMESPACE).expect("namespace");
    let applied = Instant::now();
    namespace.apply(&local_hippo()).expect("hippo applies");

    let leader = wait_for(
        "a Ready hippo pod labelled role=master",
        Duration::from_secs(300),
        || {
            let pods = get_json(NAMESPACE, &["pods", "-l", &format!("{CLUSTER},{LEADER}")])?;
            Ok(pods["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|pod| pod_ready(pod))
                .and_then(|pod| pod["metadata"]["name"].as_str().map(str::to_string)))
        },
    )
    .expect("the primary becomes ready");
    eprintln!(
        "e2e: {leader} Ready and leader {:.1?} after apply",
        applied.elapsed()
    );
    assert!(
        leader.starts_with("hippo-instance1-") && leader.ends_with("-0"),
        "{leader}"
    );

    let primary = wait_for(
        "hippo-primary Endpoints with an address",
        Duration::from_secs(60),
        || {
            let endpoints = get_json(NAMESPACE, &["endpoints", "hippo-primary"])?;
            Ok(endpoints["subsets"][0]["addresses"][0]["ip"]
                .as_str()
                .map(str::to_string))
        },
    )
    .expect("hippo-primary has an address");
    let ha = get_json(NAMESPACE, &["service", "hippo-ha"]).expect("hippo-ha");
    assert_eq!(
        Some(primary.as_str()),
        ha["spec"]["clusterIP"].as_str(),
        "hippo-primary points at hippo-ha, which Patroni points at the leader"
    );

    namespace
        .apply(&uri_job())
        .expect("the psql Job with the uri applies");
    namespace
        .apply(&secret_key_ref_job())
        .expect("the psql Job with secretKeyRef applies");
    for (job, how) in [
        ("psql-uri", "the Secret's uri"),
        ("psql-env", "secretKeyRef variables"),
    ] {
        let (succeeded, logs) = job_outcome(job);
        assert!(
            succeeded,
            "psql with {how}, verify-full against the cluster CA, failed: {logs}"
        );
        assert_eq!(logs.lines().last(), Some("1"), "{logs}");
        eprintln!(
            "e2e: psql with {how} and verify-full answered; {:.1?} from apply",
            applied.elapsed()
        );
    }

    let repo_host = wait_for(
        "the repository host pod to run",
        Duration::from_secs(120),
        || {
            let pod = get_json(NAMESPACE, &["pod", "hippo-repo-host-0"])?;
            Ok((pod["status"]["phase"] == "Running").then_some(()))
        },
    );
    repo_host.expect("the repository host runs");

    let full = status_when("the replica-create full backup", |status| {
        backup_types(status).contains(&"full".to_string())
    });
    let primary = &full["members"][0];
    assert_eq!(primary["pod"], leader.as_str(), "{full:#}");
    assert_eq!(primary["role"], "primary", "{full:#}");
    assert_eq!(primary["ready"], true, "{full:#}");
    assert!(primary["timeline"].as_u64() >= Some(1), "{full:#}");
    let certificates = full["certificates"].as_array().expect("certificates");
    assert!(
        certificates
            .iter()
            .any(|c| c["secret"] == "hippo-cluster-cert")
            && certificates
                .iter()
                .any(|c| c["secret"] == "pgo-root-cacert")
            && certificates
                .iter()
                .all(|c| c["daysLeft"].as_i64() > Some(300)),
        "{full:#}"
    );
    eprintln!(
        "e2e: tusk status shows the primary and a full backup {:.1?} after apply",
        applied.elapsed()
    );

    let asked = Instant::now();
    let backup = tusk_e2e::tusk_here(&["backup", "hippo", "-n", NAMESPACE, "--type", "incr"])
        .expect("tusk backup follows the backup to its end");
    assert!(backup.contains("succeeded after"), "{backup}");
    eprintln!(
        "e2e: tusk backup --type incr succeeded in {:.1?}:\n{backup}",
        asked.elapsed()
    );
    let both = status_when("the incremental backup", |status| {
        backup_types(status) == ["incr", "full"] && status["problems"] == serde_json::json!([])
    });
    assert_eq!(both["repositories"][0]["stanzaCreated"], true, "{both:#}");
    let text = tusk_e2e::tusk_here(&["status", "hippo", "-n", NAMESPACE]).expect("tusk status");
    assert!(text.contains("Nothing needs attention."), "{text}");
    eprintln!("e2e: tusk status:\n{text}");
    let whoami = tusk_e2e::tusk_here(&[
        "psql",
        "hippo",
        "-n",
        NAMESPACE,
        "--",
        "-XAt",
        "-c",
        "select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()",
    ])
    .expect("tusk psql runs a query");
    assert_eq!(
        whoami.trim(),
        "hippo|t",
        "tusk psql logs in as the user over TLS"
    );
    let plugin = tusk_e2e::kubectl_tusk(&["connection-info", "hippo", "-n", NAMESPACE])
        .expect("kubectl tusk runs the plugin");
    assert!(plugin.contains("user               hippo\n"), "{plugin}");
    assert!(plugin.contains("(the password is hidden"), "{plugin}");
    eprintln!("e2e: quickstart passed in {:.1?}", started.elapsed());
}

/// `tusk status hippo -o json` once `ready` holds for it (within two minutes).
fn status_when(what: &str, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    wait_for(
        &format!("tusk status to show {what}"),
        Duration::from_secs(120),
        || {
            let text = tusk_e2e::tusk_here(&["status", "hippo", "-n", NAMESPACE, "-o", "json"])?;
            let status: serde_json::Value = serde_json::from_str(&text)?;
            Ok(ready(&status).then_some(status))
        },
    )
    .expect("tusk status shows it")
}

/// The types of the latest backups `status` shows for the first repository, the most recent first.
fn backup_types(status: &serde_json::Value) -> Vec<String> {
    status["repositories"][0]["last"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|backup| backup["type"].as_str().map(str::to_string))
        .collect()
}
