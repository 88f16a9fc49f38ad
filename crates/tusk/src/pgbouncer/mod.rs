//! PgBouncer (`spec.proxy.pgBouncer`): the connection pooler in front of the primary, as PGO runs it. What is
//! built here is pure; the controller applies it.
//!
//! - [`config`]: the configuration file PgBouncer reads, from Tusk's settings and `config.global`,
//!   `config.databases` and `config.users`.
//! - Clients reach PgBouncer over TLS, and PgBouncer reaches PostgreSQL over TLS with `verify-full`.
//! - PgBouncer logs users in without a copy of their passwords: it logs in as [`AUTH_USER`] and asks
//!   PostgreSQL for the user's SCRAM verifier through the function [`AUTH_QUERY`] names, which only returns
//!   ordinary login roles.

pub mod certificate;
pub mod config;
pub mod deployment;
pub mod secret;
pub mod service;
pub mod sql;

use tusk_api::PostgresCluster;
use tusk_api::proxy::PgBouncerPodSpec;

/// Where PgBouncer's files are mounted.
pub const CONFIG_DIRECTORY: &str = "/etc/pgbouncer";
/// The file PgBouncer runs with (written by Tusk).
pub const MAIN_FILE: &str = "/etc/pgbouncer/~postgres-operator.ini";
/// The user's own file (`config.files` may provide it; empty otherwise), included first.
pub const USER_FILE: &str = "/etc/pgbouncer/pgbouncer.ini";
/// Tusk's other files: the auth file, the certificates.
pub const PRIVATE_DIRECTORY: &str = "/etc/pgbouncer/~postgres-operator";
/// The role PgBouncer logs in as to look up users (PGO's name).
pub const AUTH_USER: &str = "_crunchypgbouncer";
/// The query PgBouncer runs as [`AUTH_USER`] to look a user up.
pub const AUTH_QUERY: &str = "SELECT username, password from pgbouncer.get_auth($1)";

/// PgBouncer's spec, when the cluster has one.
pub fn spec(cluster: &PostgresCluster) -> Option<&PgBouncerPodSpec> {
    cluster.spec.proxy.as_ref().map(|proxy| &proxy.pg_bouncer)
}

/// A file of [`PRIVATE_DIRECTORY`].
pub fn private_file(name: &str) -> String {
    format!("{PRIVATE_DIRECTORY}/{name}")
}

/// hippo with `proxy` as the fields of `spec.proxy.pgBouncer` (flow YAML) and `extra` spec lines, for tests.
#[cfg(test)]
pub(crate) fn hippo_with_proxy(proxy: &str, extra: &str) -> PostgresCluster {
    tusk_api::manifest::parse(&format!(
        "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo, namespace: ns, uid: u1}}
spec:
  postgresVersion: 16
  instances: [{{dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
  {extra}
  proxy:
    pgBouncer: {{{proxy}}}
"
    ))
    .expect("valid")
}
