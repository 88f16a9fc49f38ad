//! Restoring a running cluster in place (`spec.backups.pgbackrest.restore` + the `pgbackrest-restore`
//! annotation): takes the steps `pgbackrest::in_place` decides, one per reconcile, holding the instance
//! StatefulSets (about to be applied) while it runs, and reports them in PGO's condition
//! `PGBackRestRestoreProgressing`, in `status.pgbackrest.restore` and with Events.

use super::jobs::{self, JobState};
use super::observe::Observation;
use super::{Context, delete, events, restore, status};
use crate::instances::plan::Plan;
use crate::naming::{annotations, labels, names};
use crate::pgbackrest::in_place::{self, JobSeen, Request, Seen, Step};
use crate::pgbackrest::restore::{hold, startup_instance};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use std::time::Duration;
use tusk_api::PostgresCluster;
use tusk_api::status::{Condition, ConditionStatus, JobProgress, PgBackRestJobStatus};

/// PGO's condition: whether an in-place restore is under way.
pub const RESTORE_PROGRESSING: &str = "PGBackRestRestoreProgressing";
/// How soon a restore under way is looked at again.
const POLL: Duration = Duration::from_secs(3);

/// What the stage leaves for `status` and the next reconcile.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `status.pgbackrest.restore`.
    pub recorded: Option<PgBackRestJobStatus>,
    /// `status.startupInstance` and `status.startupInstanceSet`.
    pub startup: Option<(String, String)>,
    /// `PGBackRestRestoreProgressing`, once a restore was asked for.
    pub condition: Option<Condition>,
    /// When to look again.
    pub again: Option<Duration>,
}

/// Takes the next step of the in-place restore `cluster` asks for or is in the middle of, holding its instance
/// `statefulsets` as the step needs.
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    observation: &Observation,
    plan: &Plan,
    statefulsets: &mut [StatefulSet],
) -> Result<Outcome, kube::Error> {
    let recorded = in_place::recorded(cluster).cloned();
    let previous = status::previous(cluster, RESTORE_PROGRESSING).cloned();
    let recorded_startup = cluster
        .status
        .as_ref()
        .and_then(|s| Some((s.startup_instance.clone()?, s.startup_instance_set.clone()?)));
    let job_name = names::restore_job(&cluster.name_any());
    let job = observation
        .jobs
        .iter()
        .find(|job| job.name_any() == job_name);
    let Some(request) = in_place::request(cluster) else {
        // The Job of a finished restore goes once the status that records it is read back: a reconcile that
        // runs on a cluster read before that status was written sees the Job still, and finishes again.
        if recorded.as_ref().is_some_and(|r| r.finished)
            && job.is_some_and(|job| {
                job.annotations()
                    .contains_key(annotations::PGBACKREST_RESTORE)
            })
        {
            let namespace = cluster.namespace().unwrap_or_default();
            restore::clean_up(context, &namespace, &cluster.name_any()).await?;
        }
        return Ok(Outcome {
            recorded,
            startup: recorded_startup,
            condition: previous,
            again: None,
        });
    };
    // This restore's Job names the instance it restores into; a reconcile of a cluster read before its
    // status was written must not choose another.
    let from_job = job
        .filter(|job| seen_job(job, &request.id) != JobSeen::Other)
        .and_then(|job| job.labels().get(labels::STARTUP_INSTANCE))
        .and_then(|name| plan.instances.iter().find(|i| &i.name == name))
        .map(|i| (i.name.clone(), i.set.clone()));
    let startup = if request.fresh {
        from_job.or_else(|| startup_of(cluster, observation, plan))
    } else {
        recorded_startup
            .or(from_job)
            .or_else(|| startup_of(cluster, observation, plan))
    };
    let Some((instance, set)) = startup else {
        // Not a failure of the restore: it waits, and a cluster not stopped yet keeps running.
        if !request.fresh {
            hold(statefulsets, None);
        }
        let message = "no instance to restore into; the restore waits for one".to_string();
        return Ok(Outcome {
            recorded,
            startup: None,
            condition: Some(
                progressing(
                    context,
                    cluster,
                    ConditionStatus::False,
                    "NoInstance",
                    message,
                    EventType::Warning,
                )
                .await?,
            ),
            again: None,
        });
    };
    if request.fresh
        && let Err(message) = check(cluster)
    {
        // Nothing was stopped: the cluster keeps running and the request waits for a corrected spec.
        return Ok(Outcome {
            recorded,
            startup: Some((instance, set)),
            condition: Some(
                progressing(
                    context,
                    cluster,
                    ConditionStatus::False,
                    "InvalidRestore",
                    message,
                    EventType::Warning,
                )
                .await?,
            ),
            again: None,
        });
    }
    let seen = Seen {
        pods: observation.pods.len(),
        patroni_endpoints: observation.patroni_endpoints.len(),
        job: job.map(|job| seen_job(job, &request.id)),
        initialized: observation.patroni_initialized,
        failed: recorded.as_ref().is_some_and(in_place::failed),
    };
    let step = in_place::step(&request, &seen);
    if step != Step::Finish {
        hold(
            statefulsets,
            (step == Step::Bootstrap).then_some(instance.as_str()),
        );
    }
    let namespace = cluster.namespace().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    let startup = Some((instance.clone(), set));
    let under_way = |reason: &'static str, message: String| Report {
        finished: None,
        warning: false,
        reason,
        message,
    };
    let outcome = match step {
        Step::Stop => under_way(
            "StoppingInstances",
            format!(
                "stopping every instance to restore in place ({})",
                request.id
            ),
        ),
        Step::ForgetPatroni => {
            let endpoints: Api<Endpoints> = Api::namespaced(context.client.clone(), &namespace);
            for found in &observation.patroni_endpoints {
                delete::object(&endpoints, &found.name_any()).await?;
            }
            under_way(
                "RemovingPatroniState",
                "removing Patroni's DCS so that the cluster bootstraps from the restored data"
                    .into(),
            )
        }
        Step::RemoveJob => {
            delete::object(&jobs_api, &job_name).await?;
            under_way("RemovingJob", "removing an earlier restore Job".into())
        }
        Step::CreateJob => {
            let restore_spec = cluster
                .spec
                .backups
                .pgbackrest
                .restore
                .clone()
                .unwrap_or_default();
            let source = restore_spec.as_data_source(&cluster.name_any());
            let claims = restore::claims(cluster, observation, plan, &instance);
            match restore::wanted_job(context, cluster, &source, true, &instance, &claims).await? {
                Ok(mut wanted) => {
                    wanted
                        .meta_mut()
                        .annotations
                        .get_or_insert_default()
                        .insert(annotations::PGBACKREST_RESTORE.into(), request.id.clone());
                    jobs::create(&jobs_api, &wanted).await?;
                    tracing::info!(cluster = %cluster.name_any(), %instance, id = %request.id, "in-place restore Job created");
                    under_way(
                        "Restoring",
                        format!("restoring into instance {instance} (Job {job_name})"),
                    )
                }
                // The cluster is stopped: it waits, with a Warning, for what is missing (a source, a CA).
                Err((reason, message)) => Report {
                    warning: true,
                    ..under_way(reason, message)
                },
            }
        }
        Step::WaitForJob => under_way(
            "Restoring",
            format!("restoring into instance {instance} (Job {job_name})"),
        ),
        Step::Bootstrap => under_way(
            "Bootstrapping",
            format!(
                "restored into instance {instance}; waiting for Patroni to bootstrap the cluster from it"
            ),
        ),
        Step::Finish => Report {
            finished: Some(true),
            warning: false,
            reason: "RestoreComplete",
            message: format!(
                "restored in place ({}); every instance runs from the restored data",
                request.id
            ),
        },
        Step::Failed => {
            let words = match job {
                Some(job) => jobs::last_words(&context.client, &namespace, &job.name_any()).await?,
                None => "the Job is gone".into(),
            };
            Report::failed(format!(
                "the in-place restore {} failed: {words}; the cluster stays stopped until the \
                 {} annotation gets a new value (correct the options first)",
                request.id,
                annotations::PGBACKREST_RESTORE
            ))
        }
    };
    let progress = job.map(jobs::progress);
    report(context, cluster, &request, recorded, progress, outcome)
        .await
        .map(|out| Outcome { startup, ..out })
}

/// How a step ends: still under way (`finished: None`; `warning`: waiting for something that is missing),
/// succeeded or failed.
struct Report {
    finished: Option<bool>,
    warning: bool,
    reason: &'static str,
    message: String,
}

impl Report {
    fn failed(message: String) -> Self {
        Report {
            finished: Some(false),
            warning: true,
            reason: "RestoreFailed",
            message,
        }
    }
}

/// The status and condition of `request` after a step that ended as `report`.
async fn report(
    context: &Context,
    cluster: &PostgresCluster,
    request: &Request,
    recorded: Option<PgBackRestJobStatus>,
    job: Option<JobProgress>,
    report: Report,
) -> Result<Outcome, kube::Error> {
    let now = Time(Timestamp::now());
    let earlier = recorded.filter(|r| r.id == request.id).map(|r| r.progress);
    let start_time = earlier
        .as_ref()
        .and_then(|p| p.start_time.clone())
        .or(Some(now.clone()));
    let mut progress = JobProgress {
        start_time,
        ..job.unwrap_or_default()
    };
    progress.completion_time = None;
    let state = match report.finished {
        None => ConditionStatus::True,
        Some(true) => {
            progress.succeeded = Some(1);
            progress.completion_time = Some(now);
            ConditionStatus::False
        }
        Some(false) => {
            progress.succeeded = None;
            progress.failed = Some(progress.failed.unwrap_or(0).max(1));
            ConditionStatus::False
        }
    };
    let kind = if report.warning {
        EventType::Warning
    } else {
        EventType::Normal
    };
    let condition =
        progressing(context, cluster, state, report.reason, report.message, kind).await?;
    Ok(Outcome {
        recorded: Some(PgBackRestJobStatus {
            id: request.id.clone(),
            finished: report.finished.is_some(),
            progress,
        }),
        startup: None,
        condition: Some(condition),
        again: report.finished.is_none().then_some(POLL),
    })
}

/// The condition `PGBackRestRestoreProgressing`, with an Event of `kind` when it is news.
async fn progressing(
    context: &Context,
    cluster: &PostgresCluster,
    state: ConditionStatus,
    reason: &str,
    message: String,
    kind: EventType,
) -> Result<Condition, kube::Error> {
    let condition = status::condition(
        cluster,
        RESTORE_PROGRESSING,
        state,
        reason,
        message,
        Time(Timestamp::now()),
    );
    if status::is_news(cluster, &condition) {
        let note = condition.message.clone();
        tracing::info!(cluster = %cluster.name_any(), %reason, %note, "in-place restore");
        events::publish(context, cluster, kind, reason, note).await?;
    }
    Ok(condition)
}

/// The instance to restore into: the leader's, else the first of the first set (and its set).
fn startup_of(
    cluster: &PostgresCluster,
    observation: &Observation,
    plan: &Plan,
) -> Option<(String, String)> {
    let planned: Vec<(&str, &str)> = plan
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i.set.as_str()))
        .collect();
    let leader = observation
        .instances
        .iter()
        .find(|i| i.leader && planned.iter().any(|(name, _)| *name == i.name))
        .map(|i| i.name.as_str());
    let name = leader.or_else(|| startup_instance(cluster, planned.iter().copied()))?;
    planned
        .iter()
        .find(|(planned, _)| *planned == name)
        .map(|(name, set)| (name.to_string(), set.to_string()))
}

/// What can be checked before anything is stopped: the restore's repository is one this cluster (or the named
/// source) can restore from.
fn check(cluster: &PostgresCluster) -> Result<(), String> {
    let Some(spec) = &cluster.spec.backups.pgbackrest.restore else {
        return Err("spec.backups.pgbackrest.restore is not set".into());
    };
    let own = spec
        .cluster_name
        .as_deref()
        .is_none_or(|name| Some(name) == cluster.metadata.name.as_deref());
    if own {
        let source = crate::pgbackrest::restore::Source {
            cluster,
            repo: &spec.repo_name,
        };
        crate::pgbackrest::restore::config_file(cluster, source).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The restore Job as the decision sees it: this restore's (by its annotation) and how far it got.
fn seen_job(job: &Job, id: &str) -> JobSeen {
    if job
        .annotations()
        .get(annotations::PGBACKREST_RESTORE)
        .map(String::as_str)
        != Some(id)
    {
        return JobSeen::Other;
    }
    match jobs::state(job) {
        JobState::Running => JobSeen::Running,
        JobState::Succeeded => JobSeen::Succeeded,
        JobState::Failed => JobSeen::Failed,
    }
}
