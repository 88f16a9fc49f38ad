//! Creating the pgBackRest stanza: the Job `pgbackrest::stanza` builds is created (never applied over: a Job's
//! template cannot change) once the leader is Ready; a Job of an earlier repository configuration is deleted;
//! a failed Job is reported and deleted, so the next reconcile tries again.

use super::jobs::{self, JobState};
use super::{Context, delete, events};
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::events::EventType;
use tusk_api::PostgresCluster;

/// Creates, replaces or retries the stanza Job of `cluster` (`wanted`) among its `existing` Jobs; whether the
/// stanza exists in every repository (the wanted Job succeeded). The Job is created only when `leader_ready`.
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    wanted: Option<&Job>,
    existing: &[&Job],
    leader_ready: bool,
) -> Result<bool, kube::Error> {
    let api: Api<Job> = Api::namespaced(
        context.client.clone(),
        &cluster.namespace().unwrap_or_default(),
    );
    let wanted_name = wanted.map(ResourceExt::name_any);
    for earlier in existing
        .iter()
        .filter(|job| Some(job.name_any()) != wanted_name)
    {
        delete::object(&api, &earlier.name_any()).await?;
    }
    let Some(job) = wanted else {
        return Ok(false);
    };
    let name = job.name_any();
    match existing.iter().find(|found| found.name_any() == name) {
        Some(found) => match jobs::state(found) {
            JobState::Succeeded => return Ok(true),
            JobState::Failed => {
                let note = format!(
                    "pgbackrest stanza-create failed (Job {name}, see its pods' logs); trying again"
                );
                events::publish(
                    context,
                    cluster,
                    EventType::Warning,
                    "StanzaCreateFailed",
                    note,
                )
                .await?;
                delete::object(&api, &name).await?;
            }
            JobState::Running => {}
        },
        None if leader_ready => jobs::create(&api, job).await?,
        None => {}
    }
    Ok(false)
}
