//! The users stage: makes the spec's users and databases exist on the primary (`sql::users`), only when
//! something they depend on changed since the last time it succeeded: `status.usersRevision` (as PGO) holds a
//! digest of the users' spec and the verifiers of their Secrets (`postgres::users::revision`).

use super::{Context, events, sql};
use crate::build;
use crate::naming::names;
use crate::postgres::users::{self, User};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::events::EventType;
use tusk_api::PostgresCluster;

/// What the users stage leaves for `status`.
pub struct Outcome {
    /// The `usersRevision` to record: the new one after a successful round, else the one recorded before.
    pub revision: Option<String>,
    /// False when the SQL could not run yet (no primary, PostgreSQL not accepting connections): try soon.
    pub done: bool,
}

/// Runs the users' SQL when their revision changed. A cluster that is shut down is skipped, and so is a
/// standby (read-only: its roles come from the primary cluster). Options that are not role attributes are
/// reported as a Warning event (`InvalidUserOptions`) and the rest is applied. `leader` is the Ready leader
/// pod, if any.
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    objects: &build::Objects,
    leader: Option<&Pod>,
) -> Outcome {
    let previous = cluster
        .status
        .as_ref()
        .and_then(|status| status.users_revision.clone());
    let unchanged = Outcome {
        revision: previous.clone(),
        done: true,
    };
    let standby = cluster.spec.standby.as_ref().is_some_and(|s| s.enabled);
    if cluster.spec.shutdown == Some(true) || standby {
        return unchanged;
    }
    let name = cluster.name_any();
    let wanted = crate::users::wanted(cluster);
    let verifiers: Vec<String> = wanted
        .iter()
        .map(|user| {
            let secret = names::user_secret(&name, &user.name);
            objects
                .user_secrets
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(secret.as_str()))
                .and_then(|s| s.data.as_ref())
                .and_then(|data| data.get("verifier"))
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
                .unwrap_or_default()
        })
        .collect();
    let list: Vec<User<'_>> = wanted
        .iter()
        .zip(&verifiers)
        .map(|(spec, verifier)| User { spec, verifier })
        .collect();
    let revision = users::revision(&list);
    if previous.as_deref() == Some(revision.as_str()) {
        return unchanged;
    }
    let round = async {
        let primary = sql::primary(cluster, objects, leader)?;
        sql::users(&primary, &list).await
    };
    match round.await {
        Ok(rejected) => {
            for (user, reason) in rejected {
                let note = format!("the options of user {user} were not applied: {reason}");
                if let Err(error) = events::publish(
                    context,
                    cluster,
                    EventType::Warning,
                    "InvalidUserOptions",
                    note,
                )
                .await
                {
                    tracing::warn!(cluster = %name, %error, "cannot publish an event");
                }
            }
            tracing::info!(cluster = %name, %revision, "users and databases written");
            Outcome {
                revision: Some(revision),
                done: true,
            }
        }
        Err(error) => {
            tracing::info!(cluster = %name, %error, "users and databases not written yet");
            Outcome {
                revision: previous,
                done: false,
            }
        }
    }
}
