//! `status.pgbackrest`: what was observed of the repositories and the repository host. Only facts the
//! operator saw are reported; a fact it has not seen (a stanza, a backup) is left out rather than guessed.

use super::condition;
use crate::pgbackrest::replica_create::repo_options_hash;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::status::{
    Condition, ConditionStatus, PgBackRestJobStatus, PgBackRestScheduledBackupStatus,
    PgBackRestStatus, RepoHostStatus, RepoStatus, WalArchivingStatus,
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
    /// The latest in-place restore.
    pub restore: Option<PgBackRestJobStatus>,
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
                let claim =
                    crate::pgbackrest::volumes::claim_name(cluster_name, &repo.name, claims);
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
        restore: progress.restore.clone(),
    })
}

/// The condition that says whether the repository host is ready (PGO's).
pub const REPO_HOST_READY: &str = "PGBackRestRepoHostReady";
/// The condition that says whether the stanza exists in the first repository, from which replicas are made
/// (PGO's).
pub const REPLICA_REPO_READY: &str = "PGBackRestReplicaRepoReady";
/// The condition that says whether the replica-create backup exists (PGO's).
pub const REPLICA_CREATE: &str = "PGBackRestReplicaCreate";
/// The condition that says whether WAL archiving works (a Tusk addition).
pub const WAL_ARCHIVING: &str = "WALArchiving";

/// The pgBackRest conditions of `status` (none without repositories), at time `now`.
pub fn conditions(
    cluster: &PostgresCluster,
    status: Option<&PgBackRestStatus>,
    now: Time,
) -> Vec<Condition> {
    let Some(status) = status else {
        return Vec::new();
    };
    let mut conditions = Vec::new();
    let yes_no = |holds: bool| {
        if holds {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    };
    if let Some(host) = &status.repo_host {
        let ready = host.ready == Some(true);
        conditions.push(condition(
            cluster,
            REPO_HOST_READY,
            yes_no(ready),
            if ready {
                "RepoHostReady"
            } else {
                "RepoHostNotReady"
            },
            if ready {
                "the repository host is ready".into()
            } else {
                "the repository host is not ready yet".into()
            },
            now.clone(),
        ));
    }
    if let Some(first) = status.repos.iter().flatten().next() {
        let stanza = first.stanza_created == Some(true);
        conditions.push(condition(
            cluster,
            REPLICA_REPO_READY,
            yes_no(stanza),
            if stanza {
                "StanzaCreated"
            } else {
                "StanzaNotCreated"
            },
            format!(
                "the stanza {} in {}",
                if stanza {
                    "exists"
                } else {
                    "does not exist yet"
                },
                first.name
            ),
            now.clone(),
        ));
        let backup = first.replica_create_backup_complete == Some(true);
        conditions.push(condition(
            cluster,
            REPLICA_CREATE,
            yes_no(backup),
            if backup {
                "RepoBackupComplete"
            } else {
                "RepoBackupNotComplete"
            },
            format!(
                "the first full backup in {} {}",
                first.name,
                if backup { "exists" } else { "is not taken yet" }
            ),
            now.clone(),
        ));
    }
    if let Some(archiving) = &status.wal_archiving {
        let (state, reason, message) = wal_archiving(archiving);
        conditions.push(condition(
            cluster,
            WAL_ARCHIVING,
            state,
            reason,
            message,
            now,
        ));
    }
    conditions
}

/// The `WALArchiving` condition's status, reason and message from `pg_stat_archiver`: failing when the last
/// failure is later than the last success.
fn wal_archiving(archiving: &WalArchivingStatus) -> (ConditionStatus, &'static str, String) {
    let archived = archiving
        .last_archived_wal
        .as_deref()
        .map(|wal| format!("last archived {wal}"));
    match (&archiving.last_failed_time, &archiving.last_archived_time) {
        (Some(failed), archived_at) if archived_at.as_ref().is_none_or(|at| at.0 < failed.0) => (
            ConditionStatus::False,
            "ArchiveFailing",
            format!(
                "archiving {} failed at {}{}; see the database container's log",
                archiving.last_failed_wal.as_deref().unwrap_or("WAL"),
                failed.0,
                archived.map(|a| format!(" ({a})")).unwrap_or_default()
            ),
        ),
        (_, Some(_)) => (
            ConditionStatus::True,
            "Archiving",
            archived.unwrap_or_default(),
        ),
        _ => (
            ConditionStatus::Unknown,
            "NothingArchivedYet",
            "no WAL file archived yet".into(),
        ),
    }
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

    #[test]
    fn wal_archiving_fails_when_the_last_failure_is_the_latest_event() {
        use super::wal_archiving;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        use k8s_openapi::jiff::Timestamp;
        use tusk_api::status::{ConditionStatus, WalArchivingStatus};
        let at = |second| Some(Time(Timestamp::from_second(second).unwrap()));
        let archiving = |archived: Option<i64>, failed: Option<i64>| WalArchivingStatus {
            last_archived_wal: archived.map(|_| "000000010000000000000003".to_string()),
            last_archived_time: archived.and_then(at),
            failed_count: Some(1),
            last_failed_wal: failed.map(|_| "000000010000000000000004".to_string()),
            last_failed_time: failed.and_then(at),
        };
        let (status, reason, message) = wal_archiving(&archiving(Some(100), Some(200)));
        assert_eq!((status, reason), (ConditionStatus::False, "ArchiveFailing"));
        assert!(message.contains("000000010000000000000004"), "{message}");
        let (status, _, message) = wal_archiving(&archiving(Some(300), Some(200)));
        assert_eq!(status, ConditionStatus::True);
        assert_eq!(message, "last archived 000000010000000000000003");
        assert_eq!(
            wal_archiving(&archiving(None, Some(200))).0,
            ConditionStatus::False
        );
        assert_eq!(
            wal_archiving(&archiving(None, None)).0,
            ConditionStatus::Unknown
        );
    }
}
