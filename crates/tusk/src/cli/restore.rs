//! `tusk restore CLUSTER [--repo R] [--target TIME] [--option OPT]...`: an in-place restore as the docs take it
//! ("Perform an In-Place Point-in-time-Recovery"): writes `spec.backups.pgbackrest.restore` (enabled, the
//! repository, the options) and a new value of the `postgres-operator.crunchydata.com/pgbackrest-restore`
//! annotation, then follows `status.pgbackrest.restore` until the restore finished (unless `--no-wait`).
//! Every instance stops while it runs.

use super::follow_job::{Ended, Followed, follow};
use super::{Target, merge_patch, timestamp};
use clap::Args;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tusk::naming::{annotations, names};

/// How long `tusk restore` follows a restore before it leaves it running.
const WAIT: Duration = Duration::from_secs(60 * 60);

/// Arguments of `tusk restore`.
#[derive(Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    target: Target,
    /// The repository to restore from.
    #[arg(long, default_value = "repo1")]
    repo: String,
    /// Recover to this point in time (PostgreSQL's format, e.g. "2026-11-29 14:15:11+00"): pgBackRest's
    /// `--type=time --target=...`. Without it, the latest backup is restored and all archived WAL replayed.
    #[arg(long = "target")]
    time: Option<String>,
    /// Another `pgbackrest restore` option, e.g. `--option=--target-action=promote` (repeatable).
    #[arg(long = "option", allow_hyphen_values = true)]
    options: Vec<String>,
    /// Return once the restore is requested, without following it.
    #[arg(long)]
    no_wait: bool,
}

/// The restore's options as the spec takes them: each element is split like a shell's words by the operator,
/// so a target time with spaces is quoted into one word.
fn options(args: &RestoreArgs) -> Result<Vec<String>, String> {
    let mut options = Vec::new();
    if let Some(time) = &args.time {
        options.push("--type=time".to_string());
        let target = format!("--target={time}");
        let quoted = shlex::try_quote(&target)
            .map_err(|_| format!("the target time {time:?} cannot be passed on (a NUL byte)"))?;
        options.push(quoted.into_owned());
    }
    options.extend(args.options.iter().cloned());
    Ok(options)
}

/// Requests the restore and, unless told not to, waits for its end; exits 1 when it failed.
pub fn run(args: &RestoreArgs) -> ExitCode {
    super::block_on(async {
        let id = timestamp();
        let patch = serde_json::json!({
            "metadata": {"annotations": {annotations::PGBACKREST_RESTORE: id}},
            "spec": {"backups": {"pgbackrest": {"restore": {
                "enabled": true,
                "repoName": args.repo,
                "options": options(args)?,
            }}}},
        });
        let (clusters, namespace) = merge_patch(&args.target, &patch, "the restore").await?;
        let cluster = &args.target.cluster;
        println!(
            "restore {id} of {namespace}/{cluster} from {} requested; every instance stops while it runs",
            args.repo
        );
        if args.no_wait {
            return Ok(());
        }
        let started = Instant::now();
        let followed = Followed {
            cluster,
            id: &id,
            pick: |status| status.restore,
            waiting: "waiting for the operator to stop the instances and start it",
            running: |_| "restoring".to_string(),
            wait: WAIT,
        };
        match follow(&clusters, &followed).await? {
            Ended::Succeeded => {
                println!(
                    "restore {id} succeeded after {:.0?}; the instances start again (`tusk status {cluster}` follows them)",
                    started.elapsed()
                );
                Ok(())
            }
            Ended::Failed => Err(format!(
                "restore {id} failed and the cluster stays stopped; its Job's log says why: kubectl -n {namespace} logs job/{}; fix the options and run tusk restore again",
                names::restore_job(cluster)
            )),
            Ended::StillRunning => Err(format!(
                "restore {id} still runs after {WAIT:?}; follow it with: kubectl -n {namespace} get postgrescluster {cluster} -o jsonpath='{{.status.pgbackrest.restore}}'"
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        restore: RestoreArgs,
    }

    #[test]
    fn a_target_time_becomes_one_shell_word_and_options_follow() {
        let cli = Cli::parse_from([
            "tusk",
            "hippo",
            "--target",
            "2026-11-29 14:15:11+00",
            "--option=--target-action=promote",
        ]);
        let options = options(&cli.restore).unwrap();
        assert_eq!(
            options,
            [
                "--type=time",
                "'--target=2026-11-29 14:15:11+00'",
                "--target-action=promote"
            ]
        );
        assert_eq!(
            shlex::split(&options[1]).unwrap(),
            ["--target=2026-11-29 14:15:11+00"]
        );
    }
}
