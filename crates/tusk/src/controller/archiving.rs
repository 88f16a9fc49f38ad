//! Reading WAL archiving's state from the primary for `status.pgbackrest.walArchiving`.

use super::sql;
use crate::build;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use tusk_api::PostgresCluster;
use tusk_api::status::WalArchivingStatus;

/// `pg_stat_archiver` of the primary `leader`, for a cluster with repositories; `None` for a standby (which
/// archives nothing), when there is no Ready leader or the read failed (the next reconcile reads again).
pub async fn read(
    cluster: &PostgresCluster,
    objects: &build::Objects,
    leader: Option<&Pod>,
) -> Option<WalArchivingStatus> {
    let standby = cluster.spec.standby.as_ref().is_some_and(|s| s.enabled);
    if cluster.spec.backups.pgbackrest.repos.is_empty() || standby {
        return None;
    }
    let primary = sql::primary(cluster, objects, leader).ok()?;
    sql::wal_archiving(&primary)
        .await
        .inspect_err(|error| {
            tracing::info!(cluster = %cluster.name_any(), %error, "cannot read WAL archiving");
        })
        .ok()
}
