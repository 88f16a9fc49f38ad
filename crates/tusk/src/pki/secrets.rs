//! The certificate Secrets: which leaf goes into which Secret, under which keys.
//!
//! | Secret | keys |
//! |---|---|
//! | `pgo-root-cacert` | `root.crt`, `root.key` |
//! | `<c>-cluster-cert` | `tls.crt`, `tls.key`, `ca.crt` |
//! | `<c>-replication-cert` | `tls.crt`, `tls.key`, `ca.crt` |
//! | `<instance>-certs` | `dns.crt`, `dns.key`, `patroni.ca-roots`, `patroni.crt-combined`, `pgbackrest-server.crt`, `pgbackrest-server.key`, and under custom TLS `postgres-client.ca-roots` |
//! | `<c>-pgbackrest` | `pgbackrest.ca-roots`, `pgbackrest-client.crt`, `pgbackrest-client.key`, and with a repository host `pgbackrest-repo-host.crt`, `pgbackrest-repo-host.key` |
//!
//! An instance has one leaf: `dns.*` and `pgbackrest-server.*` hold the same certificate and key, and
//! `patroni.crt-combined` is that certificate followed by its key (Patroni's `restapi.certfile`). The leaf is
//! kept from `dns.crt`/`dns.key`.

use super::leaf::{self, Leaf, Subject};
use super::pem::Pair;
use super::root::{self, Root};
use super::{Request, TlsError};
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::time::SystemTime;
use tusk_api::PostgresCluster;

/// The certificate of a `kubernetes.io/tls`-style Secret (`<c>-cluster-cert`, `<c>-replication-cert`).
pub const TLS_CERTIFICATE: &str = "tls.crt";
/// The private key of a `kubernetes.io/tls`-style Secret.
pub const TLS_PRIVATE_KEY: &str = "tls.key";
/// The CA certificate of a `kubernetes.io/tls`-style Secret.
pub const TLS_CA: &str = "ca.crt";
/// An instance's certificate, for its pod's DNS name.
pub const INSTANCE_CERTIFICATE: &str = "dns.crt";
/// An instance's private key.
pub const INSTANCE_PRIVATE_KEY: &str = "dns.key";
/// The CA Patroni's REST API trusts.
pub const PATRONI_CA: &str = "patroni.ca-roots";
/// An instance's certificate followed by its key, for Patroni's REST API.
pub const PATRONI_CERTIFICATE_AND_KEY: &str = "patroni.crt-combined";
/// Under custom TLS, the CAs PostgreSQL trusts for client certificates: the user's and the namespace's root
/// (`super::custom::client_ca_bundle`).
pub const POSTGRES_CLIENT_CA: &str = "postgres-client.ca-roots";
/// The certificate of an instance's pgBackRest TLS server (the instance's certificate).
pub const PGBACKREST_SERVER_CERTIFICATE: &str = "pgbackrest-server.crt";
/// The private key of an instance's pgBackRest TLS server.
pub const PGBACKREST_SERVER_PRIVATE_KEY: &str = "pgbackrest-server.key";
/// The CA pgBackRest trusts.
pub const PGBACKREST_CA: &str = "pgbackrest.ca-roots";
/// The client certificate of backup Jobs and the repository host.
pub const PGBACKREST_CLIENT_CERTIFICATE: &str = "pgbackrest-client.crt";
/// The client private key of backup Jobs and the repository host.
pub const PGBACKREST_CLIENT_PRIVATE_KEY: &str = "pgbackrest-client.key";
/// The server certificate of the repository host's pgBackRest TLS server.
pub const PGBACKREST_REPO_HOST_CERTIFICATE: &str = "pgbackrest-repo-host.crt";
/// The server private key of the repository host.
pub const PGBACKREST_REPO_HOST_PRIVATE_KEY: &str = "pgbackrest-repo-host.key";

/// A built Secret and when its earliest certificate is due.
#[derive(Clone, Debug)]
pub struct Built {
    /// The Secret.
    pub secret: Secret,
    /// When its earliest certificate is due.
    pub renew_at: SystemTime,
}

/// The Secret `pgo-root-cacert` of `root`, in `cluster`'s namespace. It has no owner and no label; over an
/// existing Secret it carries that Secret's `resourceVersion`.
pub fn root_secret(
    cluster: &PostgresCluster,
    root: &Root,
    existing: &BTreeMap<String, Secret>,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(names::ROOT_CA_SECRET.into()),
            namespace: cluster.metadata.namespace.clone(),
            resource_version: existing
                .get(names::ROOT_CA_SECRET)
                .and_then(|secret| secret.metadata.resource_version.clone()),
            ..ObjectMeta::default()
        },
        data: Some(data([
            (root::CERTIFICATE_KEY, root.pair.certificate.clone()),
            (root::PRIVATE_KEY_KEY, root.pair.private_key.clone()),
        ])),
        ..Secret::default()
    }
}

/// The cluster's leaf Secrets: `<c>-cluster-cert` and `<c>-replication-cert` unless `client_ca` (the cluster
/// brings its own certificates for PostgreSQL, and this is the bundle its `ssl_ca_file` trusts, kept in every
/// `<instance>-certs`), then `<instance>-certs` of each instance, then `<c>-pgbackrest`.
pub fn build(
    cluster: &PostgresCluster,
    root: &Root,
    existing: &BTreeMap<String, Secret>,
    request: &Request<'_>,
    client_ca: Option<Vec<u8>>,
) -> Result<Vec<Built>, TlsError> {
    let c = cluster.metadata.name.as_deref().unwrap_or_default();
    let namespace = cluster.metadata.namespace.as_deref().unwrap_or("default");
    let dns = |host: &str| names::dns_names(host, namespace, request.domain).to_vec();
    let ca = || root.pair.certificate.clone();
    let keep =
        |secret: &str, certificate: &str, key: &str| pair(existing.get(secret), certificate, key);
    let leaf = |secret: &str, subject: &Subject, kept: Option<Pair>| {
        leaf::leaf(secret, subject, kept, root, request.now)
    };
    let mut built = Vec::new();

    if client_ca.is_none() {
        let name = names::cluster_certificate_secret(c);
        let mut dns_names = dns(&names::primary_service(c));
        dns_names.extend(dns(&names::replicas_service(c)));
        let subject = Subject {
            common_name: dns_names[0].clone(),
            dns_names,
        };
        let cert = leaf(
            &name,
            &subject,
            keep(&name, TLS_CERTIFICATE, TLS_PRIVATE_KEY),
        )?;
        built.push(secret(
            cluster,
            name,
            labels::cluster_certificate(c),
            existing,
            &[&cert],
            |p| tls_data(p, ca()),
        ));

        let name = names::replication_certificate_secret(c);
        let subject = Subject {
            common_name: names::REPLICATION_USER.into(),
            dns_names: Vec::new(),
        };
        let cert = leaf(
            &name,
            &subject,
            keep(&name, TLS_CERTIFICATE, TLS_PRIVATE_KEY),
        )?;
        built.push(secret(
            cluster,
            name,
            labels::cluster(c),
            existing,
            &[&cert],
            |p| tls_data(p, ca()),
        ));
    }

    for instance in request.instances {
        let name = names::instance_certificates(instance);
        let dns_names = dns(&names::pod_host(c, &names::instance_pod(instance)));
        let subject = Subject {
            common_name: dns_names[0].clone(),
            dns_names,
        };
        let kept = keep(&name, INSTANCE_CERTIFICATE, INSTANCE_PRIVATE_KEY);
        let cert = leaf(&name, &subject, kept)?;
        let labels = labels::instance_certificates(c, instance);
        built.push(secret(cluster, name, labels, existing, &[&cert], |p| {
            let [pair] = p else { unreachable!("one leaf") };
            let combined = [pair.certificate.as_slice(), &pair.private_key].concat();
            let mut data = data([
                (INSTANCE_CERTIFICATE, pair.certificate.clone()),
                (INSTANCE_PRIVATE_KEY, pair.private_key.clone()),
                (PATRONI_CA, ca()),
                (PATRONI_CERTIFICATE_AND_KEY, combined),
                (PGBACKREST_SERVER_CERTIFICATE, pair.certificate.clone()),
                (PGBACKREST_SERVER_PRIVATE_KEY, pair.private_key.clone()),
            ]);
            if let Some(bundle) = &client_ca {
                data.insert(POSTGRES_CLIENT_CA.into(), ByteString(bundle.clone()));
            }
            data
        }));
    }

    let name = names::pgbackrest(c);
    let client = Subject {
        common_name: names::pgbackrest_client_common_name(c),
        dns_names: Vec::new(),
    };
    let mut certs = vec![leaf(
        &name,
        &client,
        keep(
            &name,
            PGBACKREST_CLIENT_CERTIFICATE,
            PGBACKREST_CLIENT_PRIVATE_KEY,
        ),
    )?];
    if request.has_repo_host {
        let dns_names = dns(&names::pod_host(c, &names::repo_host_pod(c)));
        let server = Subject {
            common_name: dns_names[0].clone(),
            dns_names,
        };
        certs.push(leaf(
            &name,
            &server,
            keep(
                &name,
                PGBACKREST_REPO_HOST_CERTIFICATE,
                PGBACKREST_REPO_HOST_PRIVATE_KEY,
            ),
        )?);
    }
    let certs: Vec<&Leaf> = certs.iter().collect();
    built.push(secret(
        cluster,
        name,
        labels::pgbackrest(c),
        existing,
        &certs,
        |p| {
            let mut data = data([
                (PGBACKREST_CA, ca()),
                (PGBACKREST_CLIENT_CERTIFICATE, p[0].certificate.clone()),
                (PGBACKREST_CLIENT_PRIVATE_KEY, p[0].private_key.clone()),
            ]);
            if let Some(server) = p.get(1) {
                data.extend(self::data([
                    (PGBACKREST_REPO_HOST_CERTIFICATE, server.certificate.clone()),
                    (PGBACKREST_REPO_HOST_PRIVATE_KEY, server.private_key.clone()),
                ]));
            }
            data
        },
    ));
    Ok(built)
}

/// The pair at keys `certificate` and `key` of `secret`, if it has both.
fn pair(secret: Option<&Secret>, certificate: &str, key: &str) -> Option<Pair> {
    let data = secret?.data.as_ref()?;
    Some(Pair {
        certificate: data.get(certificate)?.0.clone(),
        private_key: data.get(key)?.0.clone(),
    })
}

/// A Secret of `cluster` named `name` holding `leaves` laid out by `layout`.
fn secret(
    cluster: &PostgresCluster,
    name: String,
    labels: labels::Labels,
    existing: &BTreeMap<String, Secret>,
    leaves: &[&Leaf],
    layout: impl FnOnce(&[&Pair]) -> BTreeMap<String, ByteString>,
) -> Built {
    let resource_version = existing
        .get(&name)
        .and_then(|secret| secret.metadata.resource_version.clone());
    let pairs: Vec<&Pair> = leaves.iter().map(|leaf| &leaf.pair).collect();
    let mut metadata = owned_by(cluster, name, None, labels);
    metadata.resource_version = resource_version;
    Built {
        secret: Secret {
            metadata,
            data: Some(layout(&pairs)),
            ..Secret::default()
        },
        renew_at: leaves
            .iter()
            .map(|leaf| leaf.renew_at)
            .min()
            .expect("a Secret holds at least one leaf"),
    }
}

fn tls_data(pairs: &[&Pair], ca: Vec<u8>) -> BTreeMap<String, ByteString> {
    let [pair] = pairs else {
        unreachable!("one leaf")
    };
    data([
        (TLS_CERTIFICATE, pair.certificate.clone()),
        (TLS_PRIVATE_KEY, pair.private_key.clone()),
        (TLS_CA, ca),
    ])
}

fn data<const N: usize>(entries: [(&str, Vec<u8>); N]) -> BTreeMap<String, ByteString> {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_string(), ByteString(value)))
        .collect()
}
