//! The `tusk` command line: one module per subcommand.

mod crd;
mod operator;
mod plan;
mod render;

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
}

impl Cli {
    /// Runs the chosen subcommand; its exit code says whether it succeeded.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Crd => crd::run(),
            Command::Operator(args) => operator::run(&args),
            Command::Render(args) => render::run(&args),
            Command::Plan(args) => plan::run(&args),
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
