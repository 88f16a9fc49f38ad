//! Bootstrapping a cluster from another cluster's backup (`spec.dataSource.postgresCluster`, built by
//! `pgbackrest::restore`): reads the source cluster and its namespace's root CA, issues the Job's client
//! certificate, applies the Job's configuration, runs the Job once, holds the instances until it succeeded,
//! and reports each step in the condition `PostgresDataInitialized` (PGO's) with an Event when it changes.
//!
//! The restore runs only while the cluster's data is not initialized: once Patroni has bootstrapped the
//! cluster (the system identifier in the `initialize` annotation of its `<c>-ha-config` Endpoints) the
//! condition turns True and stays True; once a reconcile reads it back, the Job, its configuration and its
//! certificate are deleted. A failed Job is reported with its last words and tried again after
//! [`RETRY_FAILED`], or at once when the spec changes what it would do.

use super::apply::apply_all;
use super::jobs::{self, JobState};
use super::observe::{Observation, is_ours};
use super::{Context, data_initialized, delete};
use crate::instances::plan::Plan;
use crate::instances::volumes;
use crate::naming::{annotations, labels, names};
use crate::pgbackrest::restore::{self, IN_PLACE_OPTIONS_FIELD, OPTIONS_FIELD, Source};
use crate::pki::leaf::{self, Subject};
use crate::pki::root::Root;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use std::time::{Duration, SystemTime};
use tusk_api::PostgresCluster;
use tusk_api::status::Condition;

/// How long a failed restore Job stays before it is tried again with the same spec.
pub const RETRY_FAILED: Duration = Duration::from_secs(300);
/// How soon a restore in progress is looked at again.
const POLL: Duration = Duration::from_secs(5);
/// How soon a missing source is looked for again (other namespaces' objects are not watched).
const RECHECK: Duration = Duration::from_secs(30);

/// What the stage leaves for `status` and the next reconcile.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `PostgresDataInitialized`, for a cluster with `spec.dataSource.postgresCluster`.
    pub condition: Option<Condition>,
    /// When to look again.
    pub again: Option<Duration>,
}

/// Runs the restore of `cluster` while its data is not initialized, and holds its instance `statefulsets`
/// (about to be applied) until it succeeded.
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    observation: &Observation,
    plan: &Plan,
    statefulsets: &mut [StatefulSet],
) -> Result<Outcome, kube::Error> {
    let Some(source) = cluster
        .spec
        .data_source
        .as_ref()
        .and_then(|d| d.postgres_cluster.as_ref())
    else {
        return Ok(Outcome::default());
    };
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    let job_name = names::restore_job(&name);
    let existing = observation
        .jobs
        .iter()
        .find(|job| job.name_any() == job_name)
        .cloned();
    // The Job goes only once the condition is read back: a reconcile of a cluster read before the status
    // write (the cache lags) then still finds the succeeded Job, and never restores a second time.
    if data_initialized::recorded(cluster) || observation.patroni_initialized {
        if data_initialized::recorded(cluster) && existing.is_some() {
            clean_up(context, &namespace, &name).await?;
        }
        let message = "the data was restored from the backup and Patroni bootstrapped the cluster";
        return Ok(Outcome {
            condition: Some(report(context, cluster, true, "Initialized", message.into()).await?),
            again: None,
        });
    }
    let planned: Vec<(&str, &str)> = plan
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i.set.as_str()))
        .collect();
    let startup = existing
        .as_ref()
        .and_then(|job| job.labels().get(labels::STARTUP_INSTANCE))
        .filter(|instance| planned.iter().any(|(name, _)| name == instance))
        .map(String::as_str)
        .or_else(|| restore::startup_instance(cluster, planned.iter().copied()));
    let Some(startup) = startup.map(str::to_string) else {
        restore::hold(statefulsets, None);
        return Ok(Outcome::default());
    };
    let restored = existing.as_ref().is_some_and(|job| {
        jobs::state(job) == JobState::Succeeded
            && job.labels().get(labels::STARTUP_INSTANCE) == Some(&startup)
    });
    restore::hold(statefulsets, restored.then_some(startup.as_str()));
    if restored {
        let message = format!(
            "restored into instance {startup}; waiting for Patroni to bootstrap the cluster from it"
        );
        return Ok(Outcome {
            condition: Some(report(context, cluster, false, "Restored", message).await?),
            again: Some(POLL),
        });
    }

    let claims = claims(cluster, observation, plan, &startup);
    let wanted = match wanted_job(context, cluster, source, false, &startup, &claims).await? {
        Ok(job) => job,
        Err((reason, message)) => {
            return Ok(Outcome {
                condition: Some(report(context, cluster, false, reason, message).await?),
                again: Some(RECHECK),
            });
        }
    };
    let Some(found) = existing else {
        jobs::create(&jobs, &wanted).await?;
        tracing::info!(cluster = %name, instance = %startup, "restore Job created");
        let message = format!(
            "restoring into instance {startup} (Job {})",
            wanted.name_any()
        );
        return Ok(Outcome {
            condition: Some(report(context, cluster, false, "Restoring", message).await?),
            again: Some(POLL),
        });
    };
    let hash = |job: &Job| {
        job.annotations()
            .get(annotations::PGBACKREST_CONFIG_HASH)
            .cloned()
    };
    let failed_at = jobs::failed_at(&found);
    let overdue =
        failed_at.is_some_and(|at| SystemTime::from(at) + RETRY_FAILED <= SystemTime::now());
    if hash(&found) != hash(&wanted) || overdue {
        delete::object(&jobs, &found.name_any()).await?;
        let message = "the restore Job is made again for the current spec".to_string();
        return Ok(Outcome {
            condition: Some(report(context, cluster, false, "Restoring", message).await?),
            again: Some(POLL),
        });
    }
    if failed_at.is_some() {
        let words = jobs::last_words(&context.client, &namespace, &found.name_any()).await?;
        let message = format!(
            "the restore failed (Job {}): {words}; it is tried again when the spec changes, or in {} minutes",
            found.name_any(),
            RETRY_FAILED.as_secs() / 60
        );
        return Ok(Outcome {
            condition: Some(report(context, cluster, false, "RestoreFailed", message).await?),
            again: Some(RECHECK),
        });
    }
    let message = format!(
        "restoring into instance {startup} (Job {})",
        found.name_any()
    );
    Ok(Outcome {
        condition: Some(report(context, cluster, false, "Restoring", message).await?),
        again: Some(POLL),
    })
}

/// The restore Job `cluster` needs to restore `source` into `startup` (`in_place`: over its stopped data, with
/// the options of `spec.backups.pgbackrest.restore`; otherwise a new cluster's, with those of
/// `spec.dataSource.postgresCluster`), once its configuration and client certificate are applied; or why it
/// cannot be made (the condition's reason and message).
pub(super) async fn wanted_job(
    context: &Context,
    cluster: &PostgresCluster,
    source: &tusk_api::datasource::PostgresClusterDataSource,
    in_place: bool,
    startup: &str,
    claims: &Claims,
) -> Result<Result<Job, (&'static str, String)>, kube::Error> {
    let namespace = cluster.namespace().unwrap_or_default();
    let source_namespace = source
        .cluster_namespace
        .clone()
        .unwrap_or_else(|| namespace.clone());
    let Some(source_name) = source.cluster_name.as_deref() else {
        let message = "spec.dataSource.postgresCluster.clusterName is not set".to_string();
        return Ok(Err(("SourceNotFound", message)));
    };
    let clusters: Api<PostgresCluster> = Api::namespaced(context.client.clone(), &source_namespace);
    let Some(source_cluster) = clusters.get_opt(source_name).await? else {
        let message =
            format!("PostgresCluster {source_name} not found in namespace {source_namespace}");
        return Ok(Err(("SourceNotFound", message)));
    };
    let from = Source {
        cluster: &source_cluster,
        repo: &source.repo_name,
    };
    // The source's repository claim is found by its labels (an adopted one keeps its name); listed only when
    // the Job can mount it (same namespace).
    let source_claims: volumes::Existing = if source_namespace == namespace {
        let of_repo = labels::selector(&labels::pgbackrest_repo_volume(
            source_name,
            &source.repo_name,
        ));
        let found: Api<PersistentVolumeClaim> = Api::namespaced(context.client.clone(), &namespace);
        found
            .list(&ListParams::default().labels(&of_repo))
            .await?
            .items
            .into_iter()
            .filter(|claim| is_ours(claim, source_cluster.uid().as_deref()))
            .map(|claim| (claim.name_any(), claim))
            .collect()
    } else {
        volumes::Existing::new()
    };
    let repo_volume = restore::repo_volume(cluster, from, &source_claims);
    let credentials = restore::source_configuration(cluster, from);
    let config = match restore::config_file(cluster, from) {
        Ok(config) => config,
        Err(error) => return Ok(Err((error.reason(), error.to_string()))),
    };
    let options_field = if in_place {
        IN_PLACE_OPTIONS_FIELD
    } else {
        OPTIONS_FIELD
    };
    let options = match restore::options(source, options_field) {
        Ok(options) => options,
        Err(violations) => {
            let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
            return Ok(Err(("InvalidSpec", listed.join("; "))));
        }
    };
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &source_namespace);
    let now = SystemTime::now();
    let root_secret = secrets.get_opt(names::ROOT_CA_SECRET).await?;
    let Some(root) = Root::from_secret(root_secret.as_ref(), now) else {
        let message = format!(
            "the root CA of namespace {source_namespace} ({}) is missing or due for renewal",
            names::ROOT_CA_SECRET
        );
        return Ok(Err(("SourceCertificateAuthority", message)));
    };
    let own: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
    let existing = own
        .get_opt(&names::restore_job(&cluster.name_any()))
        .await?
        .and_then(|secret| restore::client_pair(&secret));
    let subject = Subject {
        common_name: names::pgbackrest_client_common_name(source_name),
        dns_names: Vec::new(),
    };
    let client = match leaf::leaf("restore client", &subject, existing, &root, now) {
        Ok(client) => client,
        Err(error) => return Ok(Err(("SourceCertificateAuthority", error.to_string()))),
    };
    apply_all(
        &context.client,
        &[restore::client_secret(
            cluster,
            &client.pair,
            &root.pair.certificate,
        )],
    )
    .await?;
    apply_all(&context.client, &[restore::config_map(cluster, &config)]).await?;
    Ok(Ok(restore::job(
        cluster,
        &context.images,
        &restore::Restore {
            instance: startup,
            settings: source,
            options: &options,
            config: &config,
            repo: repo_volume.as_ref(),
            data_claim: &claims.data,
            wal_claim: claims.wal_mounted.then_some(claims.wal.as_str()),
            credentials: &credentials,
            in_place,
        },
    )))
}

/// The claims a restore Job mounts.
pub(super) struct Claims {
    /// The data claim.
    data: String,
    /// The WAL claim's name.
    wal: String,
    /// Whether the instance has a WAL volume: its set asks for one, or its claim exists (kept while the WAL
    /// moves back).
    wal_mounted: bool,
}

/// The claims of `instance` (an adopted claim keeps its name).
pub(super) fn claims(
    cluster: &PostgresCluster,
    observation: &Observation,
    plan: &Plan,
    instance: &str,
) -> Claims {
    let planned = plan
        .instances
        .iter()
        .find(|planned| planned.name == instance);
    let names = planned.map_or_else(
        || volumes::ClaimNames {
            data: names::instance_data_volume(instance),
            wal: names::instance_wal_volume(instance),
            wal_exists: false,
        },
        |planned| volumes::claim_names(planned, &observation.volumes),
    );
    let asked = cluster.spec.instances.iter().any(|set| {
        planned.is_some_and(|p| p.set == set.name) && set.wal_volume_claim_spec.is_some()
    });
    Claims {
        wal_mounted: asked || names.wal_exists,
        data: names.data,
        wal: names.wal,
    }
}

/// Deletes the restore Job's client certificate, its configuration and then the Job, where they exist (a
/// missing Job means the others are gone too).
pub(super) async fn clean_up(
    context: &Context,
    namespace: &str,
    cluster: &str,
) -> Result<(), kube::Error> {
    let name = names::restore_job(cluster);
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), namespace);
    delete::object(&secrets, &name).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(context.client.clone(), namespace);
    delete::object(&config_maps, &name).await?;
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), namespace);
    delete::object(&jobs, &name).await
}

/// `PostgresDataInitialized` for a restore: its steps are Normal Events, anything else a Warning.
async fn report(
    context: &Context,
    cluster: &PostgresCluster,
    done: bool,
    reason: &str,
    message: String,
) -> Result<Condition, kube::Error> {
    data_initialized::report(
        context,
        cluster,
        done,
        reason,
        message,
        &["Restoring", "Restored"],
    )
    .await
}
