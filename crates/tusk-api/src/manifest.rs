//! Reading a PostgresCluster manifest: YAML or JSON text in, a checked and defaulted PostgresCluster out.

use crate::cluster::PostgresCluster;
use crate::schema_check;
use crate::validation::{Violation, validate};
use kube::Resource;

/// Parses one PostgresCluster manifest and checks it.
///
/// Field defaults are applied as the API server applies the schema's defaults. Unknown fields, wrong types,
/// missing required fields and broken rules are all reported as [`Violation`]s naming the field.
pub fn parse(text: &str) -> Result<PostgresCluster, Vec<Violation>> {
    let value: serde_json::Value = serde_saphyr::from_str(text).map_err(|error| {
        vec![Violation {
            field: "(document)".into(),
            rule: format!("is not YAML: {error}"),
        }]
    })?;
    from_value(value)
}

/// Like [`parse`], from an already decoded document.
///
/// Three passes, each reporting every problem it finds: the document against the CRD's schema (as the API
/// server checks it), then into the Rust types, then the rules beyond the schema.
pub fn from_value(value: serde_json::Value) -> Result<PostgresCluster, Vec<Violation>> {
    check_type(&value)?;
    let violations = schema_check::check(&value);
    if !violations.is_empty() {
        return Err(violations);
    }
    let cluster: PostgresCluster = serde_path_to_error::deserialize(value).map_err(|error| {
        let field = match error.path().to_string() {
            path if path == "." => "(document)".to_string(),
            path => path,
        };
        vec![Violation {
            field,
            rule: error.inner().to_string(),
        }]
    })?;
    let violations = validate(&cluster);
    if violations.is_empty() {
        Ok(cluster)
    } else {
        Err(violations)
    }
}

fn check_type(value: &serde_json::Value) -> Result<(), Vec<Violation>> {
    let expected_api_version = PostgresCluster::api_version(&());
    let expected_kind = PostgresCluster::kind(&());
    let mut violations = Vec::new();
    let api_version = value.get("apiVersion").and_then(|v| v.as_str());
    if api_version != Some(expected_api_version.as_ref()) {
        violations.push(Violation {
            field: "apiVersion".into(),
            rule: format!(
                "must be {expected_api_version}, not {}",
                api_version.unwrap_or("missing")
            ),
        });
    }
    let kind = value.get("kind").and_then(|v| v.as_str());
    if kind != Some(expected_kind.as_ref()) {
        violations.push(Violation {
            field: "kind".into(),
            rule: format!("must be {expected_kind}, not {}", kind.unwrap_or("missing")),
        });
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    const HIPPO: &str = "
apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: hippo}
spec:
  postgresVersion: 15
  instances:
  - dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  backups:
    pgbackrest:
      repos:
      - name: repo1
        volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}
  patroni: {}
  proxy: {pgBouncer: {}}
";

    #[test]
    fn defaults_are_those_of_pgo_schema() {
        let cluster = parse(HIPPO).expect("hippo is valid");
        let spec = &cluster.spec;
        assert_eq!(spec.port, 5432);
        assert_eq!(spec.instances[0].name, "");
        assert_eq!(spec.instances[0].replicas, 1);
        let patroni = spec.patroni.as_ref().unwrap();
        assert_eq!(
            (
                patroni.port,
                patroni.leader_lease_duration_seconds,
                patroni.sync_period_seconds
            ),
            (8008, 30, 10)
        );
        let bouncer = &spec.proxy.as_ref().unwrap().pg_bouncer;
        assert_eq!((bouncer.port, bouncer.replicas), (5432, 1));
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let broken = HIPPO
            .replace("postgresVersion: 15", "postgresVersion: 9")
            .replace("name: repo1", "name: repo7");
        let violations = parse(&broken).expect_err("two mistakes");
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.backups.pgbackrest.repos[0].name",
                "spec.postgresVersion"
            ]
        );
    }

    #[test]
    fn a_document_that_is_not_a_postgrescluster_says_so() {
        let violations =
            parse("apiVersion: v1\nkind: ConfigMap\n").expect_err("not a PostgresCluster");
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["apiVersion", "kind"]);
        assert!(parse(": : :").is_err());
    }
}
