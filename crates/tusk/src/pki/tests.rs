//! Tests of the certificate builders, through [`certificates`] as the controller calls it.

use super::*;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{KeyToPath, SecretProjection};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

const DOMAIN: &str = "cluster.local";

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn hippo() -> PostgresCluster {
    let mut cluster =
        tusk_api::manifest::parse(include_str!("../../../../examples/hippo/postgres.yaml"))
            .unwrap();
    cluster.metadata.namespace = Some("zoo".into());
    cluster.metadata.uid = Some("6b3b3c3e-0000-4000-8000-000000000001".into());
    cluster
}

fn instances() -> Vec<String> {
    vec!["hippo-instance1-x2bc".into(), "hippo-instance1-z9df".into()]
}

fn build(
    cluster: &PostgresCluster,
    existing: &BTreeMap<String, Secret>,
    now: SystemTime,
) -> Result<Certificates, TlsError> {
    let instances = instances();
    certificates(
        cluster,
        existing,
        Request {
            instances: &instances,
            has_repo_host: true,
            domain: DOMAIN,
            now,
            offline: false,
        },
    )
}

/// What the API server would return after applying `certificates`: every Secret by name, with a
/// resourceVersion.
fn observed(certificates: &Certificates) -> BTreeMap<String, Secret> {
    std::iter::once(&certificates.root)
        .chain(&certificates.secrets)
        .map(|secret| {
            let mut secret = secret.clone();
            secret.metadata.resource_version = Some("42".into());
            (secret.metadata.name.clone().unwrap(), secret)
        })
        .collect()
}

fn secret<'a>(certificates: &'a Certificates, name: &str) -> &'a Secret {
    certificates
        .secrets
        .iter()
        .find(|secret| secret.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Secret {name}"))
}

fn value<'a>(secret: &'a Secret, key: &str) -> &'a [u8] {
    &secret.data.as_ref().unwrap()[key].0
}

fn der(pem: &[u8]) -> Vec<u8> {
    super::pem::certificate_der(pem).expect("a PEM certificate")
}

fn parsed(der: &[u8]) -> X509Certificate<'_> {
    super::pem::parse(der).expect("an X.509 certificate")
}

fn common_name(certificate: &X509Certificate<'_>) -> String {
    let names: Vec<&str> = certificate
        .subject()
        .iter_common_name()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 1);
    names[0].to_string()
}

fn dns_names(certificate: &X509Certificate<'_>) -> Vec<String> {
    match certificate.subject_alternative_name().unwrap() {
        None => Vec::new(),
        Some(names) => names
            .value
            .general_names
            .iter()
            .map(|name| match name {
                GeneralName::DNSName(name) => name.to_string(),
                other => panic!("unexpected name {other:?}"),
            })
            .collect(),
    }
}

/// Every (Secret, certificate key) of a leaf in a full build of hippo.
const LEAVES: [(&str, &str); 7] = [
    ("hippo-cluster-cert", "tls.crt"),
    ("hippo-replication-cert", "tls.crt"),
    ("hippo-instance1-x2bc-certs", "dns.crt"),
    ("hippo-instance1-z9df-certs", "dns.crt"),
    ("hippo-pgbackrest", "pgbackrest-client.crt"),
    ("hippo-pgbackrest", "pgbackrest-repo-host.crt"),
    ("hippo-instance1-x2bc-certs", "pgbackrest-server.crt"),
];

#[test]
fn every_leaf_is_signed_by_the_root_with_ecdsa_p256_sha256() {
    let built = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    assert!(built.root_is_new);
    let root_der = der(value(&built.root, "root.crt"));
    let root = parsed(&root_der);
    assert_eq!(common_name(&root), "postgres-operator-ca");
    assert!(root.is_ca());
    root.verify_signature(None).expect("the root signs itself");
    let ecdsa_sha256 = x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA256;
    for (name, key) in LEAVES {
        let leaf_der = der(value(secret(&built, name), key));
        let leaf = parsed(&leaf_der);
        assert_eq!(leaf.issuer(), root.subject(), "{name} {key}");
        leaf.verify_signature(Some(root.public_key()))
            .unwrap_or_else(|e| panic!("{name} {key} is not signed by the root: {e}"));
        assert!(!leaf.is_ca(), "{name} {key}");
        assert_eq!(leaf.signature_algorithm.algorithm, ecdsa_sha256);
        assert_eq!(
            leaf.public_key()
                .algorithm
                .parameters
                .as_ref()
                .unwrap()
                .as_oid()
                .unwrap(),
            x509_parser::oid_registry::OID_EC_P256,
        );
        let validity = leaf.validity();
        let lifetime = validity.not_after.timestamp() - validity.not_before.timestamp();
        assert_eq!(lifetime as u64, LEAF_LIFETIME.as_secs(), "{name} {key}");
    }
    let root_validity = root.validity();
    assert_eq!(
        (root_validity.not_after.timestamp() - root_validity.not_before.timestamp()) as u64,
        ROOT_LIFETIME.as_secs()
    );
}

#[test]
fn names_are_exactly_pgo_s() {
    let built = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    let certificate = |name: &str, key: &str| der(value(secret(&built, name), key));

    let cluster = certificate("hippo-cluster-cert", "tls.crt");
    let cluster = parsed(&cluster);
    assert_eq!(common_name(&cluster), "hippo-primary.zoo.svc.cluster.local");
    assert_eq!(
        dns_names(&cluster),
        [
            "hippo-primary.zoo.svc.cluster.local",
            "hippo-primary.zoo.svc",
            "hippo-primary.zoo",
            "hippo-primary",
            "hippo-replicas.zoo.svc.cluster.local",
            "hippo-replicas.zoo.svc",
            "hippo-replicas.zoo",
            "hippo-replicas",
        ]
    );

    let replication = certificate("hippo-replication-cert", "tls.crt");
    let replication = parsed(&replication);
    assert_eq!(common_name(&replication), "_crunchyrepl");
    assert!(dns_names(&replication).is_empty());

    let instance = certificate("hippo-instance1-z9df-certs", "dns.crt");
    let instance = parsed(&instance);
    assert_eq!(
        common_name(&instance),
        "hippo-instance1-z9df-0.hippo-pods.zoo.svc.cluster.local"
    );
    assert_eq!(
        dns_names(&instance),
        [
            "hippo-instance1-z9df-0.hippo-pods.zoo.svc.cluster.local",
            "hippo-instance1-z9df-0.hippo-pods.zoo.svc",
            "hippo-instance1-z9df-0.hippo-pods.zoo",
            "hippo-instance1-z9df-0.hippo-pods",
        ]
    );

    let client = certificate("hippo-pgbackrest", "pgbackrest-client.crt");
    assert_eq!(common_name(&parsed(&client)), "pgbackrest@hippo");
    let repo_host = certificate("hippo-pgbackrest", "pgbackrest-repo-host.crt");
    let repo_host = parsed(&repo_host);
    assert_eq!(
        common_name(&repo_host),
        "hippo-repo-host-0.hippo-pods.zoo.svc.cluster.local"
    );
    assert_eq!(dns_names(&repo_host).len(), 4);
}

#[test]
fn secrets_have_pgo_s_keys_labels_and_owners() {
    let built = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    let names: Vec<&str> = built
        .secrets
        .iter()
        .map(|secret| secret.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "hippo-cluster-cert",
            "hippo-replication-cert",
            "hippo-instance1-x2bc-certs",
            "hippo-instance1-z9df-certs",
            "hippo-pgbackrest",
        ]
    );
    let keys = |name: &str| -> Vec<String> {
        secret(&built, name)
            .data
            .as_ref()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(keys("hippo-cluster-cert"), ["ca.crt", "tls.crt", "tls.key"]);
    assert_eq!(
        keys("hippo-replication-cert"),
        ["ca.crt", "tls.crt", "tls.key"]
    );
    assert_eq!(
        keys("hippo-instance1-x2bc-certs"),
        [
            "dns.crt",
            "dns.key",
            "patroni.ca-roots",
            "patroni.crt-combined",
            "pgbackrest-server.crt",
            "pgbackrest-server.key",
        ]
    );
    assert_eq!(
        keys("hippo-pgbackrest"),
        [
            "pgbackrest-client.crt",
            "pgbackrest-client.key",
            "pgbackrest-repo-host.crt",
            "pgbackrest-repo-host.key",
            "pgbackrest.ca-roots",
        ]
    );

    let instance = secret(&built, "hippo-instance1-x2bc-certs");
    let root = value(&built.root, "root.crt");
    assert_eq!(value(instance, "patroni.ca-roots"), root);
    assert_eq!(
        value(instance, "patroni.crt-combined"),
        [value(instance, "dns.crt"), value(instance, "dns.key")].concat()
    );
    assert_eq!(
        value(instance, "pgbackrest-server.crt"),
        value(instance, "dns.crt")
    );
    assert_eq!(
        value(instance, "pgbackrest-server.key"),
        value(instance, "dns.key")
    );
    assert_eq!(value(secret(&built, "hippo-cluster-cert"), "ca.crt"), root);
    assert_eq!(
        value(secret(&built, "hippo-pgbackrest"), "pgbackrest.ca-roots"),
        root
    );

    let labels = secret(&built, "hippo-cluster-cert")
        .metadata
        .labels
        .clone()
        .unwrap();
    assert_eq!(labels["postgres-operator.crunchydata.com/cluster"], "hippo");
    assert_eq!(
        labels["postgres-operator.crunchydata.com/cluster-certificate"],
        "postgres-tls"
    );
    assert_eq!(
        instance.metadata.labels.as_ref().unwrap()["postgres-operator.crunchydata.com/instance"],
        "hippo-instance1-x2bc"
    );
    for leaf in &built.secrets {
        let owners = leaf.metadata.owner_references.as_ref().unwrap();
        assert_eq!(owners[0].name, "hippo");
        assert_eq!(leaf.metadata.namespace.as_deref(), Some("zoo"));
        assert_eq!(leaf.metadata.resource_version, None);
    }
    assert_eq!(built.root.metadata.name.as_deref(), Some("pgo-root-cacert"));
    assert_eq!(built.root.metadata.namespace.as_deref(), Some("zoo"));
    assert_eq!(
        built.root.metadata.owner_references, None,
        "the root outlives clusters"
    );
    assert_eq!(
        built.root.metadata.labels, None,
        "the root belongs to no cluster"
    );
}

#[test]
fn without_a_repo_host_the_pgbackrest_secret_has_only_the_client() {
    let built = certificates(
        &hippo(),
        &BTreeMap::new(),
        Request {
            instances: &[],
            has_repo_host: false,
            domain: "example.internal.",
            now: t0(),
            offline: false,
        },
    )
    .unwrap();
    let keys: Vec<&String> = secret(&built, "hippo-pgbackrest")
        .data
        .as_ref()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        keys,
        [
            "pgbackrest-client.crt",
            "pgbackrest-client.key",
            "pgbackrest.ca-roots"
        ]
    );
    let cluster = der(value(secret(&built, "hippo-cluster-cert"), "tls.crt"));
    assert_eq!(
        common_name(&parsed(&cluster)),
        "hippo-primary.zoo.svc.example.internal"
    );
}

#[test]
fn a_reconcile_keeps_every_byte_and_carries_resource_versions() {
    let first = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    let existing = observed(&first);
    let second = build(
        &hippo(),
        &existing,
        t0() + Duration::from_secs(24 * 60 * 60),
    )
    .unwrap();
    assert!(!second.root_is_new);
    assert_eq!(second.root.data, first.root.data);
    assert_eq!(second.root.metadata.resource_version.as_deref(), Some("42"));
    assert_eq!(second.secrets.len(), first.secrets.len());
    for (again, before) in second.secrets.iter().zip(&first.secrets) {
        assert_eq!(again.data, before.data, "{:?}", again.metadata.name);
        assert_eq!(again.metadata.resource_version.as_deref(), Some("42"));
    }
    assert_eq!(second.renew_at, first.renew_at);
}

#[test]
fn renewal_is_due_at_two_thirds_of_a_leaf_s_life() {
    let first = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    let expected = t0() - BACKDATE + LEAF_LIFETIME * 2 / 3;
    assert_eq!(first.renew_at, expected);
    let existing = observed(&first);

    let early = build(&hippo(), &existing, t0() - BACKDATE + LEAF_LIFETIME / 10).unwrap();
    for (kept, before) in early.secrets.iter().zip(&first.secrets) {
        assert_eq!(
            kept.data, before.data,
            "kept at 10%: {:?}",
            kept.metadata.name
        );
    }

    let late = build(
        &hippo(),
        &existing,
        t0() - BACKDATE + LEAF_LIFETIME * 7 / 10,
    )
    .unwrap();
    assert!(!late.root_is_new, "the root is far from due");
    assert_eq!(late.root.data, first.root.data);
    for (name, key) in LEAVES {
        assert_ne!(
            value(secret(&late, name), key),
            value(secret(&first, name), key),
            "renewed at 70%: {name} {key}"
        );
    }
    assert!(late.renew_at > first.renew_at);
}

#[test]
fn a_new_root_reissues_every_leaf() {
    let first = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    for broken in [
        None,
        Some(BTreeMap::from([(
            "root.crt".to_string(),
            ByteString(b"garbage".to_vec()),
        )])),
    ] {
        let mut existing = observed(&first);
        match broken {
            None => {
                existing.remove("pgo-root-cacert");
            }
            Some(data) => {
                existing.get_mut("pgo-root-cacert").unwrap().data = Some(data);
            }
        }
        let again = build(&hippo(), &existing, t0() + Duration::from_secs(60)).unwrap();
        assert!(again.root_is_new);
        assert_ne!(again.root.data, first.root.data);
        let root = der(value(&again.root, "root.crt"));
        let root = parsed(&root);
        for (name, key) in LEAVES {
            let leaf = der(value(secret(&again, name), key));
            assert_ne!(
                value(secret(&again, name), key),
                value(secret(&first, name), key)
            );
            parsed(&leaf)
                .verify_signature(Some(root.public_key()))
                .expect("signed by the new root");
        }
    }
}

#[test]
fn a_root_two_thirds_through_its_life_is_replaced() {
    let first = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    let late = t0() + ROOT_LIFETIME * 7 / 10;
    let again = build(&hippo(), &observed(&first), late).unwrap();
    assert!(again.root_is_new);
}

#[test]
fn a_leaf_with_other_names_or_another_signer_is_reissued() {
    let first = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    let mut existing = observed(&first);

    // Another namespace's (or a stale) root signed the cluster certificate.
    let other = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    existing.insert(
        "hippo-cluster-cert".into(),
        secret(&other, "hippo-cluster-cert").clone(),
    );
    // A key that is not the certificate's.
    let mut replication = existing["hippo-replication-cert"].clone();
    replication.data.as_mut().unwrap().insert(
        "tls.key".into(),
        ByteString(value(secret(&other, "hippo-replication-cert"), "tls.key").to_vec()),
    );
    existing.insert("hippo-replication-cert".into(), replication);

    let again = build(&hippo(), &existing, t0()).unwrap();
    let changed = |name: &str| {
        value(secret(&again, name), "tls.crt") != value(secret(&first, name), "tls.crt")
    };
    assert!(changed("hippo-cluster-cert"));
    assert!(
        value(secret(&again, "hippo-cluster-cert"), "tls.crt")
            != value(secret(&other, "hippo-cluster-cert"), "tls.crt")
    );
    assert!(changed("hippo-replication-cert"));
    assert_eq!(
        value(secret(&again, "hippo-instance1-x2bc-certs"), "dns.crt"),
        value(secret(&first, "hippo-instance1-x2bc-certs"), "dns.crt")
    );

    // The cluster's domain changed: every DNS name is different.
    let instances = instances();
    let moved = certificates(
        &hippo(),
        &observed(&first),
        Request {
            instances: &instances,
            has_repo_host: true,
            domain: "example.internal",
            now: t0(),
            offline: false,
        },
    )
    .unwrap();
    assert_ne!(
        value(secret(&moved, "hippo-cluster-cert"), "tls.crt"),
        value(secret(&first, "hippo-cluster-cert"), "tls.crt")
    );
    assert_eq!(
        value(secret(&moved, "hippo-replication-cert"), "tls.crt"),
        value(secret(&first, "hippo-replication-cert"), "tls.crt"),
        "the replication certificate has no DNS names"
    );
}

// Custom TLS.

/// A user's CA, which makes custom TLS Secrets.
struct Custom {
    ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Custom {
    fn new() -> Custom {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Custom {
            ca_pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A Secret named `name` holding a leaf this CA signed, under the standard keys.
    fn secret(&self, name: &str) -> Secret {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["hippo-primary".to_string()]).unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([
                ("tls.crt".into(), ByteString(certificate.pem().into_bytes())),
                (
                    "tls.key".into(),
                    ByteString(key.serialize_pem().into_bytes()),
                ),
                (
                    "ca.crt".into(),
                    ByteString(self.ca_pem.clone().into_bytes()),
                ),
            ])),
            ..Secret::default()
        }
    }
}

fn projection(name: &str) -> Option<SecretProjection> {
    Some(SecretProjection {
        name: name.into(),
        ..SecretProjection::default()
    })
}

fn custom_cluster() -> PostgresCluster {
    let mut cluster = hippo();
    cluster.spec.custom_tls_secret = projection("hippo.tls");
    cluster.spec.custom_replication_tls_secret = projection("hippo-repl.tls");
    cluster
}

fn custom_secrets(ca: &Custom) -> BTreeMap<String, Secret> {
    ["hippo.tls", "hippo-repl.tls"]
        .into_iter()
        .map(|name| (name.to_string(), ca.secret(name)))
        .collect()
}

fn custom_error(cluster: &PostgresCluster, existing: &BTreeMap<String, Secret>) -> String {
    let error = build(cluster, existing, t0()).expect_err("custom TLS is invalid");
    assert_eq!(error.reason(), "CustomTLSInvalid");
    let message = error.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(
        !message.contains("PRIVATE KEY"),
        "no key material: {message}"
    );
    message
}

#[test]
fn with_custom_tls_tusk_makes_no_postgres_certificates() {
    let ca = Custom::new();
    let built = build(&custom_cluster(), &custom_secrets(&ca), t0()).unwrap();
    let names: Vec<&str> = built
        .secrets
        .iter()
        .map(|secret| secret.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "hippo-instance1-x2bc-certs",
            "hippo-instance1-z9df-certs",
            "hippo-pgbackrest",
        ]
    );
}

/// The DER of every certificate in `pem`.
fn ders(pem: &[u8]) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .map(|block| block.unwrap().contents)
        .collect()
}

#[test]
fn with_custom_tls_each_instance_secret_holds_the_users_ca_then_the_root() {
    let ca = Custom::new();
    let existing = custom_secrets(&ca);
    let built = build(&custom_cluster(), &existing, t0()).unwrap();
    let root = &built.root.data.as_ref().unwrap()["root.crt"].0;
    let checked = built
        .custom
        .as_ref()
        .expect("the user's certificates, checked");
    assert_eq!(checked.ca, ca.ca_pem.as_bytes());
    let server = &existing["hippo.tls"].data.as_ref().unwrap()["tls.crt"].0;
    assert_eq!(checked.server_certificate, ders(server)[0]);
    for secret in built.secrets.iter().filter(|s| {
        s.metadata
            .name
            .as_deref()
            .is_some_and(|n| n.ends_with("-certs"))
    }) {
        let bundle = &secret.data.as_ref().unwrap()[secrets::POSTGRES_CLIENT_CA].0;
        let expected: Vec<Vec<u8>> = ders(ca.ca_pem.as_bytes())
            .into_iter()
            .chain(ders(root))
            .collect();
        assert_eq!(ders(bundle), expected, "{:?}", secret.metadata.name);
        assert!(!bundle.contains(&b'\r'), "LF line endings");
    }
    let ours = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    assert!(ours.custom.is_none());
    assert!(ours.secrets.iter().all(|s| {
        !s.data
            .as_ref()
            .unwrap()
            .contains_key(secrets::POSTGRES_CLIENT_CA)
    }));
}

#[test]
fn the_client_ca_bundle_keeps_each_certificate_once_in_order() {
    let user = Custom::new();
    let other = Custom::new();
    let chain = format!("{}{}", user.ca_pem, other.ca_pem);
    let root = Custom::new().ca_pem;
    let bundle = custom::client_ca_bundle(chain.as_bytes(), root.as_bytes());
    let expected: Vec<Vec<u8>> = [user.ca_pem.as_str(), &other.ca_pem, &root]
        .iter()
        .flat_map(|pem| ders(pem.as_bytes()))
        .collect();
    assert_eq!(ders(&bundle), expected);
    let same = custom::client_ca_bundle(root.as_bytes(), root.as_bytes());
    assert_eq!(
        ders(&same),
        ders(root.as_bytes()),
        "a CA that is the root is listed once"
    );
    assert!(
        custom::client_ca_bundle(b"", root.as_bytes())
            .starts_with(b"-----BEGIN CERTIFICATE-----\n")
    );
}

#[test]
fn custom_items_choose_the_keys() {
    let ca = Custom::new();
    let mut existing = custom_secrets(&ca);
    let server = existing.get_mut("hippo.tls").unwrap();
    let data = server.data.take().unwrap();
    server.data = Some(
        data.into_iter()
            .map(|(key, value)| (format!("my-{key}"), value))
            .collect(),
    );
    let mut cluster = custom_cluster();
    let item = |key: &str, path: &str| KeyToPath {
        key: key.into(),
        path: path.into(),
        mode: None,
    };
    cluster.spec.custom_tls_secret.as_mut().unwrap().items = Some(vec![
        item("my-tls.crt", "tls.crt"),
        item("my-tls.key", "tls.key"),
        item("my-ca.crt", "ca.crt"),
    ]);
    build(&cluster, &existing, t0()).expect("items resolve the keys");

    cluster.spec.custom_tls_secret.as_mut().unwrap().items = Some(vec![
        item("my-tls.crt", "tls.crt"),
        item("my-ca.crt", "ca.crt"),
    ]);
    assert_eq!(
        custom_error(&cluster, &existing),
        "spec.customTLSSecret.items maps no key of Secret hippo.tls to tls.key"
    );
}

#[test]
fn custom_tls_errors_say_what_is_wrong() {
    let ca = Custom::new();
    let good = custom_secrets(&ca);

    let mut only_server = custom_cluster();
    only_server.spec.custom_replication_tls_secret = None;
    assert_eq!(
        custom_error(&only_server, &good),
        "spec.customTLSSecret is set without spec.customReplicationTLSSecret: set both or neither"
    );
    let mut only_replication = custom_cluster();
    only_replication.spec.custom_tls_secret = None;
    assert_eq!(
        custom_error(&only_replication, &good),
        "spec.customReplicationTLSSecret is set without spec.customTLSSecret: set both or neither"
    );

    let mut missing = good.clone();
    missing.remove("hippo-repl.tls");
    assert_eq!(
        custom_error(&custom_cluster(), &missing),
        "spec.customReplicationTLSSecret: Secret hippo-repl.tls does not exist"
    );

    let edit = |key: &str, value: Option<&[u8]>| {
        let mut existing = good.clone();
        let data = existing
            .get_mut("hippo.tls")
            .unwrap()
            .data
            .as_mut()
            .unwrap();
        match value {
            Some(value) => data.insert(key.into(), ByteString(value.to_vec())),
            None => data.remove(key),
        };
        custom_error(&custom_cluster(), &existing)
    };
    assert_eq!(
        edit("tls.key", None),
        "spec.customTLSSecret: Secret hippo.tls has no key tls.key (for tls.key)"
    );
    assert_eq!(
        edit(
            "tls.crt",
            Some(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
        ),
        "spec.customTLSSecret: key tls.crt of Secret hippo.tls is not a PEM certificate"
    );
    assert_eq!(
        edit("tls.key", Some(b"hello")),
        "spec.customTLSSecret: key tls.key of Secret hippo.tls is not a PEM private key"
    );
    assert_eq!(
        edit("ca.crt", Some(b"")),
        "spec.customTLSSecret: key ca.crt of Secret hippo.tls is not a PEM certificate"
    );
    let other_key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    assert_eq!(
        edit("tls.key", Some(other_key.as_bytes())),
        "spec.customTLSSecret: the private key of Secret hippo.tls does not belong to its certificate"
    );

    let mut different = good.clone();
    different.insert(
        "hippo-repl.tls".into(),
        Custom::new().secret("hippo-repl.tls"),
    );
    assert_eq!(
        custom_error(&custom_cluster(), &different),
        "spec.customTLSSecret and spec.customReplicationTLSSecret must hold the same ca.crt"
    );
}

/// `key` (PKCS #8 PEM of a P-256 key) as Go's `x509.MarshalECPrivateKey` writes it, which is how PGO stores
/// `root.key`: SEC 1 with the `[0]` curve parameters and the `[1]` public key.
fn go_sec1_pem(key: &[u8]) -> Vec<u8> {
    use x509_parser::der_parser::der::parse_der_sequence;
    let der = super::pem::signing_key(key).unwrap().serialize_der();
    let (_, pkcs8) = parse_der_sequence(&der).unwrap();
    let sec1 = pkcs8.as_sequence().unwrap()[2].as_slice().unwrap().to_vec();
    assert_eq!(usize::from(sec1[1]), sec1.len() - 2, "short-form length");
    let body = &sec1[2..];
    // version (3 bytes) and the private key octet string (2 + 32 bytes) come first.
    let parameters = [
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let body = [&body[..37], &parameters, &body[37..]].concat();
    let sec1 = [&[0x30, body.len() as u8][..], &body].concat();
    ::pem::encode(&::pem::Pem::new("EC PRIVATE KEY", sec1)).into_bytes()
}

#[test]
fn a_root_pgo_made_is_adopted_with_its_leaves() {
    let first = build(&hippo(), &BTreeMap::new(), t0()).unwrap();
    let mut existing = observed(&first);
    let root = existing.get_mut("pgo-root-cacert").unwrap();
    let data = root.data.as_mut().unwrap();
    let sec1 = go_sec1_pem(&data["root.key"].0);
    data.insert("root.key".into(), ByteString(sec1.clone()));

    let again = build(&hippo(), &existing, t0() + Duration::from_secs(60)).unwrap();
    assert!(!again.root_is_new);
    assert_eq!(value(&again.root, "root.key"), sec1, "kept as PGO wrote it");
    for (kept, before) in again.secrets.iter().zip(&first.secrets) {
        assert_eq!(kept.data, before.data);
    }

    // A leaf issued under the adopted root verifies with it.
    existing.remove("hippo-cluster-cert");
    let issued = build(&hippo(), &existing, t0()).unwrap();
    let root = der(value(&issued.root, "root.crt"));
    let leaf = der(value(secret(&issued, "hippo-cluster-cert"), "tls.crt"));
    assert_ne!(
        value(secret(&issued, "hippo-cluster-cert"), "tls.crt"),
        value(secret(&first, "hippo-cluster-cert"), "tls.crt")
    );
    parsed(&leaf)
        .verify_signature(Some(parsed(&root).public_key()))
        .expect("signed with the SEC 1 key");
}
