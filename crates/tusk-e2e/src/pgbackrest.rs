//! What pgBackRest itself says about a cluster's repositories, read on its repository host (test-side `exec`),
//! and the cluster's `status.pgbackrest`.

use crate::{get_json, kubectl};
use anyhow::{Context, Result};
use serde_json::Value;

/// One backup in a repository, as `pgbackrest info` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// Its label (`20261128-120000F`, `..._20261128-120500I`).
    pub label: String,
    /// `full`, `diff` or `incr`.
    pub type_: String,
    /// The label of the backup it depends on, for a differential or incremental one.
    pub prior: Option<String>,
    /// The repository it is in (`repo1` is 1).
    pub repo: u64,
    /// When it started and stopped, in seconds since the epoch.
    pub started: u64,
    /// When it stopped.
    pub stopped: u64,
}

/// The newest archived WAL segment of each repository of `cluster`, by repository number.
pub fn archived(namespace: &str, cluster: &str) -> Result<Vec<(u64, String)>> {
    let info: Value = serde_json::from_str(&info(namespace, cluster)?)?;
    Ok(info
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|stanza| stanza["archive"].as_array().cloned().unwrap_or_default())
        .filter_map(|archive| {
            Some((
                archive["database"]["repo-key"].as_u64()?,
                archive["max"].as_str()?.to_string(),
            ))
        })
        .collect())
}

/// `pgbackrest info --output=json` on the repository host of `cluster`.
fn info(namespace: &str, cluster: &str) -> Result<String> {
    let pod = format!("{cluster}-repo-host-0");
    kubectl(&[
        "-n",
        namespace,
        "exec",
        &pod,
        "-c",
        "pgbackrest",
        "--",
        "pgbackrest",
        "info",
        "--stanza=db",
        "--output=json",
    ])
}

/// The backups of `cluster` in `namespace`, oldest first, from `pgbackrest info` on its repository host.
pub fn backups(namespace: &str, cluster: &str) -> Result<Vec<Backup>> {
    let pod = format!("{cluster}-repo-host-0");
    let out = kubectl(&[
        "-n",
        namespace,
        "exec",
        &pod,
        "-c",
        "pgbackrest",
        "--",
        "pgbackrest",
        "info",
        "--stanza=db",
        "--output=json",
    ])?;
    parse(&out)
}

/// The backups in `pgbackrest info --output=json`.
pub fn parse(json: &str) -> Result<Vec<Backup>> {
    let stanzas: Value = serde_json::from_str(json).context("pgbackrest info prints JSON")?;
    Ok(stanzas
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|stanza| stanza["backup"].as_array().cloned().unwrap_or_default())
        .map(|backup| Backup {
            label: backup["label"].as_str().unwrap_or_default().to_string(),
            type_: backup["type"].as_str().unwrap_or_default().to_string(),
            prior: backup["prior"].as_str().map(str::to_string),
            repo: backup["database"]["repo-key"].as_u64().unwrap_or(0),
            started: backup["timestamp"]["start"].as_u64().unwrap_or(0),
            stopped: backup["timestamp"]["stop"].as_u64().unwrap_or(0),
        })
        .collect())
}

/// `status.pgbackrest` of `cluster` in `namespace`.
pub fn status(namespace: &str, cluster: &str) -> Result<Value> {
    Ok(get_json(namespace, &["postgrescluster", cluster])?["status"]["pgbackrest"].clone())
}

/// Waits until `status.pgbackrest.repos[0].stanzaCreated` of `cluster` is true.
pub fn wait_for_stanza(namespace: &str, cluster: &str) -> Result<()> {
    crate::wait_for(
        &format!("{cluster}'s stanza (status.pgbackrest.repos[0].stanzaCreated)"),
        std::time::Duration::from_secs(300),
        || Ok((status(namespace, cluster)?["repos"][0]["stanzaCreated"] == true).then_some(())),
    )
}

/// Switches the WAL of the primary `pod` and waits until its `pg_stat_archiver` reports that segment (or a
/// later one) archived; the segment's name.
pub fn archive_to_the_end(namespace: &str, pod: &str) -> Result<String> {
    let psql = |sql: &str| -> Result<String> {
        Ok(kubectl(&[
            "-n", namespace, "exec", pod, "-c", "database", "--", "psql", "-XAtq", "-c", sql,
        ])?
        .trim()
        .to_string())
    };
    let segment = psql("select pg_walfile_name(pg_switch_wal())")?;
    crate::wait_for(
        &format!("segment {segment} archived"),
        std::time::Duration::from_secs(120),
        || {
            let last = psql("select coalesce(last_archived_wal, '') from pg_stat_archiver")?;
            Ok((!last.is_empty() && last >= segment).then_some(()))
        },
    )?;
    Ok(segment)
}

/// Requests a manual backup of `repo` with `options` under the annotation value `id` (one merge patch sets
/// `spec.backups.pgbackrest.manual` and the `pgbackrest-backup` annotation), and waits until
/// `status.pgbackrest.manualBackup` reports that request finished; that status.
pub fn manual_backup(
    namespace: &str,
    cluster: &str,
    repo: &str,
    id: &str,
    options: &[&str],
) -> Result<Value> {
    let patch = serde_json::json!({
        "metadata": {"annotations": {"postgres-operator.crunchydata.com/pgbackrest-backup": id}},
        "spec": {"backups": {"pgbackrest": {"manual": {"repoName": repo, "options": options}}}},
    });
    crate::patch_cluster(namespace, cluster, "merge", &patch.to_string())?;
    crate::wait_for(
        &format!("manual backup {id} of {cluster} to finish"),
        std::time::Duration::from_secs(300),
        || {
            let manual = status(namespace, cluster)?["manualBackup"].clone();
            Ok((manual["id"] == id && manual["finished"] == true).then_some(manual))
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_pgbackrest_info() {
        let json = r#"[{"name":"db","backup":[
            {"label":"20261128-120000F","type":"full","prior":null,"database":{"id":1,"repo-key":1},"timestamp":{"start":100,"stop":130}},
            {"label":"20261128-120000F_20261128-120500I","type":"incr","prior":"20261128-120000F","database":{"id":1,"repo-key":1}}
        ]}]"#;
        let backups = super::parse(json).unwrap();
        assert_eq!(backups.len(), 2);
        assert_eq!(backups[0].type_, "full");
        assert_eq!(backups[0].prior, None);
        assert_eq!(backups[1].prior.as_deref(), Some("20261128-120000F"));
        assert_eq!(backups[1].repo, 1);
        assert_eq!((backups[0].started, backups[0].stopped), (100, 130));
    }
}
