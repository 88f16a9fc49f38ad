//! An in-place restore of a running cluster (`spec.backups.pgbackrest.restore` with `enabled: true`, started by
//! a new value of the `pgbackrest-restore` annotation). Pure: what the cluster asks for and what was observed
//! in, the next step out; `controller::in_place_restore` does the steps.
//!
//! The steps, each taken once the previous one is done (as PGO does it):
//! 1. every instance is stopped (its StatefulSet holds no pod);
//! 2. Patroni's DCS Endpoints are deleted, so that the cluster bootstraps again;
//! 3. the restore Job (`pgbackrest::restore`, the same as a clone's) restores into the data volume of the
//!    startup instance: the leader when the restore was asked for. Its data directory becomes the bootstrap
//!    directory, so `--delta` copies only the files that differ from the backup;
//! 4. the startup instance runs: Patroni bootstraps with the method `existing` (moves the directory back);
//! 5. once Patroni initialized the cluster, the restore is recorded as finished and every instance runs: the
//!    replicas find their data ahead of the new timeline and Patroni rewinds them (`use_pg_rewind`).
//!
//! A restore whose Job failed keeps the cluster stopped: the startup instance's data is half restored and
//! must not be served. A new annotation value (with corrected options) tries again.

use crate::naming::annotations;
use kube::ResourceExt;
use tusk_api::PostgresCluster;
use tusk_api::status::PgBackRestJobStatus;

/// The in-place restore a cluster asks for or is in the middle of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The annotation value that asked for it.
    pub id: String,
    /// Whether it was asked for since the last reconcile (nothing is recorded for it yet).
    pub fresh: bool,
}

/// The restore recorded in the cluster's status (`status.pgbackrest.restore`).
pub fn recorded(cluster: &PostgresCluster) -> Option<&PgBackRestJobStatus> {
    cluster
        .status
        .as_ref()?
        .pgbackrest
        .as_ref()?
        .restore
        .as_ref()
}

/// Whether a recorded restore failed: finished without success.
pub fn failed(recorded: &PgBackRestJobStatus) -> bool {
    recorded.finished && recorded.progress.succeeded.unwrap_or(0) == 0
}

/// The restore `cluster` asks for (a new annotation value while `restore.enabled`), or the one it is in the
/// middle of, or the failed one that keeps it stopped.
pub fn request(cluster: &PostgresCluster) -> Option<Request> {
    let enabled = cluster
        .spec
        .backups
        .pgbackrest
        .restore
        .as_ref()
        .is_some_and(|restore| restore.enabled);
    let annotation = cluster
        .annotations()
        .get(annotations::PGBACKREST_RESTORE)
        .filter(|id| !id.is_empty());
    let recorded = recorded(cluster);
    if enabled
        && let Some(id) = annotation
        && recorded.is_none_or(|r| &r.id != id)
    {
        return Some(Request {
            id: id.clone(),
            fresh: true,
        });
    }
    recorded
        .filter(|r| !r.finished || failed(r))
        .map(|r| Request {
            id: r.id.clone(),
            fresh: false,
        })
}

/// Whether the cluster is being restored in place (or stays stopped after a failed restore): its instances
/// bootstrap from a restored directory (`pgbackrest::restore::bootstrap_method`) and its schedules wait.
pub fn active(cluster: &PostgresCluster) -> bool {
    recorded(cluster).is_some_and(|r| !r.finished || failed(r))
}

/// What was observed of a cluster being restored in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Instance pods that exist (terminating ones too).
    pub pods: usize,
    /// Patroni's DCS Endpoints that exist.
    pub patroni_endpoints: usize,
    /// The restore Job, if one exists.
    pub job: Option<JobSeen>,
    /// Patroni has initialized the cluster (the `initialize` annotation of its DCS).
    pub initialized: bool,
    /// The restore is recorded as failed.
    pub failed: bool,
}

/// The restore Job as seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobSeen {
    /// A Job of another restore (another annotation value, or a clone's).
    Other,
    /// This restore's, not finished.
    Running,
    /// This restore's, succeeded.
    Succeeded,
    /// This restore's, given up.
    Failed,
}

/// The next step of an in-place restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Instance pods still run: hold every instance and wait.
    Stop,
    /// Delete Patroni's DCS Endpoints.
    ForgetPatroni,
    /// Delete a restore Job of another restore (or a clone's).
    RemoveJob,
    /// Create the restore Job.
    CreateJob,
    /// The Job runs: wait.
    WaitForJob,
    /// The Job succeeded: run the startup instance and wait for Patroni's bootstrap.
    Bootstrap,
    /// Patroni bootstrapped: record success, clean up, run every instance.
    Finish,
    /// The Job failed: keep the cluster stopped and report.
    Failed,
}

/// The next step of `request`, from what was `seen`.
pub fn step(request: &Request, seen: &Seen) -> Step {
    if seen.failed && !request.fresh {
        return Step::Failed;
    }
    match seen.job {
        Some(JobSeen::Succeeded) if seen.initialized => Step::Finish,
        Some(JobSeen::Succeeded) => Step::Bootstrap,
        Some(JobSeen::Running) => Step::WaitForJob,
        Some(JobSeen::Failed) => Step::Failed,
        Some(JobSeen::Other) => Step::RemoveJob,
        None if seen.pods > 0 => Step::Stop,
        None if seen.patroni_endpoints > 0 => Step::ForgetPatroni,
        None => Step::CreateJob,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tusk_api::status::{JobProgress, PgBackRestStatus, PostgresClusterStatus};

    fn cluster(
        enabled: bool,
        annotation: Option<&str>,
        recorded: Option<(&str, bool, bool)>,
    ) -> PostgresCluster {
        let mut cluster = crate::pgbackrest::tests::hippo_with(
            &format!(
                "repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]
      restore: {{enabled: {enabled}, repoName: repo1}}"
            ),
            "",
        );
        if let Some(id) = annotation {
            cluster
                .annotations_mut()
                .insert(annotations::PGBACKREST_RESTORE.into(), id.into());
        }
        cluster.status = recorded.map(|(id, finished, succeeded)| PostgresClusterStatus {
            pgbackrest: Some(PgBackRestStatus {
                restore: Some(PgBackRestJobStatus {
                    id: id.into(),
                    finished,
                    progress: JobProgress {
                        succeeded: succeeded.then_some(1),
                        ..JobProgress::default()
                    },
                }),
                ..PgBackRestStatus::default()
            }),
            ..PostgresClusterStatus::default()
        });
        cluster
    }

    #[test]
    fn a_new_annotation_value_asks_only_while_enabled() {
        assert_eq!(request(&cluster(true, None, None)), None);
        assert_eq!(request(&cluster(false, Some("id1"), None)), None);
        let asked = request(&cluster(true, Some("id1"), None)).expect("asked");
        assert_eq!((asked.id.as_str(), asked.fresh), ("id1", true));
        assert_eq!(
            request(&cluster(true, Some("id1"), Some(("id1", true, true)))),
            None
        );
        let again = request(&cluster(true, Some("id2"), Some(("id1", true, true)))).expect("again");
        assert_eq!((again.id.as_str(), again.fresh), ("id2", true));
    }

    #[test]
    fn a_restore_under_way_or_failed_goes_on_even_when_disabled() {
        let under_way = cluster(false, Some("id1"), Some(("id1", false, false)));
        assert_eq!(request(&under_way).map(|r| r.fresh), Some(false));
        assert!(active(&under_way));
        let failed = cluster(false, None, Some(("id1", true, false)));
        assert_eq!(request(&failed).map(|r| r.id), Some("id1".into()));
        assert!(active(&failed));
        assert!(!active(&cluster(
            true,
            Some("id1"),
            Some(("id1", true, true))
        )));
    }

    #[test]
    fn steps_follow_the_order_pods_dcs_job_bootstrap() {
        let request = Request {
            id: "id1".into(),
            fresh: false,
        };
        let seen = |pods, patroni_endpoints, job, initialized| Seen {
            pods,
            patroni_endpoints,
            job,
            initialized,
            failed: false,
        };
        assert_eq!(step(&request, &seen(2, 3, None, true)), Step::Stop);
        assert_eq!(step(&request, &seen(0, 3, None, true)), Step::ForgetPatroni);
        assert_eq!(step(&request, &seen(0, 0, None, false)), Step::CreateJob);
        let running = Some(JobSeen::Running);
        assert_eq!(
            step(&request, &seen(0, 0, running, false)),
            Step::WaitForJob
        );
        let other = Some(JobSeen::Other);
        assert_eq!(step(&request, &seen(0, 0, other, false)), Step::RemoveJob);
        // Once the Job succeeded, the startup instance's pod and Patroni's Endpoints are expected.
        let done = Some(JobSeen::Succeeded);
        assert_eq!(step(&request, &seen(1, 2, done, false)), Step::Bootstrap);
        assert_eq!(step(&request, &seen(1, 2, done, true)), Step::Finish);
        let failed = Some(JobSeen::Failed);
        assert_eq!(step(&request, &seen(0, 0, failed, false)), Step::Failed);
    }

    #[test]
    fn a_failed_restore_holds_until_a_new_value() {
        let seen = Seen {
            failed: true,
            ..Seen::default()
        };
        let held = Request {
            id: "id1".into(),
            fresh: false,
        };
        assert_eq!(step(&held, &seen), Step::Failed);
        let retry = Request {
            id: "id2".into(),
            fresh: true,
        };
        assert_eq!(step(&retry, &seen), Step::CreateJob);
    }
}
