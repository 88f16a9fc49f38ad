//! What every operator-started Job shares: reading how far it got, creating it once, and deleting it.

use k8s_openapi::api::batch::v1::Job;
use kube::Api;
use kube::api::{DeleteParams, PostParams};
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

/// Creates `job`; one of that name that exists already (made by an earlier reconcile) is fine.
pub async fn create(jobs: &Api<Job>, job: &Job) -> Result<(), kube::Error> {
    match jobs.create(&PostParams::default(), job).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

/// Deletes the Job `name` with its pods (in the background); one that is gone already is fine.
pub async fn delete(jobs: &Api<Job>, name: &str) -> Result<(), kube::Error> {
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
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
}
