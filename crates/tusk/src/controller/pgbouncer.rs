//! The PgBouncer stage: installs its lookup role and function in PostgreSQL (`sql::install_pgbouncer`) when
//! `status.proxy.pgBouncer.postgresRevision` (as PGO) differs from what the spec and its Secret's verifier
//! call for, removes them once `spec.proxy` is gone, and reports the Deployment's pods in the status. Its
//! Kubernetes objects are built and applied with the others.

use super::{Context, events, sql, status};
use crate::build;
use crate::naming::names;
use crate::pgbouncer::certificate::{self, Check};
use crate::pgbouncer::{secret, sql as bouncer_sql};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::events::EventType;
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::status::{Condition, ConditionStatus};
use tusk_api::status::{PgBouncerStatus, PostgresProxyStatus};

/// What the stage leaves for `status`.
pub struct Outcome {
    /// `status.proxy`: `None` once PgBouncer is gone from the spec and from PostgreSQL.
    pub status: Option<PostgresProxyStatus>,
    /// False when the SQL could not run yet: try again soon.
    pub done: bool,
    /// With PgBouncer's `customTLSSecret`, condition [`CERTIFICATE_CONDITION`].
    pub condition: Option<Condition>,
}

/// The condition that says whether PgBouncer's `customTLSSecret` holds a certificate for its Service.
pub const CERTIFICATE_CONDITION: &str = "ProxyCertificateValid";

/// Condition [`CERTIFICATE_CONDITION`] for PgBouncer's `customTLSSecret`, with a Warning Event when it turns
/// False or its message changes (a certificate that does not name the Service breaks `verify-full` clients;
/// PgBouncer still runs with it).
async fn certificate_condition(
    context: &Context,
    cluster: &PostgresCluster,
    secrets: &BTreeMap<String, Secret>,
) -> Result<Option<Condition>, kube::Error> {
    let Some(projection) =
        crate::pgbouncer::spec(cluster).and_then(|bouncer| bouncer.custom_tls_secret.as_ref())
    else {
        return Ok(None);
    };
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let service = names::pgbouncer(&name);
    let check = certificate::check(
        projection,
        secrets,
        &name,
        &namespace,
        names::DEFAULT_CLUSTER_DOMAIN,
    );
    let field = "spec.proxy.pgBouncer.customTLSSecret";
    let (state, reason, message) = match check {
        Check::NamesService => (
            ConditionStatus::True,
            "CertificateNamesService",
            format!("{field}: the certificate names Service {service}"),
        ),
        Check::Missing(why) => (
            ConditionStatus::False,
            "CertificateMissing",
            format!("{field}: {why}"),
        ),
        Check::Unreadable(why) => (
            ConditionStatus::False,
            "CertificateUnreadable",
            format!("{field}: {why}"),
        ),
        Check::OtherNames(named) => (
            ConditionStatus::False,
            "CertificateNameMismatch",
            format!(
                "{field}: the certificate of Secret {} names {} but not Service {service} (as common name or DNS name): verify-full clients of PgBouncer will fail",
                projection.name,
                if named.is_empty() {
                    "nothing".to_string()
                } else {
                    named.join(", ")
                },
            ),
        ),
    };
    let condition = status::condition(
        cluster,
        CERTIFICATE_CONDITION,
        state,
        reason,
        message,
        Time(Timestamp::now()),
    );
    if condition.status == ConditionStatus::False && status::is_news(cluster, &condition) {
        events::publish(
            context,
            cluster,
            EventType::Warning,
            &condition.reason,
            condition.message.clone(),
        )
        .await?;
    }
    Ok(Some(condition))
}

/// Brings PostgreSQL in line with `spec.proxy` and reads PgBouncer's Deployment. `leader` is the Ready
/// leader pod, if any. Like the users' SQL it waits while the cluster is shut down or a standby (its roles
/// come from its primary cluster).
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    objects: &build::Objects,
    secrets: &BTreeMap<String, Secret>,
    leader: Option<&Pod>,
) -> Result<Outcome, kube::Error> {
    let name = cluster.name_any();
    let condition = certificate_condition(context, cluster, secrets).await?;
    let recorded = cluster
        .status
        .as_ref()
        .and_then(|s| s.proxy.as_ref())
        .and_then(|p| p.pg_bouncer.as_ref())
        .and_then(|p| p.postgres_revision.clone())
        // An in-place restore brings back the roles of its target time: the lookup is installed again.
        .filter(|_| !crate::pgbackrest::in_place::active(cluster));
    let wanted = crate::pgbouncer::spec(cluster).map(|_| {
        let verifier = objects
            .certificates
            .iter()
            .find(|s| s.name_any() == names::pgbouncer(&name))
            .and_then(|s| s.data.as_ref())
            .and_then(|data| data.get(secret::VERIFIER))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .unwrap_or_default();
        (bouncer_sql::revision(&verifier), verifier)
    });
    let standby = cluster.spec.standby.as_ref().is_some_and(|s| s.enabled);
    let can_run = cluster.spec.shutdown != Some(true) && !standby;
    let revision = match (&wanted, &recorded) {
        (Some((revision, _)), Some(recorded)) if revision == recorded => Ok(Some(recorded.clone())),
        (None, None) => Ok(None),
        _ if !can_run => Err(recorded.clone()),
        (Some((revision, verifier)), _) => {
            let round = async {
                let primary = sql::primary(cluster, objects, leader)?;
                sql::install_pgbouncer(&primary, verifier).await
            };
            match round.await {
                Ok(()) => {
                    let note =
                        "PgBouncer's lookup role and function are installed in every database";
                    events::publish(
                        context,
                        cluster,
                        EventType::Normal,
                        "PgBouncerInstalled",
                        note.into(),
                    )
                    .await?;
                    Ok(Some(revision.clone()))
                }
                Err(error) => {
                    tracing::info!(cluster = %name, %error, "PgBouncer's lookup not installed yet");
                    Err(recorded.clone())
                }
            }
        }
        (None, Some(_)) => {
            let round = async {
                let primary = sql::primary(cluster, objects, leader)?;
                sql::remove_pgbouncer(&primary).await
            };
            match round.await {
                Ok(()) => {
                    let note = "PgBouncer's lookup role and function are removed";
                    events::publish(
                        context,
                        cluster,
                        EventType::Normal,
                        "PgBouncerRemoved",
                        note.into(),
                    )
                    .await?;
                    Ok(None)
                }
                Err(error) => {
                    tracing::info!(cluster = %name, %error, "PgBouncer's lookup not removed yet");
                    Err(recorded.clone())
                }
            }
        }
    };
    let done = revision.is_ok();
    let revision = revision.unwrap_or_else(|kept| kept);
    let mut pods = PgBouncerStatus {
        postgres_revision: revision,
        ..PgBouncerStatus::default()
    };
    if wanted.is_some() {
        let deployments: Api<Deployment> = Api::namespaced(
            context.client.clone(),
            &cluster.namespace().unwrap_or_default(),
        );
        let observed = deployments
            .get_opt(&names::pgbouncer(&name))
            .await?
            .and_then(|d| d.status);
        pods.replicas = observed.as_ref().and_then(|s| s.replicas);
        pods.ready_replicas = observed.as_ref().and_then(|s| s.ready_replicas);
    }
    let status =
        (wanted.is_some() || pods.postgres_revision.is_some()).then_some(PostgresProxyStatus {
            pg_bouncer: Some(pods),
        });
    Ok(Outcome {
        status,
        done,
        condition,
    })
}
