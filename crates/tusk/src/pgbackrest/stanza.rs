//! The Job that creates the stanza in the repositories (`pgbackrest stanza-create`), which must exist before
//! WAL can be archived or a backup taken. PGO runs the command in a pod through `pods/exec`; Tusk runs it in a
//! Job shaped like a backup Job (the repository host's part, see [`super::jobs`]). pgBackRest creates the
//! stanza in every configured repository at once (`stanza-create` takes no `--repo`), so the Job mounts every
//! volume repository. The command is idempotent: where the stanza of this cluster exists it changes nothing.

use super::jobs::{Target, job_spec, lock_option, lock_repo};
use super::{ConfigError, STANZA, repos};
use crate::images::Images;
use crate::instances::volumes::Existing;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::api::batch::v1::Job;
use tusk_api::PostgresCluster;

/// How often the stanza Job's pod is retried before the Job fails (the controller then starts a new one).
const BACKOFF_LIMIT: i32 = 3;

/// The stanza Job of `cluster` for the repository configuration of hash `config_hash`; `None` without
/// repositories. The volume repositories' claims are found among `claims` ([`super::volumes::claim_name`]).
pub fn stanza_job(
    cluster: &PostgresCluster,
    images: &Images,
    config_hash: &str,
    claims: &Existing,
) -> Result<Option<Job>, ConfigError> {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let repos = repos(cluster)?;
    if repos.is_empty() {
        return Ok(None);
    }
    let targets: Vec<Target<'_>> = repos
        .iter()
        .map(|(number, repo, _)| Target {
            name: &repo.name,
            number: *number,
            volume: repo.volume.is_some(),
        })
        .collect();
    let ours = labels::pgbackrest_stanza_job(name);
    let mut spec = job_spec(
        cluster,
        images,
        &targets,
        command(cluster),
        ours.clone(),
        config_hash,
        claims,
    );
    spec.backoff_limit = Some(BACKOFF_LIMIT);
    Ok(Some(Job {
        metadata: owned_by(
            cluster,
            names::stanza_job(name, config_hash),
            cluster.spec.backups.pgbackrest.metadata.as_ref(),
            ours,
        ),
        spec: Some(spec),
        ..Job::default()
    }))
}

/// `pgbackrest stanza-create`, locked as backups are ([`lock_repo`]).
fn command(cluster: &PostgresCluster) -> Vec<String> {
    let mut command = vec![
        "pgbackrest".to_string(),
        "stanza-create".into(),
        format!("--stanza={STANZA}"),
    ];
    command.extend(lock_repo(cluster).map(lock_option));
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
    fn one_job_for_every_repository_named_after_the_configuration() {
        let job = stanza_job(
            &hippo(),
            &Images::default(),
            "0123456789abcdef",
            &Existing::new(),
        )
        .expect("valid")
        .expect("a job");
        assert_eq!(job.metadata.name.as_deref(), Some("hippo-stanza-01234567"));
        let labels = job.metadata.labels.as_ref().expect("labels");
        assert!(labels.contains_key(labels::PGBACKREST_STANZA));
        let spec = job.spec.as_ref().expect("spec");
        assert_eq!(spec.backoff_limit, Some(BACKOFF_LIMIT));
        let pod = spec.template.spec.as_ref().expect("pod");
        assert_eq!(
            pod.containers[0].command.as_deref().unwrap_or_default(),
            [
                "pgbackrest",
                "stanza-create",
                "--stanza=db",
                "--lock-path=/pgbackrest/repo1/lock",
                "--log-level-console=info",
                "--log-level-file=off"
            ]
        );
        assert!(
            pod.volumes
                .iter()
                .flatten()
                .any(|v| v.name == "repo1" && v.persistent_volume_claim.is_some()),
            "the volume repository is mounted"
        );
    }
}
