//! `tusk restart CLUSTER`: a rolling restart as the docs ask for one — a new value of the annotation `restarted`
//! in `spec.metadata.annotations`, which every pod template carries, so the operator rolls the instances
//! (replicas first, then a switchover, then the former primary).

use super::{Target, connect, timestamp};
use clap::Args;
use kube::api::{Api, Patch, PatchParams};
use std::process::ExitCode;
use tusk_api::PostgresCluster;

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
        let (client, namespace) = connect(&args.target).await?;
        let clusters: Api<PostgresCluster> = Api::namespaced(client, &namespace);
        let value = timestamp();
        let patch = serde_json::json!({"spec": {"metadata": {"annotations": {RESTARTED: value}}}});
        clusters
            .patch(
                &args.target.cluster,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| format!("cannot request the restart: {e}"))?;
        println!(
            "rolling restart of {namespace}/{} requested ({RESTARTED}={value}); follow it with: kubectl -n {namespace} get pods -l postgres-operator.crunchydata.com/cluster={} -w",
            args.target.cluster, args.target.cluster
        );
        Ok(())
    })
}
