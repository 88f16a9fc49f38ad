//! Each pgBackRest repository with the latest backup of each type, from the cluster's backup Jobs (manual,
//! scheduled and the replica-create backup; the operator keeps them as PGO does).

use crate::naming::labels;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;

/// One repository.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Repository {
    /// Its name, `repo1` to `repo4`.
    pub name: String,
    /// Whether the stanza exists in it.
    pub stanza_created: bool,
    /// The latest successful backup of each type, the most recent first.
    pub last: Vec<LastBackup>,
    /// Whether a backup to it runs now.
    pub running: bool,
    /// When the latest backup Job that failed finished, if it is newer than every successful one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_since: Option<Timestamp>,
}

/// The latest successful backup of one type.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LastBackup {
    /// `full`, `diff`, `incr`, or `backup` when the Job does not say.
    #[serde(rename = "type")]
    pub type_: String,
    /// When it completed.
    pub completed: Timestamp,
}

/// The repositories of `cluster` (the spec's, and any a backup Job names), with what `jobs` say of them.
pub fn repositories(cluster: &PostgresCluster, jobs: &[Job]) -> Vec<Repository> {
    let stanzas: BTreeMap<&str, bool> = cluster
        .status
        .iter()
        .flat_map(|s| s.pgbackrest.iter())
        .flat_map(|p| p.repos.iter().flatten())
        .map(|repo| (repo.name.as_str(), repo.stanza_created.unwrap_or(false)))
        .collect();
    let empty = |name: &str| Repository {
        name: name.to_string(),
        stanza_created: stanzas.get(name).copied().unwrap_or(false),
        last: Vec::new(),
        running: false,
        failed_since: None,
    };
    let mut repositories: BTreeMap<String, Repository> = cluster
        .spec
        .backups
        .pgbackrest
        .repos
        .iter()
        .map(|repo| (repo.name.clone(), empty(&repo.name)))
        .collect();
    let mut latest: BTreeMap<(String, String), Timestamp> = BTreeMap::new();
    let mut failed: BTreeMap<String, Timestamp> = BTreeMap::new();
    for job in jobs {
        let job_labels = job.metadata.labels.clone().unwrap_or_default();
        let (Some(_), Some(repo)) = (
            job_labels.get(labels::PGBACKREST_BACKUP),
            job_labels.get(labels::PGBACKREST_REPO),
        ) else {
            continue;
        };
        let repository = repositories
            .entry(repo.clone())
            .or_insert_with(|| empty(repo));
        let status = job.status.clone().unwrap_or_default();
        repository.running |= status.active.unwrap_or(0) > 0;
        if let Some(completed) = status
            .completion_time
            .filter(|_| status.succeeded.unwrap_or(0) > 0)
        {
            let slot = latest
                .entry((repo.clone(), backup_type(job)))
                .or_insert(completed.0);
            *slot = (*slot).max(completed.0);
        } else if let Some(ended) = failed_at(job) {
            let slot = failed.entry(repo.clone()).or_insert(ended);
            *slot = (*slot).max(ended);
        }
    }
    for ((repo, type_), completed) in latest {
        if let Some(repository) = repositories.get_mut(&repo) {
            repository.last.push(LastBackup { type_, completed });
        }
    }
    for repository in repositories.values_mut() {
        repository
            .last
            .sort_by_key(|backup| std::cmp::Reverse(backup.completed));
        let newest_success = repository.last.first().map(|l| l.completed);
        repository.failed_since = failed
            .get(&repository.name)
            .copied()
            .filter(|ended| newest_success.is_none_or(|success| *ended > success));
    }
    repositories.into_values().collect()
}

/// The backup type of a backup Job: a schedule's label, a `--type=` option, or a replica-create (full) backup.
fn backup_type(job: &Job) -> String {
    let job_labels = job.metadata.labels.as_ref();
    if let Some(schedule) = job_labels.and_then(|l| l.get(labels::PGBACKREST_CRONJOB)) {
        return schedule.clone();
    }
    if job_labels
        .and_then(|l| l.get(labels::PGBACKREST_BACKUP))
        .map(String::as_str)
        == Some(labels::BACKUP_REPLICA_CREATE)
    {
        return "full".into();
    }
    job.spec
        .iter()
        .flat_map(|spec| spec.template.spec.iter())
        .flat_map(|pod| pod.containers.iter())
        .flat_map(|c| c.command.iter().flatten().chain(c.args.iter().flatten()))
        .find_map(|word| word.strip_prefix("--type="))
        .unwrap_or("backup")
        .to_string()
}

/// When a Job that gave up failed (its `Failed` condition).
fn failed_at(job: &Job) -> Option<Timestamp> {
    job.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .find(|c| c.type_ == "Failed" && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}
