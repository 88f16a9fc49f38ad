//! The ConfigMap `<c>-pgbackrest-config`: pgBackRest's configuration files and their hash.
//!
//! * `pgbackrest_instance.conf`, for instance pods: the `db` stanza's local data directory, every
//!   repository, and a volume repository reached through the repository host over TLS.
//! * `pgbackrest_repo.conf`, for the repository host and backup Jobs: every repository local (a volume
//!   repository at its mount), and every instance pod as a `pgN-host` reached over TLS.
//! * `pgbackrest-server.conf`, for every pgBackRest TLS server: where it listens, its certificates, and the
//!   one client it lets in.
//! * `config-hash`, a SHA-256 of the three files.
//!
//! Pod templates carry the hash of the files *they* read as an annotation, so that a change rolls only the
//! pods it concerns: [`Files::instance_hash`] (instance and server files) for instance pods, which then do
//! not roll when an instance is added or removed; [`Files::repo_hash`] (repository and server files) for the
//! repository host and backup Jobs.
//!
//! `spec.backups.pgbackrest.global` is written into `[global]` of the instance and repository files after
//! Tusk's own settings, so a user's value wins, as in PGO.

use super::ini::Ini;
use super::projections::{
    CA_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE,
};
use super::{ConfigError, SERVER_PORT, STANZA, name_and_namespace, repo_path, repos};
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use crate::postgres;
use k8s_openapi::api::core::v1::ConfigMap;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::pgbackrest::PgBackRestRepo;

/// The instance pods' configuration file (and its key in the ConfigMap).
pub const INSTANCE_FILE: &str = "pgbackrest_instance.conf";
/// The repository host's and backup Jobs' configuration file.
pub const REPO_FILE: &str = "pgbackrest_repo.conf";
/// The TLS servers' configuration file.
pub const SERVER_FILE: &str = "pgbackrest-server.conf";
/// The ConfigMap key of the configuration's hash.
pub const CONFIG_HASH_KEY: &str = "config-hash";
/// Where instance pods write pgBackRest's logs (the data volume, as PGO).
pub const INSTANCE_LOG_PATH: &str = "/pgdata/pgbackrest/log";
/// Where instance pods keep the queue of asynchronous archiving.
pub const SPOOL_PATH: &str = "/pgdata/pgbackrest-spool";

const GLOBAL: &str = "global";
const GLOBAL_FIELD: &str = "spec.backups.pgbackrest.global";

/// The configuration files, rendered, and their hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files {
    /// `pgbackrest_instance.conf`.
    pub instance: String,
    /// `pgbackrest_repo.conf`.
    pub repo: String,
    /// `pgbackrest-server.conf`.
    pub server: String,
    /// The hex SHA-256 of the three files with their names: the ConfigMap's `config-hash`.
    pub hash: String,
    /// The hash of what instance pods read: `pgbackrest_instance.conf` and `pgbackrest-server.conf`.
    pub instance_hash: String,
    /// The hash of what the repository host and backup Jobs read: `pgbackrest_repo.conf` and
    /// `pgbackrest-server.conf`.
    pub repo_hash: String,
}

/// Renders the configuration files of `cluster` whose instances are `instances` (StatefulSet names).
pub fn files(cluster: &PostgresCluster, instances: &[String]) -> Result<Files, ConfigError> {
    let instance = instance_file(cluster)?.render();
    let repo = repo_file(cluster, instances)?.render();
    let server = server_file(cluster)?.render();
    let hash = hash(&[
        (INSTANCE_FILE, &instance),
        (REPO_FILE, &repo),
        (SERVER_FILE, &server),
    ]);
    let instance_hash = self::hash(&[(INSTANCE_FILE, &instance), (SERVER_FILE, &server)]);
    let repo_hash = self::hash(&[(REPO_FILE, &repo), (SERVER_FILE, &server)]);
    Ok(Files {
        instance,
        repo,
        server,
        hash,
        instance_hash,
        repo_hash,
    })
}

/// The hex SHA-256 of files, each with its name.
pub(crate) fn hash(files: &[(&str, &String)]) -> String {
    let mut digest = Sha256::new();
    for (name, content) in files {
        digest.update(name.as_bytes());
        digest.update([0]);
        digest.update(content.as_bytes());
        digest.update([0]);
    }
    crate::digest::hex(digest, 32)
}

/// The ConfigMap `<c>-pgbackrest-config` holding `files`.
pub fn config_map(cluster: &PostgresCluster, files: &Files) -> ConfigMap {
    let (name, _) = name_and_namespace(cluster);
    let data = BTreeMap::from([
        (INSTANCE_FILE.to_string(), files.instance.clone()),
        (REPO_FILE.to_string(), files.repo.clone()),
        (SERVER_FILE.to_string(), files.server.clone()),
        (CONFIG_HASH_KEY.to_string(), files.hash.clone()),
    ]);
    ConfigMap {
        metadata: owned_by(
            cluster,
            names::pgbackrest_config_map(name),
            cluster.spec.backups.pgbackrest.metadata.as_ref(),
            labels::pgbackrest_config(name),
        ),
        data: Some(data),
        ..ConfigMap::default()
    }
}

fn instance_file(cluster: &PostgresCluster) -> Result<Ini, ConfigError> {
    let (name, namespace) = name_and_namespace(cluster);
    let mut ini = Ini::new();
    let mut set =
        |section: &str, key: &str, value: &str, field: &str| ini.set(section, key, value, field);
    set(GLOBAL, "archive-async", "y", GLOBAL_FIELD)?;
    set(GLOBAL, "log-path", INSTANCE_LOG_PATH, GLOBAL_FIELD)?;
    set(GLOBAL, "spool-path", SPOOL_PATH, GLOBAL_FIELD)?;
    let repo_host = names::pod_dns_name(&names::repo_host_pod(name), name, namespace);
    for (number, repo, field) in repos(cluster)? {
        repo_options(&mut ini, number, repo, &field)?;
        if repo.volume.is_some() {
            let key = |option: &str| format!("repo{number}-{option}");
            ini.set(GLOBAL, &key("host"), &repo_host, &field)?;
            ini.set(GLOBAL, &key("host-type"), "tls", &field)?;
            ini.set(GLOBAL, &key("host-ca-file"), CA_FILE, &field)?;
            ini.set(GLOBAL, &key("host-cert-file"), CLIENT_CERT_FILE, &field)?;
            ini.set(GLOBAL, &key("host-key-file"), CLIENT_KEY_FILE, &field)?;
        }
    }
    user_global(&mut ini, cluster)?;
    let version = cluster.spec.postgres_version;
    let port = cluster.spec.port.to_string();
    ini.set(
        STANZA,
        "pg1-path",
        &postgres::data_directory(version),
        "spec.postgresVersion",
    )?;
    ini.set(STANZA, "pg1-port", &port, "spec.port")?;
    ini.set(
        STANZA,
        "pg1-socket-path",
        postgres::SOCKET_DIRECTORY,
        "spec",
    )?;
    Ok(ini)
}

fn repo_file(cluster: &PostgresCluster, instances: &[String]) -> Result<Ini, ConfigError> {
    let (name, namespace) = name_and_namespace(cluster);
    let mut ini = Ini::new();
    let repos = repos(cluster)?;
    if let Some((number, _, field)) = repos.iter().find(|(_, repo, _)| repo.volume.is_some()) {
        let log = format!("{}/log", repo_path(*number));
        ini.set(GLOBAL, "log-path", &log, field)?;
    }
    for (number, repo, field) in &repos {
        repo_options(&mut ini, *number, repo, field)?;
    }
    user_global(&mut ini, cluster)?;
    let mut instances: Vec<&String> = instances.iter().collect();
    instances.sort();
    instances.dedup();
    let version = cluster.spec.postgres_version;
    let port = cluster.spec.port.to_string();
    for (index, instance) in instances.into_iter().enumerate() {
        let key = |option: &str| format!("pg{}-{option}", index + 1);
        let host = names::pod_dns_name(&names::instance_pod(instance), name, namespace);
        let field = "spec.instances";
        ini.set(STANZA, &key("host"), &host, field)?;
        ini.set(STANZA, &key("host-type"), "tls", field)?;
        ini.set(STANZA, &key("host-ca-file"), CA_FILE, field)?;
        ini.set(STANZA, &key("host-cert-file"), CLIENT_CERT_FILE, field)?;
        ini.set(STANZA, &key("host-key-file"), CLIENT_KEY_FILE, field)?;
        ini.set(
            STANZA,
            &key("path"),
            &postgres::data_directory(version),
            field,
        )?;
        ini.set(STANZA, &key("port"), &port, "spec.port")?;
        ini.set(
            STANZA,
            &key("socket-path"),
            postgres::SOCKET_DIRECTORY,
            field,
        )?;
    }
    Ok(ini)
}

fn server_file(cluster: &PostgresCluster) -> Result<Ini, ConfigError> {
    let (name, _) = name_and_namespace(cluster);
    let auth = format!("{}={STANZA}", names::pgbackrest_client_common_name(name));
    let mut ini = Ini::new();
    for (key, value) in [
        ("tls-server-address", "*"),
        ("tls-server-auth", auth.as_str()),
        ("tls-server-ca-file", CA_FILE),
        ("tls-server-cert-file", SERVER_CERT_FILE),
        ("tls-server-key-file", SERVER_KEY_FILE),
        ("tls-server-port", &SERVER_PORT.to_string()),
    ] {
        ini.set(GLOBAL, key, value, "metadata.name")?;
    }
    Ok(ini)
}

/// A repository's own options: its type, path and bucket (or container), wherever it is read from.
pub(super) fn repo_options(
    ini: &mut Ini,
    number: u8,
    repo: &PgBackRestRepo,
    field: &str,
) -> Result<(), ConfigError> {
    let key = |option: &str| format!("repo{number}-{option}");
    let path = repo_path(number);
    ini.set(GLOBAL, &key("path"), &path, field)?;
    match (&repo.volume, &repo.s3, &repo.gcs, &repo.azure) {
        (Some(_), None, None, None) => ini.set(GLOBAL, &key("type"), "posix", field),
        (None, Some(s3), None, None) => {
            ini.set(GLOBAL, &key("type"), "s3", field)?;
            ini.set(
                GLOBAL,
                &key("s3-bucket"),
                &s3.bucket,
                &format!("{field}.s3.bucket"),
            )?;
            ini.set(
                GLOBAL,
                &key("s3-endpoint"),
                &s3.endpoint,
                &format!("{field}.s3.endpoint"),
            )?;
            ini.set(
                GLOBAL,
                &key("s3-region"),
                &s3.region,
                &format!("{field}.s3.region"),
            )
        }
        (None, None, Some(gcs), None) => {
            ini.set(GLOBAL, &key("type"), "gcs", field)?;
            ini.set(
                GLOBAL,
                &key("gcs-bucket"),
                &gcs.bucket,
                &format!("{field}.gcs.bucket"),
            )
        }
        (None, None, None, Some(azure)) => {
            ini.set(GLOBAL, &key("type"), "azure", field)?;
            let container = format!("{field}.azure.container");
            ini.set(
                GLOBAL,
                &key("azure-container"),
                &azure.container,
                &container,
            )
        }
        _ => Err(ConfigError::new(
            field,
            "must set exactly one of volume, s3, gcs and azure",
        )),
    }
}

/// `spec.backups.pgbackrest.global`, verbatim once checked.
fn user_global(ini: &mut Ini, cluster: &PostgresCluster) -> Result<(), ConfigError> {
    for (key, value) in cluster.spec.backups.pgbackrest.global.iter().flatten() {
        ini.set(GLOBAL, key, value, &format!("{GLOBAL_FIELD}[{key}]"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::{hippo, hippo_s3, hippo_with, hippo_with_global, instances};

    #[test]
    fn hippo_instance_file() {
        let files = files(&hippo(), &instances()).expect("builds");
        assert_eq!(
            files.instance,
            "[global]
archive-async=y
log-path=/pgdata/pgbackrest/log
repo1-host=hippo-repo-host-0.hippo-pods.zoo.svc.cluster.local
repo1-host-ca-file=/etc/pgbackrest/conf.d/~pgbackrest-ca/ca-roots.crt
repo1-host-cert-file=/etc/pgbackrest/conf.d/~pgbackrest-client/client.crt
repo1-host-key-file=/etc/pgbackrest/conf.d/~pgbackrest-client/client.key
repo1-host-type=tls
repo1-path=/pgbackrest/repo1
repo1-type=posix
spool-path=/pgdata/pgbackrest-spool

[db]
pg1-path=/pgdata/pg16
pg1-port=5432
pg1-socket-path=/tmp/postgres
"
        );
    }

    #[test]
    fn hippo_repo_file_lists_every_instance_sorted() {
        let files = files(&hippo(), &instances()).expect("builds");
        let pg = |n: u8, instance: &str| {
            format!(
                "pg{n}-host={instance}-0.hippo-pods.zoo.svc.cluster.local
pg{n}-host-ca-file=/etc/pgbackrest/conf.d/~pgbackrest-ca/ca-roots.crt
pg{n}-host-cert-file=/etc/pgbackrest/conf.d/~pgbackrest-client/client.crt
pg{n}-host-key-file=/etc/pgbackrest/conf.d/~pgbackrest-client/client.key
pg{n}-host-type=tls
pg{n}-path=/pgdata/pg16
pg{n}-port=5432
pg{n}-socket-path=/tmp/postgres
"
            )
        };
        assert_eq!(
            files.repo,
            format!(
                "[global]
log-path=/pgbackrest/repo1/log
repo1-path=/pgbackrest/repo1
repo1-type=posix

[db]
{}{}",
                pg(1, "hippo-instance1-b4dz"),
                pg(2, "hippo-instance1-x2bc")
            )
        );
    }

    #[test]
    fn hippo_server_file() {
        let files = files(&hippo(), &instances()).expect("builds");
        assert_eq!(
            files.server,
            "[global]
tls-server-address=*
tls-server-auth=pgbackrest@hippo=db
tls-server-ca-file=/etc/pgbackrest/conf.d/~pgbackrest-ca/ca-roots.crt
tls-server-cert-file=/etc/pgbackrest/conf.d/~pgbackrest-server/server.crt
tls-server-key-file=/etc/pgbackrest/conf.d/~pgbackrest-server/server.key
tls-server-port=8432
"
        );
    }

    #[test]
    fn s3_repository_keys_and_global_overrides() {
        let cluster = hippo_with(
            "global: {repo2-s3-uri-style: path, repo2-path: /hippo}
      repos: [{name: repo2, s3: {bucket: my-bucket, endpoint: s3.us-east-1.amazonaws.com, region: us-east-1}}]",
            "",
        );
        let files = files(&cluster, &instances()).expect("builds");
        for file in [&files.instance, &files.repo] {
            for line in [
                "repo2-type=s3",
                "repo2-s3-bucket=my-bucket",
                "repo2-s3-endpoint=s3.us-east-1.amazonaws.com",
                "repo2-s3-region=us-east-1",
                "repo2-s3-uri-style=path",
                "repo2-path=/hippo",
            ] {
                assert!(file.lines().any(|l| l == line), "{line} in\n{file}");
            }
            assert!(!file.contains("repo2-host"), "no repository host:\n{file}");
            assert!(!file.contains("/pgbackrest/repo2"), "the user's path wins");
        }
        let s3 = files_of(&hippo_s3());
        assert!(!s3.repo.contains("log-path"), "no volume to log to");
    }

    fn files_of(cluster: &PostgresCluster) -> Files {
        files(cluster, &instances()).expect("builds")
    }

    #[test]
    fn gcs_and_azure_repositories() {
        let cluster = hippo_with(
            "repos: [{name: repo3, gcs: {bucket: g}}, {name: repo4, azure: {container: a}}]",
            "",
        );
        let files = files_of(&cluster);
        for line in [
            "repo3-type=gcs",
            "repo3-gcs-bucket=g",
            "repo4-type=azure",
            "repo4-azure-container=a",
        ] {
            assert!(files.instance.lines().any(|l| l == line), "{line}");
        }
    }

    #[test]
    fn injection_is_rejected_with_the_field_named() {
        for (key, value, field) in [
            (
                "repo1-retention-full",
                "1\nrepo1-host=evil",
                "spec.backups.pgbackrest.global[repo1-retention-full]",
            ),
            (
                "repo1-path=/x",
                "y",
                "spec.backups.pgbackrest.global[repo1-path=/x]",
            ),
            ("[db]", "y", "spec.backups.pgbackrest.global[[db]]"),
            ("a\rb", "y", "spec.backups.pgbackrest.global[a\rb]"),
        ] {
            let error = files(&hippo_with_global(key, value), &instances()).expect_err(key);
            assert_eq!(error.field, field);
        }
        let mut cluster = hippo_s3();
        cluster.spec.backups.pgbackrest.repos[0]
            .s3
            .as_mut()
            .expect("s3")
            .bucket = "b\r\n[db]".into();
        let error = files(&cluster, &instances()).expect_err("bucket");
        assert_eq!(error.field, "spec.backups.pgbackrest.repos[0].s3.bucket");
        assert!(
            error
                .to_string()
                .starts_with("spec.backups.pgbackrest.repos[0].s3.bucket: ")
        );
        let mut cluster = hippo_s3();
        cluster.spec.backups.pgbackrest.repos[0]
            .s3
            .as_mut()
            .expect("s3")
            .endpoint = "e\0".into();
        let error = files(&cluster, &instances()).expect_err("endpoint");
        assert_eq!(error.field, "spec.backups.pgbackrest.repos[0].s3.endpoint");
    }

    #[test]
    fn the_hash_follows_the_configuration_and_nothing_else() {
        let hash = |cluster: &PostgresCluster, instances: &[String]| {
            files(cluster, instances).expect("builds").hash
        };
        let base = hash(&hippo(), &instances());
        assert_eq!(base.len(), 64);
        assert_eq!(base, hash(&hippo(), &instances()), "stable");
        let mut reversed = instances();
        reversed.reverse();
        assert_eq!(
            base,
            hash(&hippo(), &reversed),
            "instance order is not configuration"
        );
        let mut labelled = hippo();
        labelled.metadata.labels = Some(BTreeMap::from([("a".into(), "b".into())]));
        assert_eq!(
            base,
            hash(&labelled, &instances()),
            "labels are not configuration"
        );

        assert_ne!(base, hash(&hippo(), &instances()[..1]), "an instance went");
        let retention = hippo_with(
            "global: {repo1-retention-full: \"2\"}
      repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]",
            "",
        );
        assert_ne!(
            base,
            hash(&retention, &instances()),
            "a global option changed"
        );
        assert_ne!(base, hash(&hippo_s3(), &instances()), "another repository");

        let both = files(&hippo(), &instances()).expect("builds");
        let one = files(&hippo(), &instances()[..1]).expect("builds");
        assert_eq!(
            both.instance_hash, one.instance_hash,
            "instance pods do not roll when an instance goes"
        );
        assert_ne!(
            both.repo_hash, one.repo_hash,
            "backups must reach the new set"
        );
        let other = files(&retention, &instances()).expect("builds");
        assert_ne!(both.instance_hash, other.instance_hash);
        assert_ne!(both.repo_hash, other.repo_hash);
    }

    #[test]
    fn config_map_has_every_file_and_the_hash() {
        let cluster = hippo();
        let files = files(&cluster, &instances()).expect("builds");
        let map = config_map(&cluster, &files);
        assert_eq!(
            map.metadata.name.as_deref(),
            Some("hippo-pgbackrest-config")
        );
        assert_eq!(
            map.metadata.labels.as_ref().expect("labels")[labels::PGBACKREST_CONFIG],
            ""
        );
        let data = map.data.expect("data");
        assert_eq!(
            data.keys().map(String::as_str).collect::<Vec<_>>(),
            [CONFIG_HASH_KEY, SERVER_FILE, INSTANCE_FILE, REPO_FILE]
        );
        assert_eq!(data[CONFIG_HASH_KEY], files.hash);
    }
}
