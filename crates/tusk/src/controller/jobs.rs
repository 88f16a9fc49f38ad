//! What every operator-started Job shares: reading how far it got and what it said last, and creating it once.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::Client;
use kube::api::{ListParams, PostParams};
use tusk_api::status::JobProgress;

/// Where a Job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Not finished: pods pending, running or being retried.
    Running,
    /// A pod succeeded.
    Succeeded,
    /// The Job gave up (its `Failed` condition).
    Failed,
}

/// The state of `job`, from its status.
pub fn state(job: &Job) -> JobState {
    let status = job.status.clone().unwrap_or_default();
    let condition = |type_: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == type_ && c.status == "True")
    };
    if status.succeeded.unwrap_or(0) > 0 || condition("Complete") {
        JobState::Succeeded
    } else if condition("Failed") {
        JobState::Failed
    } else {
        JobState::Running
    }
}

/// When `job` gave up (its `Failed` condition), if it did.
pub fn failed_at(job: &Job) -> Option<Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed" && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(Timestamp::now(), |t| t.0)
        })
}

/// The counts and times of `job` as the cluster status reports them.
pub fn progress(job: &Job) -> JobProgress {
    let status = job.status.clone().unwrap_or_default();
    JobProgress {
        active: status.active,
        succeeded: status.succeeded,
        failed: status.failed,
        start_time: status.start_time,
        completion_time: status.completion_time,
    }
}

/// The last lines the Job `name` printed before it ended (its pods' termination messages), for a condition.
pub async fn last_words(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<String, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let message = pods
        .list(&ListParams::default().labels(&format!("job-name={name}")))
        .await?
        .items
        .into_iter()
        .filter_map(|pod| pod.status?.container_statuses)
        .flatten()
        .filter_map(|status| status.state?.terminated)
        .max_by_key(|end| end.finished_at.clone())
        .and_then(|end| end.message)
        .unwrap_or_default();
    let lines: Vec<&str> = message.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines[lines.len().saturating_sub(3)..].join(" / ");
    Ok(if last.is_empty() {
        "no output".into()
    } else {
        last
    })
}

/// Creates `job`; one of that name that exists already (made by an earlier reconcile) is fine.
pub async fn create(jobs: &Api<Job>, job: &Job) -> Result<(), kube::Error> {
    match jobs.create(&PostParams::default(), job).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};

    fn job(succeeded: Option<i32>, condition: Option<&str>) -> Job {
        Job {
            status: Some(JobStatus {
                succeeded,
                conditions: condition.map(|type_| {
                    vec![JobCondition {
                        type_: type_.into(),
                        status: "True".into(),
                        ..JobCondition::default()
                    }]
                }),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    #[test]
    fn state_follows_the_status() {
        assert_eq!(state(&Job::default()), JobState::Running);
        assert_eq!(state(&job(Some(0), None)), JobState::Running);
        assert_eq!(state(&job(Some(1), None)), JobState::Succeeded);
        assert_eq!(state(&job(None, Some("Complete"))), JobState::Succeeded);
        assert_eq!(state(&job(None, Some("Failed"))), JobState::Failed);
        assert_eq!(state(&job(None, Some("Suspended"))), JobState::Running);
    }

    #[test]
    fn a_failed_job_says_when() {
        let mut failed = job(None, Some("Failed"));
        assert!(failed_at(&job(None, None)).is_none());
        let at: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        failed.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_transition_time =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at));
        assert_eq!(failed_at(&failed), Some(at));
    }
}
