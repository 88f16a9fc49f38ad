//! `tusk backup CLUSTER`: a one-off backup as the docs take it ("Taking a One-Off Backup"): writes
//! `spec.backups.pgbackrest.manual` (repository and type) and a new value of the
//! `postgres-operator.crunchydata.com/pgbackrest-backup` annotation, then follows `status.pgbackrest.manualBackup`
//! until the backup finished (unless `--no-wait`).

use super::follow_job::{Ended, Followed, follow};
use super::{Target, merge_patch, timestamp};
use clap::{Args, ValueEnum};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tusk::naming::{annotations, labels};

/// How long `tusk backup` follows a backup before it leaves it running.
const WAIT: Duration = Duration::from_secs(30 * 60);

/// Arguments of `tusk backup`.
#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    target: Target,
    /// The repository to back up to.
    #[arg(long, default_value = "repo1")]
    repo: String,
    /// The kind of backup.
    #[arg(long = "type", value_enum, default_value_t = Kind::Full)]
    kind: Kind,
    /// Return once the backup is requested, without following it.
    #[arg(long)]
    no_wait: bool,
}

/// pgBackRest's backup types.
#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Full,
    Diff,
    Incr,
}

impl Kind {
    fn option(self) -> &'static str {
        match self {
            Kind::Full => "--type=full",
            Kind::Diff => "--type=diff",
            Kind::Incr => "--type=incr",
        }
    }
}

/// Requests the backup and, unless told not to, waits for its end; exits 1 when it failed.
pub fn run(args: &BackupArgs) -> ExitCode {
    super::block_on(async {
        let id = timestamp();
        let patch = serde_json::json!({
            "metadata": {"annotations": {annotations::PGBACKREST_BACKUP: id}},
            "spec": {"backups": {"pgbackrest": {"manual": {
                "repoName": args.repo,
                "options": [args.kind.option()],
            }}}},
        });
        let (clusters, namespace) = merge_patch(&args.target, &patch, "the backup").await?;
        println!(
            "backup {id} of {namespace}/{} to {} requested",
            args.target.cluster, args.repo
        );
        if args.no_wait {
            return Ok(());
        }
        let started = Instant::now();
        let followed = Followed {
            cluster: &args.target.cluster,
            id: &id,
            pick: |status| status.manual_backup,
            waiting: "waiting for the operator to start it",
            running: |record| {
                format!(
                    "running ({} attempt(s) failed so far)",
                    record.progress.failed.unwrap_or(0)
                )
            },
            wait: WAIT,
        };
        match follow(&clusters, &followed).await? {
            Ended::Succeeded => {
                println!("backup {id} succeeded after {:.0?}", started.elapsed());
                Ok(())
            }
            Ended::Failed => {
                let mut jobs = labels::cluster(&args.target.cluster);
                jobs.insert(
                    labels::PGBACKREST_BACKUP.into(),
                    labels::BACKUP_MANUAL.into(),
                );
                Err(format!(
                    "backup {id} failed; its Job's log says why: kubectl -n {namespace} logs -l {}",
                    labels::selector(&jobs)
                ))
            }
            Ended::StillRunning => Err(format!(
                "backup {id} still runs after {WAIT:?}; follow it with: kubectl -n {namespace} get postgrescluster {} -o jsonpath='{{.status.pgbackrest.manualBackup}}'",
                args.target.cluster
            )),
        }
    })
}
