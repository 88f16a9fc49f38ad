//! The Jobs that create the stanza in each repository (`pgbackrest stanza-create`), which must exist before
//! WAL can be archived or a backup taken. PGO runs the command in a pod through `pods/exec`; Tusk runs it in a
//! Job shaped like a backup Job (the repository host's part, see [`super::jobs`]). The command is idempotent:
//! on a repository that already has the stanza of this cluster it succeeds and changes nothing.

use super::jobs::{Target, job_spec};
use super::{ConfigError, STANZA, repo_path, repos};
use crate::images::Images;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::api::batch::v1::Job;
use tusk_api::PostgresCluster;

/// How often a stanza Job's pod is retried before the Job fails (the controller then starts a new one).
const BACKOFF_LIMIT: i32 = 3;

/// One Job per repository of `cluster`, for the repository configuration of hash `config_hash`.
pub fn stanza_jobs(
    cluster: &PostgresCluster,
    images: &Images,
    config_hash: &str,
) -> Result<Vec<Job>, ConfigError> {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let metadata = cluster.spec.backups.pgbackrest.metadata.as_ref();
    repos(cluster)?
        .into_iter()
        .map(|(number, repo, _)| {
            let target = Target {
                name: &repo.name,
                number,
                volume: repo.volume.is_some(),
            };
            let ours = labels::pgbackrest_stanza_job(name, &repo.name);
            let mut spec = job_spec(
                cluster,
                images,
                target,
                command(target),
                ours.clone(),
                config_hash,
            );
            spec.backoff_limit = Some(BACKOFF_LIMIT);
            Ok(Job {
                metadata: owned_by(
                    cluster,
                    names::stanza_job(name, &repo.name, config_hash),
                    metadata,
                    ours,
                ),
                spec: Some(spec),
                ..Job::default()
            })
        })
        .collect()
}

/// `pgbackrest stanza-create` for `target` (a volume repository keeps its locks on the volume, as backups do).
fn command(target: Target<'_>) -> Vec<String> {
    let mut command = vec![
        "pgbackrest".to_string(),
        "stanza-create".into(),
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
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::hippo;

    #[test]
    fn one_job_per_repository_named_after_the_configuration() {
        let jobs = stanza_jobs(&hippo(), &Images::default(), "0123456789abcdef").expect("jobs");
        assert_eq!(jobs.len(), 1);
        let job = &jobs[0];
        assert_eq!(
            job.metadata.name.as_deref(),
            Some("hippo-stanza-repo1-01234567")
        );
        let labels = job.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels[labels::PGBACKREST_REPO], "repo1");
        assert!(labels.contains_key(labels::PGBACKREST_STANZA));
        let spec = job.spec.as_ref().expect("spec");
        assert_eq!(spec.backoff_limit, Some(BACKOFF_LIMIT));
        let container = &spec.template.spec.as_ref().expect("pod").containers[0];
        assert_eq!(
            container.command.as_deref().unwrap_or_default()[..4],
            ["pgbackrest", "stanza-create", "--stanza=db", "--repo=1"]
        );
    }
}
