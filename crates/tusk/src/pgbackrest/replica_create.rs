//! The backup taken as soon as the stanza exists (PGO's "replica-create" backup): a full backup into the first
//! repository, so that a cluster has a backup from its first minutes and new replicas can be made from it. It
//! asks for an immediate checkpoint (`--start-fast`): the cluster is new and small, and without it the backup
//! waits for the next scheduled checkpoint (up to `checkpoint_timeout`, five minutes by default).
//!
//! It is taken once per repository *location* ([`repo_options_hash`]): the Job's name carries that hash, so
//! moving the first repository to another bucket or type takes a new one, while changing a schedule, the
//! volume's size or a global option does not.

use super::config::hash;
use super::jobs::{Target, backup_job_spec};
use super::{ConfigError, repos};
use crate::images::Images;
use crate::instances::volumes::Existing;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::api::batch::v1::Job;
use tusk_api::PostgresCluster;
use tusk_api::pgbackrest::PgBackRestRepo;

/// How often the backup's pod is retried before the Job fails (the controller then reports it and starts a
/// new one).
const BACKOFF_LIMIT: i32 = 2;

/// The hash of where `repo` keeps its backups: its name, its type and, for a cloud repository, its bucket or
/// container, endpoint and region (PGO's `repoOptionsHash`).
pub fn repo_options_hash(repo: &PgBackRestRepo) -> String {
    let location = match (&repo.volume, &repo.s3, &repo.gcs, &repo.azure) {
        (Some(_), ..) => "volume".to_string(),
        (_, Some(s3), ..) => format!("s3 {}", serde_json::json!(s3)),
        (_, _, Some(gcs), _) => format!("gcs {}", serde_json::json!(gcs)),
        (.., Some(azure)) => format!("azure {}", serde_json::json!(azure)),
        _ => String::new(),
    };
    hash(&[(repo.name.as_str(), &location)])
}

/// The replica-create backup Job of `cluster`, into its first repository; `None` without repositories.
/// `config_hash` goes on its pod; its repository's claim is found among `claims`.
pub fn replica_create_job(
    cluster: &PostgresCluster,
    images: &Images,
    config_hash: &str,
    claims: &Existing,
) -> Result<Option<Job>, ConfigError> {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let Some((number, repo, _)) = repos(cluster)?.into_iter().next() else {
        return Ok(None);
    };
    let target = Target {
        name: &repo.name,
        number,
        volume: repo.volume.is_some(),
    };
    let ours = labels::pgbackrest_backup_job(name, &repo.name, labels::BACKUP_REPLICA_CREATE);
    let mut spec = backup_job_spec(
        cluster,
        images,
        target,
        &["--type=full".into(), "--start-fast".into()],
        ours.clone(),
        config_hash,
        claims,
    );
    spec.backoff_limit = Some(BACKOFF_LIMIT);
    let suffix: String = repo_options_hash(repo).chars().take(8).collect();
    Ok(Some(Job {
        metadata: owned_by(
            cluster,
            names::backup_job(name, &suffix),
            cluster.spec.backups.pgbackrest.metadata.as_ref(),
            ours,
        ),
        spec: Some(spec),
        ..Job::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::{hippo, hippo_with};

    #[test]
    fn a_full_backup_of_the_first_repository_named_after_its_location() {
        let job = replica_create_job(&hippo(), &Images::default(), "abc", &Existing::new())
            .expect("valid")
            .expect("a job");
        let name = job.metadata.name.clone().unwrap_or_default();
        assert!(name.starts_with("hippo-backup-") && name.len() == "hippo-backup-".len() + 8);
        assert_eq!(
            job.metadata.labels.as_ref().unwrap()[labels::PGBACKREST_BACKUP],
            labels::BACKUP_REPLICA_CREATE
        );
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.backoff_limit, Some(BACKOFF_LIMIT));
        let command = spec.template.spec.as_ref().unwrap().containers[0]
            .command
            .clone()
            .unwrap();
        assert!(command.contains(&"--repo=1".to_string()));
        assert_eq!(
            command[command.len() - 2..],
            ["--type=full", "--start-fast"]
        );

        let resized = hippo_with(
            "repos: [{name: repo1, schedules: {full: \"0 1 * * *\"}, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 9Gi}}}}}]",
            "",
        );
        let again = replica_create_job(&resized, &Images::default(), "def", &Existing::new())
            .unwrap()
            .unwrap();
        assert_eq!(
            again.metadata.name, job.metadata.name,
            "same location, same backup"
        );

        let moved = hippo_with(
            "repos: [{name: repo1, s3: {bucket: b, endpoint: e, region: r}}]",
            "",
        );
        let moved = replica_create_job(&moved, &Images::default(), "abc", &Existing::new())
            .unwrap()
            .unwrap();
        assert_ne!(
            moved.metadata.name, job.metadata.name,
            "a new location, a new backup"
        );
        let mut no_repos = hippo();
        no_repos.spec.backups.pgbackrest.repos.clear();
        assert!(
            replica_create_job(&no_repos, &Images::default(), "abc", &Existing::new())
                .unwrap()
                .is_none()
        );
    }
}
