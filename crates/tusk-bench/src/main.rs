//! Tusk's benchmarks (`cargo xtask bench` builds and runs this): against a real etcd and kube-apiserver, how
//! long the operator takes from a PostgresCluster's creation to all its objects, for 1 cluster and for a batch
//! created at once, and how much memory the operator holds with many clusters. Prints figures; asserts nothing.

mod census;
mod operator;

use anyhow::{Result, bail};
use census::Census;
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::PostParams;
use operator::Operator;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tusk_api::PostgresCluster;
use tusk_testenv::ControlPlane;

/// The namespace every benchmark cluster is created in.
const NAMESPACE: &str = "bench";
/// How long the operator is left idle before its memory is read, so the figure is its steady state.
const SETTLE: Duration = Duration::from_secs(5);
/// How long any one step may take before the benchmark gives up.
const STEP_LIMIT: Duration = Duration::from_secs(900);
/// How many creations are in flight at once.
const CREATE_CONCURRENCY: usize = 16;

/// Tusk's benchmarks.
#[derive(Parser)]
struct Args {
    /// The `tusk` binary to measure (a release build).
    #[arg(long)]
    tusk: PathBuf,
    /// Clusters created at once for the batch latency and the first memory figure.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Clusters in all for the second memory figure.
    #[arg(long, default_value_t = 1000)]
    total: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let plane = ControlPlane::start().await?;
    let client = plane.client().await?;
    install_crd(&client).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": NAMESPACE}}))?;
    namespaces
        .create(&PostParams::default(), &namespace)
        .await?;

    let template = hippo()?;
    let census = Census::start(&client, NAMESPACE, census::expected(&template)).await?;
    let mut operator = Operator::start(&args.tusk, plane.kubeconfig_path())?;
    let clusters: Api<PostgresCluster> = Api::namespaced(client, NAMESPACE);
    println!(
        "Tusk benchmark: the docs' hippo cluster ({} objects each), operator {}",
        census.per_cluster(),
        args.tusk.display()
    );

    // The first cluster also waits for the operator's start and initial lists; it is not what is measured.
    let start = create_and_wait(&clusters, &census, &template, "warm-up", 0..1).await?;
    println!(
        "| operator start + first cluster (not a steady-state figure) | {} |",
        millis(start.slowest)
    );
    let one = create_and_wait(&clusters, &census, &template, "one", 0..1).await?;
    println!(
        "| create → all objects, 1 cluster | {} |",
        millis(one.slowest)
    );

    let batch = create_and_wait(&clusters, &census, &template, "c", 0..args.batch).await?;
    println!(
        "| create → all objects, {} clusters created at once | all in {}; per cluster median {}, slowest {} |",
        args.batch,
        millis(batch.all),
        millis(batch.median),
        millis(batch.slowest)
    );
    tokio::time::sleep(SETTLE).await;
    println!(
        "| operator memory, {} clusters | {} |",
        args.batch + 2,
        operator.memory()?
    );

    let rest = create_and_wait(&clusters, &census, &template, "c", args.batch..args.total).await?;
    println!(
        "| create → all objects, {} more clusters | all in {} |",
        args.total - args.batch,
        millis(rest.all)
    );
    tokio::time::sleep(SETTLE).await;
    println!(
        "| operator memory, {} clusters | {} |",
        args.total + 2,
        operator.memory()?
    );
    Ok(())
}

/// Latencies of one step.
struct Timings {
    /// From the first creation to the last cluster complete.
    all: Duration,
    /// The median of creation → complete, per cluster.
    median: Duration,
    /// The longest creation → complete.
    slowest: Duration,
}

/// Creates clusters `<prefix>-<n>` for every n in `range` and waits until each has all its objects.
async fn create_and_wait(
    clusters: &Api<PostgresCluster>,
    census: &Census,
    template: &PostgresCluster,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> Result<Timings> {
    let started = Instant::now();
    let created: Vec<(String, Instant)> = futures::stream::iter(range)
        .map(|n| {
            let mut cluster = template.clone();
            let name = format!("{prefix}-{n}");
            cluster.metadata.name = Some(name.clone());
            async move {
                let at = Instant::now();
                clusters.create(&PostParams::default(), &cluster).await?;
                Ok::<_, kube::Error>((name, at))
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_collect()
        .await?;
    let mut latencies = Vec::with_capacity(created.len());
    for (name, at) in &created {
        let done = loop {
            if let Some(done) = census.completed(name) {
                break done;
            }
            if started.elapsed() > STEP_LIMIT {
                bail!("{name} did not get all its objects within {STEP_LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        latencies.push(done.saturating_duration_since(*at));
    }
    latencies.sort();
    Ok(Timings {
        all: started.elapsed(),
        median: latencies[latencies.len() / 2],
        slowest: *latencies.last().expect("at least one cluster"),
    })
}

/// The docs' quickstart cluster, in the benchmark namespace.
fn hippo() -> Result<PostgresCluster> {
    let mut cluster: PostgresCluster =
        serde_saphyr::from_str(include_str!("../../../examples/hippo/postgres.yaml"))?;
    cluster.metadata.namespace = Some(NAMESPACE.into());
    Ok(cluster)
}

/// Installs the CRD that `tusk crd` prints and waits until it serves.
async fn install_crd(client: &kube::Client) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Patch, PatchParams};
    use kube::runtime::wait::{await_condition, conditions};
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = tusk_api::crd::crd();
    let name = crd.metadata.name.clone().unwrap_or_default();
    crds.patch(
        &name,
        &PatchParams::apply("tusk-bench").force(),
        &Patch::Apply(&crd),
    )
    .await?;
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await??;
    Ok(())
}

/// A duration in milliseconds, for the table.
fn millis(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}
