//! What each pgBackRest pod finds in `/etc/pgbackrest/conf.d`: the configuration files meant for it, the
//! certificates, and the user's `spec.backups.pgbackrest.configuration` (credentials such as `s3.conf`).
//!
//! pgBackRest reads every `*.conf` file of the directory, so each pod gets only its own files:
//!
//! | pod | files | server certificate | client certificate | CA |
//! |---|---|---|---|---|
//! | instance | `pgbackrest_instance.conf`, `pgbackrest-server.conf` | `<instance>-certs` `pgbackrest-server.*` | `<c>-pgbackrest` `pgbackrest-client.*` | `<instance>-certs` `patroni.ca-roots` |
//! | repository host | `pgbackrest_repo.conf`, `pgbackrest-server.conf` | `<c>-pgbackrest` `pgbackrest-repo-host.*` | none | `<c>-pgbackrest` `pgbackrest.ca-roots` |
//! | backup Job | `pgbackrest_repo.conf` | none | `<c>-pgbackrest` `pgbackrest-client.*` | `<c>-pgbackrest` `pgbackrest.ca-roots` |
//!
//! Certificates land at the same paths in every pod ([`SERVER_CERT_FILE`], ...), so one configuration
//! names them all.

use super::config::{INSTANCE_FILE, REPO_FILE, SERVER_FILE};
use crate::naming::names;
use crate::pki::secrets;
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, KeyToPath, ProjectedVolumeSource, SecretProjection, Volume, VolumeMount,
    VolumeProjection,
};
use tusk_api::PostgresCluster;

/// The name of the projected volume of pgBackRest's configuration, in every pod that has one.
pub const CONFIG_VOLUME: &str = "pgbackrest-config";
/// Where the configuration is mounted: pgBackRest's default `config-include-path`.
pub const CONFIG_DIRECTORY: &str = "/etc/pgbackrest/conf.d";

/// The TLS server's certificate (an instance's or the repository host's), relative to the directory.
pub const SERVER_CERT_PATH: &str = "~pgbackrest-server/server.crt";
/// The TLS server's private key, relative to the directory.
pub const SERVER_KEY_PATH: &str = "~pgbackrest-server/server.key";
/// The client certificate (CN `pgbackrest@<c>`), relative to the directory.
pub const CLIENT_CERT_PATH: &str = "~pgbackrest-client/client.crt";
/// The client certificate's private key, relative to the directory.
pub const CLIENT_KEY_PATH: &str = "~pgbackrest-client/client.key";
/// The CA that signs servers and clients, relative to the directory.
pub const CA_PATH: &str = "~pgbackrest-ca/ca-roots.crt";

/// [`SERVER_CERT_PATH`] in the pod.
pub const SERVER_CERT_FILE: &str = "/etc/pgbackrest/conf.d/~pgbackrest-server/server.crt";
/// [`SERVER_KEY_PATH`] in the pod.
pub const SERVER_KEY_FILE: &str = "/etc/pgbackrest/conf.d/~pgbackrest-server/server.key";
/// [`CLIENT_CERT_PATH`] in the pod.
pub const CLIENT_CERT_FILE: &str = "/etc/pgbackrest/conf.d/~pgbackrest-client/client.crt";
/// [`CLIENT_KEY_PATH`] in the pod.
pub const CLIENT_KEY_FILE: &str = "/etc/pgbackrest/conf.d/~pgbackrest-client/client.key";
/// [`CA_PATH`] in the pod.
pub const CA_FILE: &str = "/etc/pgbackrest/conf.d/~pgbackrest-ca/ca-roots.crt";

/// In `<instance>-certs`: the instance's pgBackRest server certificate.
pub const INSTANCE_SERVER_CERT_KEY: &str = secrets::PGBACKREST_SERVER_CERTIFICATE;
/// In `<instance>-certs`: its private key.
pub const INSTANCE_SERVER_KEY_KEY: &str = secrets::PGBACKREST_SERVER_PRIVATE_KEY;
/// In `<instance>-certs`: the CA.
pub const INSTANCE_CA_KEY: &str = secrets::PATRONI_CA;
/// In `<c>-pgbackrest`: the CA.
pub const CLUSTER_CA_KEY: &str = secrets::PGBACKREST_CA;
/// In `<c>-pgbackrest`: the client certificate.
pub const CLIENT_CERT_KEY: &str = secrets::PGBACKREST_CLIENT_CERTIFICATE;
/// In `<c>-pgbackrest`: the client certificate's key.
pub const CLIENT_KEY_KEY: &str = secrets::PGBACKREST_CLIENT_PRIVATE_KEY;
/// In `<c>-pgbackrest`: the repository host's server certificate.
pub const REPO_HOST_CERT_KEY: &str = secrets::PGBACKREST_REPO_HOST_CERTIFICATE;
/// In `<c>-pgbackrest`: its key.
pub const REPO_HOST_KEY_KEY: &str = secrets::PGBACKREST_REPO_HOST_PRIVATE_KEY;

/// The mode of projected files: readable by the `postgres` group the volume belongs to, which pgBackRest
/// accepts of a key owned by root.
const FILE_MODE: i32 = 0o640;

/// The projections of an instance pod's configuration volume (`instance`: its StatefulSet name).
pub fn instance_projections(cluster: &PostgresCluster, instance: &str) -> Vec<VolumeProjection> {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut sources = vec![
        config_files(name, &[INSTANCE_FILE, SERVER_FILE]),
        secret(
            names::instance_certificates(instance),
            &[
                (INSTANCE_SERVER_CERT_KEY, SERVER_CERT_PATH),
                (INSTANCE_SERVER_KEY_KEY, SERVER_KEY_PATH),
                (INSTANCE_CA_KEY, CA_PATH),
            ],
        ),
        secret(
            names::pgbackrest(name),
            &[
                (CLIENT_CERT_KEY, CLIENT_CERT_PATH),
                (CLIENT_KEY_KEY, CLIENT_KEY_PATH),
            ],
        ),
    ];
    sources.extend(user_configuration(cluster));
    sources
}

/// The projections of the repository host's configuration volume.
pub fn repo_host_projections(cluster: &PostgresCluster) -> Vec<VolumeProjection> {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut sources = vec![
        config_files(name, &[REPO_FILE, SERVER_FILE]),
        secret(
            names::pgbackrest(name),
            &[
                (REPO_HOST_CERT_KEY, SERVER_CERT_PATH),
                (REPO_HOST_KEY_KEY, SERVER_KEY_PATH),
                (CLUSTER_CA_KEY, CA_PATH),
            ],
        ),
    ];
    sources.extend(user_configuration(cluster));
    sources
}

/// The projections of a backup Job pod's configuration volume.
pub fn job_projections(cluster: &PostgresCluster) -> Vec<VolumeProjection> {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut sources = vec![
        config_files(name, &[REPO_FILE]),
        secret(
            names::pgbackrest(name),
            &[
                (CLIENT_CERT_KEY, CLIENT_CERT_PATH),
                (CLIENT_KEY_KEY, CLIENT_KEY_PATH),
                (CLUSTER_CA_KEY, CA_PATH),
            ],
        ),
    ];
    sources.extend(user_configuration(cluster));
    sources
}

/// The configuration volume made of `sources`.
pub fn config_volume(sources: Vec<VolumeProjection>) -> Volume {
    Volume {
        name: CONFIG_VOLUME.into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(sources),
            default_mode: Some(FILE_MODE),
        }),
        ..Volume::default()
    }
}

/// The mount of [`config_volume`] at [`CONFIG_DIRECTORY`], read-only.
pub fn config_mount() -> VolumeMount {
    VolumeMount {
        name: CONFIG_VOLUME.into(),
        mount_path: CONFIG_DIRECTORY.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

fn user_configuration(cluster: &PostgresCluster) -> Vec<VolumeProjection> {
    cluster
        .spec
        .backups
        .pgbackrest
        .configuration
        .clone()
        .unwrap_or_default()
}

fn config_files(cluster: &str, files: &[&str]) -> VolumeProjection {
    VolumeProjection {
        config_map: Some(ConfigMapProjection {
            name: names::pgbackrest_config_map(cluster),
            items: Some(
                files
                    .iter()
                    .map(|file| item(file, file))
                    .collect::<Vec<_>>(),
            ),
            optional: Some(false),
        }),
        ..VolumeProjection::default()
    }
}

pub(super) fn secret(name: String, items: &[(&str, &str)]) -> VolumeProjection {
    VolumeProjection {
        secret: Some(SecretProjection {
            name,
            items: Some(items.iter().map(|(key, path)| item(key, path)).collect()),
            optional: Some(false),
        }),
        ..VolumeProjection::default()
    }
}

fn item(key: &str, path: &str) -> KeyToPath {
    KeyToPath {
        key: key.into(),
        path: path.into(),
        mode: Some(FILE_MODE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::hippo;

    #[test]
    fn absolute_paths_are_the_relative_ones_under_the_directory() {
        for (relative, absolute) in [
            (SERVER_CERT_PATH, SERVER_CERT_FILE),
            (SERVER_KEY_PATH, SERVER_KEY_FILE),
            (CLIENT_CERT_PATH, CLIENT_CERT_FILE),
            (CLIENT_KEY_PATH, CLIENT_KEY_FILE),
            (CA_PATH, CA_FILE),
        ] {
            assert_eq!(format!("{CONFIG_DIRECTORY}/{relative}"), absolute);
        }
    }

    fn paths(sources: &[VolumeProjection]) -> Vec<(String, String)> {
        sources
            .iter()
            .flat_map(|source| {
                let (name, items) = match (&source.config_map, &source.secret) {
                    (Some(map), _) => (map.name.clone(), map.items.clone()),
                    (_, Some(secret)) => (secret.name.clone(), secret.items.clone()),
                    _ => unreachable!(),
                };
                items
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |item| (format!("{name}/{}", item.key), item.path))
            })
            .collect()
    }

    #[test]
    fn each_pod_gets_only_its_own_files() {
        let cluster = hippo();
        let instance = paths(&instance_projections(&cluster, "hippo-instance1-x2bc"));
        assert_eq!(
            instance,
            [
                (
                    "hippo-pgbackrest-config/pgbackrest_instance.conf",
                    "pgbackrest_instance.conf"
                ),
                (
                    "hippo-pgbackrest-config/pgbackrest-server.conf",
                    "pgbackrest-server.conf"
                ),
                (
                    "hippo-instance1-x2bc-certs/pgbackrest-server.crt",
                    SERVER_CERT_PATH
                ),
                (
                    "hippo-instance1-x2bc-certs/pgbackrest-server.key",
                    SERVER_KEY_PATH
                ),
                ("hippo-instance1-x2bc-certs/patroni.ca-roots", CA_PATH),
                ("hippo-pgbackrest/pgbackrest-client.crt", CLIENT_CERT_PATH),
                ("hippo-pgbackrest/pgbackrest-client.key", CLIENT_KEY_PATH),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let job = paths(&job_projections(&cluster));
        assert!(job.iter().all(|(key, _)| !key.ends_with("server.conf")));
        assert!(job.iter().all(|(key, _)| !key.ends_with("_instance.conf")));
        let host = paths(&repo_host_projections(&cluster));
        assert!(host.contains(&(
            "hippo-pgbackrest/pgbackrest-repo-host.key".into(),
            SERVER_KEY_PATH.into()
        )));
    }
}
