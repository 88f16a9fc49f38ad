//! One reconcile of one cluster.

use super::adopt;
use super::apply::apply_all;
use super::archiving;
use super::backups;
use super::certificates;
use super::client_tls;
use super::custom_tls;
use super::healing;
use super::in_place_restore;
use super::monitoring;
use super::observe::observe;
use super::patroni_dcs;
use super::pgbouncer;
use super::prune::prune;
use super::refuse;
use super::restore;
use super::retire::retire;
use super::rollout;
use super::stanza;
use super::switchover;
use super::{Context, FIELD_MANAGER, events, status};
use super::{init_sql, users};
use crate::instances::plan;
use crate::{build, naming, services};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tusk_api::PostgresCluster;

/// How often a cluster is reconciled when nothing changes, to catch missed events.
const RESYNC: Duration = Duration::from_secs(300);
/// How long to wait after a failed reconcile before trying again.
const RETRY: Duration = Duration::from_secs(5);
/// How soon a cluster whose references are broken (a custom TLS Secret) is looked at again.
const RECHECK: Duration = Duration::from_secs(30);
/// How soon the users are tried again when PostgreSQL could not be reached.
const USERS_RETRY: Duration = Duration::from_secs(10);
/// How soon a rolling update is looked at again after a step or a failed request to Patroni.
const ROLLOUT_POLL: Duration = Duration::from_secs(5);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster has no namespace (PostgresCluster is namespaced; the API server always sets one).
    #[error("PostgresCluster {0} has no namespace")]
    NoNamespace(String),
    /// A request to the API server failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// Brings the objects of a cluster to what its spec says, then reports what it found in `status`; a cluster
/// that cannot be read gets an event and a condition saying why.
pub async fn reconcile(
    guard: Arc<DeserializeGuard<PostgresCluster>>,
    context: Arc<Context>,
) -> Result<Action, Error> {
    match &guard.0 {
        Ok(cluster) => reconcile_cluster(cluster, &context).await,
        Err(unreadable) => refuse::report_unreadable(unreadable, &context).await,
    }
}

async fn reconcile_cluster(cluster: &PostgresCluster, context: &Context) -> Result<Action, Error> {
    let cluster = build::completed(cluster);
    let name = cluster.name_any();
    let namespace = cluster
        .namespace()
        .ok_or_else(|| Error::NoNamespace(name.clone()))?;
    let violations = crate::validate::validate(&cluster);
    let valid = status::spec_valid(&cluster, &violations, Time(Timestamp::now()));
    if !violations.is_empty() {
        refuse::refuse(context, &cluster, valid, "InvalidSpec").await?;
        tracing::warn!(cluster = %name, namespace = %namespace, "invalid spec; nothing applied");
        return Ok(Action::await_change());
    }

    let mut observation = observe(&context.client, &namespace, &cluster).await?;
    let plan = plan::plan(&cluster, &observation.instances, &mut plan::random_suffix);
    let initialized = observation.patroni_initialized;
    let adoption = adopt::reconcile(
        context,
        &cluster,
        &plan,
        &mut observation.volumes,
        initialized,
        &observation.jobs,
    )
    .await?;
    let built = build::objects(
        &cluster,
        build::Inputs {
            plan: &plan,
            volumes: &observation.volumes,
            images: &context.images,
            secrets: &observation.secrets,
            now: SystemTime::now(),
            offline: false,
        },
    );
    let mut objects = match built {
        Ok(objects) => objects,
        Err(error) => {
            let invalid = status::references_invalid(
                &cluster,
                error.reason(),
                &error.to_string(),
                Time(Timestamp::now()),
            );
            refuse::refuse(context, &cluster, invalid, error.reason()).await?;
            tracing::warn!(cluster = %name, %namespace, %error, "cannot build the cluster; nothing applied");
            // What is wrong is outside the spec (a Secret the operator does not watch): look again soon.
            return Ok(Action::requeue(RECHECK));
        }
    };
    adoption.hold(&mut objects);
    if let Some((root, true)) = &objects.root_ca {
        certificates::store_new_root(&context.client, root).await?;
    }
    apply_all(&context.client, &objects.certificates).await?;
    apply_all(&context.client, &objects.role_secrets).await?;
    apply_all(&context.client, &objects.service_accounts).await?;
    apply_all(&context.client, &objects.roles).await?;
    apply_all(&context.client, &objects.role_bindings).await?;
    apply_all(&context.client, &objects.services).await?;
    apply_all(&context.client, &objects.config_maps).await?;
    apply_all(&context.client, &objects.volumes).await?;
    patroni_dcs::forget_earlier_patroni(&context.client, &cluster, &observation.patroni_endpoints)
        .await?;
    let restore = restore::reconcile(
        context,
        &cluster,
        &observation,
        &plan,
        &mut objects.statefulsets,
    )
    .await?;
    let in_place = in_place_restore::reconcile(
        context,
        &cluster,
        &observation,
        &plan,
        &mut objects.statefulsets,
    )
    .await?;
    apply_all(&context.client, &objects.statefulsets).await?;
    apply_all(&context.client, &objects.deployments).await?;
    // PgBouncer's objects go with spec.proxy.
    let of_pgbouncer = naming::labels::pgbouncer(&name);
    prune(
        &context.client,
        &cluster,
        &observation.deployments,
        &of_pgbouncer,
        &objects.deployments,
    )
    .await?;
    prune(
        &context.client,
        &cluster,
        &observation.services,
        &of_pgbouncer,
        &objects.services,
    )
    .await?;
    prune(
        &context.client,
        &cluster,
        &observation.config_maps,
        &of_pgbouncer,
        &objects.config_maps,
    )
    .await?;
    prune(
        &context.client,
        &cluster,
        observation.secrets.values(),
        &of_pgbouncer,
        &objects.certificates,
    )
    .await?;
    // The exporter's Secret and queries go with spec.monitoring (its role stays, unable to log in).
    let of_monitoring = naming::labels::monitoring(&name);
    prune(
        &context.client,
        &cluster,
        observation.secrets.values(),
        &of_monitoring,
        &objects.role_secrets,
    )
    .await?;
    prune(
        &context.client,
        &cluster,
        &observation.config_maps,
        &of_monitoring,
        &objects.config_maps,
    )
    .await?;
    apply_all(&context.client, &objects.disruption_budgets).await?;
    prune(
        &context.client,
        &cluster,
        &observation.disruption_budgets,
        &naming::labels::cluster(&name),
        &objects.disruption_budgets,
    )
    .await?;
    apply_all(&context.client, &objects.cron_jobs).await?;
    prune(
        &context.client,
        &cluster,
        &observation.cron_jobs,
        &naming::labels::pgbackrest(&name),
        &objects.cron_jobs,
    )
    .await?;
    // The repository host goes when the last volume repository does; the repository volumes stay.
    let repo_host: Vec<_> = objects
        .statefulsets
        .iter()
        .filter(|statefulset| statefulset.name_any() == naming::names::repo_host(&name))
        .cloned()
        .collect();
    prune(
        &context.client,
        &cluster,
        &observation.repo_host,
        &naming::labels::pgbackrest_dedicated(&name),
        &repo_host,
    )
    .await?;
    retire(&context.client, &namespace, &plan).await?;
    events::instance_changes(context, &cluster, &observation.instances, &plan).await?;

    apply_all(&context.client, &objects.user_secrets).await?;
    let mut of_users = naming::labels::cluster(&name);
    of_users.insert(
        naming::labels::ROLE.into(),
        naming::labels::ROLE_PGUSER.into(),
    );
    prune(
        &context.client,
        &cluster,
        observation.secrets.values(),
        &of_users,
        &objects.user_secrets,
    )
    .await?;
    let leader = observation.ready_leader();
    let users = users::reconcile(context, &cluster, &objects, leader).await;
    let primary_ready = users.done && users.revision.is_some();
    let proxy =
        pgbouncer::reconcile(context, &cluster, &objects, &observation.secrets, leader).await?;
    let monitoring = monitoring::reconcile(context, &cluster, &objects, leader).await?;
    let init_sql = init_sql::reconcile(context, &cluster, &objects, primary_ready).await?;
    let standby = cluster.spec.standby.as_ref().is_some_and(|s| s.enabled);
    let stanza_jobs: Vec<_> = observation
        .jobs_labelled(naming::labels::PGBACKREST_STANZA)
        .collect();
    let stanza_created = stanza::reconcile(
        context,
        &cluster,
        objects.stanza_job.as_ref(),
        &stanza_jobs,
        leader.is_some() && !standby && !adoption.repository_held(),
    )
    .await?;
    let can_back_up = stanza_created
        && leader.is_some()
        && !standby
        && cluster.spec.shutdown != Some(true)
        && !adoption.repository_held();
    let backups = backups::reconcile(
        context,
        &cluster,
        &objects,
        &observation.jobs,
        &observation.volumes,
        can_back_up,
    )
    .await?;
    let wal_archiving = match archiving::read(&cluster, &objects, leader).await {
        Some(read) => Some(read),
        None => cluster
            .status
            .as_ref()
            .and_then(|status| status.pgbackrest.as_ref())
            .and_then(|pgbackrest| pgbackrest.wal_archiving.clone()),
    };
    let tls = operator_tls(&objects);
    let switchover =
        switchover::carry_out(context, &cluster, &observation, &plan, tls.clone()).await?;
    let rolling = match tls.clone() {
        // One change of primary per reconcile: a requested switchover goes first.
        Some(_) if switchover.again => true,
        Some(tls) => rollout::roll(context, &cluster, &observation, &plan, tls).await?,
        None => false,
    };
    let tls_reload = match tls.clone() {
        Some(tls) => custom_tls::reload(context, &cluster, &observation, &objects, tls).await?,
        None => None,
    };
    let healing = match tls {
        Some(tls) => {
            let initialized = restore.condition.as_ref().or(adoption.condition.as_ref());
            healing::heal(context, &cluster, &observation, initialized, tls).await?
        }
        None => None,
    };

    let leader: Api<Service> = Api::namespaced(context.client.clone(), &namespace);
    let leader_ip = leader
        .get_opt(&naming::names::patroni_scope(&name))
        .await?
        .and_then(|service| service.spec)
        .and_then(|spec| spec.cluster_ip)
        .filter(|ip| !ip.is_empty() && ip != "None");
    if let Some(ip) = leader_ip {
        apply_all(
            &context.client,
            &[services::primary_endpoints(&cluster, &ip)],
        )
        .await?;
    }
    let instance_sets = status::instance_sets(&cluster, &observation.statefulsets);
    let pgbackrest = status::pgbackrest(
        &cluster,
        &observation.volumes,
        observation.repo_host.as_ref(),
        &status::Progress {
            stanza_created,
            replica_create_complete: backups.replica_create_complete,
            manual: backups.manual,
            scheduled: backups.scheduled,
            wal_archiving,
            restore: in_place.recorded.clone(),
        },
    );
    let waiting: Vec<String> = plan
        .waiting_for_switchover
        .iter()
        .map(|instance| instance.name.clone())
        .collect();
    let ready = status::instances_ready(&cluster, &instance_sets, &waiting, Time(Timestamp::now()));
    if !waiting.is_empty() && status::is_news(&cluster, &ready) {
        let note = ready.message.clone();
        events::publish(
            context,
            &cluster,
            EventType::Warning,
            "WaitingForSwitchover",
            note,
        )
        .await?;
    }
    let backup_conditions =
        status::pgbackrest_conditions(&cluster, pgbackrest.as_ref(), Time(Timestamp::now()));
    for failing in backup_conditions.iter().filter(|c| {
        c.type_ == status::WAL_ARCHIVING
            && c.status == tusk_api::status::ConditionStatus::False
            && status::is_news(&cluster, c)
    }) {
        let note = failing.message.clone();
        events::publish(
            context,
            &cluster,
            EventType::Warning,
            "WALArchivingFailing",
            note,
        )
        .await?;
    }
    let mut conditions = vec![valid, ready];
    conditions.extend(backup_conditions);
    conditions.extend(restore.condition);
    conditions.extend(in_place.condition);
    conditions.extend(adoption.condition);
    conditions.extend(adoption.unsupported);
    conditions.extend(proxy.condition);
    let clusters: Api<PostgresCluster> = Api::namespaced(context.client.clone(), &namespace);
    clusters
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(status::patch(
                &cluster,
                &conditions,
                status::Observed {
                    instances: Some(&instance_sets),
                    pgbackrest: pgbackrest.as_ref(),
                    users_revision: users.revision.as_deref(),
                    proxy: proxy.status.as_ref(),
                    monitoring: monitoring.status.as_ref(),
                    database_init_sql: init_sql.done.as_deref(),
                    switchover: switchover.recorded.as_deref(),
                    startup: in_place
                        .startup
                        .as_ref()
                        .map(|(instance, set)| (instance.as_str(), set.as_str())),
                },
            )),
        )
        .await?;
    let until_renewal = objects
        .renew_at
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .unwrap_or(RESYNC);
    let mut next = if users.done && proxy.done && monitoring.done {
        RESYNC
    } else {
        USERS_RETRY
    };
    next = init_sql.again.map_or(next, |again| next.min(again));
    next = restore.again.map_or(next, |again| next.min(again));
    next = healing.map_or(next, |again| next.min(again));
    next = tls_reload.map_or(next, |again| next.min(again));
    next = in_place.again.map_or(next, |again| next.min(again));
    next = adoption.again.map_or(next, |again| next.min(again));
    if rolling {
        next = next.min(ROLLOUT_POLL);
    }
    Ok(Action::requeue(next.min(until_renewal).max(RETRY)))
}

/// The operator's TLS client identity for this cluster's pods, from the namespace's root CA (`None` while the
/// root cannot sign).
fn operator_tls(objects: &build::Objects) -> Option<Arc<rustls::ClientConfig>> {
    let (root, _) = objects.root_ca.as_ref()?;
    let root = crate::pki::root::Root::from_secret(Some(root), SystemTime::now())?;
    client_tls::config(&root, crate::postgres::OPERATOR_USER)
        .inspect_err(
            |error| tracing::warn!(%error, "cannot make the operator's client certificate"),
        )
        .ok()
}

/// Retries a failed reconcile after a pause; other clusters carry on meanwhile.
pub fn error_policy(
    cluster: Arc<DeserializeGuard<PostgresCluster>>,
    error: &Error,
    _context: Arc<Context>,
) -> Action {
    tracing::warn!(cluster = %cluster.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(RETRY)
}
