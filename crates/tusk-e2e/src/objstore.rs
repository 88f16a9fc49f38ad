//! The object-store test bed: one pod `objstore` of the local image `localhost/tusk-objstore:dev` (built by
//! `cargo xtask cluster up`) in a test's namespace, serving over TLS, behind the Service `objstore`:
//!
//! | store | server | port | bucket or container |
//! |---|---|---|---|
//! | S3 | versitygw (posix backend, SigV4 checked) | 9000 | `hippo` (a directory of the backend) |
//! | GCS | fake-gcs-server (filesystem backend) | 4443 | `hippo` (preloaded) |
//! | Azure | Azurite (blob service, account `devstoreaccount1`) | 10000 | `hippo` (created through the API) |
//!
//! Their serving certificate comes from a CA made for the test; a PostgresCluster trusts it as PGO users do:
//! a Secret of `spec.backups.pgbackrest.configuration` holding the credentials file (`s3.conf`, `gcs.conf`,
//! `azure.conf`) and the CA (`objstore-ca.crt`), and `repoN-storage-ca-file` in `global`
//! ([`Store::global`]).

use crate::{POSTGRES_IMAGE, get_json, kubectl, kubectl_with, pod_ready, wait_for};
use anyhow::{Context, Result};
use std::time::Duration;
use tusk_testenv::pki::Authority;

/// The object-store image.
pub const IMAGE: &str = "localhost/tusk-objstore:dev";
/// The pod and the Service.
pub const NAME: &str = "objstore";
/// The bucket (or container) every store has.
pub const BUCKET: &str = "hippo";
/// The Secret a cluster projects into `/etc/pgbackrest/conf.d` (`spec.backups.pgbackrest.configuration`).
pub const CONFIGURATION_SECRET: &str = "pgbackrest-objstore";
/// The CA file's name in `/etc/pgbackrest/conf.d`.
pub const CA_FILE: &str = "objstore-ca.crt";
/// The S3 root user's access key.
const S3_KEY: &str = "tusk-e2e";
/// Its secret key.
const S3_SECRET: &str = "tusk-e2e-secret-key-0123456789";
/// Azurite's well-known development account.
const AZURE_ACCOUNT: &str = "devstoreaccount1";
/// Its well-known key.
const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// One of the object stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    S3,
    Gcs,
    Azure,
}

impl Store {
    /// Its port on the Service.
    pub fn port(self) -> u16 {
        match self {
            Store::S3 => 9000,
            Store::Gcs => 4443,
            Store::Azure => 10000,
        }
    }

    /// The container of the `objstore` pod serving it.
    pub fn container(self) -> &'static str {
        match self {
            Store::S3 => "s3",
            Store::Gcs => "gcs",
            Store::Azure => "azure",
        }
    }

    /// The repository of a PostgresCluster in this store, as a `repos` item (YAML flow) named `repo`.
    pub fn repo(self, repo: &str, namespace: &str) -> String {
        let host = host(namespace);
        match self {
            Store::S3 => format!(
                "{{name: {repo}, s3: {{bucket: {BUCKET}, endpoint: {host}, region: us-east-1}}}}"
            ),
            Store::Gcs => format!("{{name: {repo}, gcs: {{bucket: {BUCKET}}}}}"),
            Store::Azure => format!("{{name: {repo}, azure: {{container: {BUCKET}}}}}"),
        }
    }

    /// What `spec.backups.pgbackrest.global` needs for repository `number` in this store: the endpoint where the
    /// spec has no field for it, path-style addressing, the port and the CA.
    pub fn global(self, number: u8, namespace: &str) -> Vec<(String, String)> {
        let key = |option: &str| format!("repo{number}-{option}");
        let mut options = vec![(
            key("storage-ca-file"),
            format!("/etc/pgbackrest/conf.d/{CA_FILE}"),
        )];
        let port = self.port().to_string();
        match self {
            Store::S3 => {
                options.push((key("storage-port"), port));
                options.push((key("s3-uri-style"), "path".into()));
            }
            // pgBackRest 2.45 takes no `storage-port` for GCS ("not valid without option 'repo1-type' in
            // ('azure', 's3')"; in a file it is ignored and 443 used): the port goes in the endpoint.
            Store::Gcs => {
                options.push((key("gcs-endpoint"), format!("{}:{port}", host(namespace))));
                options.push((key("gcs-key-type"), "token".into()));
            }
            Store::Azure => {
                options.push((key("storage-port"), port));
                options.push((key("azure-endpoint"), host(namespace)));
                options.push((key("azure-uri-style"), "path".into()));
            }
        }
        options
    }

    /// hippo's `spec.backups` (YAML indented as a direct child of `spec`, for [`crate::hippo::with_backups`])
    /// with its only repository, `repo1`, in this store of `namespace`.
    pub fn backups(self, namespace: &str) -> String {
        backups(namespace, &[(self, 1)], false)
    }

    /// The credentials file of repository `number` in this store (`s3.conf`, ...): its name and text.
    pub fn credentials(self, number: u8) -> (String, String) {
        let key = |option: &str| format!("repo{number}-{option}");
        match self {
            Store::S3 => (
                "s3.conf".into(),
                format!(
                    "[global]\n{}={S3_KEY}\n{}={S3_SECRET}\n",
                    key("s3-key"),
                    key("s3-key-secret")
                ),
            ),
            // fake-gcs-server accepts any bearer token.
            Store::Gcs => (
                "gcs.conf".into(),
                format!("[global]\n{}=tusk-e2e-token\n", key("gcs-key")),
            ),
            Store::Azure => (
                "azure.conf".into(),
                format!(
                    "[global]\n{}={AZURE_ACCOUNT}\n{}={AZURE_KEY}\n",
                    key("azure-account"),
                    key("azure-key")
                ),
            ),
        }
    }
}

/// The Service's name in `namespace`, which the serving certificate carries.
pub fn host(namespace: &str) -> String {
    format!("{NAME}.{namespace}.svc")
}

/// The object stores deployed in one namespace.
pub struct ObjectStores {
    namespace: String,
}

impl ObjectStores {
    /// Deploys the object stores in `namespace` with a new CA, waits until each answers, creates the bucket
    /// of each, and writes the configuration Secret for each repository `(store, number)` of `repos` (at most
    /// one per store: each store has one credentials file).
    pub fn deploy(namespace: &str, repos: &[(Store, u8)]) -> Result<ObjectStores> {
        let ca = Authority::generate("tusk-e2e objstore CA")?;
        let service = host(namespace);
        let long = format!("{service}.cluster.local");
        let server = ca.server(&service, &[&service, &long, NAME])?;
        let mut configuration: serde_json::Map<String, serde_json::Value> = repos
            .iter()
            .map(|(store, number)| {
                let (file, text) = store.credentials(*number);
                (file, text.into())
            })
            .collect();
        configuration.insert(CA_FILE.into(), ca.cert_pem().into());
        let secrets = serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "objstore-tls"},
                    "stringData": {
                        "tls.crt": server.cert, "tls.key": server.key, "ca.crt": ca.cert_pem(),
                    },
                },
                {
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": CONFIGURATION_SECRET},
                    "stringData": configuration,
                },
            ],
        });
        kubectl_with(
            &["-n", namespace, "apply", "--server-side", "-f", "-"],
            Some(&secrets.to_string()),
        )?;
        kubectl_with(
            &["-n", namespace, "apply", "--server-side", "-f", "-"],
            Some(&manifest(namespace)),
        )?;
        wait_for(
            "the object stores to be Ready",
            Duration::from_secs(180),
            || Ok(pod_ready(&get_json(namespace, &["pod", NAME])?).then_some(())),
        )?;
        let stores = ObjectStores {
            namespace: namespace.to_string(),
        };
        stores
            .exec(Store::Azure, &["/bin/azurite-container", BUCKET])
            .context("creating the Azure container")?;
        Ok(stores)
    }

    /// Runs `command` in the container serving `store`; its standard output.
    pub fn exec(&self, store: Store, command: &[&str]) -> Result<String> {
        let mut args = vec![
            "-n",
            &self.namespace,
            "exec",
            NAME,
            "-c",
            store.container(),
            "--",
        ];
        args.extend_from_slice(command);
        kubectl(&args)
    }

    /// Whether the server keeps an object whose name contains `needle`, looked up on its own side: versitygw
    /// and fake-gcs-server keep one file per object (fake-gcs-server escapes the `/` of its name), Azurite
    /// keeps the names in its metadata database (written to disk within seconds).
    pub fn holds(&self, store: Store, needle: &str) -> Result<bool> {
        let script = match store {
            Store::S3 | Store::Gcs => "find /data/$0 -type f | grep -q -F \"$1\"",
            Store::Azure => "grep -q -s -F \"$1\" /data/azure/__azurite_db_blob__.json",
        };
        Ok(self
            .exec(store, &["sh", "-c", script, store.container(), needle])
            .is_ok())
    }
}

/// The pod and Service of the object stores in `namespace`.
fn manifest(namespace: &str) -> String {
    let host = host(namespace);
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {NAME}
  labels: {{app: {NAME}}}
spec:
  enableServiceLinks: false
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile: {{type: RuntimeDefault}}
  containers:
    - name: s3
      image: {IMAGE}
      imagePullPolicy: IfNotPresent
      env:
        - {{name: ROOT_ACCESS_KEY, value: {S3_KEY}}}
        - {{name: ROOT_SECRET_KEY, value: {S3_SECRET}}}
      command: [sh, -c]
      args:
        - mkdir -p /data/s3/{BUCKET} /data/meta-s3 && exec versitygw --port :9000 --cert /tls/tls.crt --key /tls/tls.key --quiet posix --sidecar /data/meta-s3 /data/s3
      readinessProbe: {{tcpSocket: {{port: 9000}}, periodSeconds: 1}}
      securityContext: &restricted
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {{drop: [ALL]}}
      volumeMounts: &mounts
        - {{name: data, mountPath: /data}}
        - {{name: tls, mountPath: /tls, readOnly: true}}
        - {{name: tmp, mountPath: /tmp}}
    - name: gcs
      image: {IMAGE}
      imagePullPolicy: IfNotPresent
      command: [sh, -c]
      args:
        - mkdir -p /data/gcs-preload/{BUCKET} && exec fake-gcs-server -scheme https -port 4443 -cert-location /tls/tls.crt -private-key-location /tls/tls.key -backend filesystem -filesystem-root /data/gcs -data /data/gcs-preload -public-host {host}:4443 -external-url https://{host}:4443 -log-level warn
      readinessProbe: {{tcpSocket: {{port: 4443}}, periodSeconds: 1}}
      securityContext: *restricted
      volumeMounts: *mounts
    - name: azure
      image: {IMAGE}
      imagePullPolicy: IfNotPresent
      command: [sh, -c]
      args:
        - mkdir -p /data/azure && exec azurite-blob --blobHost 0.0.0.0 --blobPort 10000 --cert /tls/tls.crt --key /tls/tls.key --location /data/azure --disableProductStyleUrl --skipApiVersionCheck --disableTelemetry --loose
      readinessProbe: {{tcpSocket: {{port: 10000}}, periodSeconds: 1}}
      securityContext: *restricted
      volumeMounts: *mounts
  volumes:
    - {{name: data, emptyDir: {{}}}}
    - {{name: tmp, emptyDir: {{}}}}
    - name: tls
      secret: {{secretName: objstore-tls}}
---
apiVersion: v1
kind: Service
metadata:
  name: {NAME}
spec:
  selector: {{app: {NAME}}}
  ports:
    - {{name: s3, port: 9000}}
    - {{name: gcs, port: 4443}}
    - {{name: azure, port: 10000}}
"#
    )
}

/// hippo's `spec.backups` (YAML indented as a direct child of `spec`, for [`crate::hippo::with_backups`]) with
/// a repository in each store of `namespace` given as `(store, repository number)`, after `repo1` on a volume
/// when `volume_repo1`.
pub fn backups(namespace: &str, stores: &[(Store, u8)], volume_repo1: bool) -> String {
    let global: String = stores
        .iter()
        .flat_map(|(store, number)| store.global(*number, namespace))
        .map(|(key, value)| format!("        {key}: \"{value}\"\n"))
        .collect();
    let volume = if volume_repo1 {
        "      - name: repo1
        volume:
          volumeClaimSpec:
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 1Gi}}
"
    } else {
        ""
    };
    let cloud: String = stores
        .iter()
        .map(|(store, number)| {
            format!(
                "      - {}\n",
                store.repo(&format!("repo{number}"), namespace)
            )
        })
        .collect();
    format!(
        "  backups:
    pgbackrest:
      image: {POSTGRES_IMAGE}
      configuration:
      - secret:
          name: {CONFIGURATION_SECRET}
      global:
{global}      repos:
{volume}{cloud}"
    )
}
