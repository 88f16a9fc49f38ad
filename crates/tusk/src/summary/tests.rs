use super::*;
use k8s_openapi::ByteString;
use serde_json::json;

fn hippo() -> PostgresCluster {
    let mut cluster = tusk_api::manifest::parse(
        "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: hippo, namespace: db, generation: 3}
spec:
  postgresVersion: 16
  instances: [{name: instance1, replicas: 2, dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]
  backups: {pgbackrest: {repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}, {name: repo2, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]}}
  proxy: {pgBouncer: {replicas: 2}}
",
    )
    .expect("valid");
    cluster.status = Some(
        serde_json::from_value(json!({
            "observedGeneration": 3,
            "pgbackrest": {
                "repos": [{"name": "repo1", "stanzaCreated": true}, {"name": "repo2", "stanzaCreated": true}],
                "walArchiving": {"lastArchivedWAL": "000000020000000000000008", "lastArchivedTime": "2026-11-29T07:59:00Z", "failedCount": 0},
            },
            "proxy": {"pgBouncer": {"readyReplicas": 1, "replicas": 2}},
            "conditions": [
                {"type": "PGBackRestRestoreProgressing", "status": "False", "reason": "NoRestore", "message": "none", "lastTransitionTime": "2026-11-29T07:00:00Z"},
                {"type": "ProxyCertificateValid", "status": "False", "reason": "CertificateNameMismatch", "message": "the certificate does not name hippo-pgbouncer", "lastTransitionTime": "2026-11-29T07:00:00Z"},
            ],
        }))
        .expect("status"),
    );
    cluster
}

fn pod(name: &str, patroni: serde_json::Value, ready: bool, restarts: i32) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": {
                "postgres-operator.crunchydata.com/cluster": "hippo",
                "postgres-operator.crunchydata.com/instance-set": "instance1",
                "postgres-operator.crunchydata.com/instance": name.trim_end_matches("-0"),
            },
            "annotations": {"status": patroni.to_string()},
        },
        "status": {
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "containerStatuses": [{"name": "database", "image": "i", "imageID": "", "ready": ready, "restartCount": restarts}],
        },
    }))
    .expect("pod")
}

fn job(repo: &str, kind: serde_json::Value, status: serde_json::Value) -> Job {
    let mut labels = json!({
        "postgres-operator.crunchydata.com/cluster": "hippo",
        "postgres-operator.crunchydata.com/pgbackrest-repo": repo,
    });
    labels
        .as_object_mut()
        .unwrap()
        .extend(kind["labels"].as_object().unwrap().clone());
    serde_json::from_value(json!({
        "metadata": {"name": format!("backup-{repo}"), "labels": labels},
        "spec": {"template": {"spec": {"containers": [{"name": "pgbackrest", "args": kind["args"]}]}}},
        "status": status,
    }))
    .expect("job")
}

fn certificate_secret(name: &str, days: i64, now: Timestamp) -> Secret {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["hippo-primary.db.svc".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hippo-primary.db.svc");
    params.not_after =
        time::OffsetDateTime::from_unix_timestamp(now.as_second() + days * 86_400 + 3600).unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            [
                ("tls.crt".to_string(), ByteString(pem.into_bytes())),
                ("tls.key".to_string(), ByteString(b"secret".to_vec())),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

fn observed_summary() -> (Summary, Timestamp) {
    let now: Timestamp = "2026-11-29T08:00:00Z".parse().unwrap();
    let cluster = hippo();
    let pods = [
        pod(
            "hippo-instance1-bbbb-0",
            json!({"state": "running", "role": "replica", "timeline": 2, "xlog_location": 83_886_080u64, "pending_restart": true}),
            true,
            1,
        ),
        pod(
            "hippo-instance1-aaaa-0",
            json!({"state": "running", "role": "master", "timeline": 2, "xlog_location": 100_663_296u64}),
            true,
            0,
        ),
    ];
    let jobs = [
        job(
            "repo1",
            json!({"labels": {"postgres-operator.crunchydata.com/pgbackrest-backup": "scheduled", "postgres-operator.crunchydata.com/pgbackrest-cronjob": "full"}}),
            json!({"succeeded": 1, "completionTime": "2026-11-28T01:00:00Z"}),
        ),
        job(
            "repo1",
            json!({"labels": {"postgres-operator.crunchydata.com/pgbackrest-backup": "manual"}, "args": ["backup", "--type=incr"]}),
            json!({"succeeded": 1, "completionTime": "2026-11-29T07:30:00Z"}),
        ),
        job(
            "repo2",
            json!({"labels": {"postgres-operator.crunchydata.com/pgbackrest-backup": "manual"}, "args": ["backup"]}),
            json!({"failed": 2, "conditions": [{"type": "Failed", "status": "True", "lastTransitionTime": "2026-11-29T07:50:00Z"}]}),
        ),
    ];
    let secrets = [
        certificate_secret("hippo-cluster-cert", 300, now),
        certificate_secret("hippo-pgbouncer", 12, now),
    ];
    let summary = summarize(&Observed {
        cluster: &cluster,
        pods: &pods,
        jobs: &jobs,
        secrets: &secrets,
        now,
    });
    (summary, now)
}

#[test]
fn members_come_primary_first_with_lag_from_patroni_heartbeats() {
    let (summary, _) = observed_summary();
    let roles: Vec<(&str, &str)> = summary
        .members
        .iter()
        .map(|m| (m.pod.as_str(), m.role.as_str()))
        .collect();
    assert_eq!(
        roles,
        [
            ("hippo-instance1-aaaa-0", "primary"),
            ("hippo-instance1-bbbb-0", "replica")
        ]
    );
    assert_eq!(summary.members[0].lag_bytes, None);
    assert_eq!(summary.members[1].lag_bytes, Some(16 * 1024 * 1024));
    assert_eq!(summary.members[1].timeline, Some(2));
    assert_eq!(summary.members[1].restarts, 1);
    assert!(summary.members[1].pending_restart);
}

#[test]
fn repositories_show_the_latest_backup_of_each_type_and_a_newer_failure() {
    let (summary, _) = observed_summary();
    let repo1 = &summary.repositories[0];
    let types: Vec<&str> = repo1.last.iter().map(|b| b.type_.as_str()).collect();
    assert_eq!(types, ["incr", "full"]);
    assert_eq!(repo1.failed_since, None);
    let repo2 = &summary.repositories[1];
    assert!(repo2.last.is_empty());
    assert_eq!(
        repo2.failed_since,
        Some("2026-11-29T07:50:00Z".parse().unwrap())
    );
}

#[test]
fn problems_say_what_to_do_next() {
    let (summary, _) = observed_summary();
    let problems = summary.problems.join("\n");
    assert!(
        problems.contains(
            "hippo-instance1-bbbb-0 waits for a restart to apply a parameter: `tusk restart hippo`"
        ),
        "{problems}"
    );
    assert!(
        problems.contains("repo2 has no backup yet: `tusk backup hippo --repo repo2`"),
        "{problems}"
    );
    assert!(
        problems.contains("PgBouncer: 1 of 2 pods ready"),
        "{problems}"
    );
    assert!(
        problems.contains("Secret hippo-pgbouncer expires in 12 days"),
        "{problems}"
    );
    assert!(
        problems.contains("ProxyCertificateValid: the certificate does not name hippo-pgbouncer"),
        "{problems}"
    );
    assert!(!problems.contains("hippo-cluster-cert"), "{problems}");
    assert!(
        !problems.contains("PGBackRestRestoreProgressing"),
        "{problems}"
    );
    assert!(!problems.contains("no instance is primary"), "{problems}");
}

#[test]
fn the_text_is_one_readable_screen() {
    let (summary, now) = observed_summary();
    let text = text::render(&summary, now);
    assert!(
        text.starts_with(
            "hippo (namespace db): PostgreSQL 16, 2 instance(s), latest spec observed\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "hippo-instance1-aaaa-0  primary  running  yes    2         -         0         no\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "hippo-instance1-bbbb-0  replica  running  yes    2         16.0 MiB  1         yes\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("repo1       yes     incr 30m ago, full 1d 7h ago\n"),
        "{text}"
    );
    assert!(
        text.contains("repo2       yes     none yet, the latest failed 10m ago\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "WAL archiving: last archived 000000020000000000000008 1m ago; 0 failed attempt(s)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("hippo-pgbouncer     tls.crt  hippo-primary.db.svc  12 days\n"),
        "{text}"
    );
    assert!(text.contains("Needs attention:\n  - "), "{text}");
    assert!(text.lines().count() < 40, "{text}");
}

#[test]
fn json_names_fields_in_camel_case() {
    let (summary, _) = observed_summary();
    let value = serde_json::to_value(&summary).unwrap();
    assert_eq!(value["members"][1]["lagBytes"], 16 * 1024 * 1024);
    assert_eq!(value["repositories"][0]["last"][0]["type"], "incr");
    assert_eq!(value["certificates"][0]["daysLeft"], 12);
    assert_eq!(value["specObserved"], true);
}
