//! `tusk status CLUSTER [-o json]`: one screen on a cluster's health (instances with role, lag, timeline and
//! pending restarts; the latest backups per repository; WAL archiving; PgBouncer; certificates' expiry; what
//! needs attention). Reads the API server only, with the caller's credentials.

use super::{Target, connect};
use clap::{Args, ValueEnum};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use std::process::ExitCode;
use tusk::naming::{labels, names};
use tusk::summary::{Observed, summarize, text};
use tusk_api::PostgresCluster;

/// Arguments of `tusk status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    /// The output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
}

/// How `tusk status` prints.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// For programs.
    Json,
}

/// Prints the cluster's status.
pub fn run(args: &StatusArgs) -> ExitCode {
    super::block_on(async {
        let (client, namespace) = connect(&args.target).await?;
        let name = &args.target.cluster;
        let cluster = Api::<PostgresCluster>::namespaced(client.clone(), &namespace)
            .get(name)
            .await
            .map_err(|e| {
                format!("cannot read PostgresCluster {namespace}/{name}: {e}; `kubectl -n {namespace} get postgresclusters` lists them")
            })?;
        let selector = ListParams::default().labels(&labels::selector(&labels::cluster(name)));
        let read = |what: &str, e: kube::Error| format!("cannot list the cluster's {what}: {e}");
        let pods = Api::<Pod>::namespaced(client.clone(), &namespace)
            .list(&selector)
            .await
            .map_err(|e| read("pods", e))?
            .items;
        let jobs = Api::<Job>::namespaced(client.clone(), &namespace)
            .list(&selector)
            .await
            .map_err(|e| read("Jobs", e))?
            .items;
        let secret_api = Api::<Secret>::namespaced(client, &namespace);
        let mut secrets = secret_api
            .list(&selector)
            .await
            .map_err(|e| read("Secrets", e))?
            .items;
        if let Some(root) = secret_api
            .get_opt(names::ROOT_CA_SECRET)
            .await
            .map_err(|e| read("root certificate", e))?
        {
            secrets.push(root);
        }
        let now = Timestamp::now();
        let summary = summarize(&Observed {
            cluster: &cluster,
            pods: &pods,
            jobs: &jobs,
            secrets: &secrets,
            now,
        });
        match args.output {
            Format::Text => print!("{}", text::render(&summary, now)),
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
            ),
        }
        Ok(())
    })
}
