//! The adoption of an existing data volume by a new cluster (`spec.dataSource.volumes.pgDataVolume`, built by
//! `crate::adopt`): while Patroni has not initialized the cluster, find the claim, make it the startup
//! instance's data volume, run the move Job, and hold the instances until it succeeded (then the startup
//! instance alone, until Patroni bootstrapped the cluster from the adopted data). Condition
//! `PostgresDataInitialized`, as for a restore.
//!
//! Problems (the claim does not exist or belongs to another object, a bad `directory`, a failed move) are a
//! False condition and a Warning event; the instances stay held and nothing is created for the startup
//! instance's data, so the claim can still be adopted once it is fixed.

use super::{Context, data_initialized, delete, events, jobs};
use crate::adopt;
use crate::build::Objects;
use crate::instances::plan::Plan;
use crate::instances::volumes::Existing;
use crate::naming::{labels, names};
use crate::pgbackrest::restore::{hold, startup_instance};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::events::EventType;
use std::time::Duration;
use tusk_api::PostgresCluster;
use tusk_api::status::Condition;

/// How soon a move in progress is looked at again.
const POLL: Duration = Duration::from_secs(5);
/// How soon a missing or refused claim is looked at again (claims without the cluster's labels are not
/// watched).
const RECHECK: Duration = Duration::from_secs(30);

/// What the adoption leaves for the build's objects, `status` and the next reconcile.
#[derive(Debug, Default)]
pub struct Adoption {
    /// `PostgresDataInitialized`, for a cluster that adopts a data volume.
    pub condition: Option<Condition>,
    /// When to look again.
    pub again: Option<Duration>,
    hold: Hold,
}

/// Which instances may run.
#[derive(Debug, Default, PartialEq)]
enum Hold {
    /// All of them: nothing to adopt, or done.
    #[default]
    Nothing,
    /// None; and the startup instance (if known) gets no data or WAL claim of its own while its adopted
    /// claims are refused.
    Everything { refused: Option<String> },
    /// Only the startup instance: its data is in place for Patroni's bootstrap.
    AllBut(String),
}

impl Adoption {
    /// Holds the built instance StatefulSets as the adoption requires, and leaves out the data claim Tusk
    /// would make for a startup instance whose adopted claim is refused.
    pub fn hold(&self, objects: &mut Objects) {
        match &self.hold {
            Hold::Nothing => {}
            Hold::Everything { refused } => {
                hold(&mut objects.statefulsets, None);
                if let Some(startup) = refused {
                    let own = [
                        names::instance_data_volume(startup),
                        names::instance_wal_volume(startup),
                    ];
                    objects.volumes.retain(|claim| {
                        !own.iter()
                            .any(|name| claim.metadata.name.as_deref() == Some(name.as_str()))
                    });
                }
            }
            Hold::AllBut(startup) => hold(&mut objects.statefulsets, Some(startup)),
        }
    }
}

/// Adopts the data volume of `cluster` while its data is not initialized: the claim goes into `volumes` (the
/// observed claims the build reads) labelled as the startup instance's, and the move Job is run. `initialized`:
/// Patroni has bootstrapped the cluster; `move_job_seen`: the move Job was observed. The Job is deleted once
/// the condition is read back, so that a reconcile of a cluster read before the status write never runs it
/// again.
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    plan: &Plan,
    volumes: &mut Existing,
    initialized: bool,
    move_job_seen: bool,
) -> Result<Adoption, kube::Error> {
    let Some(volume) = adopt::pg_data_volume(cluster) else {
        return Ok(Adoption::default());
    };
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    if data_initialized::recorded(cluster) || initialized {
        if data_initialized::recorded(cluster) && move_job_seen {
            delete::object(&jobs_api, &names::move_pgdata_job(&name)).await?;
        }
        let message = format!(
            "Patroni bootstrapped the cluster from the adopted volume {}",
            volume.pvc_name
        );
        return done(
            context,
            cluster,
            true,
            "Initialized",
            message,
            Hold::Nothing,
        )
        .await;
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(context.client.clone(), &namespace);
    let found = claims.get_opt(&volume.pvc_name).await?;
    let planned: Vec<(&str, &str)> = plan
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i.set.as_str()))
        .collect();
    // The instance the claim was given to by an earlier reconcile, else the startup instance.
    let labelled = found
        .as_ref()
        .filter(|claim| claim.labels().get(labels::CLUSTER) == Some(&name))
        .and_then(|claim| claim.labels().get(labels::INSTANCE))
        .and_then(|given| planned.iter().find(|(instance, _)| instance == given));
    let Some((startup, set)) = labelled
        .copied()
        .or_else(|| {
            let startup = startup_instance(cluster, planned.iter().copied())?;
            planned.iter().find(|(i, _)| *i == startup).copied()
        })
        .map(|(i, s)| (i.to_string(), s.to_string()))
    else {
        let hold = Hold::Everything { refused: None };
        return Ok(Adoption {
            hold,
            ..Adoption::default()
        });
    };
    let refused = || Hold::Everything {
        refused: Some(startup.clone()),
    };
    let source = match adopt::source_directory(cluster, volume) {
        Ok(source) => source,
        Err(message) => {
            return refuse(context, cluster, "InvalidDataSource", message, refused()).await;
        }
    };
    let found = match adoptable(cluster, "pgDataVolume", &volume.pvc_name, found) {
        Ok(found) => found,
        Err((reason, message)) => {
            return refuse(context, cluster, reason, message, refused()).await;
        }
    };
    volumes.insert(
        volume.pvc_name.clone(),
        adopt::as_instance_volume(cluster, &set, &startup, labels::ROLE_PGDATA, &found),
    );
    let wal_claim = adopt::pg_wal_volume(cluster).map(|wal| wal.pvc_name.as_str());
    if let Some(wal_claim) = wal_claim {
        let found = claims.get_opt(wal_claim).await?;
        let found = match adoptable(cluster, "pgWALVolume", wal_claim, found) {
            Ok(found) => found,
            Err((reason, message)) => {
                return refuse(context, cluster, reason, message, refused()).await;
            }
        };
        volumes.insert(
            wal_claim.to_string(),
            adopt::as_instance_volume(cluster, &set, &startup, labels::ROLE_PGWAL, &found),
        );
    }
    let Some(set_spec) = cluster.spec.instances.iter().find(|s| s.name == set) else {
        return Ok(Adoption::default());
    };
    let wanted = adopt::move_job(
        cluster,
        set_spec,
        &context.images,
        &volume.pvc_name,
        wal_claim,
        &source,
    );
    let moving = Hold::Everything { refused: None };
    let job_name = names::move_pgdata_job(&name);
    let Some(existing) = jobs_api.get_opt(&job_name).await? else {
        jobs::create(&jobs_api, &wanted).await?;
        tracing::info!(cluster = %name, instance = %startup, "move Job created");
        let ignored = adopt::not_adopted(cluster);
        if !ignored.is_empty() {
            let note = format!(
                "spec.dataSource.volumes: {} not adopted: Tusk adopts only pgDataVolume so far; the claims are left as they are",
                ignored.join(", ")
            );
            events::publish(
                context,
                cluster,
                EventType::Warning,
                "VolumesNotAdopted",
                note,
            )
            .await?;
        }
        let message = format!(
            "moving {source} of volume {} into place (Job {job_name})",
            volume.pvc_name
        );
        return done(context, cluster, false, "Moving", message, moving).await;
    };
    let state = jobs::state(&existing);
    if state != jobs::JobState::Succeeded && adopt::command(&existing) != adopt::command(&wanted) {
        delete::object(&jobs_api, &job_name).await?;
        let message = "the move Job is made again for the current spec".to_string();
        return done(context, cluster, false, "Moving", message, moving).await;
    }
    match state {
        jobs::JobState::Succeeded => {
            let message = format!(
                "the data of volume {} is in place; waiting for Patroni to bootstrap the cluster from it in instance {startup}",
                volume.pvc_name
            );
            done(
                context,
                cluster,
                false,
                "Moved",
                message,
                Hold::AllBut(startup),
            )
            .await
        }
        jobs::JobState::Failed => {
            let words = jobs::last_words(&context.client, &namespace, &job_name).await?;
            let message = format!(
                "the move of {source} failed (Job {job_name}): {words}; fix the volume or the spec, then delete the Job to try again"
            );
            refuse(context, cluster, "MoveFailed", message, moving).await
        }
        jobs::JobState::Running => {
            let message = format!(
                "moving {source} of volume {} into place (Job {job_name})",
                volume.pvc_name
            );
            done(context, cluster, false, "Moving", message, moving).await
        }
    }
}

/// The claim `name` of `field` (`pgDataVolume`, `pgWALVolume`), `found` by that name, if it may be adopted: it
/// exists and no other object controls it. Else the condition's reason and message.
fn adoptable(
    cluster: &PostgresCluster,
    field: &str,
    name: &str,
    found: Option<PersistentVolumeClaim>,
) -> Result<PersistentVolumeClaim, (&'static str, String)> {
    let namespace = cluster.namespace().unwrap_or_default();
    let Some(found) = found else {
        let message = format!(
            "PersistentVolumeClaim {name} (spec.dataSource.volumes.{field}.pvcName) not found in namespace {namespace}"
        );
        return Err(("VolumeNotFound", message));
    };
    if let Some(owner) = found
        .owner_references()
        .iter()
        .find(|owner| owner.controller == Some(true) && Some(&owner.uid) != cluster.uid().as_ref())
    {
        let message = format!(
            "PersistentVolumeClaim {name} (spec.dataSource.volumes.{field}) belongs to {} {}: it is not adopted",
            owner.kind, owner.name
        );
        return Err(("VolumeInUse", message));
    }
    Ok(found)
}

async fn done(
    context: &Context,
    cluster: &PostgresCluster,
    initialized: bool,
    reason: &str,
    message: String,
    hold: Hold,
) -> Result<Adoption, kube::Error> {
    Ok(Adoption {
        condition: Some(report(context, cluster, initialized, reason, message).await?),
        again: (!initialized).then_some(POLL),
        hold,
    })
}

async fn refuse(
    context: &Context,
    cluster: &PostgresCluster,
    reason: &str,
    message: String,
    hold: Hold,
) -> Result<Adoption, kube::Error> {
    Ok(Adoption {
        condition: Some(report(context, cluster, false, reason, message).await?),
        again: Some(RECHECK),
        hold,
    })
}

/// `PostgresDataInitialized` for an adoption: its steps are Normal Events, anything else a Warning.
async fn report(
    context: &Context,
    cluster: &PostgresCluster,
    initialized: bool,
    reason: &str,
    message: String,
) -> Result<Condition, kube::Error> {
    data_initialized::report(
        context,
        cluster,
        initialized,
        reason,
        message,
        &["Moving", "Moved"],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;

    fn objects() -> Objects {
        let statefulset = |name: &str| StatefulSet {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                labels: Some([(labels::INSTANCE.to_string(), name.to_string())].into()),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(1),
                ..Default::default()
            }),
            status: None,
        };
        let claim = |name: &str| PersistentVolumeClaim {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Objects {
            statefulsets: vec![statefulset("h-i-aaaa"), statefulset("h-i-bbbb")],
            volumes: vec![
                claim("h-i-aaaa-pgdata"),
                claim("h-i-aaaa-pgwal"),
                claim("h-i-bbbb-pgdata"),
            ],
            ..Objects::default()
        }
    }

    fn replicas(objects: &Objects) -> Vec<i32> {
        objects
            .statefulsets
            .iter()
            .map(|s| s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(-1))
            .collect()
    }

    #[test]
    fn a_refused_claim_holds_everything_and_makes_no_claim_for_the_startup_instance() {
        let mut built = objects();
        let adoption = Adoption {
            hold: Hold::Everything {
                refused: Some("h-i-aaaa".into()),
            },
            ..Adoption::default()
        };
        adoption.hold(&mut built);
        assert_eq!(replicas(&built), [0, 0]);
        let claims: Vec<_> = built
            .volumes
            .iter()
            .filter_map(|c| c.metadata.name.as_deref())
            .collect();
        assert_eq!(claims, ["h-i-bbbb-pgdata"]);
    }

    #[test]
    fn moved_data_lets_only_the_startup_instance_run() {
        let mut built = objects();
        let adoption = Adoption {
            hold: Hold::AllBut("h-i-aaaa".into()),
            ..Adoption::default()
        };
        adoption.hold(&mut built);
        assert_eq!(replicas(&built), [1, 0]);
        assert_eq!(built.volumes.len(), 3);
        let mut untouched = objects();
        Adoption::default().hold(&mut untouched);
        assert_eq!(replicas(&untouched), [1, 1]);
    }
}
