//! Scheduled backups: a CronJob `<c>-pgbackrest-<repo>-<full|diff|incr>` per schedule of each repository.
//!
//! A new backup never starts while the last one of the same CronJob runs (`Forbid`), and none starts while
//! the cluster is shut down or is a standby (whose repository belongs to the primary cluster).

use super::jobs::{Target, backup_job_spec};
use super::{ConfigError, repos};
use crate::images::Images;
use crate::instances::volumes::Existing;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tusk_api::PostgresCluster;

/// Every backup CronJob of `cluster`; `config_hash` goes on their pods; the repositories' claims are found
/// among `claims`.
pub fn cron_jobs(
    cluster: &PostgresCluster,
    images: &Images,
    config_hash: &str,
    claims: &Existing,
) -> Result<Vec<CronJob>, ConfigError> {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let standby = cluster.spec.standby.as_ref().is_some_and(|s| s.enabled);
    let suspend =
        cluster.spec.shutdown.unwrap_or(false) || standby || super::in_place::active(cluster);
    let mut cron_jobs = Vec::new();
    for (number, repo, _) in repos(cluster)? {
        let Some(schedules) = &repo.schedules else {
            continue;
        };
        for (schedule, backup_type) in [
            (&schedules.full, "full"),
            (&schedules.differential, "diff"),
            (&schedules.incremental, "incr"),
        ] {
            let Some(schedule) = schedule else {
                continue;
            };
            let target = Target {
                name: &repo.name,
                number,
                volume: repo.volume.is_some(),
            };
            let ours = labels::pgbackrest_cronjob(name, &repo.name, backup_type);
            let metadata = owned_by(
                cluster,
                names::backup_cronjob(name, &repo.name, backup_type),
                cluster.spec.backups.pgbackrest.metadata.as_ref(),
                ours.clone(),
            );
            cron_jobs.push(CronJob {
                spec: Some(CronJobSpec {
                    schedule: schedule.clone(),
                    suspend: Some(suspend),
                    concurrency_policy: Some("Forbid".into()),
                    job_template: JobTemplateSpec {
                        metadata: Some(ObjectMeta {
                            labels: metadata.labels.clone(),
                            annotations: metadata.annotations.clone(),
                            ..ObjectMeta::default()
                        }),
                        spec: Some(backup_job_spec(
                            cluster,
                            images,
                            target,
                            &[format!("--type={backup_type}")],
                            ours,
                            config_hash,
                            claims,
                        )),
                    },
                    ..CronJobSpec::default()
                }),
                metadata,
                ..CronJob::default()
            });
        }
    }
    Ok(cron_jobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::{hippo, hippo_with};

    const REPOS: &str = "repos:
      - {name: repo1, schedules: {full: \"0 1 * * 0\", differential: \"0 1 * * 1-6\"}, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}
      - {name: repo2, schedules: {incremental: \"0 */4 * * *\"}, s3: {bucket: b, endpoint: e, region: r}}";

    fn summary(cron_jobs: &[CronJob]) -> Vec<(String, String, bool)> {
        cron_jobs
            .iter()
            .map(|c| {
                let spec = c.spec.as_ref().unwrap();
                (
                    c.metadata.name.clone().unwrap(),
                    spec.schedule.clone(),
                    spec.suspend.unwrap(),
                )
            })
            .collect()
    }

    fn build(spec: &str) -> Vec<CronJob> {
        cron_jobs(
            &hippo_with(REPOS, spec),
            &Images::default(),
            "abc",
            &Existing::new(),
        )
        .expect("builds")
    }

    #[test]
    fn one_cron_job_per_schedule() {
        let cron_jobs = build("");
        assert_eq!(
            summary(&cron_jobs),
            [
                (
                    "hippo-pgbackrest-repo1-full".into(),
                    "0 1 * * 0".into(),
                    false
                ),
                (
                    "hippo-pgbackrest-repo1-diff".into(),
                    "0 1 * * 1-6".into(),
                    false
                ),
                (
                    "hippo-pgbackrest-repo2-incr".into(),
                    "0 */4 * * *".into(),
                    false
                ),
            ]
        );
        let spec = cron_jobs[1].spec.as_ref().unwrap();
        assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
        let job = spec.job_template.spec.as_ref().unwrap();
        let command = job.template.spec.as_ref().unwrap().containers[0]
            .command
            .clone()
            .unwrap();
        assert_eq!(
            command[..4],
            ["pgbackrest", "backup", "--stanza=db", "--repo=1"]
        );
        assert_eq!(command.last().map(String::as_str), Some("--type=diff"));
        let labels = cron_jobs[2].metadata.labels.as_ref().unwrap();
        assert_eq!(labels[labels::PGBACKREST_CRONJOB], "incr");
        assert_eq!(labels[labels::PGBACKREST_REPO], "repo2");
        assert!(
            super::cron_jobs(&hippo(), &Images::default(), "abc", &Existing::new())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn suspended_on_shutdown_and_in_a_standby() {
        for spec in ["shutdown: true", "standby: {repoName: repo1}"] {
            assert!(
                build(spec)
                    .iter()
                    .all(|c| c.spec.as_ref().unwrap().suspend == Some(true)),
                "{spec}"
            );
        }
        assert!(
            build("standby: {enabled: false, repoName: repo1}")
                .iter()
                .all(|c| c.spec.as_ref().unwrap().suspend == Some(false))
        );
    }
}
