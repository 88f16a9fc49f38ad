//! The cluster's certificates (docs: Customize TLS, Rotating TLS Certificates), as pure builders.
//!
//! A namespace has one root CA, kept in Secret `pgo-root-cacert` ([`root`]); it signs a leaf certificate for
//! every TLS endpoint of a cluster ([`leaf`]), and [`secrets`] puts each into the Secret, under the keys, that
//! the pods project. [`custom`] checks the user's own certificates (`spec.customTLSSecret` and
//! `spec.customReplicationTLSSecret`) instead.
//!
//! Nothing here reads a clock or the API: the time and the Secrets that exist come in as arguments, so a
//! reconcile that finds valid material rebuilds it byte for byte and never rotates a certificate. Only the
//! generation of new keys is random. No function logs, and no error message carries key material.
//!
//! PGO's contract, which Tusk follows: ECDSA P-256 keys; a root valid 10 years with common name
//! `postgres-operator-ca`; leaves valid 1 year, back-dated 1 hour for clock skew; a certificate is renewed once
//! 2/3 of its lifetime has passed. Tusk signs with ECDSA-SHA256 where PGO uses ECDSA-SHA384 (rcgen has no
//! P-256/SHA-384 pairing); every TLS stack Tusk's images use accepts both.

pub mod custom;
pub mod leaf;
pub mod pem;
pub mod reload;
pub mod root;
pub mod secrets;

use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tusk_api::PostgresCluster;

/// How long a root certificate is valid: 10 years (of 365 days).
pub const ROOT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// How long a leaf certificate is valid: 1 year (365 days).
pub const LEAF_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// How far before "now" a new certificate's validity starts, so that a node whose clock is a little behind
/// accepts it.
pub const BACKDATE: Duration = Duration::from_secs(60 * 60);

/// The certificates of one cluster, as Secrets to apply.
#[derive(Clone, Debug)]
pub struct Certificates {
    /// The namespace's root CA Secret `pgo-root-cacert`. It has no owner and no cluster label: it is shared by
    /// every cluster of the namespace and outlives them (deleting it rotates every certificate it signed).
    pub root: Secret,
    /// Whether [`Certificates::root`] was made now (none existed, or it was unreadable, expired or due). The
    /// controller should then *create* it rather than apply it, so that two clusters of a namespace reconciled
    /// at once cannot each replace the other's new root; the loser reconciles again and adopts the winner's.
    pub root_is_new: bool,
    /// The cluster's Secrets, each owned by the cluster: `<c>-cluster-cert` and `<c>-replication-cert` (unless
    /// the cluster brings its own, see [`custom`]), one `<instance>-certs` per instance, `<c>-pgbackrest`, and
    /// with PgBouncer `<c>-pgbouncer` (its credentials and client certificate).
    /// A Secret built over an existing one carries its `resourceVersion`.
    pub secrets: Vec<Secret>,
    /// The earliest moment a certificate here (the root included) is due for renewal: the controller should
    /// reconcile again by then.
    pub renew_at: SystemTime,
    /// The user's certificates, when the cluster brings its own and they were checked (not offline).
    pub custom: Option<custom::Custom>,
}

/// Why the certificates could not be built. The message is one line, fit for a status condition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The user's certificates are unusable; see [`custom::CustomTlsError`].
    #[error(transparent)]
    Custom(#[from] custom::CustomTlsError),
    /// A key or certificate could not be made (rcgen refused the parameters, or the random source failed).
    #[error("could not generate the {what} certificate: {reason}")]
    Generate {
        /// Which certificate: `root`, or the Secret the leaf is for.
        what: String,
        /// rcgen's explanation.
        reason: String,
    },
}

impl TlsError {
    /// The `reason` of the status condition that reports this error.
    pub fn reason(&self) -> &'static str {
        match self {
            TlsError::Custom(_) => custom::REASON,
            TlsError::Generate { .. } => "CertificateGenerationFailed",
        }
    }
}

/// What [`certificates`] needs besides the cluster and the observed Secrets.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The names of the cluster's instances (their StatefulSets), each getting `<instance>-certs`.
    pub instances: &'a [String],
    /// Whether the cluster has a dedicated repository host, which gets a server certificate in
    /// `<c>-pgbackrest`.
    pub has_repo_host: bool,
    /// The Kubernetes cluster domain of fully qualified Service names, e.g.
    /// [`crate::naming::names::DEFAULT_CLUSTER_DOMAIN`].
    pub domain: &'a str,
    /// The current time.
    pub now: SystemTime,
    /// Whether the user's Secrets are out of reach (`tusk render`): custom certificates are then taken as
    /// declared, and only the both-or-neither rule is checked.
    pub offline: bool,
}

/// Builds every certificate Secret of `cluster`, keeping what `existing` (Secrets of the namespace, by name)
/// holds where it is still good.
///
/// The root comes from `pgo-root-cacert` when that holds a CA certificate and its matching key that is not due;
/// otherwise a new root is made and every leaf is reissued. A leaf is kept, byte for byte, when its Secret holds
/// a certificate and matching key signed by the current root, with the expected common name and DNS names,
/// that is not due; otherwise it is reissued.
///
/// With `spec.customTLSSecret` and `spec.customReplicationTLSSecret` set, the user's Secrets are checked and
/// Tusk builds no `<c>-cluster-cert` or `<c>-replication-cert`. The instances' and pgBackRest's certificates
/// still come from the namespace's root: they secure only Tusk's own traffic (Patroni's REST API, pgBackRest),
/// never a client's connection to PostgreSQL, which is what the custom certificates are for. Each instance's
/// Secret then also holds [`custom::client_ca_bundle`], PostgreSQL's `ssl_ca_file` (offline, the user's CA is
/// unknown and the bundle holds the root alone).
pub fn certificates(
    cluster: &PostgresCluster,
    existing: &BTreeMap<String, Secret>,
    request: Request<'_>,
) -> Result<Certificates, TlsError> {
    // Outer `Some`: the cluster brings its own; inner: the user's certificates, when they could be read.
    let brought = if request.offline {
        custom::declared(cluster)?.then_some(None)
    } else {
        custom::check(cluster, existing)?.map(Some)
    };
    let root = root::Root::from_secret(
        existing.get(crate::naming::names::ROOT_CA_SECRET),
        request.now,
    )
    .map_or_else(|| root::Root::generate(request.now), Ok)?;
    let client_ca = brought.as_ref().map(|custom| {
        let user_ca = custom.as_ref().map(|c| c.ca.as_slice()).unwrap_or_default();
        custom::client_ca_bundle(user_ca, &root.pair.certificate)
    });
    let mut renew_at = root.renew_at;
    let mut secrets = Vec::new();
    for built in secrets::build(cluster, &root, existing, &request, client_ca)? {
        renew_at = renew_at.min(built.renew_at);
        secrets.push(built.secret);
    }
    if let Some(bouncer) = crate::pgbouncer::spec(cluster) {
        let name =
            crate::naming::names::pgbouncer(cluster.metadata.name.as_deref().unwrap_or_default());
        let built = crate::pgbouncer::secret::secret(
            cluster,
            bouncer,
            &root,
            existing.get(&name),
            request.domain,
            request.now,
        )?;
        renew_at = built.renew_at.map_or(renew_at, |due| renew_at.min(due));
        secrets.push(built.secret);
    }
    Ok(Certificates {
        root: secrets::root_secret(cluster, &root, existing),
        root_is_new: root.is_new,
        secrets,
        renew_at,
        custom: brought.flatten(),
    })
}

#[cfg(test)]
mod tests;
