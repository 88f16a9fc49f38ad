//! The backups stage: the replica-create backup once the stanza exists, manual backups requested with the
//! `pgbackrest-backup` annotation, and what the scheduled backups' Jobs did — for `status.pgbackrest`.
//!
//! Backups are taken only when they can work: the stanza exists, the leader is Ready, and the cluster is
//! neither shut down nor a standby (whose repository belongs to the primary cluster). A Job is never applied
//! over (its template cannot change): it is created once, and deleted when it is superseded.

use super::jobs::{self, JobState};
use super::{Context, delete, events};
use crate::build;
use crate::instances::volumes::Existing;
use crate::naming::{annotations, labels};
use crate::pgbackrest::{manual, replica_create};
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::status::{PgBackRestJobStatus, PgBackRestScheduledBackupStatus};

/// What the stage found, for `status.pgbackrest`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Whether the replica-create backup of the first repository exists.
    pub replica_create_complete: bool,
    /// The latest manual backup.
    pub manual: Option<PgBackRestJobStatus>,
    /// The latest Job of each backup schedule.
    pub scheduled: Vec<PgBackRestScheduledBackupStatus>,
}

/// Starts and follows the cluster's backups. `existing` are the cluster's Jobs; `can_back_up` says a backup
/// can work now (see the module documentation).
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    objects: &build::Objects,
    existing: &[Job],
    claims: &Existing,
    can_back_up: bool,
) -> Result<Outcome, kube::Error> {
    let api: Api<Job> = Api::namespaced(
        context.client.clone(),
        &cluster.namespace().unwrap_or_default(),
    );
    let of_kind = |kind: &str| -> Vec<&Job> {
        existing
            .iter()
            .filter(|job| {
                job.labels()
                    .get(labels::PGBACKREST_BACKUP)
                    .map(String::as_str)
                    == Some(kind)
            })
            .collect()
    };
    // One backup at a time: the operator starts none while another runs (scheduled ones included); the
    // lock of `pgbackrest::jobs::lock_repo` serializes what the CronJobs start meanwhile.
    let busy = existing.iter().any(|job| {
        (job.labels().contains_key(labels::PGBACKREST_BACKUP)
            || job.labels().contains_key(labels::PGBACKREST_CRONJOB))
            && jobs::state(job) == JobState::Running
    });
    let can_start = can_back_up && !busy;
    let replica_create_complete = replica_create(
        context,
        cluster,
        &api,
        objects.replica_create_job.as_ref(),
        &of_kind(labels::BACKUP_REPLICA_CREATE),
        can_start,
    )
    .await?;
    let manual = manual(
        context,
        cluster,
        &api,
        &objects.pgbackrest_repo_hash,
        claims,
        &of_kind(labels::BACKUP_MANUAL),
        can_start,
    )
    .await?;
    let scheduled = scheduled(existing);
    report_failed_schedules(context, cluster, &scheduled).await?;
    Ok(Outcome {
        replica_create_complete,
        manual,
        scheduled,
    })
}

/// Creates the replica-create backup Job (`wanted`) once, deletes those of an earlier first repository, and
/// retries a failed one; whether the backup exists. It is not taken again when its Job is gone but the status
/// recorded it for the same repository.
async fn replica_create(
    context: &Context,
    cluster: &PostgresCluster,
    api: &Api<Job>,
    wanted: Option<&Job>,
    existing: &[&Job],
    can_back_up: bool,
) -> Result<bool, kube::Error> {
    let wanted_name = wanted.map(ResourceExt::name_any);
    for earlier in existing
        .iter()
        .filter(|job| Some(job.name_any()) != wanted_name)
    {
        delete::object(api, &earlier.name_any()).await?;
    }
    let Some(wanted) = wanted else {
        return Ok(false);
    };
    let name = wanted.name_any();
    match existing.iter().find(|job| job.name_any() == name) {
        Some(job) => match jobs::state(job) {
            JobState::Succeeded => Ok(true),
            JobState::Running => Ok(false),
            JobState::Failed => {
                let note = format!(
                    "the first full backup failed (Job {name}, see its pods' logs); trying again"
                );
                events::publish_about(
                    context,
                    cluster,
                    EventType::Warning,
                    "ReplicaCreateBackupFailed",
                    ("Job", "batch/v1", &name),
                    note,
                )
                .await?;
                delete::object(api, &name).await?;
                Ok(false)
            }
        },
        None if recorded_complete(cluster) => Ok(true),
        None if can_back_up => {
            jobs::create(api, wanted).await?;
            tracing::info!(cluster = %cluster.name_any(), job = %name, "replica-create backup started");
            Ok(false)
        }
        None => Ok(false),
    }
}

/// Whether the status recorded the replica-create backup of the first repository where it is now.
fn recorded_complete(cluster: &PostgresCluster) -> bool {
    let Some(first) = cluster.spec.backups.pgbackrest.repos.first() else {
        return false;
    };
    let hash = replica_create::repo_options_hash(first);
    cluster
        .status
        .as_ref()
        .and_then(|status| status.pgbackrest.as_ref())
        .and_then(|pgbackrest| pgbackrest.repos.as_ref())
        .and_then(|repos| repos.iter().find(|repo| repo.name == first.name))
        .is_some_and(|repo| {
            repo.replica_create_backup_complete == Some(true)
                && repo.repo_options_hash.as_deref() == Some(hash.as_str())
        })
}

/// Follows the manual backup the `pgbackrest-backup` annotation asks for: creates its Job when the request is
/// new and no backup runs (`can_back_up`), deleting the Job of the request before; reports a request that
/// cannot be built; publishes an event when the backup finishes. The status of the latest request.
async fn manual(
    context: &Context,
    cluster: &PostgresCluster,
    api: &Api<Job>,
    config_hash: &str,
    claims: &Existing,
    existing: &[&Job],
    can_back_up: bool,
) -> Result<Option<PgBackRestJobStatus>, kube::Error> {
    let previous = cluster
        .status
        .as_ref()
        .and_then(|status| status.pgbackrest.as_ref())
        .and_then(|pgbackrest| pgbackrest.manual_backup.clone());
    let Some(id) = cluster.annotations().get(annotations::PGBACKREST_BACKUP) else {
        return Ok(previous);
    };
    let asked_for = |job: &&&Job| job.annotations().get(annotations::PGBACKREST_BACKUP) == Some(id);
    let was_finished = previous.as_ref().is_some_and(|p| &p.id == id && p.finished);
    if let Some(job) = existing.iter().find(asked_for) {
        let status = job_status(id, job);
        if status.finished && !was_finished {
            report_manual(context, cluster, job).await?;
        }
        return Ok(Some(status));
    }
    if was_finished {
        // Handled already; its Job was removed since.
        return Ok(previous);
    }
    let waiting = PgBackRestJobStatus {
        id: id.clone(),
        finished: false,
        ..PgBackRestJobStatus::default()
    };
    let job = match manual::manual_backup_job(cluster, &context.images, id, config_hash, claims) {
        Ok(job) => job,
        Err(error) => {
            let note = format!("manual backup {id:?} not taken: {error}");
            events::publish(
                context,
                cluster,
                EventType::Warning,
                "InvalidManualBackup",
                note,
            )
            .await?;
            return Ok(Some(PgBackRestJobStatus {
                finished: true,
                ..waiting
            }));
        }
    };
    if !can_back_up
        || existing
            .iter()
            .any(|job| jobs::state(job) == JobState::Running)
    {
        return Ok(Some(waiting));
    }
    for earlier in existing {
        delete::object(api, &earlier.name_any()).await?;
    }
    jobs::create(api, &job).await?;
    tracing::info!(cluster = %cluster.name_any(), job = %job.name_any(), %id, "manual backup started");
    Ok(Some(waiting))
}

/// `status.pgbackrest.manualBackup` of request `id` from its Job.
fn job_status(id: &str, job: &Job) -> PgBackRestJobStatus {
    PgBackRestJobStatus {
        id: id.into(),
        finished: jobs::state(job) != JobState::Running,
        progress: jobs::progress(job),
    }
}

/// A Normal event when the manual backup of `job` succeeded, a Warning when it failed.
async fn report_manual(
    context: &Context,
    cluster: &PostgresCluster,
    job: &Job,
) -> Result<(), kube::Error> {
    let name = job.name_any();
    let (type_, reason, note) = match jobs::state(job) {
        JobState::Succeeded => (
            EventType::Normal,
            "ManualBackupSucceeded",
            format!("manual backup Job {name} succeeded"),
        ),
        _ => (
            EventType::Warning,
            "ManualBackupFailed",
            format!("manual backup Job {name} failed; see its pods' logs"),
        ),
    };
    events::publish_about(
        context,
        cluster,
        type_,
        reason,
        ("Job", "batch/v1", &name),
        note,
    )
    .await
}

/// The latest Job of each backup CronJob among `existing`, by CronJob name.
fn scheduled(existing: &[Job]) -> Vec<PgBackRestScheduledBackupStatus> {
    let mut latest: BTreeMap<String, &Job> = BTreeMap::new();
    for job in existing {
        if !job.labels().contains_key(labels::PGBACKREST_CRONJOB) {
            continue;
        }
        let Some(cron_job) = job
            .owner_references()
            .iter()
            .find(|owner| owner.kind == "CronJob")
            .map(|owner| owner.name.clone())
        else {
            continue;
        };
        let newer = latest
            .get(&cron_job)
            .is_none_or(|seen| seen.metadata.creation_timestamp < job.metadata.creation_timestamp);
        if newer {
            latest.insert(cron_job, job);
        }
    }
    latest
        .into_iter()
        .map(|(cron_job, job)| PgBackRestScheduledBackupStatus {
            cron_job_name: Some(cron_job),
            repo: job.labels().get(labels::PGBACKREST_REPO).cloned(),
            type_: job.labels().get(labels::PGBACKREST_CRONJOB).cloned(),
            progress: jobs::progress(job),
        })
        .collect()
}

/// A Warning event for each schedule whose latest backup failed, when the status did not show it yet.
async fn report_failed_schedules(
    context: &Context,
    cluster: &PostgresCluster,
    scheduled: &[PgBackRestScheduledBackupStatus],
) -> Result<(), kube::Error> {
    let before: Vec<PgBackRestScheduledBackupStatus> = cluster
        .status
        .as_ref()
        .and_then(|status| status.pgbackrest.as_ref())
        .and_then(|pgbackrest| pgbackrest.scheduled_backups.clone())
        .unwrap_or_default();
    for now in scheduled {
        let failed = now.progress.failed.unwrap_or(0) > 0
            && now.progress.active.unwrap_or(0) == 0
            && now.progress.succeeded.unwrap_or(0) == 0;
        if !failed || before.contains(now) {
            continue;
        }
        let cron_job = now.cron_job_name.clone().unwrap_or_default();
        let note =
            format!("a scheduled backup of CronJob {cron_job} failed; see its Job's pods' logs");
        events::publish_about(
            context,
            cluster,
            EventType::Warning,
            "ScheduledBackupFailed",
            ("CronJob", "batch/v1", &cron_job),
            note,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
    use k8s_openapi::jiff::Timestamp;

    fn scheduled_job(cron_job: &str, created: i64, succeeded: Option<i32>) -> Job {
        Job {
            metadata: ObjectMeta {
                labels: Some(labels::pgbackrest_cronjob("hippo", "repo1", "incr")),
                owner_references: Some(vec![OwnerReference {
                    kind: "CronJob".into(),
                    name: cron_job.into(),
                    ..OwnerReference::default()
                }]),
                creation_timestamp: Some(Time(Timestamp::from_second(created).unwrap())),
                ..ObjectMeta::default()
            },
            status: Some(JobStatus {
                succeeded,
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    #[test]
    fn the_latest_job_of_each_schedule_is_reported() {
        let jobs = [
            scheduled_job("hippo-pgbackrest-repo1-incr", 100, Some(1)),
            scheduled_job("hippo-pgbackrest-repo1-incr", 200, None),
            scheduled_job("hippo-pgbackrest-repo1-full", 50, Some(1)),
            Job::default(),
        ];
        let status = scheduled(&jobs);
        assert_eq!(status.len(), 2);
        assert_eq!(
            status[0].cron_job_name.as_deref(),
            Some("hippo-pgbackrest-repo1-full")
        );
        assert_eq!(status[1].progress.succeeded, None, "the newer run");
        assert_eq!(status[1].type_.as_deref(), Some("incr"));
        assert_eq!(status[1].repo.as_deref(), Some("repo1"));
    }

    #[test]
    fn a_manual_job_status_is_finished_once_it_succeeded_or_failed() {
        let mut job = scheduled_job("x", 1, None);
        assert!(!job_status("a", &job).finished);
        job.status = Some(JobStatus {
            succeeded: Some(1),
            ..JobStatus::default()
        });
        let status = job_status("a", &job);
        assert!(status.finished);
        assert_eq!(status.id, "a");
        assert_eq!(status.progress.succeeded, Some(1));
    }
}
