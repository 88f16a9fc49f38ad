//! `pg_hba.conf` rules, in PGO's order: the rules Tusk needs first (the replication user and the operator by
//! certificate only, the exporter's and PgBouncer's roles by password over TLS only), then the user's
//! `patroni.dynamicConfiguration.postgresql.pg_hba`, then — when the user gave none — TLS with SCRAM passwords
//! for everyone. Every connection over the network is TLS.

use super::{OPERATOR_USER, REPLICATION_USER, SUPERUSER};
use serde_json::Value;
use tusk_api::PostgresCluster;

/// Every rule, first match wins.
pub fn rules(cluster: &PostgresCluster) -> Vec<String> {
    let mut rules = mandatory();
    if crate::monitoring::exporter(cluster).is_some() {
        // The exporter, on its pod's loopback.
        rules.extend(password_only(
            crate::monitoring::MONITORING_USER,
            &["127.0.0.1/32", "::1/128"],
        ));
    }
    if cluster.spec.proxy.is_some() {
        // PgBouncer's lookup role, from anywhere.
        rules.extend(password_only(crate::pgbouncer::AUTH_USER, &["all"]));
    }
    let user = user_rules(cluster);
    if user.is_empty() {
        rules.push("hostssl all all all scram-sha-256".into());
    } else {
        rules.extend(user);
    }
    rules
}

fn mandatory() -> Vec<String> {
    vec![
        format!(r#"local all "{SUPERUSER}" peer"#),
        format!(r#"hostssl replication "{REPLICATION_USER}" all cert"#),
        format!(r#"hostssl "postgres" "{REPLICATION_USER}" all cert"#),
        format!(r#"host all "{REPLICATION_USER}" all reject"#),
        format!(r#"hostssl all "{OPERATOR_USER}" all cert"#),
        format!(r#"host all "{OPERATOR_USER}" all reject"#),
    ]
}

/// Rules that let `role` in from `sources` with a SCRAM password over TLS, and nowhere else by any method.
fn password_only(role: &str, sources: &[&str]) -> Vec<String> {
    sources
        .iter()
        .map(|source| format!(r#"hostssl all "{role}" {source} scram-sha-256"#))
        .chain([format!(r#"host all "{role}" all reject"#)])
        .collect()
}

/// The user's rules: the strings of `spec.patroni.dynamicConfiguration.postgresql.pg_hba`.
fn user_rules(cluster: &PostgresCluster) -> Vec<String> {
    cluster
        .spec
        .patroni
        .as_ref()
        .and_then(|patroni| patroni.dynamic_configuration.as_ref())
        .and_then(|dynamic| dynamic.get("postgresql"))
        .and_then(|postgresql| postgresql.get("pg_hba"))
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::rules;

    fn cluster(pg_hba: &str) -> tusk_api::PostgresCluster {
        tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo}}
spec:
  postgresVersion: 15
  patroni: {{dynamicConfiguration: {{postgresql: {{pg_hba: {pg_hba}}}}}}}
  instances: [{{dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
"
        ))
        .expect("valid")
    }

    #[test]
    fn replication_by_certificate_comes_before_the_users_rules() {
        let rules = rules(&cluster(r#"["host all all 0.0.0.0/0 trust"]"#));
        let trust = rules
            .iter()
            .position(|r| r.ends_with("trust"))
            .expect("user rule");
        let reject = rules
            .iter()
            .position(|r| r == r#"host all "_crunchyrepl" all reject"#)
            .expect("reject rule");
        assert!(reject < trust);
        assert!(
            !rules.iter().any(|r| r.contains("scram")),
            "the user's rules replace the default"
        );
    }

    #[test]
    fn the_operator_logs_in_by_certificate_only() {
        let rules = rules(&cluster(r#"["host all all 0.0.0.0/0 trust"]"#));
        let cert = rules
            .iter()
            .position(|r| r == r#"hostssl all "_tusk" all cert"#)
            .expect("certificate rule");
        let reject = rules
            .iter()
            .position(|r| r == r#"host all "_tusk" all reject"#)
            .expect("reject rule");
        let trust = rules
            .iter()
            .position(|r| r.ends_with("trust"))
            .expect("user rule");
        assert!(cert < reject && reject < trust);
    }

    #[test]
    fn without_user_rules_everyone_uses_tls_and_scram() {
        assert_eq!(
            rules(&cluster("[]")).last().map(String::as_str),
            Some("hostssl all all all scram-sha-256")
        );
    }

    #[test]
    fn pgbouncer_looks_users_up_by_password_over_tls_only_when_there_is_one() {
        let mut with = cluster(r#"["host all all 0.0.0.0/0 trust"]"#);
        assert!(!rules(&with).iter().any(|r| r.contains("_crunchypgbouncer")));
        with.spec.proxy =
            Some(serde_json::from_value(serde_json::json!({"pgBouncer": {}})).unwrap());
        let rules = rules(&with);
        let scram = rules
            .iter()
            .position(|r| r == r#"hostssl all "_crunchypgbouncer" all scram-sha-256"#)
            .expect("scram rule");
        let reject = rules
            .iter()
            .position(|r| r == r#"host all "_crunchypgbouncer" all reject"#)
            .expect("reject rule");
        let trust = rules.iter().position(|r| r.ends_with("trust")).unwrap();
        assert!(scram < reject && reject < trust);
    }
}
