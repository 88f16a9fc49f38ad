//! The metrics exporter (`spec.monitoring.pgmonitor.exporter`): a `prometheus-postgres-exporter` sidecar in
//! every instance pod, logged in over TLS on the pod's loopback as [`MONITORING_USER`] (a `pg_monitor` role
//! whose password is in the Secret `<c>-monitoring`), running Tusk's queries ([`QUERIES`], the `ccp_*`
//! series PGO's alerts and dashboards read) or the user's `queries.yml` from `configuration`. What is built
//! here is pure; the controller applies it and writes the role (`controller::monitoring`).

pub mod backups_sql;
pub mod sequences;
pub mod sidecar;
pub mod sql;

use crate::metadata::owned_by;
use crate::naming::{labels, names};
use crate::users::credentials::credentials_at;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::monitoring::ExporterSpec;

/// The role the exporter logs in as (PGO's name).
pub const MONITORING_USER: &str = "ccp_monitoring";
/// The library of the exporter's query statistics, preloaded by every instance of a cluster with the exporter
/// (`postgres::parameters`) and created as an extension in the database `postgres` (`sql::enable`).
pub const STATEMENTS_LIBRARY: &str = "pg_stat_statements";
/// Tusk's queries, in the exporter's `--extend.query-path` format.
pub const QUERIES: &str = include_str!("queries.yml");
/// The ConfigMap key of [`QUERIES`], and the file name the user's `configuration` may replace.
pub const QUERIES_FILE: &str = "queries.yml";
/// The monitoring Secret's password key.
pub const PASSWORD: &str = "password";
/// The monitoring Secret's verifier key.
pub const VERIFIER: &str = "verifier";

/// The exporter's spec, when the cluster has one.
pub fn exporter(cluster: &PostgresCluster) -> Option<&ExporterSpec> {
    cluster
        .spec
        .monitoring
        .as_ref()?
        .pgmonitor
        .as_ref()?
        .exporter
        .as_ref()
}

/// The Secret `<c>-monitoring`: the monitoring role's password (made once, kept) and its SCRAM verifier.
pub fn secret(cluster: &PostgresCluster, existing: Option<&Secret>) -> Secret {
    let name = cluster.name_any();
    let credentials = credentials_at(existing, PASSWORD, VERIFIER);
    Secret {
        metadata: owned_by(
            cluster,
            names::monitoring_secret(&name),
            None,
            labels::monitoring(&name),
        ),
        data: Some(BTreeMap::from([
            (
                PASSWORD.to_string(),
                ByteString(credentials.password.into_bytes()),
            ),
            (
                VERIFIER.to_string(),
                ByteString(credentials.verifier.into_bytes()),
            ),
        ])),
        ..Secret::default()
    }
}

/// The ConfigMap `<c>-exporter-queries-config` holding [`QUERIES`].
pub fn queries_config_map(cluster: &PostgresCluster) -> ConfigMap {
    let name = cluster.name_any();
    ConfigMap {
        metadata: owned_by(
            cluster,
            names::exporter_queries_config_map(&name),
            None,
            labels::monitoring(&name),
        ),
        data: Some(BTreeMap::from([(
            QUERIES_FILE.to_string(),
            QUERIES.to_string(),
        )])),
        ..ConfigMap::default()
    }
}

#[cfg(test)]
pub(crate) fn hippo_with_exporter(exporter: &str) -> PostgresCluster {
    tusk_api::manifest::parse(&format!(
        "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo, namespace: ns, uid: u1}}
spec:
  postgresVersion: 15
  instances: [{{dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
  monitoring: {{pgmonitor: {{exporter: {{{exporter}}}}}}}
"
    ))
    .expect("valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queries_are_yaml_with_the_series_pgo_alerts_read() {
        let queries: serde_json::Value = serde_saphyr::from_str(QUERIES).expect("YAML");
        for (query, column) in [
            ("ccp_connection_stats", "max_idle_in_txn_time"),
            ("ccp_connection_stats", "max_connections"),
            ("ccp_archive_command_status", "seconds_since_last_fail"),
            (
                "ccp_transaction_wraparound",
                "percent_towards_emergency_autovac",
            ),
            ("ccp_settings_pending_restart", "count"),
            ("ccp_replication_slots", "active"),
        ] {
            let metrics = queries[query]["metrics"].as_array().expect(query);
            assert!(
                metrics.iter().any(|m| m.get(column).is_some()),
                "{query}_{column}"
            );
        }
    }

    #[test]
    fn the_backup_queries_run_in_postgres_only_and_reuse_their_result_for_a_minute() {
        let queries: serde_json::Value = serde_saphyr::from_str(QUERIES).expect("YAML");
        let backup: Vec<(&String, &serde_json::Value)> = queries
            .as_object()
            .expect("a map of queries")
            .iter()
            .filter(|(_, body)| {
                body["query"]
                    .as_str()
                    .is_some_and(|q| q.contains(backups_sql::FUNCTION))
            })
            .collect();
        let names: Vec<&str> = backup.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ccp_backrest_last_diff_backup",
                "ccp_backrest_last_full_backup",
                "ccp_backrest_last_incr_backup",
                "ccp_backrest_last_info",
                "ccp_backrest_oldest_full_backup"
            ]
        );
        for (name, body) in backup {
            assert_eq!(body["master"], true, "{name}");
            assert_eq!(body["cache_seconds"], 60, "{name}");
        }
    }

    #[test]
    fn a_query_run_in_every_database_labels_its_rows_with_the_database() {
        let queries: serde_json::Value = serde_saphyr::from_str(QUERIES).expect("YAML");
        let mut everywhere = Vec::new();
        for (query, body) in queries.as_object().expect("a map of queries") {
            if body["master"] == true {
                continue;
            }
            let labels: Vec<&String> = body["metrics"]
                .as_array()
                .expect(query)
                .iter()
                .flat_map(|m| m.as_object().expect("one column"))
                .filter(|(_, usage)| usage["usage"] == "LABEL")
                .map(|(column, _)| column)
                .collect();
            assert!(
                labels.iter().any(|c| *c == "dbname"),
                "{query} runs in every database without a dbname label: set master: true"
            );
            everywhere.push(query.as_str());
        }
        assert_eq!(everywhere, ["ccp_sequence_exhaustion"]);
    }

    /// The series of [`QUERIES`]: `<query>_<column>` of every column that is not a label.
    fn produced_series() -> std::collections::BTreeSet<String> {
        let queries: serde_json::Value = serde_saphyr::from_str(QUERIES).expect("YAML");
        let mut series = std::collections::BTreeSet::new();
        for (query, body) in queries.as_object().expect("a map of queries") {
            for metric in body["metrics"].as_array().expect(query) {
                for (column, usage) in metric.as_object().expect("one column") {
                    if usage["usage"] != "LABEL" {
                        series.insert(format!("{query}_{column}"));
                    }
                }
            }
        }
        series
    }

    /// Every name in `text` that starts with `prefix`.
    fn names_with<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.match_indices(prefix)
            .filter(|(start, _)| {
                !text[..*start].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
            .map(|(start, _)| {
                let rest = &text[start..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect()
    }

    /// The kubelet's series the stack reads in place of pgnodemx (jobs `kubelet-cadvisor` and `kubelet` of
    /// `prometheus.yml`): not the exporter's, so listed here by name.
    const KUBELET_SERIES: &[&str] = &[
        "container_cpu_usage_seconds_total",
        "container_memory_cache",
        "container_memory_rss",
        "container_memory_working_set_bytes",
        "container_network_receive_bytes_total",
        "container_network_receive_errors_total",
        "container_network_receive_packets_dropped_total",
        "container_network_transmit_bytes_total",
        "container_network_transmit_errors_total",
        "container_network_transmit_packets_dropped_total",
        "container_spec_cpu_period",
        "container_spec_cpu_quota",
        "container_spec_cpu_shares",
        "container_spec_memory_limit_bytes",
        "kubelet_volume_stats_capacity_bytes",
        "kubelet_volume_stats_used_bytes",
    ];

    /// Whether the keep rule `regex` of a scrape job keeps the series `name` (Prometheus anchors the regex).
    fn keeps(regex: &str, name: &str) -> bool {
        regex::Regex::new(&format!("^(?:{regex})$"))
            .expect("a valid regex")
            .is_match(name)
    }

    /// The text of the alert rules and of every dashboard.
    fn stack_files() -> Vec<(std::path::PathBuf, String)> {
        let stack =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/monitoring");
        let mut files = vec![stack.join("alert-rules.yml")];
        for entry in std::fs::read_dir(stack.join("dashboards")).expect("dashboards") {
            files.push(entry.expect("entry").path());
        }
        files
            .into_iter()
            .map(|file| {
                let text = std::fs::read_to_string(&file).expect("readable");
                (file, text)
            })
            .collect()
    }

    #[test]
    fn the_monitoring_stacks_rules_and_dashboards_read_only_series_the_queries_produce() {
        let produced = produced_series();
        let mut read = 0;
        for (file, text) in stack_files() {
            for name in names_with(&text, "ccp_") {
                assert!(produced.contains(name), "{}: {name}", file.display());
                read += 1;
            }
        }
        assert!(read > 20, "the rules and dashboards read ccp_* series");
    }

    #[test]
    fn the_kubelet_series_the_stack_reads_are_the_listed_ones_and_the_scrape_jobs_keep_them() {
        let mut read = std::collections::BTreeSet::new();
        for (file, text) in stack_files() {
            for name in names_with(&text, "container_")
                .into_iter()
                .chain(names_with(&text, "kubelet_"))
            {
                assert!(
                    KUBELET_SERIES.contains(&name),
                    "{}: {name} is not a listed kubelet series",
                    file.display()
                );
                read.insert(name.to_string());
            }
        }
        let listed: std::collections::BTreeSet<String> =
            KUBELET_SERIES.iter().map(ToString::to_string).collect();
        assert_eq!(read, listed, "every listed kubelet series is read");
        let config = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../deploy/monitoring/prometheus.yml"),
        )
        .expect("prometheus.yml");
        let kept: Vec<&str> = config
            .lines()
            .filter_map(|line| line.trim().strip_prefix("regex: "))
            .filter(|regex| regex.starts_with("container_") || regex.starts_with("kubelet_"))
            .collect();
        assert_eq!(kept.len(), 2, "one keep rule per kubelet job: {kept:?}");
        for name in KUBELET_SERIES {
            assert!(
                kept.iter().any(|regex| keeps(regex, name)),
                "{name} is dropped by the kubelet jobs' keep rules {kept:?}"
            );
        }
    }

    #[test]
    fn a_password_made_once_and_kept() {
        let cluster = hippo_with_exporter("");
        let first = secret(&cluster, None);
        assert_eq!(first.metadata.name.as_deref(), Some("hippo-monitoring"));
        assert_eq!(
            first.metadata.labels.as_ref().unwrap()[labels::ROLE],
            labels::ROLE_MONITORING
        );
        assert_eq!(secret(&cluster, Some(&first)).data, first.data);
    }
}
