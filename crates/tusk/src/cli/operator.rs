//! `tusk operator`: runs the controller against the cluster of the current kubeconfig or service account, as
//! the leader of its replicas, with `/healthz`, `/readyz` and `/metrics` on `--listen`.

use clap::{Args, ValueEnum};
use futures::FutureExt;
use std::net::SocketAddr;
use std::process::ExitCode;
use tusk::runtime::leader;
use tusk::runtime::operator::{Options, Outcome};

/// The variable that limits the operator to one namespace, as PGO's does.
const TARGET_NAMESPACE_VAR: &str = "PGO_TARGET_NAMESPACE";
/// The operator's own namespace, where its leader Lease lives (the Deployment sets it from the pod's).
const NAMESPACE_VAR: &str = "PGO_NAMESPACE";
/// The pod's name (the Deployment sets it from the pod's): the identity in the leader election.
const POD_NAME_VAR: &str = "POD_NAME";
/// Where Kubernetes mounts the namespace of a pod's service account.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// The operator's namespace when neither the environment nor the service account says.
const DEFAULT_NAMESPACE: &str = "postgres-operator";

/// Arguments of `tusk operator`.
#[derive(Args)]
pub struct OperatorArgs {
    /// Where to serve /healthz, /readyz and /metrics.
    #[arg(long, value_name = "ADDRESS", default_value = tusk::runtime::http::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Run the controller at once, without the leader Lease (for a single local run; never with replicas).
    #[arg(long)]
    no_leader_election: bool,
    /// How to write logs to standard error: `json` (one object per line, for in-cluster) or `text`.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The formats of `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Runs the operator until SIGINT or SIGTERM (exit 0), or until it loses the leader lease (exit 1, so that
/// Kubernetes restarts it as a standby). Logs go to standard error; `RUST_LOG` filters them.
pub fn run(args: &OperatorArgs) -> ExitCode {
    init_logs(args.log_format);
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
                tracing::error!(%error, "cannot reach Kubernetes (kubeconfig or in-cluster service account)");
                return ExitCode::FAILURE;
            }
        };
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, address = %args.listen, "cannot listen for /healthz, /readyz and /metrics");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(address = %args.listen, "serving /healthz, /readyz and /metrics");
        let telemetry = tusk::runtime::Telemetry::new();
        let server = tokio::spawn(tusk::runtime::http::serve(listener, telemetry.clone()));

        let target_namespace = std::env::var(TARGET_NAMESPACE_VAR).ok().filter(|ns| !ns.is_empty());
        match &target_namespace {
            Some(namespace) => tracing::info!(%namespace, "watching PostgresClusters in one namespace"),
            None => tracing::info!("watching PostgresClusters in every namespace"),
        }
        let election = if args.no_leader_election {
            tracing::warn!("leader election is off: run no other replica");
            None
        } else {
            let config = leader::Config::new(own_namespace(), identity());
            tracing::info!(lease = %config.name, namespace = %config.namespace, identity = %config.identity,
                "contending for the leader lease");
            Some(config)
        };
        let options = Options {
            target_namespace,
            election,
        };
        let outcome = tusk::runtime::operator::run(client, options, telemetry, shutdown_signal()).await;
        server.abort();
        match outcome {
            Outcome::Stopped => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Outcome::LostLease => {
                tracing::error!("exiting: this replica no longer leads; it starts again as a standby");
                ExitCode::FAILURE
            }
        }
    })
}

fn init_logs(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

/// Resolves on the first SIGTERM or SIGINT.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + Sync + 'static {
    let (tx, rx) = tokio::sync::oneshot::channel::<&'static str>();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot listen for SIGTERM and SIGINT; stop the operator with SIGKILL");
            return std::future::pending().await;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "asked to stop");
        let _ = tx.send(name);
    });
    rx.map(|_| ())
}

/// The operator's own namespace: `$PGO_NAMESPACE`, else its service account's, else `postgres-operator`.
fn own_namespace() -> String {
    std::env::var(NAMESPACE_VAR)
        .ok()
        .or_else(|| std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE).ok())
        .map(|namespace| namespace.trim().to_string())
        .filter(|namespace| !namespace.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.into())
}

/// This replica's identity: `$POD_NAME`, else the host's name with a random suffix (two local runs differ).
fn identity() -> String {
    if let Some(pod) = std::env::var(POD_NAME_VAR)
        .ok()
        .filter(|pod| !pod.is_empty())
    {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_string())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "tusk".into());
    let suffix: String = rand::Rng::sample_iter(rand::rng(), &rand::distr::Alphanumeric)
        .take(5)
        .map(|c| char::from(c).to_ascii_lowercase())
        .collect();
    format!("{host}-{suffix}")
}
