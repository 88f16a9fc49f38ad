//! The monitoring stage: enables the exporter's role in PostgreSQL (`monitoring::sql`) and installs the
//! sequence function in every database (`monitoring::sequences`) when
//! `status.monitoring.exporterConfiguration` (as PGO) differs from what the Secret's verifier calls for, and
//! disables its login once the exporter is gone from the spec. The sidecar, its Secret and queries are built
//! and applied with the other objects.

use super::{Context, events, sql};
use crate::build;
use crate::monitoring::{self, VERIFIER};
use crate::naming::names;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::events::EventType;
use tusk_api::PostgresCluster;
use tusk_api::status::MonitoringStatus;

/// What the stage leaves for `status`.
pub struct Outcome {
    /// `status.monitoring`: `None` once the exporter is gone from the spec and its role cannot log in.
    pub status: Option<MonitoringStatus>,
    /// False when the SQL could not run yet: try again soon.
    pub done: bool,
}

/// Brings the monitoring role in line with `spec.monitoring`. `leader` is the Ready leader pod, if any. Like
/// the users' SQL it waits while the cluster is shut down or a standby.
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    objects: &build::Objects,
    leader: Option<&Pod>,
) -> Result<Outcome, kube::Error> {
    let name = cluster.name_any();
    let recorded = cluster
        .status
        .as_ref()
        .and_then(|s| s.monitoring.as_ref())
        .and_then(|m| m.exporter_configuration.clone())
        // An in-place restore brings back the roles of its target time: the role is written again.
        .filter(|_| !crate::pgbackrest::in_place::active(cluster));
    let wanted = monitoring::exporter(cluster).map(|_| {
        let verifier = objects
            .role_secrets
            .iter()
            .find(|s| s.name_any() == names::monitoring_secret(&name))
            .and_then(|s| s.data.as_ref())
            .and_then(|data| data.get(VERIFIER))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .unwrap_or_default();
        (monitoring::sql::revision(&verifier), verifier)
    });
    let unchanged = |done| Outcome {
        status: recorded.clone().map(|revision| MonitoringStatus {
            exporter_configuration: Some(revision),
        }),
        done,
    };
    let (statements, in_every_database) = match (&wanted, &recorded) {
        (Some((revision, _)), Some(recorded)) if revision == recorded => {
            return Ok(unchanged(true));
        }
        (None, None) => return Ok(unchanged(true)),
        (Some((_, verifier)), _) => (
            monitoring::sql::enable(verifier),
            Some(monitoring::sequences::install_in_database()),
        ),
        (None, Some(_)) => (monitoring::sql::disable(), None),
    };
    let standby = cluster.spec.standby.as_ref().is_some_and(|s| s.enabled);
    if cluster.spec.shutdown == Some(true) || standby {
        return Ok(unchanged(false));
    }
    let round = async {
        let primary = sql::primary(cluster, objects, leader)?;
        sql::execute(&primary, &statements).await?;
        match &in_every_database {
            Some(statements) => sql::execute_in_every_database(&primary, statements).await,
            None => Ok(()),
        }
    };
    match round.await {
        Ok(()) => {
            let (reason, note) = match wanted {
                Some(_) => (
                    "MonitoringEnabled",
                    "the exporter's role ccp_monitoring can log in and count sequences in every database",
                ),
                None => (
                    "MonitoringDisabled",
                    "the exporter's role ccp_monitoring can no longer log in",
                ),
            };
            events::publish(context, cluster, EventType::Normal, reason, note.into()).await?;
            Ok(Outcome {
                status: wanted.map(|(revision, _)| MonitoringStatus {
                    exporter_configuration: Some(revision),
                }),
                done: true,
            })
        }
        Err(error) => {
            tracing::info!(cluster = %name, %error, "the exporter's role not written yet");
            Ok(unchanged(false))
        }
    }
}
