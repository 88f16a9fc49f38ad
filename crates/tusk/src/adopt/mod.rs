//! `spec.dataSource.volumes.pgDataVolume`: a new cluster adopts an existing claim that holds a PostgreSQL data
//! directory (PGO's data migration). What is built here is pure; `controller::adopt` does the I/O.
//!
//! - The startup instance (`pgbackrest::restore::startup_instance`) takes the claim as its data volume: the
//!   claim gets the instance's `pgdata` labels and the cluster's owner reference, and `instances::volumes`
//!   finds an instance's data claim by those labels, so the choice outlives `spec.dataSource`.
//! - The move Job ([`move_job`]) moves `/pgdata/<directory>` (or `/pgdata/pg<N>` without `directory`) to the
//!   bootstrap directory `/pgdata/pg<N>_bootstrap`, after checking that it is a data directory of
//!   `postgresVersion` owned by the pods' user; it removes a stale `postmaster.pid` and sets the mode 0700.
//! - Patroni then bootstraps with the method [`BOOTSTRAP_METHOD`] ([`bootstrap_method`]), which only moves the
//!   bootstrap directory to the data directory: Patroni starts PostgreSQL on the adopted data, writes the
//!   DCS's `initialize` key with its system identifier and runs `post_bootstrap` (the operator's role `_tusk`)
//!   and creates the replication user. A data directory put straight in place would be taken as the cluster
//!   too, but without `post_bootstrap`: the operator could never log in.

use crate::images::Images;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use crate::pgbackrest::restore::{bootstrap_directory, move_into_place};
use crate::{pods, postgres};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Container, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Volume, VolumeMount,
};
use serde_json::Value;
use tusk_api::PostgresCluster;
use tusk_api::datasource::DataSourceVolume;
use tusk_api::instance::PostgresInstanceSetSpec;

/// Patroni's bootstrap method of a cluster that adopts a data volume.
pub const BOOTSTRAP_METHOD: &str = "adopted";
/// The move Job's container.
pub const CONTAINER: &str = "pgdata-move";
/// The move Job's script: arguments are the source, the bootstrap directory, the data directory, the version.
pub const SCRIPT: &str = include_str!("move_pgdata.sh");
/// The field of the data volume's directory, as problems name it.
pub const DIRECTORY_FIELD: &str = "spec.dataSource.volumes.pgDataVolume.directory";
const DATA_VOLUME: &str = "postgres-data";
const WAL_VOLUME: &str = "postgres-wal";
/// How often a move Job's pod is retried before the Job fails.
pub(crate) const BACKOFF_LIMIT: i32 = 2;

/// The data volume `cluster` adopts, if any. A cluster restored from a backup (`dataSource.postgresCluster`)
/// adopts nothing: the restore decides its data.
pub fn pg_data_volume(cluster: &PostgresCluster) -> Option<&DataSourceVolume> {
    let source = cluster.spec.data_source.as_ref()?;
    if source.postgres_cluster.is_some() {
        return None;
    }
    source.volumes.as_ref()?.pg_data_volume.as_ref()
}

/// The WAL volume `cluster` adopts with its data volume, if any. Its `directory` is not used: the data
/// directory's `pg_wal` link says where the WAL is, and it stays there (the docs: the WAL needs no move).
pub fn pg_wal_volume(cluster: &PostgresCluster) -> Option<&DataSourceVolume> {
    pg_data_volume(cluster)?;
    cluster
        .spec
        .data_source
        .as_ref()?
        .volumes
        .as_ref()?
        .pg_wal_volume
        .as_ref()
}

/// The directory of `volume` to move into place, as a path in the pod: `/pgdata/<directory>`, or the data
/// directory itself without `directory`. A directory that is not one plain name (empty, `.`, `..`, holding a
/// `/` or a control character) is refused: it could point outside the volume.
pub fn source_directory(
    cluster: &PostgresCluster,
    volume: &DataSourceVolume,
) -> Result<String, String> {
    let Some(directory) = volume.directory.as_deref() else {
        return Ok(postgres::data_directory(cluster.spec.postgres_version));
    };
    plain_name(DIRECTORY_FIELD, directory)?;
    Ok(format!("{}/{directory}", postgres::DATA_MOUNT))
}

/// Checks that `directory` (of spec field `field`) is one plain name: not empty, `.` or `..`, without a `/`
/// or a control character. Anything else could point outside the volume.
pub(crate) fn plain_name(field: &str, directory: &str) -> Result<(), String> {
    if directory.is_empty()
        || directory == "."
        || directory == ".."
        || directory.contains('/')
        || directory.chars().any(char::is_control)
    {
        return Err(format!(
            "{field}: {directory:?} is not the name of a directory at the top of the volume"
        ));
    }
    Ok(())
}

/// The adopted claim `found` as the volume of `instance` of `set` would be observed once adopted: with the
/// instance's labels of `role` (`pgdata`, `pgwal`). The build then makes it the instance's data claim and applies the labels.
pub fn as_instance_volume(
    cluster: &PostgresCluster,
    set: &str,
    instance: &str,
    role: &str,
    found: &PersistentVolumeClaim,
) -> PersistentVolumeClaim {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut claim = found.clone();
    claim
        .metadata
        .labels
        .get_or_insert_default()
        .extend(labels::instance_volume(name, set, instance, role));
    claim
}

/// Patroni's bootstrap of a cluster adopting a data volume: move the bootstrap directory the move Job left to
/// the data directory (an empty data directory is removed first). When an attempt failed after the move,
/// Patroni set the data directory aside as `<data>.failed`; the next attempt takes it back. `None` for a
/// cluster that adopts no data volume.
pub fn bootstrap_method(cluster: &PostgresCluster) -> Option<(&'static str, Value)> {
    pg_data_volume(cluster)?;
    Some((
        BOOTSTRAP_METHOD,
        move_into_place(cluster.spec.postgres_version),
    ))
}

/// The move Job of `cluster`: mounts `claim` at `/pgdata` (and `wal_claim` at `/pgwal`, where the data
/// directory's `pg_wal` link points) and moves `source` ([`source_directory`]) to the
/// bootstrap directory. It runs as the instances of `set` run (security context, image, resources and
/// scheduling of the set). The paths are arguments of a fixed script, never part of its text.
pub fn move_job(
    cluster: &PostgresCluster,
    set: &PostgresInstanceSetSpec,
    images: &Images,
    claim: &str,
    wal_claim: Option<&str>,
    source: &str,
) -> Job {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let version = cluster.spec.postgres_version;
    let metadata = owned_by(
        cluster,
        names::move_pgdata_job(name),
        set.metadata.as_ref(),
        labels::move_pgdata_job(name),
    );
    let command = vec![
        "sh".into(),
        "-c".into(),
        SCRIPT.into(),
        CONTAINER.into(),
        source.into(),
        bootstrap_directory(version),
        postgres::data_directory(version),
        version.to_string(),
    ];
    let mut mounts = vec![
        VolumeMount {
            name: DATA_VOLUME.into(),
            mount_path: postgres::DATA_MOUNT.into(),
            ..VolumeMount::default()
        },
        pods::tmp_mount(),
    ];
    let mut volumes = vec![claim_volume(DATA_VOLUME, claim), pods::tmp_volume()];
    if let Some(wal) = wal_claim {
        mounts.push(VolumeMount {
            name: WAL_VOLUME.into(),
            mount_path: postgres::WAL_MOUNT.into(),
            ..VolumeMount::default()
        });
        volumes.push(claim_volume(WAL_VOLUME, wal));
    }
    let container = Container {
        command: Some(command),
        resources: set.resources.clone(),
        volume_mounts: Some(mounts),
        ..pods::container(cluster, CONTAINER, images.postgres(cluster))
    };
    let scheduling = pods::Scheduling {
        affinity: set.affinity.clone(),
        tolerations: set.tolerations.clone(),
        priority_class_name: set.priority_class_name.clone(),
    };
    pods::one_shot_job(
        cluster,
        metadata,
        container,
        volumes,
        scheduling,
        BACKOFF_LIMIT,
    )
}

pub(crate) fn claim_volume(name: &str, claim: &str) -> Volume {
    Volume {
        name: name.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.into(),
            read_only: Some(false),
        }),
        ..Volume::default()
    }
}

/// The command of a move Job: what decides whether an existing Job still does what the spec asks.
pub fn command(job: &Job) -> Option<&Vec<String>> {
    job.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .command
        .as_ref()
}

pub mod repository;

#[cfg(test)]
mod tests;
