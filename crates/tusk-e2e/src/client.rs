//! A long-running client pod per test namespace, with `psql`, the user Secret `hippo-pguser-hippo` and the
//! cluster CA mounted; tests `kubectl exec` into it (only the operator must never exec). Every connection
//! verifies the server with `sslmode=verify-full` against the cluster CA, and reads the Secret's files at
//! each call, so a regenerated Secret is followed once the kubelet refreshes the volume.

use crate::{POSTGRES_IMAGE, get_json, kubectl, pod_ready, wait_for};
use anyhow::Result;
use std::time::Duration;

/// The client pod's name.
pub const CLIENT_POD: &str = "psql-client";

/// The Secret whose `ca.crt` clients trust by default: hippo's cluster certificate.
pub const CLUSTER_CA_SECRET: &str = "hippo-cluster-cert";

/// A pod of the PostgreSQL image, non-root and read-only, running `script` with the user Secret mounted at
/// `/user` and the `ca.crt` of Secret `ca_secret` ([`CLUSTER_CA_SECRET`], or a custom TLS Secret) at
/// `/cluster-cert/ca.crt`, and `PGSSLMODE=verify-full` against that CA.
pub fn psql_pod_trusting(name: &str, script: &str, ca_secret: &str) -> String {
    let script: String = script
        .lines()
        .map(|line| format!("              {line}\n"))
        .collect();
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  enableServiceLinks: false
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsNonRoot: true
    runAsUser: 26
    seccompProfile: {{type: RuntimeDefault}}
  containers:
    - name: psql
      image: {POSTGRES_IMAGE}
      imagePullPolicy: IfNotPresent
      env:
        - {{name: PGSSLMODE, value: verify-full}}
        - {{name: PGSSLROOTCERT, value: /cluster-cert/ca.crt}}
        - {{name: PGCONNECT_TIMEOUT, value: "3"}}
      command:
        - sh
        - -c
        - |
{script}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {{drop: [ALL]}}
      volumeMounts:
        - {{name: user, mountPath: /user, readOnly: true}}
        - {{name: cluster-cert, mountPath: /cluster-cert, readOnly: true}}
        - {{name: tmp, mountPath: /tmp}}
  volumes:
    - name: user
      secret: {{secretName: hippo-pguser-hippo}}
    - name: cluster-cert
      secret: {{secretName: {ca_secret}, items: [{{key: ca.crt, path: ca.crt}}]}}
    - name: tmp
      emptyDir: {{}}
"#
    )
}

/// Where a query goes.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A Service of hippo by name (`hippo-primary`, `hippo-replicas`), verified under that name.
    Service(&'a str),
    /// One pod by IP address, verified under the name `hippo-replicas` (a name of the cluster certificate).
    Pod(&'a str),
}

/// The client pod of one test namespace.
pub struct Client {
    namespace: String,
}

impl Client {
    /// Starts the client pod in `namespace` (after hippo is applied: it mounts hippo's Secrets) and waits
    /// until it runs.
    pub fn start(namespace: &str) -> Result<Client> {
        Client::start_trusting(namespace, CLUSTER_CA_SECRET)
    }

    /// [`Client::start`] trusting the `ca.crt` of Secret `ca_secret` instead of the cluster CA.
    pub fn start_trusting(namespace: &str, ca_secret: &str) -> Result<Client> {
        crate::kubectl_with(
            &["-n", namespace, "apply", "--server-side", "-f", "-"],
            Some(&psql_pod_trusting(
                CLIENT_POD,
                "exec sleep infinity",
                ca_secret,
            )),
        )?;
        wait_for(
            "the psql client pod to be Ready",
            Duration::from_secs(180),
            || Ok(pod_ready(&get_json(namespace, &["pod", CLIENT_POD])?).then_some(())),
        )?;
        Ok(Client {
            namespace: namespace.to_string(),
        })
    }

    /// Runs `sh -c script` in the client pod with `args` as `$1`, `$2`, ...; its standard output.
    pub fn sh(&self, script: &str, args: &[&str]) -> Result<String> {
        let mut command = vec![
            "-n",
            &self.namespace,
            "exec",
            CLIENT_POD,
            "--",
            "sh",
            "-c",
            script,
            "sh",
        ];
        command.extend_from_slice(args);
        kubectl(&command)
    }

    /// Runs `sql` (with `ON_ERROR_STOP`, unaligned, tuples only) as the user of the Secret in its database at
    /// `target`; psql's output, trimmed.
    pub fn psql(&self, target: Target, sql: &str) -> Result<String> {
        let host = match target {
            Target::Service(service) => format!("host={service}.{}.svc", self.namespace),
            Target::Pod(ip) => format!("host=hippo-replicas.{}.svc hostaddr={ip}", self.namespace),
        };
        let script = r#"PGPASSWORD="$(cat /user/password)" exec timeout 30 psql \
            "$1 port=$(cat /user/port) user=$(cat /user/user) dbname=$(cat /user/dbname)" \
            -XAtq -v ON_ERROR_STOP=1 -c "$2""#;
        Ok(self.sh(script, &[&host, sql])?.trim().to_string())
    }

    /// [`Client::psql`] retried every second until it succeeds or `timeout` passes.
    pub fn psql_until_ok(&self, target: Target, sql: &str, timeout: Duration) -> Result<String> {
        wait_for(&format!("`{sql}` to succeed"), timeout, || {
            self.psql(target, sql).map(Some)
        })
    }
}
