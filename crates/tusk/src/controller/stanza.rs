//! Creating the pgBackRest stanza: the Job `pgbackrest::stanza` builds is created (never applied over: a Job's
//! template cannot change) once the leader is Ready; a Job of an earlier repository configuration is deleted;
//! a failed Job is reported and deleted, so the next reconcile tries again.

use super::{Context, events};
use crate::naming::labels;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use tusk_api::PostgresCluster;

/// Creates, replaces or retries the stanza Job of `cluster` (`wanted`); whether the stanza exists in every
/// repository (the wanted Job succeeded). The Job is created only when `leader_ready`.
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    wanted: Option<&Job>,
    leader_ready: bool,
) -> Result<bool, kube::Error> {
    let jobs: Api<Job> = Api::namespaced(
        context.client.clone(),
        &cluster.namespace().unwrap_or_default(),
    );
    let selector = labels::pgbackrest_stanza_job(&cluster.name_any());
    let existing = jobs
        .list(&ListParams::default().labels(&labels::selector(&selector)))
        .await?
        .items;
    let background = DeleteParams::background();
    let uid = cluster.meta().uid.as_ref();
    for earlier in existing.iter().filter(|job| {
        wanted.is_none_or(|w| w.metadata.name != job.metadata.name)
            && job.owner_references().iter().any(|o| Some(&o.uid) == uid)
    }) {
        ignore_missing(jobs.delete(&earlier.name_any(), &background).await)?;
    }
    let Some(job) = wanted else {
        return Ok(false);
    };
    let name = job.name_any();
    match existing.iter().find(|found| found.name_any() == name) {
        Some(found) => {
            let status = found.status.clone().unwrap_or_default();
            if status.succeeded.unwrap_or(0) > 0 {
                return Ok(true);
            }
            let failed = status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Failed" && c.status == "True");
            if failed {
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
                ignore_missing(jobs.delete(&name, &background).await)?;
            }
        }
        None if leader_ready => match jobs.create(&PostParams::default(), job).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(error) => return Err(error),
        },
        None => {}
    }
    Ok(false)
}

fn ignore_missing<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}
