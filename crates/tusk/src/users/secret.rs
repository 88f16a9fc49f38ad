//! The Secret `<cluster>-pguser-<user>`: credentials and connection details, in the keys the docs list.

use super::credentials::Credentials;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::users::PostgresUserSpec;

/// What may stay unescaped in a URI's user, password, path and query values (RFC 3986 unreserved).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The Secret of `user`: `user`, `password`, `verifier`, `host`, `port`, and, when the user has a database,
/// `dbname`, `uri` and `jdbc-uri` for its first one. `host` is the primary's Service. With PgBouncer also
/// `pgbouncer-host` (its Service) and `pgbouncer-port`, and with a database `pgbouncer-uri` and
/// `pgbouncer-jdbc-uri` (`prepareThreshold=0`: no server-side prepared statements, which transaction pooling
/// cannot keep).
pub fn user_secret(
    cluster: &PostgresCluster,
    user: &PostgresUserSpec,
    credentials: &Credentials,
) -> Secret {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let namespace = cluster.metadata.namespace.as_deref().unwrap_or("default");
    let host = format!("{}.{namespace}.svc", names::primary_service(cluster_name));
    let port = cluster.spec.port.to_string();
    let mut data = BTreeMap::from([
        ("user", user.name.clone()),
        ("password", credentials.password.clone()),
        ("verifier", credentials.verifier.clone()),
        ("host", host.clone()),
        ("port", port.clone()),
    ]);
    let bouncer = crate::pgbouncer::spec(cluster).map(|bouncer| {
        let host = format!("{}.{namespace}.svc", names::pgbouncer(cluster_name));
        (host, bouncer.port.to_string())
    });
    if let Some((host, port)) = &bouncer {
        data.insert("pgbouncer-host", host.clone());
        data.insert("pgbouncer-port", port.clone());
    }
    if let Some(database) = user
        .databases
        .as_ref()
        .and_then(|databases| databases.first())
    {
        let (name, password, db) = (
            escape(&user.name),
            escape(&credentials.password),
            escape(database),
        );
        data.insert("dbname", database.clone());
        data.insert(
            "uri",
            format!("postgresql://{name}:{password}@{host}:{port}/{db}"),
        );
        data.insert(
            "jdbc-uri",
            format!("jdbc:postgresql://{host}:{port}/{db}?password={password}&user={name}"),
        );
        if let Some((host, port)) = &bouncer {
            data.insert(
                "pgbouncer-uri",
                format!("postgresql://{name}:{password}@{host}:{port}/{db}"),
            );
            data.insert(
                "pgbouncer-jdbc-uri",
                format!(
                    "jdbc:postgresql://{host}:{port}/{db}?password={password}&prepareThreshold=0&user={name}"
                ),
            );
        }
    }
    Secret {
        metadata: owned_by(
            cluster,
            names::user_secret(cluster_name, &user.name),
            None,
            labels::user_secret(cluster_name, &user.name),
        ),
        data: Some(
            data.into_iter()
                .map(|(key, value)| (key.to_string(), ByteString(value.into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    }
}

fn escape(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hippo() -> PostgresCluster {
        let mut cluster =
            tusk_api::manifest::parse(include_str!("../../../../examples/hippo/postgres.yaml"))
                .unwrap();
        cluster.metadata.namespace = Some("postgres-operator".into());
        cluster
    }

    fn text(secret: &Secret, key: &str) -> String {
        String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
    }

    fn credentials(password: &str) -> Credentials {
        Credentials {
            password: password.into(),
            verifier: "SCRAM-SHA-256$4096:salt$stored:server".into(),
        }
    }

    #[test]
    fn the_docs_keys_and_values() {
        let cluster = hippo();
        let user = &crate::users::wanted(&cluster)[0];
        let secret = user_secret(&cluster, user, &credentials("s3cret"));
        assert_eq!(secret.metadata.name.as_deref(), Some("hippo-pguser-hippo"));
        assert_eq!(text(&secret, "host"), "hippo-primary.postgres-operator.svc");
        assert_eq!(text(&secret, "port"), "5432");
        assert_eq!(text(&secret, "dbname"), "hippo");
        assert_eq!(
            text(&secret, "uri"),
            "postgresql://hippo:s3cret@hippo-primary.postgres-operator.svc:5432/hippo"
        );
        assert_eq!(
            text(&secret, "jdbc-uri"),
            "jdbc:postgresql://hippo-primary.postgres-operator.svc:5432/hippo?password=s3cret&user=hippo"
        );
        let labels = secret.metadata.labels.unwrap();
        assert_eq!(labels["postgres-operator.crunchydata.com/pguser"], "hippo");
        assert_eq!(labels["postgres-operator.crunchydata.com/role"], "pguser");
    }

    #[test]
    fn a_user_without_databases_has_no_uri() {
        let user = PostgresUserSpec {
            name: "postgres".into(),
            databases: None,
            options: None,
        };
        let secret = user_secret(&hippo(), &user, &credentials("x"));
        let keys: Vec<&String> = secret.data.as_ref().unwrap().keys().collect();
        assert_eq!(keys, ["host", "password", "port", "user", "verifier"]);
    }

    #[test]
    fn special_characters_cannot_break_the_uri() {
        let user = PostgresUserSpec {
            name: "rhino".into(),
            databases: Some(vec!["zoo".into()]),
            options: None,
        };
        let secret = user_secret(&hippo(), &user, &credentials("p@ss:w/rd?&="));
        assert_eq!(
            text(&secret, "uri"),
            "postgresql://rhino:p%40ss%3Aw%2Frd%3F%26%3D@hippo-primary.postgres-operator.svc:5432/zoo"
        );
    }

    #[test]
    fn with_pgbouncer_the_keys_of_its_service() {
        let mut cluster = hippo();
        cluster.spec.proxy =
            Some(serde_json::from_value(serde_json::json!({"pgBouncer": {"port": 6432}})).unwrap());
        let user = &crate::users::wanted(&cluster)[0];
        let secret = user_secret(&cluster, user, &credentials("s3cret"));
        assert_eq!(
            text(&secret, "pgbouncer-host"),
            "hippo-pgbouncer.postgres-operator.svc"
        );
        assert_eq!(text(&secret, "pgbouncer-port"), "6432");
        assert_eq!(
            text(&secret, "pgbouncer-uri"),
            "postgresql://hippo:s3cret@hippo-pgbouncer.postgres-operator.svc:6432/hippo"
        );
        assert_eq!(
            text(&secret, "pgbouncer-jdbc-uri"),
            "jdbc:postgresql://hippo-pgbouncer.postgres-operator.svc:6432/hippo?password=s3cret&prepareThreshold=0&user=hippo"
        );
        assert_eq!(text(&secret, "host"), "hippo-primary.postgres-operator.svc");
    }
}
