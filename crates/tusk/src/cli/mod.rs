//! The `tusk` command line: one module per subcommand.

mod crd;
mod operator;
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
}

impl Cli {
    /// Runs the chosen subcommand; its exit code says whether it succeeded.
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Crd => crd::run(),
            Command::Operator(args) => operator::run(&args),
            Command::Render(args) => render::run(&args),
        }
    }
}
