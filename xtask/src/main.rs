//! Project automation for Tusk: `cargo xtask <command>`.

mod bench;
mod cache;
mod cargo;
mod cluster;
mod demo;
mod docs;
mod gomod;
mod helm;
mod images;
mod monitoring;
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
    /// The docs' hippo cluster on the local Kubernetes under Tusk, and a `psql` line that connects to it.
    Demo,
    /// Measure the operator against a real API server: create → objects latency, memory with many clusters.
    Bench {
        /// Passed to the benchmark (`--batch N`, `--total N`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        arguments: Vec<String>,
    },
    /// Measure a backup and a restore of a generated database (about 2 GB) on the local Kubernetes:
    /// pgBackRest by hand versus through Tusk.
    BenchBackup {
        /// Passed to the benchmark (`--scale N`: pgbench's scale, 140 by default).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        arguments: Vec<String>,
    },
    /// Run every test tier, building first whatever the tests need.
    Test,
    /// Check the user book's links (docs/src) and build it with mdbook when mdbook is installed.
    Docs,
    /// Check deploy/monitoring offline with promtool: its configuration, alert rules and their unit tests.
    CheckMonitoring,
    /// A real single-node Kubernetes on this machine, for the end-to-end tests (as root).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// The upstream binaries the integration tests run: etcd, kube-apiserver, kubectl.
    Testbed {
        #[command(subcommand)]
        command: TestbedCommand,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Build what is missing (binaries, images), start what is not running, wait until the cluster is ready.
    Up,
    /// Stop every process of the cluster and remove its containers, mounts, network namespaces, bridge,
    /// iptables rules and state.
    Down {
        /// Keep the state directory (etcd's data, certificates, volumes, logs).
        #[arg(long)]
        keep_state: bool,
    },
    /// Show each component's process and health, the node and the pods.
    Status,
    /// Print the shell lines that point kubectl at the cluster: eval "$(cargo xtask cluster env)".
    Env,
    /// Run the smoke tests against the running cluster.
    Smoke,
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
        Command::BenchBackup { arguments } => bench::backup(&arguments),
        Command::Test => test::run(),
        Command::Docs => docs::run(),
        Command::CheckMonitoring => {
            if monitoring::check()? {
                Ok(())
            } else {
                anyhow::bail!("the monitoring stack's checks failed")
            }
        }
        Command::Cluster { command } => match command {
            ClusterCommand::Up => cluster::up(),
            ClusterCommand::Down { keep_state } => cluster::down(keep_state),
            ClusterCommand::Status => cluster::status(),
            ClusterCommand::Env => cluster::env(),
            ClusterCommand::Smoke => cluster::smoke(),
        },
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
