//! `status.pgbackrest`: what was observed of the repositories and the repository host. Only facts the
//! operator saw are reported; a fact it has not seen (a stanza, a backup) is left out rather than guessed.

use crate::naming::names;
use crate::pgbackrest::replica_create::repo_options_hash;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::status::{
    PgBackRestJobStatus, PgBackRestScheduledBackupStatus, PgBackRestStatus, RepoHostStatus,
    RepoStatus, WalArchivingStatus,
};

/// What the operator found of pgBackRest's work in this reconcile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// The stanza Job succeeded: the stanza exists in every repository.
    pub stanza_created: bool,
    /// The replica-create backup of the first repository exists.
    pub replica_create_complete: bool,
    /// The latest manual backup.
    pub manual: Option<PgBackRestJobStatus>,
    /// The latest Job of each schedule.
    pub scheduled: Vec<PgBackRestScheduledBackupStatus>,
    /// WAL archiving on the primary, when it was read.
    pub wal_archiving: Option<WalArchivingStatus>,
}

/// The repositories of `cluster` in the spec's order, each `volume` repository with its claim's name and
/// whether it is bound (among `claims`, by name), each with its options' hash and whether its stanza exists,
/// the first with whether its replica-create backup exists; the repository host's readiness from `repo_host`
/// when the cluster has one; the backups and WAL archiving of `progress`. `None` when the cluster declares no
/// repository.
pub fn pgbackrest(
    cluster: &PostgresCluster,
    claims: &BTreeMap<String, PersistentVolumeClaim>,
    repo_host: Option<&StatefulSet>,
    progress: &Progress,
) -> Option<PgBackRestStatus> {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let spec = &cluster.spec.backups.pgbackrest;
    if spec.repos.is_empty() {
        return None;
    }
    let repos = spec
        .repos
        .iter()
        .enumerate()
        .map(|(index, repo)| {
            let mut status = RepoStatus {
                name: repo.name.clone(),
                stanza_created: Some(progress.stanza_created),
                repo_options_hash: Some(repo_options_hash(repo)),
                replica_create_backup_complete: (index == 0)
                    .then_some(progress.replica_create_complete),
                ..RepoStatus::default()
            };
            if repo.volume.is_some() {
                let claim = names::repo_volume(cluster_name, &repo.name);
                status.bound = Some(
                    claims
                        .get(&claim)
                        .and_then(|claim| claim.status.as_ref())
                        .and_then(|status| status.phase.as_deref())
                        == Some("Bound"),
                );
                status.volume = Some(claim);
            }
            status
        })
        .collect();
    let has_repo_host = spec.repos.iter().any(|repo| repo.volume.is_some());
    let repo_host = has_repo_host.then(|| RepoHostStatus {
        api_version: Some("apps/v1".into()),
        kind: Some("StatefulSet".into()),
        ready: Some(repo_host.is_some_and(|statefulset| {
            statefulset
                .status
                .as_ref()
                .and_then(|status| status.ready_replicas)
                .unwrap_or(0)
                >= 1
        })),
    });
    Some(PgBackRestStatus {
        repos: Some(repos),
        repo_host,
        manual_backup: progress.manual.clone(),
        scheduled_backups: (!progress.scheduled.is_empty()).then(|| progress.scheduled.clone()),
        wal_archiving: progress.wal_archiving.clone(),
        restore: None,
    })
}

#[cfg(test)]
mod tests {
    use super::{Progress, pgbackrest};
    use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimStatus};
    use std::collections::BTreeMap;
    use tusk_api::PostgresCluster;

    fn cluster(repos: &str) -> PostgresCluster {
        tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo, namespace: zoo}}
spec:
  postgresVersion: 15
  instances: [{{dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups: {{pgbackrest: {{repos: {repos}}}}}
"
        ))
        .expect("a valid cluster")
    }

    fn claim(phase: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            status: Some(PersistentVolumeClaimStatus {
                phase: Some(phase.into()),
                ..PersistentVolumeClaimStatus::default()
            }),
            ..PersistentVolumeClaim::default()
        }
    }

    const VOLUME_AND_S3: &str = "[{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], \
        resources: {requests: {storage: 1Gi}}}}}, {name: repo2, s3: {bucket: b, endpoint: e, region: r}}]";

    #[test]
    fn a_volume_repository_reports_its_claim_and_whether_it_is_bound() {
        let cluster = cluster(VOLUME_AND_S3);
        let pending = BTreeMap::from([("hippo-repo1".to_string(), claim("Pending"))]);
        let status = pgbackrest(&cluster, &pending, None, &Progress::default()).unwrap();
        let repos = status.repos.unwrap();
        assert_eq!(repos[0].name, "repo1");
        assert_eq!(repos[0].volume.as_deref(), Some("hippo-repo1"));
        assert_eq!(repos[0].bound, Some(false));
        assert_eq!(repos[1].name, "repo2");
        assert_eq!(repos[1].bound, None, "an S3 repository has no volume");
        assert_eq!(status.repo_host.unwrap().ready, Some(false));

        let bound = BTreeMap::from([("hippo-repo1".to_string(), claim("Bound"))]);
        let host = StatefulSet {
            status: Some(StatefulSetStatus {
                ready_replicas: Some(1),
                ..StatefulSetStatus::default()
            }),
            ..StatefulSet::default()
        };
        let progress = Progress {
            stanza_created: true,
            replica_create_complete: true,
            ..Progress::default()
        };
        let status = pgbackrest(&cluster, &bound, Some(&host), &progress).unwrap();
        assert!(status.manual_backup.is_none() && status.scheduled_backups.is_none());
        let repos = status.repos.unwrap();
        assert_eq!(repos[0].replica_create_backup_complete, Some(true));
        assert_eq!(
            repos[1].replica_create_backup_complete, None,
            "only the first"
        );
        assert_ne!(repos[0].repo_options_hash, repos[1].repo_options_hash);
        assert_eq!(repos[0].bound, Some(true));
        assert_eq!(repos[0].stanza_created, Some(true));
        assert_eq!(repos[1].stanza_created, Some(true));
        assert_eq!(status.repo_host.unwrap().ready, Some(true));
    }

    #[test]
    fn cloud_repositories_alone_have_no_repository_host() {
        let cluster = cluster("[{name: repo1, gcs: {bucket: b}}]");
        let status = pgbackrest(&cluster, &BTreeMap::new(), None, &Progress::default()).unwrap();
        assert!(status.repo_host.is_none());
    }
}
