//! `tusk psql CLUSTER [--user USER] [-- PSQL ARGUMENTS]`: psql on the primary as one of the cluster's users.
//! It runs `kubectl exec` into the primary pod's `database` container (the person's rights, not the
//! operator's: the operator never execs) with the `uri` of the user's Secret, so the session logs in the way
//! the user's applications do, over TLS.

use super::{Target, connect, user_secret};
use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use std::io::IsTerminal;
use std::process::{Command, ExitCode};
use tusk::naming::labels;

/// Arguments of `tusk psql`.
#[derive(Args)]
pub struct PsqlArgs {
    #[command(flatten)]
    target: Target,
    /// The user (default: the cluster's first user in `spec.users`, or the default user named after it).
    #[arg(long)]
    user: Option<String>,
    /// Passed to psql, after `--`: `tusk psql hippo -- -c 'select 1'`.
    #[arg(last = true)]
    psql: Vec<String>,
}

/// Runs psql; exits with its exit code.
pub fn run(args: &PsqlArgs) -> ExitCode {
    let found = tokio::runtime::Runtime::new()
        .map_err(|e| format!("cannot start: {e}"))
        .and_then(|runtime| runtime.block_on(session(args)));
    let (namespace, pod, uri) = match found {
        Ok(found) => found,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let interactive = if std::io::stdin().is_terminal() {
        "-it"
    } else {
        "-i"
    };
    let status = Command::new("kubectl")
        .args([
            "exec",
            interactive,
            "-n",
            &namespace,
            &pod,
            "-c",
            "database",
            "--",
            "psql",
            &uri,
        ])
        .args(&args.psql)
        .status();
    match status {
        Ok(status) => ExitCode::from(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ),
        Err(error) => {
            eprintln!("error: cannot run kubectl ({error}); tusk psql needs it on PATH");
            ExitCode::FAILURE
        }
    }
}

/// The namespace, the primary's pod and the user's connection URI.
async fn session(args: &PsqlArgs) -> Result<(String, String, String), String> {
    let (client, namespace) = connect(&args.target).await?;
    let cluster = &args.target.cluster;
    let secret = user_secret(&client, &namespace, cluster, args.user.as_deref()).await?;
    let uri = secret
        .data
        .unwrap_or_default()
        .get("uri")
        .map(|value| String::from_utf8_lossy(&value.0).into_owned())
        .ok_or("the user's Secret has no uri yet: has the operator written it?")?;
    let mut primary = labels::cluster(cluster);
    primary.insert(labels::ROLE.into(), labels::ROLE_PATRONI_LEADER.into());
    let pod = Api::<Pod>::namespaced(client, &namespace)
        .list(&ListParams::default().labels(&labels::selector(&primary)))
        .await
        .map_err(|e| format!("cannot list the cluster's pods: {e}"))?
        .items
        .into_iter()
        .find_map(|pod| pod.metadata.name)
        .ok_or_else(|| format!("{cluster} has no primary now; `tusk status {cluster}` says why"))?;
    Ok((namespace, pod, uri))
}
