//! Issue #7, the metrics exporter (docs: Monitoring): hippo with two instances and
//! `spec.monitoring.pgmonitor.exporter`. Each instance pod serves `/metrics` on port 9187 (read through the API
//! server's pod proxy): `pg_up` is 1 and Tusk's `ccp_*` series are there, `ccp_is_in_recovery_status` tells the
//! primary (2) from the replica (1); the monitoring role's Secret and `status.monitoring` exist; a
//! `queries.yml` of the user's (through `configuration`, as PGO allows) replaces Tusk's queries.

use std::time::{Duration, Instant};
use tusk_e2e::hippo::{self, Instance};
use tusk_e2e::{get_json, kubectl, wait_for};

const NAMESPACE: &str = "tusk-e2e-monitoring";

const MONITORING: &str = "  monitoring:
    pgmonitor:
      exporter: {}
";

/// The exporter's metrics of `pod`, through the API server's proxy.
fn metrics(pod: &str) -> anyhow::Result<String> {
    kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/{NAMESPACE}/pods/{pod}:9187/proxy/metrics"),
    ])
}

/// The value of the first series named `name` in `text` whose labels include `label` (`dbname="hippo"`),
/// if any; the exporter adds its own `server` label to every series of a query.
fn value(text: &str, name: &str) -> Option<f64> {
    let (name, label) = match name.split_once('{') {
        Some((name, labels)) => (name, Some(labels.trim_end_matches('}'))),
        None => (name, None),
    };
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            let series = line.split([' ', '{']).next().unwrap_or_default();
            series == name && label.is_none_or(|label| line.contains(label))
        })
        .find_map(|line| line.rsplit(' ').next()?.trim().parse().ok())
}

/// Waits until `pod`'s metrics have `series` and returns them.
fn metrics_with(pod: &str, series: &str) -> String {
    wait_for(
        &format!("{series} from {pod}"),
        Duration::from_secs(180),
        || {
            Ok(metrics(pod)
                .ok()
                .filter(|text| value(text, series).is_some()))
        },
    )
    .expect("the exporter serves the series")
}

fn check(instance: &Instance, recovery: f64) {
    let text = metrics_with(&instance.pod, "ccp_is_in_recovery_status");
    assert_eq!(value(&text, "pg_up"), Some(1.0), "{}", instance.pod);
    assert_eq!(value(&text, "ccp_is_in_recovery_status"), Some(recovery));
    assert!(value(&text, "ccp_connection_stats_max_connections").is_some_and(|v| v >= 20.0));
    assert!(value(&text, "ccp_database_size_bytes{dbname=\"hippo\"}").is_some_and(|v| v > 0.0));
    assert!(
        value(
            &text,
            "ccp_transaction_wraparound_percent_towards_wraparound"
        )
        .is_some()
    );
    assert!(value(&text, "ccp_settings_pending_restart_count").is_some());
}

#[test]
fn every_instance_serves_pg_up_and_tusks_ccp_series_and_the_users_queries_replace_them() {
    let started = Instant::now();
    let (namespace, leader, replicas) = hippo::start(NAMESPACE, 2, MONITORING);
    check(&leader, 2.0);
    check(&replicas[0], 1.0);
    let revision = wait_for("status.monitoring", Duration::from_secs(120), || {
        let cluster = get_json(NAMESPACE, &["postgrescluster", "hippo"])?;
        Ok(cluster["status"]["monitoring"]["exporterConfiguration"]
            .as_str()
            .map(str::to_string))
    })
    .expect("the exporter's role is recorded");
    let secret = get_json(NAMESPACE, &["secret", "hippo-monitoring"]).expect("the Secret");
    assert!(secret["data"]["password"].is_string() && secret["data"]["verifier"].is_string());
    eprintln!(
        "e2e: both exporters serve pg_up 1 and the ccp_* series ({:.1?} after the namespace was made; revision {revision})",
        started.elapsed()
    );

    // The user's queries.yml replaces Tusk's (the pod template changes: the instances roll).
    namespace
        .apply(
            "apiVersion: v1
kind: ConfigMap
metadata: {name: my-queries}
data:
  queries.yml: |
    tusk_custom:
      query: \"SELECT 42 AS answer\"
      metrics:
        - answer: {usage: GAUGE, description: \"The answer\"}
",
        )
        .expect("the ConfigMap applies");
    tusk_e2e::patch_cluster(NAMESPACE, "hippo", "merge", r#"{"spec":{"monitoring":{"pgmonitor":{"exporter":{"configuration":[{"configMap":{"name":"my-queries"}}]}}}}}"#)
    .expect("the configuration patch applies");
    let patched = Instant::now();
    let custom = wait_for(
        "the user's query from every instance",
        Duration::from_secs(420),
        || {
            let instances = hippo::instances(NAMESPACE)?;
            if instances.len() != 2 || !instances.iter().all(|i| i.ready) {
                return Ok(None);
            }
            let texts: Vec<String> = instances
                .iter()
                .map(|i| metrics(&i.pod))
                .collect::<anyhow::Result<_>>()?;
            Ok(texts
                .iter()
                .all(|text| value(text, "tusk_custom_answer") == Some(42.0))
                .then_some(texts))
        },
    )
    .expect("the user's queries are used");
    for text in &custom {
        assert!(
            !text.contains("ccp_connection_stats"),
            "the user's queries.yml replaces Tusk's"
        );
        assert_eq!(value(text, "pg_up"), Some(1.0));
    }
    eprintln!(
        "e2e: the user's queries.yml served by both instances {:.1?} after the patch",
        patched.elapsed()
    );
}
