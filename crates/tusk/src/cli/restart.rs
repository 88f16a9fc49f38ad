//! `tusk restart CLUSTER`: a rolling restart as the docs ask for one — a new value of the annotation `restarted`
//! in `spec.metadata.annotations`, which every pod template carries, so the operator rolls the instances
//! (replicas first, then a switchover, then the former primary).

use super::{Target, merge_patch, timestamp};
use clap::Args;
use std::process::ExitCode;
use tusk::naming::labels;

/// The annotation the docs' restart sets.
pub const RESTARTED: &str = "restarted";

/// Arguments of `tusk restart`.
#[derive(Args)]
pub struct RestartArgs {
    #[command(flatten)]
    target: Target,
}

/// Asks for the rolling restart.
pub fn run(args: &RestartArgs) -> ExitCode {
    super::block_on(async {
        let value = timestamp();
        let patch = serde_json::json!({"spec": {"metadata": {"annotations": {RESTARTED: value}}}});
        let (_, namespace) = merge_patch(&args.target, &patch, "the restart").await?;
        let pods = labels::selector(&labels::cluster(&args.target.cluster));
        println!(
            "rolling restart of {namespace}/{} requested ({RESTARTED}={value}); follow it with: kubectl -n {namespace} get pods -l {pods} -w",
            args.target.cluster
        );
        Ok(())
    })
}
