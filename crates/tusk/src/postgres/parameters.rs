//! PostgreSQL's parameters, in PGO's order of precedence (lowest first): Tusk's defaults, then the user's
//! `patroni.dynamicConfiguration.postgresql.parameters`, then what Tusk requires to work (TLS, archiving, the
//! socket directory), which a user cannot override. With the metrics exporter, `shared_preload_libraries` is the
//! user's list with `pg_stat_statements` added (as PGO), for the exporter's query statistics.

use super::{SOCKET_DIRECTORY, TLS_MOUNT};
use serde_json::{Map, Value};
use tusk_api::PostgresCluster;

/// The archive command when the cluster has pgBackRest repositories.
pub const ARCHIVE_COMMAND: &str = r#"pgbackrest --stanza=db archive-push "%p""#;
/// The restore command that fetches WAL from the repositories.
pub const RESTORE_COMMAND: &str = r#"pgbackrest --stanza=db archive-get %f "%p""#;

/// The user's parameters: `spec.patroni.dynamicConfiguration.postgresql.parameters`.
pub fn user_parameters(cluster: &PostgresCluster) -> Map<String, Value> {
    cluster
        .spec
        .patroni
        .as_ref()
        .and_then(|patroni| patroni.dynamic_configuration.as_ref())
        .and_then(|dynamic| dynamic.get("postgresql"))
        .and_then(|postgresql| postgresql.get("parameters"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Every parameter of the cluster's instances.
pub fn parameters(cluster: &PostgresCluster) -> Map<String, Value> {
    let mut parameters = defaults();
    parameters.extend(user_parameters(cluster));
    parameters.extend(mandatory(cluster.spec.custom_tls_secret.is_some()));
    if crate::monitoring::exporter(cluster).is_some() {
        let listed = parameters
            .get(PRELOAD)
            .and_then(Value::as_str)
            .unwrap_or_default();
        let libraries = with_library(listed, crate::monitoring::STATEMENTS_LIBRARY);
        parameters.insert(PRELOAD.into(), Value::String(libraries));
    }
    parameters
}

const PRELOAD: &str = "shared_preload_libraries";

/// The comma-separated list `listed` with `library` at its end, unless it is there already (names may be
/// double-quoted and surrounded by spaces, as PostgreSQL allows).
fn with_library(listed: &str, library: &str) -> String {
    let present = listed
        .split(',')
        .any(|name| name.trim().trim_matches('"') == library);
    match (present, listed.trim().is_empty()) {
        (true, _) => listed.to_string(),
        (false, true) => library.to_string(),
        (false, false) => format!("{listed},{library}"),
    }
}

fn defaults() -> Map<String, Value> {
    strings([
        ("jit", "off"),
        ("password_encryption", "scram-sha-256"),
        ("archive_timeout", "60s"),
        ("huge_pages", "try"),
    ])
}

/// What Tusk requires. With `custom_tls` the server's certificate is the user's, and client certificates are
/// checked against both the user's CA and the namespace's root (`postgres::CLIENT_CA_PATH`).
fn mandatory(custom_tls: bool) -> Map<String, Value> {
    let tls = |file: &str| format!("{TLS_MOUNT}/{file}");
    let client_ca = if custom_tls {
        tls(super::CLIENT_CA_PATH)
    } else {
        tls("ca.crt")
    };
    strings([
        ("unix_socket_directories", SOCKET_DIRECTORY),
        ("wal_level", "logical"),
        ("ssl", "on"),
        ("ssl_cert_file", &tls("tls.crt")),
        ("ssl_key_file", &tls("tls.key")),
        ("ssl_ca_file", &client_ca),
        ("archive_mode", "on"),
        ("archive_command", ARCHIVE_COMMAND),
        ("restore_command", RESTORE_COMMAND),
    ])
}

fn strings<const N: usize>(pairs: [(&str, &str); N]) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(parameters: &str) -> PostgresCluster {
        tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo}}
spec:
  postgresVersion: 15
  patroni: {{dynamicConfiguration: {{postgresql: {{parameters: {parameters}}}}}}}
  instances: [{{dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
"
        ))
        .expect("valid")
    }

    #[test]
    fn users_override_defaults_but_not_what_tusk_requires() {
        let parameters = parameters(&cluster(
            "{work_mem: 8MB, jit: on, ssl: off, max_connections: 200}",
        ));
        assert_eq!(parameters["work_mem"], "8MB");
        assert_eq!(
            parameters["jit"], true,
            "a default yields to the user (YAML 1.1 reads `on` as true, as Kubernetes does)"
        );
        assert_eq!(parameters["ssl"], "on", "TLS cannot be turned off");
        assert_eq!(parameters["max_connections"], 200, "numbers stay numbers");
        assert_eq!(parameters["archive_command"], ARCHIVE_COMMAND);
        assert_eq!(parameters["ssl_key_file"], "/pgconf/tls/tls.key");
        assert_eq!(parameters["ssl_ca_file"], "/pgconf/tls/ca.crt");
    }

    #[test]
    fn the_exporter_preloads_pg_stat_statements_after_the_users_libraries() {
        let mut monitored = cluster("{shared_preload_libraries: 'auto_explain, \"pg_cron\"'}");
        monitored.spec.monitoring = Some(
            serde_json::from_value(serde_json::json!({"pgmonitor": {"exporter": {}}})).unwrap(),
        );
        assert_eq!(
            parameters(&monitored)["shared_preload_libraries"],
            "auto_explain, \"pg_cron\",pg_stat_statements"
        );
        let mut listed = cluster("{shared_preload_libraries: ' \"pg_stat_statements\" '}");
        listed.spec.monitoring = monitored.spec.monitoring.clone();
        assert_eq!(
            parameters(&listed)["shared_preload_libraries"],
            " \"pg_stat_statements\" ",
            "named once"
        );
        let mut plain = cluster("{}");
        assert!(!parameters(&plain).contains_key("shared_preload_libraries"));
        plain.spec.monitoring = monitored.spec.monitoring.clone();
        assert_eq!(
            parameters(&plain)["shared_preload_libraries"],
            "pg_stat_statements"
        );
    }

    #[test]
    fn under_custom_tls_client_certificates_are_checked_against_the_bundle() {
        let mut custom = cluster("{}");
        custom.spec.custom_tls_secret = Some(Default::default());
        assert_eq!(
            parameters(&custom)["ssl_ca_file"],
            "/pgconf/tls/~postgres-operator/client-ca.crt"
        );
        assert_eq!(parameters(&custom)["ssl_cert_file"], "/pgconf/tls/tls.crt");
    }
}
