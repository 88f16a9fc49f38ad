//! The `pgbackrest` sidecar of instance pods: `pgbackrest server`, through which a backup Job reads the
//! data directory and talks to PostgreSQL over its socket.
//!
//! The instance's StatefulSet adds [`instance_sidecar`] to its containers and replaces its
//! `pgbackrest-config` volume with [`instance_config_volume`] (the `database` container mounts the same
//! volume, for `archive-push`). The sidecar also mounts the pod's data, WAL and socket volumes, by the
//! names the instance pod gives them, and has no probe: a stopped server must not take the instance out of
//! its Services.

use super::SERVER_PORT;
use super::projections::{config_mount, config_volume, instance_projections};
use super::repo_host::{CONTAINER, PORT_NAME};
use crate::images::Images;
use crate::instances::statefulset::{DATA_VOLUME, SOCKET_VOLUME, WAL_VOLUME};
use crate::{pods, postgres};
use k8s_openapi::api::core::v1::{Container, ContainerPort, Volume, VolumeMount};
use tusk_api::PostgresCluster;
use tusk_api::instance::PostgresInstanceSetSpec;

/// The pgBackRest TLS server container of an instance of `set`.
pub fn instance_sidecar(
    cluster: &PostgresCluster,
    set: &PostgresInstanceSetSpec,
    images: &Images,
) -> Container {
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    };
    let mut mounts = vec![
        config_mount(),
        pods::tmp_mount(),
        mount(DATA_VOLUME, postgres::DATA_MOUNT),
        mount(SOCKET_VOLUME, postgres::SOCKET_DIRECTORY),
    ];
    if set.wal_volume_claim_spec.is_some() {
        mounts.push(mount(WAL_VOLUME, postgres::WAL_MOUNT));
    }
    let resources = cluster
        .spec
        .backups
        .pgbackrest
        .sidecars
        .as_ref()
        .and_then(|sidecars| sidecars.pgbackrest.as_ref())
        .and_then(|sidecar| sidecar.resources.clone());
    Container {
        command: Some(super::server_command(super::config::INSTANCE_LOG_PATH)),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.into()),
            container_port: SERVER_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        resources,
        volume_mounts: Some(mounts),
        ..pods::container(cluster, CONTAINER, images.pgbackrest(cluster))
    }
}

/// The `pgbackrest-config` volume of the instance `instance` (its StatefulSet name).
pub fn instance_config_volume(cluster: &PostgresCluster, instance: &str) -> Volume {
    config_volume(instance_projections(cluster, instance))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::hippo_with;

    #[test]
    fn the_sidecar_serves_the_data_directory() {
        let cluster = hippo_with(
            "sidecars: {pgbackrest: {resources: {limits: {memory: 64Mi}}}}
      repos: [{name: repo2, s3: {bucket: b, endpoint: e, region: r}}]",
            "",
        );
        let container = instance_sidecar(&cluster, &cluster.spec.instances[0], &Images::default());
        assert_eq!(container.name, "pgbackrest");
        let command = container.command.clone().unwrap();
        assert_eq!(
            command.last().map(String::as_str),
            Some("/pgdata/pgbackrest/log")
        );
        assert!(command[2].ends_with("exec pgbackrest server"));
        assert!(container.readiness_probe.is_none() && container.liveness_probe.is_none());
        assert_eq!(
            container.security_context,
            Some(pods::container_security_context())
        );
        assert!(container.resources.unwrap().limits.is_some());
        let mounts: Vec<_> = container
            .volume_mounts
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.mount_path))
            .collect();
        assert_eq!(
            mounts,
            [
                ("pgbackrest-config", "/etc/pgbackrest/conf.d"),
                ("tmp", "/tmp"),
                ("postgres-data", "/pgdata"),
                ("postgres-socket", "/tmp/postgres"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let volume = instance_config_volume(&cluster, "hippo-instance1-x2bc");
        assert_eq!(volume.name, "pgbackrest-config");
    }
}
