//! The `databaseInitSQL` stage: runs the ConfigMap's SQL once in a Job (`postgres::init_sql`) and records
//! `status.databaseInitSQL` (the key, as PGO) when it succeeded. A failure is a Warning event with psql's last
//! words; the SQL runs again when the ConfigMap changes (looked at every [`WATCH_INTERVAL`] while not done)
//! or once the failed Job is removed ([`init_sql::KEEP_FINISHED_SECONDS`] after it finished).

use super::jobs::{self, JobState};
use super::{Context, FIELD_MANAGER, events};
use crate::build;
use crate::naming::{annotations, labels};
use crate::pki::leaf::{self, Subject};
use crate::pki::root::Root;
use crate::postgres::{OPERATOR_USER, init_sql};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use std::time::{Duration, SystemTime};
use tusk_api::PostgresCluster;

/// How soon a cluster whose init SQL is not done is looked at again (the ConfigMap is not watched).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(10);

/// What the stage leaves for `status` and the next reconcile.
pub struct Outcome {
    /// `status.databaseInitSQL`: the key once the SQL ran.
    pub done: Option<String>,
    /// When to look again, while the SQL has not run.
    pub again: Option<Duration>,
}

/// Runs the init SQL when the spec has some that has not run; `primary_ready` says the operator reached the
/// primary this reconcile (the users' SQL ran or was current).
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    objects: &build::Objects,
    primary_ready: bool,
) -> Result<Outcome, kube::Error> {
    let Some(init) = cluster.spec.database_init_sql.as_ref() else {
        return Ok(Outcome {
            done: None,
            again: None,
        });
    };
    let recorded = cluster
        .status
        .as_ref()
        .and_then(|status| status.database_init_sql.clone());
    if recorded.as_deref() == Some(init.key.as_str()) {
        return Ok(Outcome {
            done: recorded,
            again: None,
        });
    }
    let waiting = Outcome {
        done: None,
        again: Some(WATCH_INTERVAL),
    };
    let Some((root_secret, _)) = &objects.root_ca else {
        return Ok(waiting);
    };
    if !primary_ready || cluster.spec.shutdown == Some(true) {
        return Ok(waiting);
    }
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let config_maps: Api<ConfigMap> = Api::namespaced(context.client.clone(), &namespace);
    let sql = config_maps
        .get_opt(&init.name)
        .await?
        .and_then(|config_map| config_map.data)
        .and_then(|mut data| data.remove(&init.key));
    let Some(sql) = sql else {
        let note = format!(
            "databaseInitSQL: ConfigMap {} has no key {}; waiting for it",
            init.name, init.key
        );
        warn(context, cluster, "DatabaseInitSQLMissing", note).await;
        return Ok(waiting);
    };
    let revision = init_sql::revision(&init.key, &sql);
    let job_name = init_sql::job_name(&name, &revision);
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    remove_other_jobs(&jobs, &name, &job_name).await?;
    let Some(job) = jobs.get_opt(&job_name).await? else {
        let custom_ca = objects
            .custom_tls
            .as_ref()
            .map(|custom| custom.ca.as_slice());
        start(context, cluster, root_secret, custom_ca, &revision).await?;
        return Ok(waiting);
    };
    let state = jobs::state(&job);
    if state == JobState::Succeeded {
        tracing::info!(cluster = %name, job = %job_name, "databaseInitSQL ran");
        events::publish(
            context,
            cluster,
            EventType::Normal,
            "DatabaseInitSQLDone",
            format!(
                "databaseInitSQL {}/{} ran (Job {job_name})",
                init.name, init.key
            ),
        )
        .await?;
        return Ok(Outcome {
            done: Some(init.key.clone()),
            again: None,
        });
    }
    if state == JobState::Failed {
        report_failure(context, cluster, &jobs, &job).await?;
    }
    Ok(waiting)
}

/// Creates the Job of `revision`, then its client certificate Secret (owned by the Job: the Job's pod waits
/// for the Secret to mount it). psql verifies the server against `custom_ca` under custom TLS, else the root.
async fn start(
    context: &Context,
    cluster: &PostgresCluster,
    root_secret: &Secret,
    custom_ca: Option<&[u8]>,
    revision: &str,
) -> Result<(), kube::Error> {
    let namespace = cluster.namespace().unwrap_or_default();
    let Some(job) = init_sql::job(cluster, &context.images, revision) else {
        return Ok(());
    };
    let Some(root) = Root::from_secret(Some(root_secret), SystemTime::now()) else {
        return Ok(());
    };
    let client = match leaf::issue_for(
        "databaseInitSQL client",
        &Subject {
            common_name: OPERATOR_USER.into(),
            dns_names: Vec::new(),
        },
        &root,
        SystemTime::now(),
        init_sql::CERTIFICATE_LIFETIME,
    ) {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(cluster = %cluster.name_any(), %error, "cannot issue the init SQL client certificate");
            return Ok(());
        }
    };
    let jobs: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    let created = jobs.create(&PostParams::default(), &job).await?;
    let server_ca = custom_ca.unwrap_or(&root.pair.certificate);
    let secret = init_sql::client_secret(&created, &client.pair, server_ca);
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
    secrets
        .patch(
            &secret.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;
    tracing::info!(cluster = %cluster.name_any(), job = %created.name_any(), "databaseInitSQL Job created");
    Ok(())
}

/// Deletes the cluster's init SQL Jobs other than `keep` (an earlier version of the SQL), with their pods
/// and Secrets.
async fn remove_other_jobs(jobs: &Api<Job>, cluster: &str, keep: &str) -> Result<(), kube::Error> {
    let selector = format!(
        "{},{}",
        labels::selector(&labels::cluster(cluster)),
        labels::DATABASE_INIT_SQL
    );
    for job in jobs
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
    {
        if job.name_any() == keep {
            continue;
        }
        let background = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match jobs.delete(&job.name_any(), &background).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// A Warning event with psql's last words from the failed pod of `job`, once per Job (marked with an
/// annotation).
async fn report_failure(
    context: &Context,
    cluster: &PostgresCluster,
    jobs: &Api<Job>,
    job: &Job,
) -> Result<(), kube::Error> {
    if job
        .annotations()
        .contains_key(annotations::INIT_SQL_FAILURE_REPORTED)
    {
        return Ok(());
    }
    let pods: Api<Pod> = Api::namespaced(
        context.client.clone(),
        &cluster.namespace().unwrap_or_default(),
    );
    let ends: Vec<_> = pods
        .list(&ListParams::default().labels(&format!("job-name={}", job.name_any())))
        .await?
        .items
        .into_iter()
        .filter_map(|pod| pod.status?.container_statuses)
        .flatten()
        .filter_map(|status| status.state?.terminated)
        .collect();
    // The script's error, if a pod got that far; else what stopped the last attempts (connecting, say).
    let words = ends
        .iter()
        .find(|end| end.exit_code == init_sql::SCRIPT_ERROR_EXIT_CODE)
        .or_else(|| ends.iter().max_by_key(|end| end.finished_at.clone()))
        .and_then(|end| end.message.as_deref())
        .map(str::trim)
        .filter(|message| !message.is_empty())
        .unwrap_or("no output");
    let init = cluster.spec.database_init_sql.as_ref();
    let note = format!(
        "databaseInitSQL {}/{} failed (Job {}): {words}; it runs again when the ConfigMap changes",
        init.map(|i| i.name.as_str()).unwrap_or_default(),
        init.map(|i| i.key.as_str()).unwrap_or_default(),
        job.name_any()
    );
    tracing::warn!(cluster = %cluster.name_any(), %note);
    events::publish(
        context,
        cluster,
        EventType::Warning,
        "DatabaseInitSQLFailed",
        note,
    )
    .await?;
    let mark = serde_json::json!({"metadata": {"annotations": {annotations::INIT_SQL_FAILURE_REPORTED: "true"}}});
    jobs.patch(
        &job.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&mark),
    )
    .await?;
    Ok(())
}

/// A Warning event (the recorder counts repeats into one series).
async fn warn(context: &Context, cluster: &PostgresCluster, reason: &str, note: String) {
    tracing::info!(cluster = %cluster.name_any(), %note);
    if let Err(error) = events::publish(context, cluster, EventType::Warning, reason, note).await {
        tracing::warn!(cluster = %cluster.name_any(), %error, "cannot publish an event");
    }
}
