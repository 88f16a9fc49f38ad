//! The exporter container of an instance pod and its files: the queries (Tusk's, or the user's
//! `queries.yml` from `configuration`, projected after them so that it wins) and the monitoring password. It
//! logs in on the pod's loopback over TLS (`sslmode=require`: the server's certificate names the Services,
//! not `localhost`, and the exporter's lib/pq checks the name even with `verify-ca`; the loopback never leaves
//! the pod, so no one can stand in the middle) and serves `/metrics` on port [`PORT`].

use super::{MONITORING_USER, PASSWORD, QUERIES_FILE};
use crate::images::Images;
use crate::naming::names;
use crate::pods;
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, Container, ContainerPort, EnvVar, KeyToPath, ProjectedVolumeSource,
    SecretProjection, Volume, VolumeMount, VolumeProjection,
};
use kube::ResourceExt;
use tusk_api::PostgresCluster;
use tusk_api::monitoring::ExporterSpec;

/// The exporter's container (PGO's name).
pub const CONTAINER: &str = "exporter";
/// The port of `/metrics` (PGO's, which Prometheus discovers).
pub const PORT: i32 = 9187;
/// Where the exporter's files are mounted.
pub const DIRECTORY: &str = "/etc/tusk-exporter";
const VOLUME: &str = "exporter-config";
const FILE_MODE: i32 = 0o640;

/// The exporter container of `cluster`'s instance pods.
pub fn container(cluster: &PostgresCluster, exporter: &ExporterSpec, images: &Images) -> Container {
    let env = |name: &str, value: String| EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    };
    Container {
        command: Some(command(exporter)),
        env: Some(vec![
            env(
                "DATA_SOURCE_URI",
                format!("localhost:{}/postgres?sslmode=require", cluster.spec.port),
            ),
            env("DATA_SOURCE_USER", MONITORING_USER.into()),
            env("DATA_SOURCE_PASS_FILE", format!("{DIRECTORY}/{PASSWORD}")),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some(CONTAINER.into()),
            container_port: PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        resources: exporter.resources.clone(),
        volume_mounts: Some(vec![VolumeMount {
            name: VOLUME.into(),
            mount_path: DIRECTORY.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ..pods::container(cluster, CONTAINER, images.exporter(cluster))
    }
}

/// The exporter's command. With Tusk's queries it visits every database (`--auto-discover-databases`; 0.11
/// skips templates and those that refuse connections) so that `ccp_sequence_exhaustion` covers the users'
/// databases; Tusk's other queries carry `master: true` and run in `postgres` only. A user's `configuration`
/// may replace `queries.yml` with queries written for PGO's exporter, which stays in `postgres`; so does
/// Tusk's then, since such queries, run in several databases, would collide and fail every scrape.
fn command(exporter: &ExporterSpec) -> Vec<String> {
    let mut command = vec![
        "prometheus-postgres-exporter".into(),
        format!("--extend.query-path={DIRECTORY}/{QUERIES_FILE}"),
        format!("--web.listen-address=:{PORT}"),
    ];
    if exporter.configuration.as_ref().is_none_or(Vec::is_empty) {
        command.push("--auto-discover-databases".into());
    }
    command
}

/// The exporter's files, as one projected volume.
pub fn volume(cluster: &PostgresCluster, exporter: &ExporterSpec) -> Volume {
    let name = cluster.name_any();
    let mut sources = vec![VolumeProjection {
        config_map: Some(ConfigMapProjection {
            name: names::exporter_queries_config_map(&name),
            items: Some(vec![item(QUERIES_FILE, QUERIES_FILE, None)]),
            optional: Some(false),
        }),
        ..VolumeProjection::default()
    }];
    sources.extend(exporter.configuration.clone().unwrap_or_default());
    sources.push(secret(
        names::monitoring_secret(&name),
        item(PASSWORD, PASSWORD, Some(FILE_MODE)),
    ));
    Volume {
        name: VOLUME.into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(sources),
            ..ProjectedVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn item(key: &str, path: &str, mode: Option<i32>) -> KeyToPath {
    KeyToPath {
        key: key.into(),
        path: path.into(),
        mode,
    }
}

fn secret(name: String, item: KeyToPath) -> VolumeProjection {
    VolumeProjection {
        secret: Some(SecretProjection {
            name,
            items: Some(vec![item]),
            optional: Some(false),
        }),
        ..VolumeProjection::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::{exporter, hippo_with_exporter};

    #[test]
    fn the_exporter_logs_in_on_loopback_over_tls_with_a_password_file() {
        let cluster = hippo_with_exporter("resources: {limits: {memory: 64Mi}}");
        let container = container(&cluster, exporter(&cluster).unwrap(), &Images::default());
        assert_eq!(container.name, "exporter");
        let env: Vec<(String, String)> = container
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect();
        assert!(env.contains(&(
            "DATA_SOURCE_URI".into(),
            "localhost:5432/postgres?sslmode=require".into()
        )));
        assert!(env.contains(&("DATA_SOURCE_USER".into(), "ccp_monitoring".into())));
        assert!(
            env.iter().all(|(name, _)| name != "DATA_SOURCE_PASS"),
            "no password in the environment"
        );
        assert_eq!(container.ports.as_ref().unwrap()[0].container_port, 9187);
        assert!(container.resources.is_some());
    }

    #[test]
    fn the_exporter_visits_every_database_with_tusks_queries_only() {
        let tusks = hippo_with_exporter("");
        let command = container(&tusks, exporter(&tusks).unwrap(), &Images::default())
            .command
            .unwrap();
        assert_eq!(
            command.last().map(String::as_str),
            Some("--auto-discover-databases")
        );
        let users = hippo_with_exporter("configuration: [{configMap: {name: my-queries}}]");
        let command = container(&users, exporter(&users).unwrap(), &Images::default())
            .command
            .unwrap();
        assert!(
            !command.iter().any(|c| c.contains("auto-discover")),
            "{command:?}"
        );
    }

    #[test]
    fn the_users_queries_come_after_tusks_so_that_they_win() {
        let cluster = hippo_with_exporter("configuration: [{configMap: {name: my-queries}}]");
        let volume = volume(&cluster, exporter(&cluster).unwrap());
        let sources = volume.projected.unwrap().sources.unwrap();
        let names: Vec<String> = sources
            .iter()
            .map(|s| {
                s.config_map
                    .as_ref()
                    .map(|c| c.name.clone())
                    .or_else(|| s.secret.as_ref().map(|s| s.name.clone()))
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            names,
            [
                "hippo-exporter-queries-config",
                "my-queries",
                "hippo-monitoring"
            ]
        );
    }
}
