//! The `tusk` command line: one module per subcommand. Installed as `kubectl-tusk` (a link to `tusk`), it is
//! also a kubectl plugin: `kubectl tusk backup hippo`.

mod backup;
mod connection_info;
mod crd;
mod follow_job;
mod operator;
mod plan;
mod psql;
mod render;
mod restart;
mod restore;
mod status;
mod switchover;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Tusk: a Kubernetes operator for PostgreSQL that serves PGO v5's PostgresCluster API.
#[derive(Parser)]
#[command(name = "tusk", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the PostgresCluster CustomResourceDefinition as YAML.
    Crd,
    /// Run the operator: reconcile PostgresClusters in every namespace, or in `$PGO_TARGET_NAMESPACE`, while
    /// this replica holds the leader Lease.
    Operator(operator::OperatorArgs),
    /// Read a PostgresCluster manifest offline, check it, and print it with every default filled in.
    Render(render::RenderArgs),
    /// Compare a PostgresCluster manifest with the live cluster: which objects would change, and whether
    /// that restarts instances or needs a switchover. Writes nothing.
    Plan(plan::PlanArgs),
    /// Take a one-off backup the documented way (spec.backups.pgbackrest.manual and the pgbackrest-backup
    /// annotation) and follow it to its end.
    Backup(backup::BackupArgs),
    /// Restore the cluster in place from a repository, to its latest state or a point in time (the docs'
    /// spec.backups.pgbackrest.restore and the pgbackrest-restore annotation), and follow it to its end.
    Restore(restore::RestoreArgs),
    /// Roll the cluster's instances the documented way (a new `restarted` annotation in spec.metadata).
    Restart(restart::RestartArgs),
    /// Print how to connect as one of the cluster's users (from the user's Secret).
    ConnectionInfo(connection_info::ConnectionInfoArgs),
    /// Show a cluster's health on one screen: instances, backups, WAL archiving, PgBouncer, certificates,
    /// and what needs attention.
    Status(status::StatusArgs),
    /// Hand the primary role to another instance (spec.patroni.switchover and the trigger-switchover
    /// annotation) and wait until it is done.
    Switchover(switchover::SwitchoverArgs),
    /// Open psql on the primary as one of the cluster's users (through `kubectl exec`, with your rights).
    Psql(psql::PsqlArgs),
}

impl Cli {
    /// Runs the chosen subcommand; its exit code says whether it succeeded.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Crd => crd::run(),
            Command::Operator(args) => operator::run(&args),
            Command::Render(args) => render::run(&args),
            Command::Plan(args) => plan::run(&args),
            Command::Backup(args) => backup::run(&args),
            Command::Restart(args) => restart::run(&args),
            Command::Restore(args) => restore::run(&args),
            Command::ConnectionInfo(args) => connection_info::run(&args),
            Command::Status(args) => status::run(&args),
            Command::Switchover(args) => switchover::run(&args),
            Command::Psql(args) => psql::run(&args),
        }
    }
}

/// The text of `file`, or of standard input for `-`.
fn read_manifest(file: &std::path::Path) -> std::io::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(file)
    }
}

/// The cluster a day-2 command works on.
#[derive(clap::Args)]
struct Target {
    /// The PostgresCluster's name.
    cluster: String,
    /// Its namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
}

/// A client from the kubeconfig (or the pod's service account), and `target`'s namespace.
async fn connect(target: &Target) -> Result<(kube::Client, String), String> {
    let client = kube::Client::try_default().await.map_err(|e| {
        format!("cannot reach Kubernetes ({e}); check KUBECONFIG and the current context")
    })?;
    let namespace = target
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    Ok((client, namespace))
}

/// The Secret of `user` of `cluster` in `namespace` (default: the cluster's first user in `spec.users`, or the
/// default user named after it).
async fn user_secret(
    client: &kube::Client,
    namespace: &str,
    cluster: &str,
    user: Option<&str>,
) -> Result<k8s_openapi::api::core::v1::Secret, String> {
    let user = match user {
        Some(user) => user.to_string(),
        None => {
            let clusters: kube::Api<tusk_api::PostgresCluster> =
                kube::Api::namespaced(client.clone(), namespace);
            let found = clusters
                .get(cluster)
                .await
                .map_err(|e| format!("cannot read PostgresCluster {namespace}/{cluster}: {e}"))?;
            tusk::users::wanted(&found)
                .first()
                .map(|user| user.name.clone())
                .ok_or("the cluster has no user")?
        }
    };
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client.clone(), namespace);
    let name = tusk::naming::names::user_secret(cluster, &user);
    secrets
        .get_opt(&name)
        .await
        .map_err(|e| format!("cannot read Secret {namespace}/{name}: {e}"))?
        .ok_or_else(|| {
            format!(
                "no Secret {namespace}/{name}: is {user} in spec.users, and has the operator run?"
            )
        })
}

/// Writes `patch` (a JSON merge patch) into `target`'s PostgresCluster; its API and namespace, for what follows.
/// `what` names the request in the error.
async fn merge_patch(
    target: &Target,
    patch: &serde_json::Value,
    what: &str,
) -> Result<(kube::Api<tusk_api::PostgresCluster>, String), String> {
    let (client, namespace) = connect(target).await?;
    let clusters: kube::Api<tusk_api::PostgresCluster> = kube::Api::namespaced(client, &namespace);
    clusters
        .patch(
            &target.cluster,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(patch),
        )
        .await
        .map_err(|e| format!("cannot request {what}: {e}"))?;
    Ok((clusters, namespace))
}

/// Runs `work` on a new runtime; an error is printed and exits 1.
fn block_on(work: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| format!("cannot start: {e}"))
        .and_then(|runtime| runtime.block_on(work));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Now, as the docs' annotations write it (`date '+%F_%H:%M:%S'`, in UTC).
fn timestamp() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%F_%H:%M:%S")
        .to_string()
}
