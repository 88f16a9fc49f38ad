//! `tusk operator`: runs the controller against the cluster of the current kubeconfig or service account.

use std::process::ExitCode;

/// The variable that limits the operator to one namespace, as PGO's does.
const TARGET_NAMESPACE_VAR: &str = "PGO_TARGET_NAMESPACE";

/// Runs the controller until SIGINT or SIGTERM. Logs go to standard error; `RUST_LOG` filters them.
pub fn run() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let client = match kube::Client::try_default().await {
            Ok(client) => client,
            Err(error) => {
                eprintln!("error: cannot reach Kubernetes (kubeconfig or in-cluster service account): {error}");
                return ExitCode::FAILURE;
            }
        };
        let namespace = std::env::var(TARGET_NAMESPACE_VAR).ok().filter(|ns| !ns.is_empty());
        match &namespace {
            Some(namespace) => tracing::info!(%namespace, "watching PostgresClusters in one namespace"),
            None => tracing::info!("watching PostgresClusters in every namespace"),
        }
        tusk::controller::run(client, namespace.as_deref()).await;
        ExitCode::SUCCESS
    })
}
