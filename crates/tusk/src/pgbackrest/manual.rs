//! A manual backup: the Job `<c>-backup-<hash of the request>` that takes the backup of
//! `spec.backups.pgbackrest.manual`, which the controller starts when the `pgbackrest-backup` annotation of the
//! cluster changes. The Job carries the annotation's value (the request's id), as PGO's.
//!
//! `options` are passed to `pgbackrest backup` as arguments (no shell). Each entry is split on whitespace,
//! so `--type=full --start-fast` is two options; a value cannot contain a space. Every option must start
//! with `--` and contain no control character; `--repo` and `--stanza` are Tusk's (`repoName` chooses the
//! repository), as in PGO.

use super::config::hash;
use super::jobs::{Target, backup_job_spec};
use super::{ConfigError, repo_number};
use crate::images::Images;
use crate::instances::volumes::Existing;
use crate::metadata::owned_by;
use crate::naming::{annotations, labels, names};
use k8s_openapi::api::batch::v1::Job;
use tusk_api::PostgresCluster;

const FIELD: &str = "spec.backups.pgbackrest.manual";

/// How often the backup's pod is retried before the Job fails: once, for a backup that met another one's lock.
const BACKOFF_LIMIT: i32 = 1;

/// The Job of the manual backup of `cluster` requested as `id` (the annotation's value); `config_hash` goes on
/// its pod; the repository's claim is found among `claims`.
pub fn manual_backup_job(
    cluster: &PostgresCluster,
    images: &Images,
    id: &str,
    config_hash: &str,
    claims: &Existing,
) -> Result<Job, ConfigError> {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let spec = &cluster.spec.backups.pgbackrest;
    let manual = spec
        .manual
        .as_ref()
        .ok_or_else(|| ConfigError::new(FIELD, "is required for a manual backup"))?;
    let repo_field = format!("{FIELD}.repoName");
    let number = repo_number(&manual.repo_name, &repo_field)?;
    let repo = spec
        .repos
        .iter()
        .find(|repo| repo.name == manual.repo_name)
        .ok_or_else(|| {
            ConfigError::new(
                &repo_field,
                format!("{:?} is not one of repos", manual.repo_name),
            )
        })?;
    let options = options(manual.options.as_deref().unwrap_or_default())?;
    let target = Target {
        name: &repo.name,
        number,
        volume: repo.volume.is_some(),
    };
    let ours = labels::pgbackrest_backup_job(name, &repo.name, labels::BACKUP_MANUAL);
    let suffix: String = hash(&[("id", &id.to_string())]).chars().take(8).collect();
    let mut metadata = owned_by(
        cluster,
        names::backup_job(name, &suffix),
        spec.metadata.as_ref(),
        ours.clone(),
    );
    metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(annotations::PGBACKREST_BACKUP.into(), id.into());
    let mut job_spec =
        backup_job_spec(cluster, images, target, &options, ours, config_hash, claims);
    job_spec.backoff_limit = Some(BACKOFF_LIMIT);
    Ok(Job {
        metadata,
        spec: Some(job_spec),
        ..Job::default()
    })
}

/// The options of `manual.options`, split on whitespace and checked.
fn options(entries: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut options = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let field = format!("{FIELD}.options[{index}]");
        if let Some(bad) = entry
            .chars()
            .find(|c| c.is_control() && !matches!(c, ' ' | '\t'))
        {
            return Err(ConfigError::new(field, format!("must not contain {bad:?}")));
        }
        for option in entry.split_whitespace() {
            if !option.starts_with("--") {
                return Err(ConfigError::new(
                    field,
                    format!("{option:?} is not an option: options start with \"--\""),
                ));
            }
            let option_name = option.split('=').next().unwrap_or_default();
            if matches!(option_name, "--repo" | "--stanza") {
                return Err(ConfigError::new(
                    field,
                    format!("{option_name} is set by Tusk (repoName chooses the repository)"),
                ));
            }
            options.push(option.to_string());
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::hippo_with;

    fn cluster(manual: &str) -> PostgresCluster {
        hippo_with(
            &format!(
                "manual: {manual}
      repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]"
            ),
            "",
        )
    }

    fn build(manual: &str) -> Result<Job, ConfigError> {
        manual_backup_job(
            &cluster(manual),
            &Images::default(),
            "2026-11-28_12:00:00",
            "abc",
            &Existing::new(),
        )
    }

    #[test]
    fn manual_backup_job_runs_the_options() {
        let job = build(
            "{repoName: repo1, options: [\"--type=full  --start-fast\", --annotation=by=me]}",
        )
        .expect("builds");
        let name = job.metadata.name.clone().unwrap_or_default();
        assert!(name.starts_with("hippo-backup-") && name.len() == "hippo-backup-".len() + 8);
        assert_eq!(
            job.metadata.annotations.as_ref().unwrap()[annotations::PGBACKREST_BACKUP],
            "2026-11-28_12:00:00"
        );
        let other = manual_backup_job(
            &cluster("{repoName: repo1}"),
            &Images::default(),
            "again",
            "abc",
            &Existing::new(),
        )
        .unwrap();
        assert_ne!(
            other.metadata.name.as_deref(),
            Some(name.as_str()),
            "each request its own Job"
        );
        let labels = job.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[labels::PGBACKREST_BACKUP], labels::BACKUP_MANUAL);
        assert_eq!(labels[labels::PGBACKREST_REPO], "repo1");
        let command = job.spec.unwrap().template.spec.unwrap().containers[0]
            .command
            .clone()
            .unwrap();
        assert_eq!(
            command[command.len() - 3..],
            ["--type=full", "--start-fast", "--annotation=by=me"]
        );
        assert!(command.contains(&"--repo=1".to_string()));
    }

    #[test]
    fn bad_options_are_rejected_with_the_field_named() {
        for (options, field) in [
            ("[--type=full, \"--type=full\\n--repo=2\"]", "options[1]"),
            ("[\"--type=full\\r\"]", "options[0]"),
            ("[\"--type=full\\u0000\"]", "options[0]"),
            ("[type=full]", "options[0]"),
            ("[\"--type=full -x\"]", "options[0]"),
            ("[--repo=2]", "options[0]"),
            ("[--stanza=other]", "options[0]"),
        ] {
            let error =
                build(&format!("{{repoName: repo1, options: {options}}}")).expect_err(options);
            assert_eq!(
                error.field,
                format!("spec.backups.pgbackrest.manual.{field}"),
                "{options}"
            );
        }
        let error = manual_backup_job(
            &crate::pgbackrest::tests::hippo(),
            &Images::default(),
            "now",
            "abc",
            &Existing::new(),
        )
        .expect_err("no manual");
        assert_eq!(error.field, "spec.backups.pgbackrest.manual");
    }
}
