//! Project automation for Tusk: `cargo xtask <command>`.

mod bench;
mod cache;
mod cargo;
mod demo;
mod gomod;
mod test;
mod testbed;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Tusk's project automation.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what Tusk does today, on the docs' hippo cluster.
    Demo,
    /// Measure the operator against a real API server: create → objects latency, memory with many clusters.
    Bench {
        /// Passed to the benchmark (`--batch N`, `--total N`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        arguments: Vec<String>,
    },
    /// Run every test tier, building first whatever the tests need.
    Test,
    /// The upstream binaries the integration tests run: etcd, kube-apiserver, kubectl.
    Testbed {
        #[command(subcommand)]
        command: TestbedCommand,
    },
}

#[derive(Subcommand)]
enum TestbedCommand {
    /// Build the binaries from their Go modules into the cache (nothing to do when they are there).
    Build,
    /// Print the directory of the binaries, building them first if needed.
    Path,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Demo => demo::run(),
        Command::Bench { arguments } => bench::run(&arguments),
        Command::Test => test::run(),
        Command::Testbed {
            command: TestbedCommand::Build,
        } => testbed::build().map(|_| ()),
        Command::Testbed {
            command: TestbedCommand::Path,
        } => {
            println!("{}", testbed::build()?.display());
            Ok(())
        }
    }
}
