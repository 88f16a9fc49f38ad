//! `tusk connection-info CLUSTER [--user USER]`: how to connect as a user of the cluster, from the user's
//! Secret `<c>-pguser-<user>` (the docs' keys). The password is shown only with `--show-password`.

use super::{Target, connect};
use clap::Args;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use std::process::ExitCode;
use tusk::naming::names;
use tusk_api::PostgresCluster;

/// The Secret's keys, in the order they are printed.
const KEYS: &[&str] = &[
    "host",
    "port",
    "dbname",
    "user",
    "password",
    "uri",
    "jdbc-uri",
    "pgbouncer-host",
    "pgbouncer-port",
    "pgbouncer-uri",
    "pgbouncer-jdbc-uri",
];

/// Arguments of `tusk connection-info`.
#[derive(Args)]
pub struct ConnectionInfoArgs {
    #[command(flatten)]
    target: Target,
    /// The user (default: the cluster's first user in `spec.users`, or the default user named after it).
    #[arg(long)]
    user: Option<String>,
    /// Print the password (and the URIs with it) instead of hiding it.
    #[arg(long)]
    show_password: bool,
}

/// Prints the user's connection settings.
pub fn run(args: &ConnectionInfoArgs) -> ExitCode {
    super::block_on(async {
        let (client, namespace) = connect(&args.target).await?;
        let cluster_name = &args.target.cluster;
        let user = match &args.user {
            Some(user) => user.clone(),
            None => {
                let clusters: Api<PostgresCluster> = Api::namespaced(client.clone(), &namespace);
                let cluster = clusters.get(cluster_name).await.map_err(|e| {
                    format!("cannot read PostgresCluster {namespace}/{cluster_name}: {e}")
                })?;
                tusk::users::wanted(&cluster)
                    .first()
                    .map(|user| user.name.clone())
                    .ok_or("the cluster has no user")?
            }
        };
        let secrets: Api<Secret> = Api::namespaced(client, &namespace);
        let name = names::user_secret(cluster_name, &user);
        let secret = secrets
            .get_opt(&name)
            .await
            .map_err(|e| format!("cannot read Secret {namespace}/{name}: {e}"))?
            .ok_or_else(|| {
                format!("no Secret {namespace}/{name}: is {user} in spec.users, and has the operator run?")
            })?;
        let data = secret.data.unwrap_or_default();
        let text = |key: &str| {
            data.get(key)
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        };
        let password = text("password").unwrap_or_default();
        for key in KEYS {
            let Some(mut value) = text(key) else { continue };
            if !args.show_password && !password.is_empty() {
                value = value.replace(&password, "********");
            }
            println!("{key:<19}{value}");
        }
        if !args.show_password {
            println!("(the password is hidden: --show-password prints it)");
        }
        Ok(())
    })
}
