//! The adoption of existing volumes by a new cluster (`spec.dataSource.volumes`, built by `crate::adopt`): while
//! Patroni has not initialized the cluster, find the claims, make them the startup instance's data (and WAL)
//! volume and the first volume repository's volume, run the move Jobs, and hold the instances until both
//! succeeded (then the startup instance alone, until Patroni bootstrapped the cluster from the adopted data).
//! The repository host (and with it the stanza and backups) waits for the repository's move. Condition
//! `PostgresDataInitialized`, as for a restore.
//!
//! Problems (a claim does not exist or belongs to another object, a bad `directory`, no volume repository for
//! an adopted repository, a failed move) are a False condition and a Warning event; the instances stay held
//! and nothing is created for the startup instance's data or the repository, so the claims can still be
//! adopted once it is fixed. A `pgBackRestVolume` Tusk does not adopt (with `dataSource.postgresCluster`, or
//! without `pgDataVolume`) is condition `PGBackRestVolumeAdopted` False and a Warning.

use super::{Context, data_initialized, delete, events, jobs, status};
use crate::adopt::{self, repository};
use crate::build::Objects;
use crate::instances::plan::Plan;
use crate::instances::volumes::Existing;
use crate::naming::{labels, names};
use crate::pgbackrest::restore::{hold, startup_instance};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::events::EventType;
use std::time::Duration;
use tusk_api::PostgresCluster;
use tusk_api::status::{Condition, ConditionStatus};

/// How soon a move in progress is looked at again.
const POLL: Duration = Duration::from_secs(5);
/// How soon a missing or refused claim is looked at again (claims without the cluster's labels are not
/// watched).
const RECHECK: Duration = Duration::from_secs(30);
/// The condition that says a `pgBackRestVolume` is not adopted (a Tusk addition; present only then).
pub const PGBACKREST_VOLUME_ADOPTED: &str = "PGBackRestVolumeAdopted";

/// What the adoption leaves for the build's objects, `status` and the next reconcile.
#[derive(Debug, Default)]
pub struct Adoption {
    /// `PostgresDataInitialized`, for a cluster that adopts a data volume.
    pub condition: Option<Condition>,
    /// [`PGBACKREST_VOLUME_ADOPTED`], when a `pgBackRestVolume` is given that Tusk does not adopt.
    pub unsupported: Option<Condition>,
    /// When to look again.
    pub again: Option<Duration>,
    hold: Hold,
    repository: Option<RepoHold>,
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

/// The adopted repository is not in place yet: the repository host has no replica.
#[derive(Clone, Debug, PartialEq)]
struct RepoHold {
    /// The repository host's StatefulSet.
    repo_host: String,
    /// The claim `<c>-<repo>` the build would make while the adopted claim is not taken yet (refused, or not
    /// looked at): left out, so that no second claim stands beside the adopted one.
    leave_out: Option<String>,
}

impl Adoption {
    /// Holds the built instance StatefulSets (and the repository host) as the adoption requires, and leaves
    /// out the claims Tusk would make for volumes whose adopted claims are refused.
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
        if let Some(held) = &self.repository {
            for statefulset in &mut objects.statefulsets {
                if statefulset.metadata.name.as_deref() == Some(held.repo_host.as_str())
                    && let Some(spec) = statefulset.spec.as_mut()
                {
                    spec.replicas = Some(0);
                }
            }
            if let Some(own) = &held.leave_out {
                objects
                    .volumes
                    .retain(|claim| claim.metadata.name.as_deref() != Some(own.as_str()));
            }
        }
    }

    /// Whether the adopted repository is not in place yet: no stanza Job or backup may use it.
    pub fn repository_held(&self) -> bool {
        self.repository.is_some()
    }
}

/// Adopts the volumes of `cluster` while its data is not initialized: the claims go into `volumes` (the
/// observed claims the build reads) labelled as the startup instance's and the first volume repository's,
/// and the move Jobs are run. `initialized`: Patroni has bootstrapped the cluster; `seen`: the cluster's Jobs.
/// The move Jobs are deleted once the condition is read back, so that a reconcile of a cluster read before
/// the status write never runs them again.
pub async fn reconcile(
    context: &Context,
    cluster: &PostgresCluster,
    plan: &Plan,
    volumes: &mut Existing,
    initialized: bool,
    seen: &[Job],
) -> Result<Adoption, kube::Error> {
    let unsupported = match repository::unsupported(cluster) {
        Some(message) => Some(report_unsupported(context, cluster, message).await?),
        None => None,
    };
    let name = cluster.name_any();
    let mut held = repository::pg_backrest_volume(cluster)
        .and(repository::repository(cluster))
        .filter(|_| !(data_initialized::recorded(cluster) || initialized))
        .map(|repo| RepoHold {
            repo_host: names::repo_host(&name),
            leave_out: Some(names::repo_volume(&name, repo.name)),
        });
    let mut adoption = adopt(
        context,
        cluster,
        plan,
        volumes,
        initialized,
        seen,
        &mut held,
    )
    .await?;
    adoption.unsupported = unsupported;
    adoption.repository = held;
    Ok(adoption)
}

/// [`reconcile`] but for what it reports; `held` is released when the repository is in place.
async fn adopt(
    context: &Context,
    cluster: &PostgresCluster,
    plan: &Plan,
    volumes: &mut Existing,
    initialized: bool,
    seen: &[Job],
    held: &mut Option<RepoHold>,
) -> Result<Adoption, kube::Error> {
    let Some(volume) = adopt::pg_data_volume(cluster) else {
        return Ok(Adoption::default());
    };
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(context.client.clone(), &namespace);
    let move_jobs = [
        names::move_pgdata_job(&name),
        names::move_pgbackrest_repo_job(&name),
    ];
    if data_initialized::recorded(cluster) || initialized {
        if data_initialized::recorded(cluster) {
            for job in &move_jobs {
                if seen.iter().any(|found| &found.name_any() == job) {
                    delete::object(&jobs_api, job).await?;
                }
            }
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
    let repo_move = match repository::pg_backrest_volume(cluster) {
        None => None,
        Some(repo_volume) => {
            let Some(repo) = repository::repository(cluster) else {
                let message = format!(
                    "spec.dataSource.volumes.pgBackRestVolume ({}) becomes the volume of the first volume repository, and spec.backups.pgbackrest.repos has none: nothing is adopted",
                    repo_volume.pvc_name
                );
                return refuse(context, cluster, "NoVolumeRepository", message, refused()).await;
            };
            let (from, to) = match repository::directories(repo_volume, repo) {
                Ok(paths) => paths,
                Err(message) => {
                    return refuse(context, cluster, "InvalidDataSource", message, refused()).await;
                }
            };
            let found = claims.get_opt(&repo_volume.pvc_name).await?;
            let found = match adoptable(cluster, "pgBackRestVolume", &repo_volume.pvc_name, found) {
                Ok(found) => found,
                Err((reason, message)) => {
                    return refuse(context, cluster, reason, message, refused()).await;
                }
            };
            volumes.insert(
                repo_volume.pvc_name.clone(),
                repository::as_repo_volume(cluster, repo, &found),
            );
            if let Some(held) = held.as_mut() {
                held.leave_out = None;
            }
            let job =
                repository::move_job(cluster, &context.images, &repo_volume.pvc_name, &from, &to);
            let doing = format!(
                "moving {from} of volume {} to {to} (Job {})",
                repo_volume.pvc_name,
                names::move_pgbackrest_repo_job(&name)
            );
            Some((job, doing))
        }
    };
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
    let moving = || Hold::Everything { refused: None };
    let data = step(context, &jobs_api, &wanted).await?;
    let repo = match &repo_move {
        Some((job, _)) => Some(step(context, &jobs_api, job).await?),
        None => None,
    };
    if let Step::Failed(words) = &data {
        let message = format!(
            "the move of {source} failed (Job {}): {words}; fix the volume or the spec, then delete the Job to try again",
            move_jobs[0]
        );
        return refuse(context, cluster, "MoveFailed", message, moving()).await;
    }
    if let (Some(Step::Failed(words)), Some((_, doing))) = (&repo, &repo_move) {
        let message = format!(
            "{doing} failed: {words}; fix the volume or the spec, then delete the Job to try again"
        );
        return refuse(context, cluster, "MoveFailed", message, moving()).await;
    }
    if matches!(repo, Some(Step::Succeeded)) {
        *held = None;
    }
    let mut under_way = Vec::new();
    if data != Step::Succeeded {
        under_way.push(format!(
            "moving {source} of volume {} into place (Job {})",
            volume.pvc_name, move_jobs[0]
        ));
    }
    if let (Some(step), Some((_, doing))) = (&repo, &repo_move)
        && *step != Step::Succeeded
    {
        under_way.push(doing.clone());
    }
    if under_way.is_empty() {
        let repo_note = repo_move
            .as_ref()
            .map(|_| " and the repository is in place")
            .unwrap_or_default();
        let message = format!(
            "the data of volume {} is in place{repo_note}; waiting for Patroni to bootstrap the cluster from it in instance {startup}",
            volume.pvc_name
        );
        return done(
            context,
            cluster,
            false,
            "Moved",
            message,
            Hold::AllBut(startup),
        )
        .await;
    }
    done(
        context,
        cluster,
        false,
        "Moving",
        under_way.join("; "),
        moving(),
    )
    .await
}

/// Where a move Job is.
#[derive(Debug, PartialEq)]
enum Step {
    /// Created now, or made again for the current spec.
    Started,
    /// Running.
    Running,
    /// Done.
    Succeeded,
    /// Given up, with its last words.
    Failed(String),
}

/// Creates the move Job `wanted` once (again when an unfinished one differs from it); where it is.
async fn step(context: &Context, api: &Api<Job>, wanted: &Job) -> Result<Step, kube::Error> {
    let name = wanted.name_any();
    let Some(existing) = api.get_opt(&name).await? else {
        jobs::create(api, wanted).await?;
        tracing::info!(job = %name, "move Job created");
        return Ok(Step::Started);
    };
    let state = jobs::state(&existing);
    if state != jobs::JobState::Succeeded && adopt::command(&existing) != adopt::command(wanted) {
        delete::object(api, &name).await?;
        return Ok(Step::Started);
    }
    Ok(match state {
        jobs::JobState::Succeeded => Step::Succeeded,
        jobs::JobState::Running => Step::Running,
        jobs::JobState::Failed => {
            let namespace = existing.namespace().unwrap_or_default();
            Step::Failed(jobs::last_words(&context.client, &namespace, &name).await?)
        }
    })
}

/// [`PGBACKREST_VOLUME_ADOPTED`] False with `message`, and a Warning when it is news.
async fn report_unsupported(
    context: &Context,
    cluster: &PostgresCluster,
    message: String,
) -> Result<Condition, kube::Error> {
    let condition = status::condition(
        cluster,
        PGBACKREST_VOLUME_ADOPTED,
        ConditionStatus::False,
        "NotSupported",
        message,
        Time(Timestamp::now()),
    );
    if status::is_news(cluster, &condition) {
        let note = condition.message.clone();
        events::publish(context, cluster, EventType::Warning, "NotSupported", note).await?;
    }
    Ok(condition)
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
        ..Adoption::default()
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
        ..Adoption::default()
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
    fn a_repository_not_in_place_holds_the_repository_host_and_makes_no_claim_beside_it() {
        let mut built = objects();
        let mut repo_host = built.statefulsets[0].clone();
        repo_host.metadata.name = Some("h-repo-host".into());
        repo_host.metadata.labels = None;
        built.statefulsets.push(repo_host);
        built.volumes.push(PersistentVolumeClaim {
            metadata: kube::api::ObjectMeta {
                name: Some("h-repo1".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        let refused = Adoption {
            hold: Hold::Everything { refused: None },
            repository: Some(RepoHold {
                repo_host: "h-repo-host".into(),
                leave_out: Some("h-repo1".into()),
            }),
            ..Adoption::default()
        };
        assert!(refused.repository_held());
        let mut held = built.clone();
        refused.hold(&mut held);
        assert_eq!(replicas(&held), [0, 0, 0], "the repository host too");
        assert!(
            !held
                .volumes
                .iter()
                .any(|c| c.metadata.name.as_deref() == Some("h-repo1"))
        );
        let moved_data_only = Adoption {
            hold: Hold::AllBut("h-i-aaaa".into()),
            repository: Some(RepoHold {
                repo_host: "h-repo-host".into(),
                leave_out: None,
            }),
            ..Adoption::default()
        };
        let mut held = built.clone();
        moved_data_only.hold(&mut held);
        assert_eq!(replicas(&held), [1, 0, 0]);
        assert_eq!(held.volumes.len(), 4, "the claims are kept");
        let moved = Adoption {
            hold: Hold::AllBut("h-i-aaaa".into()),
            ..Adoption::default()
        };
        assert!(!moved.repository_held());
        moved.hold(&mut built);
        assert_eq!(replicas(&built), [1, 0, 1], "the repository host runs");
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
