//! Helpers of the end-to-end tests (`tests/`), which run against the local Kubernetes of
//! `cargo xtask cluster` through `kubectl`: the end-to-end step of `cargo xtask test` runs them after the smoke
//! tests with `KUBECONFIG` and `PATH` from `cargo xtask cluster env`. By hand:
//!
//! ```sh
//! cargo xtask cluster up && eval "$(cargo xtask cluster env)" && cargo test -p tusk-e2e
//! ```
//!
//! Each test works in a namespace of its own, removed when the test passes and kept for debugging when it
//! fails. Without a cluster the tests fail, saying how to get one; they never skip.

pub mod client;
pub mod docs;
pub mod hippo;
pub mod objstore;
pub mod pgbackrest;
pub mod writer;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The namespace of the installed operator (`deploy/install`).
pub const OPERATOR_NAMESPACE: &str = "postgres-operator";
/// The local image of PostgreSQL, Patroni and pgBackRest (`images/tusk-postgres`).
pub const POSTGRES_IMAGE: &str = "localhost/tusk-postgres:dev";

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Fails unless a cluster is configured.
pub fn require_cluster() {
    assert!(
        std::env::var_os("KUBECONFIG").is_some(),
        "no cluster: run `cargo xtask test`, or `cargo xtask cluster up && eval \"$(cargo xtask cluster env)\"` first"
    );
}

/// Runs `program args`, optionally with `input` on standard input; its standard output, or an error with its
/// standard error.
pub fn run_with(program: &std::path::Path, args: &[&str], input: Option<&str>) -> Result<String> {
    let mut command = Command::new(program);
    command.args(args);
    output_of(command, input)
}

/// Runs `command`, optionally with `input` on standard input; its standard output, or an error with its
/// standard error.
fn output_of(mut command: Command, input: Option<&str>) -> Result<String> {
    let shown = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|word| word.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!("running {shown} (is it on PATH? `eval \"$(cargo xtask cluster env)\"`)")
        })?;
    if let Some(input) = input {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "{shown}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `kubectl args`, optionally with `input` on standard input; its standard output, or an error with its
/// standard error.
pub fn kubectl_with(args: &[&str], input: Option<&str>) -> Result<String> {
    run_with("kubectl".as_ref(), args, input)
}

/// Runs `kubectl args`.
pub fn kubectl(args: &[&str]) -> Result<String> {
    kubectl_with(args, None)
}

/// `sql` as `postgres` over the local socket of `pod` in `namespace` (test-side `exec`), stopping at the first
/// error; psql's output, trimmed.
pub fn psql_in(namespace: &str, pod: &str, sql: &str) -> Result<String> {
    psql_in_database(namespace, pod, "postgres", sql)
}

/// [`psql_in`] in the database `database`.
pub fn psql_in_database(namespace: &str, pod: &str, database: &str, sql: &str) -> Result<String> {
    Ok(kubectl(&[
        "-n",
        namespace,
        "exec",
        pod,
        "-c",
        "database",
        "--",
        "psql",
        "-XAtq",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        database,
        "-c",
        sql,
    ])?
    .trim()
    .to_string())
}

/// Runs `tusk args` in the operator's pod, optionally with `input` on standard input: its image holds the
/// `tusk` binary of the running operator, and its service account may read (and dry-run) what the day-2
/// commands need. The command's standard output.
pub fn tusk_in_operator_pod(args: &[&str], input: Option<&str>) -> Result<String> {
    let mut command = vec![
        "-n",
        OPERATOR_NAMESPACE,
        "exec",
        "-i",
        "deployment/tusk-operator",
        "--",
        "tusk",
    ];
    command.extend_from_slice(args);
    kubectl_with(&command, input)
}

/// Runs `tusk args` here, as a person at a workstation does (the release binary the operator image was built
/// from, `$CARGO_TARGET_DIR/release/tusk`, with this cluster's kubeconfig and `kubectl` on `PATH`): its
/// standard output.
pub fn tusk_here(args: &[&str]) -> Result<String> {
    run_with(&release_tusk(), args, None)
}

/// The release binary `cluster up` builds for the operator image.
fn release_tusk() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("release/tusk")
}

/// Runs `kubectl tusk args`: kubectl finds the plugin `kubectl-tusk` (a link to the binary of [`tusk_here`])
/// on `PATH`, as the README installs it. Its standard output.
pub fn kubectl_tusk(args: &[&str]) -> Result<String> {
    let plugins = tempfile::tempdir()?;
    std::os::unix::fs::symlink(release_tusk(), plugins.path().join("kubectl-tusk"))?;
    let path = std::env::join_paths(std::iter::once(plugins.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))?;
    let mut command = Command::new("kubectl");
    command.arg("tusk").args(args).env("PATH", path);
    output_of(command, None)
}

/// `tusk plan` of `manifest` for namespace `namespace`, run in the operator's pod: the plan's text.
pub fn plan(namespace: &str, manifest: &str) -> Result<String> {
    tusk_in_operator_pod(&["plan", "-n", namespace, "-f", "-"], Some(manifest))
}

/// The messages of the Events in `namespace` that match `fields`, a field selector such as
/// `type=Warning,reason=SourceNotFound`.
pub fn event_messages(namespace: &str, fields: &str) -> Result<Vec<String>> {
    let listed = kubectl(&[
        "-n",
        namespace,
        "get",
        "events",
        "--field-selector",
        fields,
        "-o",
        r#"jsonpath={range .items[*]}{.message}{"\n"}{end}"#,
    ])?;
    Ok(listed.lines().map(str::to_string).collect())
}

/// Patches PostgresCluster `cluster` in `namespace` with `patch` of `kind` (`merge` or `json`).
pub fn patch_cluster(namespace: &str, cluster: &str, kind: &str, patch: &str) -> Result<String> {
    kubectl(&[
        "-n",
        namespace,
        "patch",
        "postgrescluster",
        cluster,
        "--type",
        kind,
        "-p",
        patch,
    ])
}

/// `kubectl get -o json` of `what` in `namespace`.
pub fn get_json(namespace: &str, what: &[&str]) -> Result<Value> {
    let mut args = vec!["-n", namespace, "get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    Ok(serde_json::from_str(&kubectl(&args)?)?)
}

/// The uid of object `what` (e.g. `service/hippo-primary`) in `namespace`: a deleted and recreated object has
/// A status condition of a cluster, as the test reads it: its status, reason and message (empty when absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConditionSeen {
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Its reason.
    pub reason: String,
    /// Its message.
    pub message: String,
}

/// The condition `type_` of PostgresCluster `cluster` in `namespace` (all empty when it has none, or the cluster
/// cannot be read).
pub fn condition(namespace: &str, cluster: &str, type_: &str) -> ConditionSeen {
    let found = get_json(namespace, &["postgrescluster", cluster]).unwrap_or_default();
    let condition = found["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .cloned()
        .unwrap_or_default();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    ConditionSeen {
        status: text(&condition["status"]),
        reason: text(&condition["reason"]),
        message: text(&condition["message"]),
    }
}

/// a new one.
pub fn uid(namespace: &str, what: &str) -> Result<String> {
    let object = get_json(namespace, &[what])?;
    object["metadata"]["uid"]
        .as_str()
        .map(str::to_string)
        .context("an object with a uid")
}

/// Calls `probe` every second until it gives a value or `timeout` passes; the error names `what` and the
/// last thing `probe` said.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("nothing yet");
    loop {
        match probe() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last = format!("{error:#}"),
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what} (last: {last})");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Installs the operator as the README says (`kubectl apply --server-side -k deploy/install`) and waits until
/// its Deployment is available. An operator that was already installed is restarted, so it runs the image
/// the cluster's image step just built.
pub fn install_operator() -> Result<()> {
    let existed = kubectl(&[
        "-n",
        OPERATOR_NAMESPACE,
        "get",
        "deployment/tusk-operator",
        "--ignore-not-found",
        "-o",
        "name",
    ])
    .map(|out| !out.trim().is_empty())
    .unwrap_or(false);
    let install = repo_root().join("deploy/install");
    kubectl(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-k",
        install.to_str().expect("UTF-8 path"),
    ])?;
    if existed {
        kubectl(&[
            "-n",
            OPERATOR_NAMESPACE,
            "rollout",
            "restart",
            "deployment/tusk-operator",
        ])?;
    }
    wait_for_operator(OPERATOR_NAMESPACE)
}

/// Waits until the rollout of the operator Deployment in `namespace` is complete.
pub fn wait_for_operator(namespace: &str) -> Result<()> {
    kubectl(&[
        "-n",
        namespace,
        "rollout",
        "status",
        "deployment/tusk-operator",
        "--timeout=180s",
    ])?;
    Ok(())
}

/// The operator Deployment scaled to zero; dropping the guard (also when the test panics) scales it back to
/// the replicas it had and waits until it is available again.
pub struct OperatorStopped {
    replicas: String,
    restored: bool,
}

impl OperatorStopped {
    /// Scales `deployment/tusk-operator` to zero and waits until its pods are gone.
    pub fn stop() -> Result<OperatorStopped> {
        let deployment = get_json(OPERATOR_NAMESPACE, &["deployment", "tusk-operator"])?;
        let replicas = deployment["spec"]["replicas"]
            .as_i64()
            .unwrap_or(1)
            .to_string();
        let guard = OperatorStopped {
            replicas,
            restored: false,
        };
        kubectl(&[
            "-n",
            OPERATOR_NAMESPACE,
            "scale",
            "deployment/tusk-operator",
            "--replicas=0",
        ])?;
        const OPERATOR_PODS: &str =
            "app.kubernetes.io/name=tusk,app.kubernetes.io/component=operator";
        let gone = |timeout| {
            wait_for("the operator's pods to go", timeout, || {
                let pods = get_json(OPERATOR_NAMESPACE, &["pods", "-l", OPERATOR_PODS])?;
                Ok(pods["items"]
                    .as_array()
                    .is_some_and(|items| items.is_empty())
                    .then_some(()))
            })
        };
        if let Err(slow) = gone(Duration::from_secs(45)) {
            // Seen once in a CI run: no stop reached the container runtime for two minutes. Say where the
            // pods stand, then delete them outright (the test needs the operator stopped, however).
            eprintln!("e2e: {slow:#}");
            let state = [
                "-n",
                OPERATOR_NAMESPACE,
                "get",
                "deployment,replicaset,pods",
                "-o",
                "custom-columns=KIND:.kind,NAME:.metadata.name,DELETING:.metadata.deletionTimestamp,\
                 PHASE:.status.phase,REPLICAS:.status.replicas",
            ];
            eprintln!("{}", kubectl(&state).unwrap_or_default());
            kubectl(&[
                "-n",
                OPERATOR_NAMESPACE,
                "delete",
                "pods",
                "-l",
                OPERATOR_PODS,
                "--wait=false",
            ])?;
            gone(Duration::from_secs(90))?;
        }
        Ok(guard)
    }

    fn restart(&mut self) -> Result<()> {
        self.restored = true;
        kubectl(&[
            "-n",
            OPERATOR_NAMESPACE,
            "scale",
            "deployment/tusk-operator",
            &format!("--replicas={}", self.replicas),
        ])?;
        wait_for_operator(OPERATOR_NAMESPACE)
    }

    /// Scales the operator back now, reporting failure (dropping the guard does the same, ignoring errors).
    pub fn start_again(mut self) -> Result<()> {
        self.restart()
    }
}

impl Drop for OperatorStopped {
    fn drop(&mut self) {
        if self.restored {
            return;
        }
        if let Err(error) = self.restart() {
            eprintln!("e2e: could not scale the operator back: {error:#}");
        }
    }
}

/// A namespace for one test: made fresh, removed on drop unless the test failed.
pub struct Namespace(pub String);

impl Namespace {
    /// Removes what is left of `name` from an earlier run and makes it again.
    pub fn fresh(name: &str) -> Result<Namespace> {
        kubectl(&[
            "delete",
            "namespace",
            name,
            "--ignore-not-found",
            "--wait=true",
            "--timeout=180s",
        ])?;
        kubectl(&["create", "namespace", name])?;
        Ok(Namespace(name.to_string()))
    }

    /// Prints what a failed test leaves for its reader (a CI run keeps only its output): the pods, the last
    /// events, the operator's last lines about the namespace and the end of every container's log, also of a
    /// container's previous run.
    fn report(&self) {
        let ns = self.0.as_str();
        let show = |title: &str, args: &[&str]| match kubectl(args) {
            Ok(text) if !text.trim().is_empty() => {
                eprintln!("e2e: --- {title} ---\n{}", text.trim_end())
            }
            Ok(_) => {}
            Err(error) => eprintln!("e2e: --- {title}: {error:#}"),
        };
        show("pods", &["-n", ns, "get", "pods", "-o", "wide"]);
        if let Ok(events) = kubectl(&["-n", ns, "get", "events", "--sort-by=.lastTimestamp"]) {
            let lines: Vec<&str> = events.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!("e2e: --- last events ---\n{tail}");
        }
        let operator = [
            "-n",
            OPERATOR_NAMESPACE,
            "logs",
            "deployment/tusk-operator",
            "--tail=2000",
        ];
        if let Ok(log) = kubectl(&operator) {
            let ours: Vec<&str> = log.lines().filter(|line| line.contains(ns)).collect();
            let tail = ours[ours.len().saturating_sub(30)..].join("\n");
            eprintln!("e2e: --- the operator's last lines about {ns} ---\n{tail}");
        }
        let pods = kubectl(&["-n", ns, "get", "pods", "-o", "name"]).unwrap_or_default();
        for pod in pods.lines() {
            let logs = [
                "-n",
                ns,
                "logs",
                pod,
                "--all-containers",
                "--prefix",
                "--tail=80",
            ];
            show(&format!("{pod} logs"), &logs);
            let mut previous = logs.to_vec();
            previous.push("--previous");
            if let Ok(text) = kubectl(&previous) {
                eprintln!(
                    "e2e: --- {pod} logs of the previous run ---\n{}",
                    text.trim_end()
                );
            }
        }
    }

    /// Applies `manifest` in this namespace (server-side).
    pub fn apply(&self, manifest: &str) -> Result<String> {
        kubectl_with(
            &["-n", &self.0, "apply", "--server-side", "-f", "-"],
            Some(manifest),
        )
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.report();
            eprintln!(
                "e2e: namespace {} kept for debugging (kubectl -n {} get all,secrets,endpoints)",
                self.0, self.0
            );
        } else {
            let _ = kubectl(&["delete", "namespace", &self.0, "--wait=false"]);
        }
    }
}

/// The docs' hippo cluster (`examples/hippo/postgres.yaml`) with only its images changed to the local one.
pub fn local_hippo() -> String {
    let docs = std::fs::read_to_string(repo_root().join("examples/hippo/postgres.yaml"))
        .expect("examples/hippo/postgres.yaml");
    let local: Vec<String> = docs
        .lines()
        .map(|line| match line.split_once("image: ") {
            Some((indent, _)) => format!("{indent}image: {POSTGRES_IMAGE}"),
            None => line.to_string(),
        })
        .collect();
    local.join("\n") + "\n"
}

/// A pod as a test tells one apart from its successor: a restart of any container, or a replacement, changes
/// it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PodIdentity {
    /// The pod's name (a StatefulSet's successor keeps it).
    pub name: String,
    /// The pod's UID (a successor has another).
    pub uid: String,
    /// The restarts of all its containers.
    pub restarts: i64,
}

/// The identity of the pod as `kubectl get -o json` shows it.
pub fn pod_identity(pod: &Value) -> PodIdentity {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    PodIdentity {
        name: text(&pod["metadata"]["name"]),
        uid: text(&pod["metadata"]["uid"]),
        restarts: pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["restartCount"].as_i64())
            .sum(),
    }
}

/// Whether the pod (as `kubectl get -o json` shows it) has condition Ready=True.
pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The decoded value of `key` in Secret `secret` of `namespace`.
pub fn secret_field(namespace: &str, secret: &str, key: &str) -> Result<String> {
    kubectl(&[
        "-n",
        namespace,
        "get",
        "secret",
        secret,
        "-o",
        &format!("go-template={{{{index .data {key:?} | base64decode}}}}"),
    ])
}

/// `psql` on the host against a cluster's primary, as `cargo xtask demo` connects: `host=` the primary
/// Service's name (what `verify-full` checks against the cluster CA), `hostaddr=` the address kube-proxy
/// routes (the host cannot resolve cluster names).
pub struct HostPsql {
    host: String,
    address: String,
    ca: PathBuf,
}

/// The address of `cluster`'s primary Service endpoint, once it has one (up to 5 minutes).
fn primary_address(namespace: &str, cluster: &str) -> Result<String> {
    wait_for(
        &format!("{cluster}-primary Endpoints with an address"),
        Duration::from_secs(300),
        || {
            let endpoints = get_json(namespace, &["endpoints", &format!("{cluster}-primary")])?;
            Ok(endpoints["subsets"][0]["addresses"][0]["ip"]
                .as_str()
                .map(str::to_string))
        },
    )
}

impl HostPsql {
    /// For cluster `cluster` of `namespace`, once its primary Service has an address; writes the cluster CA to
    /// a file in the temporary directory.
    pub fn new(namespace: &str, cluster: &str) -> Result<HostPsql> {
        let address = primary_address(namespace, cluster)?;
        let ca = secret_field(namespace, &format!("{cluster}-cluster-cert"), "ca.crt")?;
        HostPsql::at(namespace, cluster, address, &ca)
    }

    /// [`HostPsql::new`] verifying the server against `ca_pem` (a custom TLS Secret's CA) instead of the
    /// cluster CA.
    pub fn trusting(namespace: &str, cluster: &str, ca_pem: &str) -> Result<HostPsql> {
        let address = primary_address(namespace, cluster)?;
        HostPsql::at(namespace, cluster, address, ca_pem)
    }

    fn at(namespace: &str, cluster: &str, address: String, ca_pem: &str) -> Result<HostPsql> {
        let ca = std::env::temp_dir().join(format!("tusk-e2e-{namespace}-{cluster}-ca.crt"));
        std::fs::write(&ca, ca_pem)?;
        Ok(HostPsql {
            host: format!("{cluster}-primary.{namespace}.svc"),
            address,
            ca,
        })
    }

    /// Runs `sql` (`psql -XAtq -v ON_ERROR_STOP=1 -c`) as `user` with `password` in `database`; its output, or
    /// an error with psql's.
    pub fn run(&self, user: &str, password: &str, database: &str, sql: &str) -> Result<String> {
        let conninfo = format!(
            "host={} hostaddr={} dbname='{}' user='{}' sslmode=verify-full sslrootcert={}",
            self.host,
            self.address,
            database,
            user,
            self.ca.display()
        );
        let output = Command::new("psql")
            .args([
                conninfo.as_str(),
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .output()
            .context("running psql on the host (cargo xtask cluster up installs it)")?;
        if !output.status.success() {
            bail!(
                "psql as {user} in {database}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hippo_changes_only_the_images() {
        let hippo = super::local_hippo();
        assert_eq!(
            hippo.matches("image: localhost/tusk-postgres:dev").count(),
            2
        );
        assert!(!hippo.contains("crunchydata.com/crunchydata"));
        assert!(hippo.contains("postgresVersion: 13"));
    }
}
