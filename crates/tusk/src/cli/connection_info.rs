//! `tusk connection-info CLUSTER [--user USER]`: how to connect as a user of the cluster, from the user's
//! Secret `<c>-pguser-<user>` (the docs' keys). The password is shown only with `--show-password`.

use super::{Target, connect, user_secret};
use clap::Args;
use std::process::ExitCode;

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
        let secret = user_secret(
            &client,
            &namespace,
            &args.target.cluster,
            args.user.as_deref(),
        )
        .await?;
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
