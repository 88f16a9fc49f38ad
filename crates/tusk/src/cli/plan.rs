//! `tusk plan -f FILE`: what applying a PostgresCluster manifest would change in the live cluster — which
//! objects are created, changed (and which fields) or deleted, and whether that restarts instances, needs a
//! switchover, adds a volume or writes a role — before it is applied. Reads only; nothing is written.

use super::read_manifest;
use clap::Args;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{Api, Client, ResourceExt};
use std::path::PathBuf;
use std::process::ExitCode;
use tusk::changes;
use tusk::controller::preview;
use tusk::images::Images;

/// The name of the operator's Deployment, whose `RELATED_IMAGE_*` settings the operator builds with.
const OPERATOR_DEPLOYMENT: &str = "tusk-operator";

/// Arguments of `tusk plan`.
#[derive(Args)]
pub struct PlanArgs {
    /// The PostgresCluster manifest to compare with the live cluster, or `-` for standard input.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: PathBuf,
    /// The cluster's namespace when the manifest names none (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Where the operator's Deployment `tusk-operator` runs: its images are the ones compared.
    #[arg(long, default_value = "postgres-operator")]
    operator_namespace: String,
    /// The output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
}

/// How `tusk plan` prints.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// For programs.
    Json,
}

/// Prints the plan; exits 1 when the manifest is invalid or the cluster cannot be read.
pub fn run(args: &PlanArgs) -> ExitCode {
    let text = match read_manifest(&args.file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let cluster = match tusk_api::manifest::parse(&text) {
        Ok(cluster) => cluster,
        Err(violations) => {
            eprintln!("error: not a valid PostgresCluster:");
            for violation in violations {
                eprintln!("  {violation}");
            }
            return ExitCode::FAILURE;
        }
    };
    let violations = tusk::validate::validate(&tusk::build::completed(&cluster));
    if !violations.is_empty() {
        eprintln!("error: the operator would refuse this spec:");
        for violation in violations {
            eprintln!("  {violation}");
        }
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(plan(args, &cluster)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            eprintln!(
                "Check that kubectl reaches the cluster (KUBECONFIG) and may read its namespace."
            );
            ExitCode::FAILURE
        }
    }
}

async fn plan(args: &PlanArgs, cluster: &tusk_api::PostgresCluster) -> Result<String, String> {
    let client = Client::try_default().await.map_err(|e| e.to_string())?;
    let namespace = cluster
        .namespace()
        .or_else(|| args.namespace.clone())
        .unwrap_or_else(|| client.default_namespace().to_string());
    let (images, note) = operator_images(&client, &args.operator_namespace).await;
    let preview = preview::preview(&client, &namespace, cluster, &images)
        .await
        .map_err(|e| e.to_string())?;
    let name = format!("{namespace}/{}", cluster.name_any());
    if let Format::Json = args.output {
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
        let plan = changes::json(
            &name,
            preview.exists,
            &preview.changes,
            preview.leader.as_deref(),
        );
        return serde_json::to_string_pretty(&plan)
            .map(|text| text + "\n")
            .map_err(|e| e.to_string());
    }
    let mut out = String::new();
    if let Some(note) = note {
        out.push_str(&format!("note: {note}\n"));
    }
    if !preview.exists {
        out.push_str(&format!(
            "PostgresCluster {namespace}/{} does not exist yet: applying it creates everything below.\n",
            cluster.name_any()
        ));
    }
    out.push_str(&changes::report(
        &name,
        &preview.changes,
        preview.leader.as_deref(),
    ));
    Ok(out)
}

/// The images the operator builds with (its Deployment's `RELATED_IMAGE_*`), or this process's environment
/// with a note saying why.
async fn operator_images(client: &Client, namespace: &str) -> (Images, Option<String>) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    match deployments.get_opt(OPERATOR_DEPLOYMENT).await {
        Ok(Some(deployment)) => {
            let env = deployment
                .spec
                .and_then(|s| s.template.spec)
                .into_iter()
                .flat_map(|pod| pod.containers)
                .flat_map(|c| c.env.unwrap_or_default())
                .filter_map(|var| Some((var.name, var.value?)));
            (Images::from_environment(env), None)
        }
        Ok(None) => (
            Images::from_environment(std::env::vars()),
            Some(format!(
                "no Deployment {OPERATOR_DEPLOYMENT} in namespace {namespace} (--operator-namespace): images are taken from this shell's RELATED_IMAGE_* variables"
            )),
        ),
        Err(error) => (
            Images::from_environment(std::env::vars()),
            Some(format!(
                "cannot read the operator's Deployment ({error}): images are taken from this shell's RELATED_IMAGE_* variables"
            )),
        ),
    }
}
