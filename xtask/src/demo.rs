//! `cargo xtask demo`: the docs' quickstart on the local Kubernetes. Brings the cluster up when it does not
//! answer, installs Tusk as the README says, creates the docs' hippo cluster (local images) in
//! `postgres-operator`, waits until it is ready and its user can log in, and prints one `psql` line that
//! connects to it with `sslmode=verify-full` from the host (after `eval "$(cargo xtask cluster env)"`).
//!
//! The host reaches Service addresses through kube-proxy but cannot resolve the cluster's DNS names, so the
//! line gives libpq both: `host=` the Service's DNS name (what the certificate names and `verify-full`
//! checks) and `hostaddr=` its address. The CA and a password file go under `~/.cache/tusk/demo/`, outside
//! the work tree, so the password is not on the line.

use crate::cache;
use crate::cluster::{self, Layout};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the demo cluster lives: the namespace of the docs' tutorial.
const NAMESPACE: &str = "postgres-operator";
/// The docs' cluster.
const CLUSTER: &str = "hippo";
/// How long the cluster may take to become ready and accept its user.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs the demo; the only line on standard output is the `psql` command.
pub fn run() -> Result<()> {
    let started = Instant::now();
    cluster::ensure_psql()?;
    let layout = cluster::ensure_up()?;
    let kubectl = Kubectl(&layout);
    install(&kubectl)?;
    eprintln!("xtask: demo: Tusk is running; creating {NAMESPACE}/{CLUSTER}");
    kubectl.run(
        &["-n", NAMESPACE, "apply", "--server-side", "-f", "-"],
        Some(&tusk_e2e::local_hippo()),
    )?;
    wait("hippo's instances to be ready", || {
        let ready = kubectl.run(
            &[
                "-n",
                NAMESPACE,
                "get",
                &format!("postgrescluster/{CLUSTER}"),
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"InstancesReady\")].status}",
            ],
            None,
        )?;
        Ok((ready.trim() == "True").then_some(()))
    })?;
    let user_secret = format!("{CLUSTER}-pguser-{CLUSTER}");
    let field = |secret: &str, key: &str| {
        kubectl.run(
            &[
                "-n",
                NAMESPACE,
                "get",
                "secret",
                secret,
                "-o",
                &format!("go-template={{{{index .data {key:?} | base64decode}}}}"),
            ],
            None,
        )
    };
    let login = wait("the user Secret", || {
        let value = |key| field(&user_secret, key);
        let login = Login {
            host: value("host")?,
            port: value("port")?,
            dbname: value("dbname")?,
            user: value("user")?,
            password: value("password")?,
        };
        Ok((!login.password.is_empty()).then_some(login))
    })?;
    let address = kubectl.run(
        &[
            "-n",
            NAMESPACE,
            "get",
            "endpoints",
            &format!("{CLUSTER}-primary"),
            "-o",
            "jsonpath={.subsets[0].addresses[0].ip}",
        ],
        None,
    )?;
    let dir = cache::dir()?.join("demo");
    std::fs::create_dir_all(&dir)?;
    let ca = dir.join(format!("{NAMESPACE}-{CLUSTER}-ca.crt"));
    std::fs::write(&ca, field(&format!("{CLUSTER}-cluster-cert"), "ca.crt")?)?;
    let passfile = dir.join(format!("{NAMESPACE}-{CLUSTER}.pgpass"));
    write_private(&passfile, &login.pgpass_line())?;
    let conninfo = login.conninfo(address.trim(), &ca, &passfile);
    wait("hippo to accept its user over verify-full TLS", || {
        let answer = Command::new("psql")
            .args([conninfo.as_str(), "-XAtc", "select 1"])
            .env("PGCONNECT_TIMEOUT", "5")
            .output()?;
        if !answer.status.success() {
            bail!("{}", String::from_utf8_lossy(&answer.stderr).trim());
        }
        Ok((String::from_utf8_lossy(&answer.stdout).trim() == "1").then_some(()))
    })?;
    eprintln!(
        "xtask: demo: hippo answers after {:.0?}; connect with (after eval \"$(cargo xtask cluster env)\"):",
        started.elapsed()
    );
    println!("psql {}", shell_quote(&conninfo));
    Ok(())
}

/// Installs Tusk (`kubectl apply --server-side -k deploy/install`) and waits for its Deployment; an operator
/// that is already running is left as it is.
fn install(kubectl: &Kubectl<'_>) -> Result<()> {
    let install = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/install");
    kubectl.run(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-k",
            install
                .to_str()
                .context("the repository's path is not UTF-8")?,
        ],
        None,
    )?;
    kubectl.run(
        &[
            "-n",
            NAMESPACE,
            "rollout",
            "status",
            "deployment/tusk-operator",
            "--timeout=180s",
        ],
        None,
    )?;
    Ok(())
}

/// How the demo's user logs in, from its Secret.
struct Login {
    host: String,
    port: String,
    dbname: String,
    user: String,
    password: String,
}

impl Login {
    /// The libpq connection string: the Service's name for `verify-full`, its `address` to reach it.
    fn conninfo(&self, address: &str, ca: &Path, passfile: &Path) -> String {
        [
            ("host", self.host.as_str()),
            ("hostaddr", address),
            ("port", &self.port),
            ("dbname", &self.dbname),
            ("user", &self.user),
            ("sslmode", "verify-full"),
            ("sslrootcert", &ca.to_string_lossy()),
            ("passfile", &passfile.to_string_lossy()),
        ]
        .iter()
        .map(|(key, value)| format!("{key}={}", conninfo_value(value)))
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// The `.pgpass` line of this login (libpq matches its host field against `host`, not `hostaddr`).
    fn pgpass_line(&self) -> String {
        let field = |value: &str| value.replace('\\', "\\\\").replace(':', "\\:");
        format!(
            "{}:{}:{}:{}:{}\n",
            field(&self.host),
            field(&self.port),
            field(&self.dbname),
            field(&self.user),
            field(&self.password)
        )
    }
}

/// A value of a libpq connection string: as it is when it is plain, else in single quotes with `\` and `'`
/// escaped.
fn conninfo_value(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// `text` as one shell word: in single quotes, each inner single quote closed, escaped and reopened.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Writes `contents` to `path`, readable by its owner only (libpq ignores a password file others can read).
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// Calls `probe` every 2 seconds until it gives a value, for at most [`READY_TIMEOUT`].
fn wait<T>(what: &str, mut probe: impl FnMut() -> Result<Option<T>>) -> Result<T> {
    eprintln!("xtask: demo: waiting for {what} ...");
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let last = match probe() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => String::from("not yet"),
            Err(error) => format!("{error:#}"),
        };
        if Instant::now() > deadline {
            bail!("timed out after {READY_TIMEOUT:?} waiting for {what} (last: {last})");
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// `kubectl` as the local cluster's administrator.
struct Kubectl<'a>(&'a Layout);

impl Kubectl<'_> {
    /// Runs `kubectl args` with `input` on standard input; its standard output, or an error with its
    /// standard error.
    fn run(&self, args: &[&str], input: Option<&str>) -> Result<String> {
        let mut child = self
            .0
            .kubectl()
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(text), Some(mut pipe)) = (input, child.stdin.take()) {
            pipe.write_all(text.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> Login {
        Login {
            host: "hippo-primary.postgres-operator.svc".into(),
            port: "5432".into(),
            dbname: "hippo".into(),
            user: "hippo".into(),
            password: r"a:b\c".into(),
        }
    }

    #[test]
    fn the_line_names_the_service_and_reaches_its_address() {
        let conninfo = login().conninfo(
            "10.96.4.2",
            Path::new("/root/.cache/tusk/demo/ca.crt"),
            Path::new("/root/my files/pgpass"),
        );
        assert_eq!(
            conninfo,
            "host=hippo-primary.postgres-operator.svc hostaddr=10.96.4.2 port=5432 dbname=hippo \
             user=hippo sslmode=verify-full sslrootcert=/root/.cache/tusk/demo/ca.crt \
             passfile='/root/my files/pgpass'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_password_file_escapes_its_separators() {
        assert_eq!(
            login().pgpass_line(),
            "hippo-primary.postgres-operator.svc:5432:hippo:hippo:a\\:b\\\\c\n"
        );
        assert_eq!(conninfo_value(r"it's"), r"'it\'s'");
        assert_eq!(conninfo_value(""), "''");
    }
}
