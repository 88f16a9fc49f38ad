//! What every backup Job shares, scheduled or manual: the pod that runs `pgbackrest backup` as the
//! repository host of the backup (see the module documentation of [`crate::pgbackrest`]).
//!
//! The pod reads `pgbackrest_repo.conf` and the client certificate. For a volume repository it mounts the
//! repository's claim at `/pgbackrest/repoN`, keeps its locks there, and must run on the repository host's
//! node (required pod affinity). It has no Kubernetes API access.

use super::projections::{config_mount, config_volume, job_projections};
use super::{STANZA, repo_path};
use crate::images::Images;
use crate::metadata::owned_by;
use crate::naming::labels::{self, Labels};
use crate::naming::{annotations, names};
use crate::pods;
use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::api::core::v1::{
    Affinity, PersistentVolumeClaimVolumeSource, PodAffinity, PodAffinityTerm, PodSpec,
    PodTemplateSpec, Volume, VolumeMount,
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

/// `pgbackrest backup` of `target`, then `options` (already checked).
pub fn backup_command(target: Target<'_>, options: &[String]) -> Vec<String> {
    let mut command: Vec<String> = vec![
        "pgbackrest".into(),
        "backup".into(),
        format!("--stanza={STANZA}"),
        format!("--repo={}", target.number),
    ];
    if target.volume {
        command.push(format!("--lock-path={}/lock", repo_path(target.number)));
    }
    command.extend([
        "--log-level-console=info".into(),
        "--log-level-file=off".into(),
    ]);
    command.extend(options.iter().cloned());
    command
}

/// The spec of a Job of `cluster` that runs `command` against `targets` (it mounts the volume ones).
/// `pod_labels` are the Job's own labels; `config_hash` goes on the pod as the `pgbackrest-hash` annotation.
pub fn job_spec(
    cluster: &PostgresCluster,
    images: &Images,
    targets: &[Target<'_>],
    command: Vec<String>,
    pod_labels: Labels,
    config_hash: &str,
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
                claim_name: names::repo_volume(name, target.name),
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
            spec: Some(PodSpec {
                containers: vec![container],
                volumes: Some(volumes),
                restart_policy: Some("Never".into()),
                automount_service_account_token: Some(false),
                enable_service_links: Some(false),
                security_context: Some(pods::pod_security_context(cluster)),
                image_pull_secrets: pods::image_pull_secrets(cluster),
                priority_class_name: settings.priority_class_name,
                affinity,
                ..PodSpec::default()
            }),
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
    use crate::pgbackrest::tests::hippo;

    const VOLUME: Target<'static> = Target {
        name: "repo1",
        number: 1,
        volume: true,
    };

    #[test]
    fn a_volume_backup_locks_on_the_repository_and_runs_beside_the_repo_host() {
        assert_eq!(
            backup_command(VOLUME, &["--type=full".into()]),
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
        let cloud = Target {
            name: "repo2",
            number: 2,
            volume: false,
        };
        assert!(
            !backup_command(cloud, &[])
                .iter()
                .any(|a| a.starts_with("--lock-path"))
        );

        let spec = job_spec(
            &hippo(),
            &Images::default(),
            &[VOLUME],
            vec!["pgbackrest".into()],
            labels::pgbackrest_backup_job("hippo", "repo1", labels::BACKUP_MANUAL),
            "abc",
        );
        let pod = spec.template.spec.as_ref().unwrap();
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
}
