//! What every backup Job shares, scheduled or manual: the pod that runs `pgbackrest backup` as the
//! repository host of the backup (see the module documentation of [`crate::pgbackrest`]).
//!
//! The pod reads `pgbackrest_repo.conf` and the client certificate. For a volume repository it mounts the
//! repository's claim at `/pgbackrest/repoN`, keeps its locks there, and must run on the repository host's
//! node (required pod affinity). It has no Kubernetes API access.

use super::projections::{config_mount, config_volume, job_projections};
use super::volumes::claim_name;
use super::{STANZA, repo_number, repo_path};
use crate::images::Images;
use crate::instances::volumes::Existing;
use crate::metadata::owned_by;
use crate::naming::annotations;
use crate::naming::labels::{self, Labels};
use crate::pods;
use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::api::core::v1::{
    Affinity, PersistentVolumeClaimVolumeSource, PodAffinity, PodAffinityTerm, PodTemplateSpec,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use tusk_api::PostgresCluster;

/// The name of the container of backup Jobs.
pub const CONTAINER: &str = "pgbackrest";

/// The repository a Job backs up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// Its name, `repoN`.
    pub name: &'a str,
    /// Its number, N.
    pub number: u8,
    /// Whether it is a `volume` repository (else a cloud one).
    pub volume: bool,
}

/// The repository on whose volume every pgBackRest Job of `cluster` keeps its locks: the first `volume`
/// repository. pgBackRest's locks are files, so Jobs in different pods exclude each other only through a
/// shared directory; with it, two backups of the cluster never run at once, whatever their repositories (a
/// Job that meets the lock fails and is retried). A cluster with cloud repositories only has none.
pub fn lock_repo(cluster: &PostgresCluster) -> Option<Target<'_>> {
    cluster
        .spec
        .backups
        .pgbackrest
        .repos
        .iter()
        .filter(|repo| repo.volume.is_some())
        .find_map(|repo| {
            Some(Target {
                name: &repo.name,
                number: repo_number(&repo.name, "").ok()?,
                volume: true,
            })
        })
}

/// `--lock-path` on the volume of `lock` (see [`lock_repo`]).
pub fn lock_option(lock: Target<'_>) -> String {
    format!("--lock-path={}/lock", repo_path(lock.number))
}

/// The spec of a Job of `cluster` that runs `pgbackrest backup` into `target` with `options` (already
/// checked), locked on the [`lock_repo`]; the arguments after `target` are [`job_spec`]'s.
pub fn backup_job_spec(
    cluster: &PostgresCluster,
    images: &Images,
    target: Target<'_>,
    options: &[String],
    pod_labels: Labels,
    config_hash: &str,
    claims: &Existing,
) -> JobSpec {
    let lock = lock_repo(cluster);
    let mut command: Vec<String> = vec![
        "pgbackrest".into(),
        "backup".into(),
        format!("--stanza={STANZA}"),
        format!("--repo={}", target.number),
    ];
    command.extend(lock.map(lock_option));
    command.extend([
        "--log-level-console=info".into(),
        "--log-level-file=off".into(),
    ]);
    command.extend(options.iter().cloned());
    let mut mounted = vec![target];
    mounted.extend(lock.filter(|lock| *lock != target));
    job_spec(
        cluster,
        images,
        &mounted,
        command,
        pod_labels,
        config_hash,
        claims,
    )
}

/// The spec of a Job of `cluster` that runs `command` against `targets` (it mounts the volume ones).
/// `pod_labels` are the Job's own labels; `config_hash` goes on the pod as the `pgbackrest-hash` annotation.
/// A volume repository's claim is the one `claims` (the observed ones) label as its volume
/// ([`claim_name`]): an adopted claim keeps its name.
pub fn job_spec(
    cluster: &PostgresCluster,
    images: &Images,
    targets: &[Target<'_>],
    command: Vec<String>,
    pod_labels: Labels,
    config_hash: &str,
    claims: &Existing,
) -> JobSpec {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let spec = &cluster.spec.backups.pgbackrest;
    let settings = spec.jobs.clone().unwrap_or_default();
    let meta = owned_by(cluster, String::new(), spec.metadata.as_ref(), pod_labels);
    let mut pod_annotations = meta.annotations.unwrap_or_default();
    pod_annotations.insert(
        annotations::PGBACKREST_CONFIG_HASH.into(),
        config_hash.into(),
    );
    let mut volumes = vec![config_volume(job_projections(cluster)), pods::tmp_volume()];
    let mut mounts = vec![config_mount(), pods::tmp_mount()];
    let mut affinity = None;
    for target in targets.iter().filter(|target| target.volume) {
        volumes.push(Volume {
            name: target.name.into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(name, target.name, claims),
                read_only: Some(false),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: target.name.into(),
            mount_path: repo_path(target.number),
            ..VolumeMount::default()
        });
        affinity = Some(with_repo_host(name));
    }
    let container = k8s_openapi::api::core::v1::Container {
        command: Some(command),
        resources: settings.resources,
        volume_mounts: Some(mounts),
        ..pods::container(cluster, CONTAINER, images.pgbackrest(cluster))
    };
    JobSpec {
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: meta.labels,
                annotations: Some(pod_annotations),
                ..ObjectMeta::default()
            }),
            spec: Some(pods::job_pod_spec(
                cluster,
                container,
                volumes,
                pods::Scheduling {
                    affinity,
                    tolerations: None,
                    priority_class_name: settings.priority_class_name,
                },
            )),
        },
        ..JobSpec::default()
    }
}

/// Required: on the node of the repository host, whose volume the Job mounts.
fn with_repo_host(cluster: &str) -> Affinity {
    Affinity {
        pod_affinity: Some(PodAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(LabelSelector {
                    match_labels: Some(labels::pgbackrest_dedicated(cluster)),
                    ..LabelSelector::default()
                }),
                topology_key: "kubernetes.io/hostname".into(),
                ..PodAffinityTerm::default()
            }]),
            ..PodAffinity::default()
        }),
        ..Affinity::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::{hippo, hippo_with};

    const VOLUME: Target<'static> = Target {
        name: "repo1",
        number: 1,
        volume: true,
    };

    #[test]
    fn a_backup_locks_on_the_first_volume_repository_and_runs_beside_the_repo_host() {
        let spec = backup_job_spec(
            &hippo(),
            &Images::default(),
            VOLUME,
            &["--type=full".into()],
            labels::pgbackrest_backup_job("hippo", "repo1", labels::BACKUP_MANUAL),
            "abc",
            &Existing::new(),
        );
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(
            pod.containers[0].command.as_deref().unwrap_or_default(),
            [
                "pgbackrest",
                "backup",
                "--stanza=db",
                "--repo=1",
                "--lock-path=/pgbackrest/repo1/lock",
                "--log-level-console=info",
                "--log-level-file=off",
                "--type=full"
            ]
        );
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        let term = &pod
            .affinity
            .as_ref()
            .unwrap()
            .pod_affinity
            .as_ref()
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()[0];
        assert_eq!(term.topology_key, "kubernetes.io/hostname");
        assert_eq!(
            pod.volumes.as_ref().unwrap()[2]
                .persistent_volume_claim
                .as_ref()
                .unwrap()
                .claim_name,
            "hippo-repo1"
        );
        let meta = spec.template.metadata.as_ref().unwrap();
        assert_eq!(
            meta.labels.as_ref().unwrap()[labels::PGBACKREST_BACKUP],
            "manual"
        );
        assert_eq!(
            meta.annotations.as_ref().unwrap()[annotations::PGBACKREST_CONFIG_HASH],
            "abc"
        );
    }

    #[test]
    fn a_cloud_backup_shares_the_volume_lock_when_there_is_one() {
        let cloud = Target {
            name: "repo2",
            number: 2,
            volume: false,
        };
        let mixed = hippo_with(
            "repos: [{name: repo2, s3: {bucket: b, endpoint: e, region: r}}, {name: repo3, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]",
            "",
        );
        let spec = backup_job_spec(
            &mixed,
            &Images::default(),
            cloud,
            &[],
            Labels::new(),
            "abc",
            &Existing::new(),
        );
        let pod = spec.template.spec.as_ref().unwrap();
        let command = pod.containers[0].command.clone().unwrap_or_default();
        assert!(command.contains(&"--repo=2".to_string()));
        assert!(command.contains(&"--lock-path=/pgbackrest/repo3/lock".to_string()));
        assert!(
            pod.volumes
                .iter()
                .flatten()
                .any(|v| v.name == "repo3" && v.persistent_volume_claim.is_some()),
            "the lock's volume is mounted"
        );
        assert!(pod.affinity.is_some(), "beside the repository host");

        let cloud_only = crate::pgbackrest::tests::hippo_s3();
        let spec = backup_job_spec(
            &cloud_only,
            &Images::default(),
            cloud,
            &[],
            Labels::new(),
            "abc",
            &Existing::new(),
        );
        let pod = spec.template.spec.as_ref().unwrap();
        let command = pod.containers[0].command.clone().unwrap_or_default();
        assert!(!command.iter().any(|a| a.starts_with("--lock-path")));
        assert!(pod.affinity.is_none());
    }
}
