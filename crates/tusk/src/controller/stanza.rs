//! Creating the pgBackRest stanza in each repository: the Jobs `pgbackrest::stanza` builds are created (never
//! applied over: a Job's template cannot change) once the primary accepts connections; a Job of an earlier
//! repository configuration is deleted; a failed Job is reported and deleted, so the next reconcile tries
//! again. Which repositories have their stanza is read from the Jobs that succeeded.

use super::{Context, events};
use crate::naming::labels;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use std::collections::BTreeSet;
use tusk_api::PostgresCluster;

/// Creates, replaces or retries the stanza Jobs of `cluster` (`wanted`); the repositories (`repoN`) whose
/// stanza exists. Jobs are created only when `primary_ready`.
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    wanted: &[Job],
    primary_ready: bool,
) -> Result<BTreeSet<String>, kube::Error> {
    let namespace = cluster.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    let mut selector = labels::pgbackrest(&cluster.name_any());
    selector.insert(labels::PGBACKREST_STANZA.into(), String::new());
    let existing = jobs
        .list(&ListParams::default().labels(&labels::selector(&selector)))
        .await?
        .items;
    let background = DeleteParams::background();
    let mut created = BTreeSet::new();
    for job in existing.iter().filter(|job| {
        !wanted.iter().any(|w| w.metadata.name == job.metadata.name)
            && job
                .owner_references()
                .iter()
                .any(|o| Some(&o.uid) == cluster.meta().uid.as_ref())
    }) {
        ignore_missing(jobs.delete(&job.name_any(), &background).await)?;
    }
    for job in wanted {
        let name = job.name_any();
        let repo = job
            .labels()
            .get(labels::PGBACKREST_REPO)
            .cloned()
            .unwrap_or_default();
        match existing.iter().find(|found| found.name_any() == name) {
            Some(found) => {
                let status = found.status.clone().unwrap_or_default();
                if status.succeeded.unwrap_or(0) > 0 {
                    created.insert(repo);
                } else if status
                    .conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Failed" && c.status == "True")
                {
                    let note = format!(
                        "pgbackrest stanza-create failed in {repo} (Job {name}); trying again"
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
            None if primary_ready => match jobs.create(&PostParams::default(), job).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(error) => return Err(error),
            },
            None => {}
        }
    }
    Ok(created)
}

fn ignore_missing<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}
