//! `spec.dataSource.volumes.pgBackRestVolume`: a new cluster that adopts a data volume also adopts the claim of
//! the old cluster's pgBackRest repository (PGO's data migration). Pure; `controller::adopt` does the I/O.
//!
//! - The claim becomes the volume of the cluster's first volume repository ([`repository`], normally `repo1`):
//!   it gets that repository volume's labels ([`as_repo_volume`]) and the cluster's owner reference, and
//!   `pgbackrest::volumes::claim_name` finds a repository's claim by those labels, so it keeps its name.
//! - The move Job ([`move_job`]) mounts the claim where the repository host does, at the repository's path
//!   `/pgbackrest/<repo>`, whose top is the repository, and moves what `<directory>` holds (PGO v4 keeps the
//!   repository in `<c>-backrest-shared-repo`) to the top, after checking that it is a pgBackRest repository
//!   and that nothing else is in the way. The repository host stays at no replica until it succeeded.
//! - The stanza is the adopted data's, so `stanza-create` finds it as it is and WAL archiving goes on into it.

use super::{BACKOFF_LIMIT, claim_volume, pg_data_volume, plain_name};
use crate::images::Images;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use crate::pgbackrest::jobs::{Target, lock_repo};
use crate::pgbackrest::repo_path;
use crate::pods;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaim, VolumeMount};
use tusk_api::PostgresCluster;
use tusk_api::datasource::DataSourceVolume;

/// The move Job's container.
pub const CONTAINER: &str = "pgbackrest-repo-move";
/// The move Job's script: arguments are the directory to move and the volume's mount point (the repository).
pub const SCRIPT: &str = include_str!("move_repo.sh");
/// The field of the repository volume's directory, as problems name it.
pub const DIRECTORY_FIELD: &str = "spec.dataSource.volumes.pgBackRestVolume.directory";
const VOLUME: &str = "pgbackrest-repo";

/// The repository volume `cluster` adopts with its data volume, if any.
pub fn pg_backrest_volume(cluster: &PostgresCluster) -> Option<&DataSourceVolume> {
    pg_data_volume(cluster)?;
    cluster
        .spec
        .data_source
        .as_ref()?
        .volumes
        .as_ref()?
        .pg_back_rest_volume
        .as_ref()
}

/// Why the `pgBackRestVolume` of `cluster` is not adopted, if it has one that is not: with
/// `dataSource.postgresCluster` (PGO's restore from the adopted repository, not supported yet), or without
/// `pgDataVolume` (the repository's stanza belongs to other data than a new cluster's `initdb`).
pub fn unsupported(cluster: &PostgresCluster) -> Option<String> {
    let source = cluster.spec.data_source.as_ref()?;
    let volume = source.volumes.as_ref()?.pg_back_rest_volume.as_ref()?;
    if source.postgres_cluster.is_some() {
        return Some(format!(
            "spec.dataSource.volumes.pgBackRestVolume ({}) with spec.dataSource.postgresCluster (a restore from the adopted repository) is not supported yet: the claim is not adopted",
            volume.pvc_name
        ));
    }
    pg_data_volume(cluster).is_none().then(|| {
        format!(
            "spec.dataSource.volumes.pgBackRestVolume ({}) is adopted only with pgDataVolume: its stanza belongs to the data it was made for; the claim is not adopted",
            volume.pvc_name
        )
    })
}

/// The repository whose volume the adopted claim becomes: the first volume repository of the spec (also the
/// one the Jobs keep their locks on). `None` without a volume repository.
pub fn repository(cluster: &PostgresCluster) -> Option<Target<'_>> {
    lock_repo(cluster)
}

/// The directory of `volume` whose content is moved, and where it goes (the volume's top, where the
/// repository host mounts it), as paths in the move Job's pod: `/pgbackrest/<repo>/<directory>` to
/// `/pgbackrest/<repo>`. Without `directory`, the repository is taken to be in place already (the Job only
/// checks it). A directory that is not one plain name is refused.
pub fn directories(
    volume: &DataSourceVolume,
    repo: Target<'_>,
) -> Result<(String, String), String> {
    let target = repo_path(repo.number);
    let Some(directory) = volume.directory.as_deref() else {
        return Ok((target.clone(), target));
    };
    plain_name(DIRECTORY_FIELD, directory)?;
    Ok((format!("{target}/{directory}"), target))
}

/// The adopted claim `found` as the volume of `repo` would be observed once adopted: with the repository
/// volume's labels. The build then makes it the repository's claim and applies the labels and the owner.
pub fn as_repo_volume(
    cluster: &PostgresCluster,
    repo: Target<'_>,
    found: &PersistentVolumeClaim,
) -> PersistentVolumeClaim {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut claim = found.clone();
    claim
        .metadata
        .labels
        .get_or_insert_default()
        .extend(labels::pgbackrest_repo_volume(name, repo.name));
    claim
}

/// The move Job of `cluster`'s adopted repository: mounts `claim` at `target` and moves what `source` holds
/// there ([`directories`]). It runs as the repository host does (pgBackRest's image, its scheduling, the
/// Jobs' resources). The paths are arguments of a fixed script, never part of its text.
pub fn move_job(
    cluster: &PostgresCluster,
    images: &Images,
    claim: &str,
    source: &str,
    target: &str,
) -> Job {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let spec = &cluster.spec.backups.pgbackrest;
    let metadata = owned_by(
        cluster,
        names::move_pgbackrest_repo_job(name),
        spec.metadata.as_ref(),
        labels::move_pgbackrest_repo_job(name),
    );
    let command = ["sh", "-c", SCRIPT, CONTAINER, source, target]
        .map(String::from)
        .to_vec();
    let container = Container {
        command: Some(command),
        resources: spec.jobs.as_ref().and_then(|jobs| jobs.resources.clone()),
        volume_mounts: Some(vec![
            VolumeMount {
                name: VOLUME.into(),
                mount_path: target.into(),
                ..VolumeMount::default()
            },
            pods::tmp_mount(),
        ]),
        ..pods::container(cluster, CONTAINER, images.pgbackrest(cluster))
    };
    let host = spec.repo_host.clone().unwrap_or_default();
    let scheduling = pods::Scheduling {
        affinity: host.affinity,
        tolerations: host.tolerations,
        priority_class_name: host.priority_class_name,
    };
    pods::one_shot_job(
        cluster,
        metadata,
        container,
        vec![claim_volume(VOLUME, claim), pods::tmp_volume()],
        scheduling,
        BACKOFF_LIMIT,
    )
}

#[cfg(test)]
mod tests;
