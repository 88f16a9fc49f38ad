//! Issue #7, the monitoring stack (docs: Monitoring): `deploy/monitoring` installed into the test's namespace
//! (its configuration unchanged but for shorter scrape intervals and `for:` durations) beside hippo with two
//! instances and the exporter. Prometheus, discovering pods through the Kubernetes API, scrapes every instance
//! (healthy targets, `pg_up` and `ccp_*` series with PGO's labels), the operator's own metrics and the node's
//! kubelet (cAdvisor's series of hippo's containers, the volume statistics of its instance volumes, and
//! PGDiskSize's expression joining those to the instances' pods); every PromQL of the dashboards in
//! `deploy/monitoring/dashboards` returns series; a statement run in the database `hippo` is in the query
//! statistics (`pg_stat_statements`, preloaded with the exporter); the `ccp_backrest_*` series of
//! `monitor.pgbackrest_info()` agree with `pgbackrest info` on the repository host and come from the primary
//! only; a sequence of `hippo` over 75 % used is counted there (not in `postgres`) and raises
//! PGSequenceExhaustion; and with PostgreSQL stopped on the replica (Patroni paused and the operator stopped,
//! so nothing restarts it), `PGIsUp` fires for that pod and Alertmanager has it.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use tusk_e2e::hippo::{self, Instance};
use tusk_e2e::{
    OperatorStopped, kubectl, kubectl_with, pgbackrest, psql_in, psql_in_database, repo_root,
    wait_for,
};

const NAMESPACE: &str = "tusk-e2e-monitoring-stack";

/// The exporter, and volumes the local-path provisioner makes as `local` PersistentVolumes (its annotation
/// `volumeType` on every claim): the kubelet has no statistics for its default `hostPath` volumes.
const MONITORING: &str = "  monitoring:
    pgmonitor:
      exporter: {}
  metadata:
    annotations:
      volumeType: local
";

/// The shortened `for:` of the test's alert rules (the shipped rules wait 60 s, as PGO's do).
const TEST_FOR: &str = "for: 10s";

/// A kustomization in the temporary directory that takes `deploy/monitoring` into [`NAMESPACE`], with its
/// scrape interval and the rules' `for:` shortened.
fn test_overlay() -> PathBuf {
    let base = repo_root()
        .join("deploy/monitoring")
        .canonicalize()
        .expect("deploy/monitoring");
    let dir = std::env::temp_dir().join(format!("{NAMESPACE}-overlay"));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let dir = dir.canonicalize().expect("the temporary directory");
    let config = std::fs::read_to_string(base.join("prometheus.yml")).expect("prometheus.yml");
    let fast = config
        .replace("scrape_interval: 15s", "scrape_interval: 5s")
        .replace("scrape_timeout: 15s", "scrape_timeout: 5s");
    assert_ne!(
        config, fast,
        "prometheus.yml sets the intervals the test shortens"
    );
    let rules = std::fs::read_to_string(base.join("alert-rules.yml")).expect("alert-rules.yml");
    let quick = rules.replace("for: 60s", TEST_FOR);
    assert_eq!(
        quick.matches(TEST_FOR).count(),
        rules.matches("alert: ").count(),
        "every rule waits 60 s"
    );
    std::fs::write(dir.join("prometheus.yml"), fast).expect("write");
    std::fs::write(dir.join("alert-rules.yml"), quick).expect("write");
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {NAMESPACE}
resources:
  - {}
configMapGenerator:
  - name: prometheus-config
    behavior: replace
    files: [prometheus.yml, alert-rules.yml]
patches:
  - target: {{kind: ClusterRoleBinding, name: tusk-monitoring-prometheus}}
    patch: |-
      - {{op: replace, path: /subjects/0/namespace, value: {NAMESPACE}}}
",
            relative(&dir, &base)
        ),
    )
    .expect("write");
    dir
}

/// `to` relative to `from` (kustomize takes no absolute paths), both absolute.
fn relative(from: &Path, to: &Path) -> String {
    let up = from.components().count().saturating_sub(1);
    let down = to.strip_prefix("/").expect("an absolute path");
    format!("{}{}", "../".repeat(up), down.display())
}

/// Percent-encodes a query parameter's value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// `GET path` of Service `service` (port name `http`) in [`NAMESPACE`], through the API server's proxy, as JSON.
fn service_get(service: &str, port: u16, path: &str) -> anyhow::Result<Value> {
    let text = kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/{NAMESPACE}/services/http:{service}:{port}/proxy{path}"),
    ])?;
    Ok(serde_json::from_str(&text)?)
}

/// The result vector of an instant PromQL query.
fn query(promql: &str) -> anyhow::Result<Vec<Value>> {
    let answer = service_get(
        "prometheus",
        9090,
        &format!("/api/v1/query?query={}", encode(promql)),
    )?;
    anyhow::ensure!(answer["status"] == "success", "{promql}: {answer}");
    Ok(answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Waits until `promql` returns series; returns them.
fn series(promql: &str, timeout: Duration) -> Vec<Value> {
    wait_for(&format!("series of {promql}"), timeout, || {
        Ok(Some(query(promql)?).filter(|found| !found.is_empty()))
    })
    .expect("Prometheus has the series")
}

/// The label `name` of a query result.
fn label<'a>(sample: &'a Value, name: &str) -> &'a str {
    sample["metric"][name].as_str().unwrap_or_default()
}

/// Every `expr` of the dashboard panels' targets in `dashboard`, with its title.
fn panel_queries(dashboard: &Value, found: &mut Vec<(String, String)>) {
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .expect("a target with a PromQL expr");
            found.push((title.to_string(), expr.to_string()));
        }
        panel_queries(panel, found);
    }
}

/// The dashboards' PromQL with the Grafana variables set to this test's cluster.
fn dashboard_queries() -> Vec<(String, String)> {
    let dir = repo_root().join("deploy/monitoring/dashboards");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("deploy/monitoring/dashboards") {
        let path = entry.expect("entry").path();
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let mut queries = Vec::new();
        panel_queries(&dashboard, &mut queries);
        assert!(!queries.is_empty(), "{name} has panels");
        for (title, expr) in queries {
            let expr = expr
                .replace("$cluster", &format!("{NAMESPACE}:hippo"))
                .replace("$pod", ".*")
                .replace("$__rate_interval", "1m");
            assert!(!expr.contains('$'), "{name}: {title}: an unknown variable");
            found.push((format!("{name}: {title}"), expr));
        }
    }
    found
}

/// Runs `patronictl args` in the database container of `pod`.
fn patronictl(pod: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut command = vec![
        "-n",
        NAMESPACE,
        "exec",
        pod,
        "-c",
        "database",
        "--",
        "patronictl",
    ];
    command.extend_from_slice(args);
    kubectl(&command)
}

/// The active targets of `job`: their labels and health.
fn targets(job: &str) -> anyhow::Result<Vec<(Value, String)>> {
    let targets = service_get("prometheus", 9090, "/api/v1/targets?state=active")?;
    Ok(targets["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["labels"]["job"] == job)
        .map(|t| {
            let health = t["health"].as_str().unwrap_or_default().to_string();
            (t["labels"].clone(), health)
        })
        .collect())
}

/// The exporter targets of this namespace: pod name to health.
fn exporter_targets() -> anyhow::Result<Vec<(String, String)>> {
    Ok(targets("crunchy-postgres-exporter")?
        .into_iter()
        .filter(|(labels, _)| labels["kubernetes_namespace"] == NAMESPACE)
        .map(|(labels, health)| (label_text(&labels, "pod"), health))
        .collect())
}

fn label_text(labels: &Value, name: &str) -> String {
    labels[name].as_str().unwrap_or_default().to_string()
}

/// The expression of the first rule named `alert` in `deploy/monitoring/alert-rules.yml`, its threshold
/// (` > N` at the end) cut off.
fn alert_expression(alert: &str) -> String {
    let rules = std::fs::read_to_string(repo_root().join("deploy/monitoring/alert-rules.yml"))
        .expect("read");
    let rule = rules
        .split("- alert: ")
        .find(|rule| rule.starts_with(&format!("{alert}\n")))
        .expect("the rule");
    let expr = rule
        .split_once("expr: |-\n")
        .expect("a block expression")
        .1
        .split("\n        for:")
        .next()
        .expect("the expression");
    let (kept, threshold) = expr.trim_end().rsplit_once(" > ").expect("a threshold");
    assert!(threshold.parse::<f64>().is_ok(), "{threshold}");
    kept.to_string()
}

/// The kubelet's series of hippo: both kubelet jobs healthy, cAdvisor's series of every instance's database
/// container, the volume statistics of every instance's pgdata volume labelled with the instance, and
/// PGDiskSize's expression giving each of those volumes its pod and cluster.
fn check_kubelet_series(leader: &Instance, replica: &Instance) {
    for job in ["kubelet-cadvisor", "kubelet"] {
        let found = wait_for(
            &format!("the {job} targets healthy"),
            Duration::from_secs(60),
            || {
                let found = targets(job)?;
                Ok(
                    (!found.is_empty() && found.iter().all(|(_, health)| health == "up"))
                        .then_some(found),
                )
            },
        )
        .expect("Prometheus scrapes the kubelet");
        let nodes: Vec<String> = found.iter().map(|(l, _)| label_text(l, "node")).collect();
        assert!(nodes.iter().all(|n| !n.is_empty()), "{job}: {nodes:?}");
    }
    let pods = BTreeSet::from([leader.pod.as_str(), replica.pod.as_str()]);
    let memory = series(
        &format!(
            "container_memory_working_set_bytes{{kubernetes_namespace=\"{NAMESPACE}\",container=\"database\"}}"
        ),
        Duration::from_secs(60),
    );
    let found: BTreeSet<&str> = memory.iter().map(|s| label(s, "pod")).collect();
    assert_eq!(found, pods, "cAdvisor's series of each database container");
    let network = series(
        &format!("container_network_receive_bytes_total{{kubernetes_namespace=\"{NAMESPACE}\"}}"),
        Duration::from_secs(60),
    );
    let found: BTreeSet<&str> = network.iter().map(|s| label(s, "pod")).collect();
    assert!(
        found.is_superset(&pods),
        "network series of each pod: {found:?}"
    );

    let used = series(
        &format!(
            "kubelet_volume_stats_used_bytes{{kubernetes_namespace=\"{NAMESPACE}\",volume=\"pgdata\"}}"
        ),
        Duration::from_secs(120),
    );
    let instances: BTreeSet<&str> = used.iter().map(|s| label(s, "deployment")).collect();
    assert_eq!(
        instances,
        BTreeSet::from([leader.instance.as_str(), replica.instance.as_str()]),
        "the volume statistics of each instance's pgdata volume"
    );
    let disk = alert_expression("PGDiskSize");
    let full = series(&disk, Duration::from_secs(60));
    let hippo = format!("{NAMESPACE}:hippo");
    let data: Vec<&Value> = full
        .iter()
        .filter(|s| label(s, "pg_cluster") == hippo && label(s, "volume") == "pgdata")
        .collect();
    let found: BTreeSet<&str> = data.iter().map(|s| label(s, "pod")).collect();
    assert_eq!(
        found, pods,
        "PGDiskSize's expression names each instance's pod: {full:?}"
    );
    for sample in data {
        let percent: f64 = sample["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("a number");
        assert!((0.0..=100.0).contains(&percent), "{sample}");
    }
}

/// The number a query result holds.
fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a number: {sample}"))
}

/// `monitor.pgbackrest_info()`: the exporter's role gets one row (the repositories' JSON) on the primary and
/// none on the replica; a role it was not granted to may not run it (even with the schema's `USAGE`; one
/// transaction that rolls back); the exporter's role cannot run programs itself. Returns how long each of five calls on the primary took, in milliseconds.
fn check_backup_function(leader: &Instance, replica: &Instance) -> Vec<f64> {
    let as_exporter = "SET ROLE ccp_monitoring; \
        SELECT count(*) || ' ' || count(*) FILTER (WHERE data->0->>'name' = 'db') \
        FROM monitor.pgbackrest_info()";
    let primary =
        psql_in(NAMESPACE, &leader.pod, as_exporter).expect("the exporter's role runs it");
    assert_eq!(primary, "1 1", "one row, stanza db, on the primary");
    let standby =
        psql_in(NAMESPACE, &replica.pod, as_exporter).expect("the exporter's role runs it");
    assert_eq!(standby, "0 0", "no rows on the replica");
    let denied = psql_in(
        NAMESPACE,
        &leader.pod,
        "CREATE ROLE tusk_e2e_other; GRANT USAGE ON SCHEMA monitor TO tusk_e2e_other; \
         SET ROLE tusk_e2e_other; SELECT count(*) FROM monitor.pgbackrest_info()",
    )
    .expect_err("only ccp_monitoring may run it");
    assert!(
        format!("{denied:#}").contains("permission denied for function pgbackrest_info"),
        "{denied:#}"
    );
    let member = psql_in(
        NAMESPACE,
        &leader.pod,
        "SELECT pg_has_role('ccp_monitoring', 'pg_execute_server_program', 'MEMBER')",
    )
    .expect("psql");
    assert_eq!(member, "f", "the exporter's role cannot run programs");
    let timed = kubectl_with(
        &[
            "-n",
            NAMESPACE,
            "exec",
            "-i",
            &leader.pod,
            "-c",
            "database",
            "--",
            "psql",
            "-XAtq",
        ],
        Some(&"\\timing on\nSELECT count(*) FROM monitor.pgbackrest_info();\n".repeat(5)),
    )
    .expect("psql");
    let durations: Vec<f64> = timed
        .lines()
        .filter_map(|line| line.strip_prefix("Time: "))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(durations.len(), 5, "{timed}");
    durations
}

/// The `ccp_backrest_*` series of hippo against `pgbackrest info` on its repository host: all from the primary
/// (stanza `db`, repo `1`); the last full backup completed less than the test's age ago, as long ago as the
/// repository says; its runtime as the repository says and above 0; its size above 0; the recovery window
/// from the oldest full backup, above 0.
fn check_backup_series(leader: &Instance, started: Instant) {
    let selector = format!("{{kubernetes_namespace=\"{NAMESPACE}\"}}");
    let since = series(
        &format!("ccp_backrest_last_full_backup_time_since_completion_seconds{selector}"),
        Duration::from_secs(300),
    );
    let info = series(
        &format!("ccp_backrest_last_info_backup_runtime_seconds{selector}"),
        Duration::from_secs(60),
    );
    let oldest = series(
        &format!("ccp_backrest_oldest_full_backup_time_seconds{selector}"),
        Duration::from_secs(60),
    );
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let backups = pgbackrest::backups(NAMESPACE, "hippo").expect("pgbackrest info");
    let fulls: Vec<&pgbackrest::Backup> = backups
        .iter()
        .filter(|b| b.type_ == "full" && b.repo == 1)
        .collect();
    let last = fulls
        .iter()
        .max_by_key(|b| b.stopped)
        .expect("a full backup");
    let first = fulls
        .iter()
        .min_by_key(|b| b.stopped)
        .expect("a full backup");
    for sample in since.iter().chain(&info).chain(&oldest) {
        assert_eq!(
            label(sample, "pod"),
            leader.pod,
            "from the primary only: {sample}"
        );
        assert_eq!(label(sample, "stanza"), "db", "{sample}");
        assert_eq!(label(sample, "repo"), "1", "{sample}");
    }
    assert_eq!(since.len(), 1, "{since:?}");
    let ago = value(&since[0]);
    let expected = now - last.stopped as f64;
    assert!(
        ago > 0.0 && ago < started.elapsed().as_secs_f64(),
        "the last full backup completed {ago} s ago, during the test"
    );
    // The sample is as old as the scrape (5 s here) and the exporter's cache of the query.
    assert!(
        (expected - 90.0..=expected + 2.0).contains(&ago),
        "{ago} s ago; the repository says {expected} s"
    );
    let full: Vec<&Value> = info
        .iter()
        .filter(|s| label(s, "backup_type") == "full")
        .collect();
    assert_eq!(full.len(), 1, "{info:?}");
    let runtime = value(full[0]);
    assert_eq!(runtime, (last.stopped - last.started) as f64, "{last:?}");
    assert!(runtime > 0.0, "the full backup's runtime: {runtime}");
    let size = query(&format!(
        "ccp_backrest_last_info_repo_backup_size_bytes{{kubernetes_namespace=\"{NAMESPACE}\",backup_type=\"full\"}}"
    ))
    .expect("the size");
    assert_eq!(size.len(), 1, "{size:?}");
    assert!(value(&size[0]) > 0.0, "{size:?}");
    assert_eq!(oldest.len(), 1, "{oldest:?}");
    assert_eq!(value(&oldest[0]), first.stopped as f64, "{first:?}");
    let window = query(&format!(
        "time() - min by (stanza, repo) (ccp_backrest_oldest_full_backup_time_seconds{selector})"
    ))
    .expect("the recovery window");
    assert!(value(&window[0]) > 0.0, "{window:?}");
}

fn check_instance_series(leader: &Instance, replica: &Instance) {
    let selector = format!("{{kubernetes_namespace=\"{NAMESPACE}\"}}");
    for name in [
        "pg_up",
        "ccp_connection_stats_total",
        "ccp_is_in_recovery_status",
        "ccp_database_size_bytes",
    ] {
        let found = series(&format!("{name}{selector}"), Duration::from_secs(60));
        let pods: BTreeSet<&str> = found.iter().map(|s| label(s, "pod")).collect();
        assert_eq!(
            pods,
            BTreeSet::from([leader.pod.as_str(), replica.pod.as_str()]),
            "{name} from both instances"
        );
        for sample in &found {
            assert_eq!(label(sample, "pg_cluster"), format!("{NAMESPACE}:hippo"));
            assert_eq!(label(sample, "cluster"), "hippo");
            let instance = if label(sample, "pod") == leader.pod {
                leader
            } else {
                replica
            };
            assert_eq!(label(sample, "deployment"), instance.instance);
            assert_eq!(label(sample, "role"), instance.role, "{name} {sample}");
        }
    }
    let up = query(&format!("pg_up{selector}")).expect("pg_up");
    assert!(up.iter().all(|s| s["value"][1] == "1"), "{up:?}");
    let recovery = query(&format!(
        "ccp_is_in_recovery_status{{pod=\"{}\"}}",
        leader.pod
    ))
    .expect("ccp_is_in_recovery_status");
    assert_eq!(recovery[0]["value"][1], "2", "the leader is the primary");
}

/// PGSequenceExhaustion end to end: a sequence of the user's database `hippo` set past 75 % of its values is
/// counted in `hippo` on the primary while `postgres` counts none, the exporter visiting every database keeps
/// both exporters healthy targets without scrape errors, and the alert fires for `hippo`.
fn check_sequence_exhaustion(leader: &Instance, replica: &Instance) {
    psql_in_database(
        NAMESPACE,
        &leader.pod,
        "hippo",
        "CREATE SEQUENCE nearly_out MAXVALUE 100; SELECT pg_catalog.setval('nearly_out', 80)",
    )
    .expect("a sequence 80 % used in the database hippo");
    let set = Instant::now();
    let on_leader = |dbname: &str| {
        format!(
            "ccp_sequence_exhaustion_count{{kubernetes_namespace=\"{NAMESPACE}\",pod=\"{}\",dbname=\"{dbname}\"}}",
            leader.pod
        )
    };
    let hippo = wait_for(
        "the sequence counted in hippo",
        Duration::from_secs(60),
        || {
            Ok(query(&on_leader("hippo"))?
                .into_iter()
                .find(|s| value(s) == 1.0))
        },
    )
    .expect("the primary's exporter counts the sequence in hippo");
    assert_eq!(label(&hippo, "pg_cluster"), format!("{NAMESPACE}:hippo"));
    let counted = set.elapsed();
    let postgres = query(&on_leader("postgres")).expect("the count in postgres");
    assert_eq!(postgres.len(), 1, "one series for postgres: {postgres:?}");
    assert_eq!(value(&postgres[0]), 0.0, "postgres has no used-up sequence");
    let databases: BTreeSet<String> = query(&format!(
        "ccp_sequence_exhaustion_count{{kubernetes_namespace=\"{NAMESPACE}\",pod=\"{}\"}}",
        leader.pod
    ))
    .expect("the counts")
    .iter()
    .map(|s| label(s, "dbname").to_string())
    .collect();
    assert_eq!(
        databases,
        BTreeSet::from(["hippo".to_string(), "postgres".to_string()]),
        "every database but the templates"
    );

    let errors = query(&format!(
        "pg_exporter_last_scrape_error{{kubernetes_namespace=\"{NAMESPACE}\"}}"
    ))
    .expect("the exporters' scrape errors");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().all(|s| value(s) == 0.0), "{errors:?}");
    let targets = exporter_targets().expect("the exporter targets");
    assert!(
        targets.len() == 2 && targets.iter().all(|(_, health)| health == "up"),
        "no series collides across databases: {targets:?}"
    );
    for instance in [leader, replica] {
        let logs = kubectl(&["-n", NAMESPACE, "logs", &instance.pod, "-c", "exporter"])
            .expect("the exporter's log");
        assert!(
            !logs.contains("was collected before"),
            "{}: duplicate series: {logs}",
            instance.pod
        );
    }

    let alert = format!(
        "ALERTS{{alertname=\"PGSequenceExhaustion\",alertstate=\"firing\",pod=\"{}\"}}",
        leader.pod
    );
    let firing = series(&alert, Duration::from_secs(90));
    let databases: BTreeSet<&str> = firing.iter().map(|s| label(s, "dbname")).collect();
    assert_eq!(databases, BTreeSet::from(["hippo"]), "{firing:?}");
    eprintln!(
        "e2e: the sequence counted in hippo {counted:.1?} and PGSequenceExhaustion firing {:.1?} after setval \
         (test rules: {TEST_FOR})",
        set.elapsed()
    );
}

/// A statement of known runtime, run in the database `hippo` on the primary, reaches the exporter's query
/// statistics with its database, role, text and runtime; both instances preload the library.
fn check_query_statistics(leader: &Instance, replica: &Instance) {
    for instance in [leader, replica] {
        let preloaded = psql_in(NAMESPACE, &instance.pod, "SHOW shared_preload_libraries")
            .expect("psql answers");
        assert!(
            preloaded.contains("pg_stat_statements"),
            "{}: {preloaded}",
            instance.pod
        );
    }
    psql_in_database(
        NAMESPACE,
        &leader.pod,
        "hippo",
        "SELECT pg_catalog.pg_sleep(0.6) AS tusk_e2e_marker",
    )
    .expect("the statement runs in hippo");
    let found = series(
        &format!(
            "ccp_pg_stat_statements_top_max_exec_time_ms{{pod=\"{}\",dbname=\"hippo\",username=\"postgres\",query=~\".*tusk_e2e_marker.*\"}}",
            leader.pod
        ),
        Duration::from_secs(60),
    );
    let milliseconds: f64 = found[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("a number");
    assert!(milliseconds >= 600.0, "{found:?}");
    let calls = series(
        &format!(
            "ccp_pg_stat_statements_total_calls_count{{pod=\"{}\",dbname=\"hippo\",username=\"postgres\"}} >= 1",
            leader.pod
        ),
        Duration::from_secs(30),
    );
    assert_eq!(calls.len(), 1, "{calls:?}");
}

#[test]
fn prometheus_scrapes_every_instance_and_the_operator_alerts_fire_and_every_dashboard_query_has_series()
 {
    let started = Instant::now();
    let (_namespace, leader, replicas) = hippo::start(NAMESPACE, 2, MONITORING);
    let replica = &replicas[0];
    let overlay = test_overlay();
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-k",
        overlay.to_str().expect("UTF-8 path"),
    ])
    .expect("deploy/monitoring applies");
    for deployment in ["prometheus", "alertmanager"] {
        kubectl(&[
            "-n",
            NAMESPACE,
            "rollout",
            "status",
            &format!("deployment/{deployment}"),
            "--timeout=180s",
        ])
        .expect("the monitoring stack becomes available");
    }
    let installed = Instant::now();
    eprintln!(
        "e2e: hippo and the monitoring stack ready {:.1?} after the start",
        started.elapsed()
    );

    // Every instance is a healthy target, with PGO's labels on its series.
    let targets = wait_for(
        "both exporters as healthy targets",
        Duration::from_secs(120),
        || {
            let targets = exporter_targets()?;
            Ok(
                (targets.len() == 2 && targets.iter().all(|(_, health)| health == "up"))
                    .then_some(targets),
            )
        },
    )
    .expect("Prometheus discovers and scrapes every instance");
    let pods: BTreeSet<&str> = targets.iter().map(|(pod, _)| pod.as_str()).collect();
    assert_eq!(
        pods,
        BTreeSet::from([leader.pod.as_str(), replica.pod.as_str()])
    );
    check_instance_series(&leader, replica);
    eprintln!(
        "e2e: both instances scraped with pg_up 1 and ccp_* series {:.1?} after the install",
        installed.elapsed()
    );
    let durations = check_backup_function(&leader, replica);
    check_backup_series(&leader, started);
    let scrapes = query(&format!(
        "pg_exporter_last_scrape_duration_seconds{{kubernetes_namespace=\"{NAMESPACE}\"}}"
    ))
    .expect("the exporters' scrape durations");
    let scrapes: Vec<String> = scrapes
        .iter()
        .map(|s| format!("{} {:.3} s", label(s, "role"), value(s)))
        .collect();
    eprintln!(
        "e2e: the ccp_backrest_* series agree with pgbackrest info {:.1?} after the install; \
         monitor.pgbackrest_info() took {durations:.0?} ms; last scrapes: {scrapes:?}",
        installed.elapsed()
    );

    check_query_statistics(&leader, replica);
    eprintln!(
        "e2e: a statement in hippo is in the query statistics {:.1?} after the install",
        installed.elapsed()
    );

    check_sequence_exhaustion(&leader, replica);

    check_kubelet_series(&leader, replica);
    eprintln!(
        "e2e: the kubelet's cAdvisor and volume series of both instances {:.1?} after the install",
        installed.elapsed()
    );

    // The operator's own metrics.
    let reconciles = series(
        "sum by (pod) (tusk_reconciles_total{job=\"tusk-operator\"})",
        Duration::from_secs(60),
    );
    assert!(
        reconciles
            .iter()
            .any(|s| s["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()) > Some(0.0)),
        "the operator has reconciled: {reconciles:?}"
    );
    series(
        "tusk_reconcile_duration_seconds_count{job=\"tusk-operator\"}",
        Duration::from_secs(30),
    );

    // Every dashboard panel's PromQL returns series.
    let queries = dashboard_queries();
    for (panel, expr) in &queries {
        wait_for(&format!("{panel}: {expr}"), Duration::from_secs(90), || {
            Ok(Some(()).filter(|()| query(expr).is_ok_and(|found| !found.is_empty())))
        })
        .expect("the dashboard panel's query returns series");
    }
    eprintln!(
        "e2e: all {} dashboard queries return series {:.1?} after the install",
        queries.len(),
        installed.elapsed()
    );

    // PostgreSQL stopped on the replica, Patroni paused: PGIsUp fires for that pod and reaches Alertmanager.
    // The operator stands still meanwhile: it makes Patroni's dynamic configuration the spec's, which would
    // end the pause within seconds.
    let operator = OperatorStopped::stop().expect("the operator stops");
    patronictl(&replica.pod, &["pause", "--wait"]).expect("Patroni pauses");
    kubectl(&[
        "-n",
        NAMESPACE,
        "exec",
        &replica.pod,
        "-c",
        "database",
        "--",
        "sh",
        "-c",
        "pg_ctl stop -m fast -w -D \"$PGDATA\"",
    ])
    .expect("PostgreSQL stops on the replica");
    let stopped = Instant::now();
    let alert_query = format!(
        "ALERTS{{alertname=\"PGIsUp\",alertstate=\"firing\",pod=\"{}\"}}",
        replica.pod
    );
    series(&alert_query, Duration::from_secs(120));
    let firing = stopped.elapsed();
    let alerts = wait_for("PGIsUp in Alertmanager", Duration::from_secs(60), || {
        let alerts = service_get("alertmanager", 9093, "/api/v2/alerts")?;
        Ok(alerts.as_array().and_then(|alerts| {
            alerts
                .iter()
                .find(|a| {
                    a["labels"]["alertname"] == "PGIsUp"
                        && a["labels"]["pod"] == replica.pod.as_str()
                        && a["status"]["state"] == "active"
                })
                .cloned()
        }))
    })
    .expect("Alertmanager has the alert");
    assert_eq!(alerts["labels"]["severity"], "critical");
    assert_eq!(alerts["labels"]["pg_cluster"], format!("{NAMESPACE}:hippo"));
    let up = query(&format!("pg_up{{pod=\"{}\"}}", leader.pod)).expect("pg_up");
    assert_eq!(up[0]["value"][1], "1", "the primary is still up");
    eprintln!(
        "e2e: PGIsUp firing in Prometheus {firing:.1?} and in Alertmanager {:.1?} after PostgreSQL stopped \
         (test rules: {TEST_FOR})",
        stopped.elapsed()
    );
    patronictl(&replica.pod, &["resume", "--wait"]).expect("Patroni resumes");
    operator.start_again().expect("the operator starts again");

    // The cluster-wide RBAC of the stack goes with the test.
    kubectl(&[
        "delete",
        "clusterrolebinding,clusterrole",
        "tusk-monitoring-prometheus",
        "--ignore-not-found",
    ])
    .expect("the ClusterRole and its binding are removed");
    eprintln!(
        "e2e: the monitoring stack test took {:.1?}",
        started.elapsed()
    );
}
