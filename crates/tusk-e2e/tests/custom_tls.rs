//! Issue #7, custom TLS (docs: Customize TLS, Rotating TLS Certificates): hippo with two instances,
//! `spec.customTLSSecret` and `spec.customReplicationTLSSecret` from a CA the test makes, PgBouncer with a
//! `customTLSSecret` that names another host, and the exporter.
//!
//! Asserts: clients verify the server (`verify-full`) against the custom CA, on the primary and the replicas;
//! the operator's SQL works under custom TLS (the user's Secret logs in, PgBouncer's lookup and the exporter's
//! role are installed); PgBouncer's certificate that does not name `hippo-pgbouncer` is a False condition and
//! a Warning Event; once that Secret holds a certificate for `hippo-pgbouncer` the condition turns True and
//! `verify-full` clients get through PgBouncer, a new certificate in the same Secret is served by the same
//! PgBouncer pod (a reload), and another Secret rolls PgBouncer; replacing the server Secret's contents with a new certificate of the same CA makes every member
//! serve it with no failed write of a `verify-full` writer loop and no pod restarted or replaced; pointing
//! the spec at another Secret rolls the instances, which then serve that Secret's certificate.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tusk_e2e::client::{Client, Target};
use tusk_e2e::hippo::{self, Instance};
use tusk_e2e::writer::{self, Writer};
use tusk_e2e::{
    HostPsql, Namespace, PodIdentity, condition, get_json, install_operator, kubectl_with,
    patch_cluster, pod_identity, pod_ready, require_cluster, secret_field, wait_for,
};

const NAMESPACE: &str = "tusk-e2e-custom-tls";
const SERVER_SECRET: &str = "hippo.tls";
const REPLICATION_SECRET: &str = "hippo-repl.tls";
const NEXT_SECRET: &str = "hippo-next.tls";
const BOUNCER_SECRET: &str = "hippo-bouncer.tls";
const NEXT_BOUNCER_SECRET: &str = "hippo-bouncer-next.tls";

/// The test's certificate authority.
struct Ca {
    certificate: rcgen::Certificate,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn new() -> Ca {
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tusk e2e custom CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = params.self_signed(&key).expect("the CA certificate");
        Ca {
            certificate,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A Secret `name` (`tls.crt`, `tls.key`, `ca.crt`) with a certificate of serial `serial` for
    /// `common_name` and `dns_names`.
    fn secret(&self, name: &str, common_name: &str, dns_names: &[String], serial: u64) -> String {
        let key = rcgen::KeyPair::generate().expect("a key");
        let mut params = rcgen::CertificateParams::new(dns_names.to_vec()).expect("names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let certificate = params.signed_by(&key, &self.issuer).expect("signed");
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "stringData": {
                "tls.crt": certificate.pem(),
                "tls.key": key.serialize_pem(),
                "ca.crt": self.certificate.pem(),
            },
        })
        .to_string()
    }
}

/// Every name a client may use for hippo's primary and replicas Services.
fn server_names() -> Vec<String> {
    ["hippo-primary", "hippo-replicas"]
        .iter()
        .flat_map(|service| {
            [
                service.to_string(),
                format!("{service}.{NAMESPACE}"),
                format!("{service}.{NAMESPACE}.svc"),
                format!("{service}.{NAMESPACE}.svc.cluster.local"),
            ]
        })
        .collect()
}

/// Every name a client may use for PgBouncer's Service.
fn pgbouncer_names() -> Vec<String> {
    let service = "hippo-pgbouncer";
    vec![
        service.to_string(),
        format!("{service}.{NAMESPACE}"),
        format!("{service}.{NAMESPACE}.svc"),
        format!("{service}.{NAMESPACE}.svc.cluster.local"),
    ]
}

fn apply(manifest: &str) {
    kubectl_with(
        &["-n", NAMESPACE, "apply", "--server-side", "-f", "-"],
        Some(manifest),
    )
    .expect("the Secret applies");
}

/// The serial number of the certificate PostgreSQL at `address` serves, read from the host.
fn served_serial(address: &str) -> anyhow::Result<u64> {
    let handshake = Command::new("openssl")
        .args([
            "s_client",
            "-starttls",
            "postgres",
            "-connect",
            &format!("{address}:5432"),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()?;
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    {
        use std::io::Write;
        x509.stdin
            .take()
            .expect("stdin")
            .write_all(&handshake.stdout)?;
    }
    let output = x509.wait_with_output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let hex = text
        .trim()
        .strip_prefix("serial=")
        .ok_or_else(|| anyhow::anyhow!("no certificate from {address}: {text}"))?;
    Ok(u64::from_str_radix(hex, 16)?)
}

/// Each instance pod's identity, to tell a restart.
fn identities(namespace: &str) -> Vec<PodIdentity> {
    let pods = get_json(
        namespace,
        &[
            "pods",
            "-l",
            &format!("{},{}", hippo::CLUSTER, hippo::INSTANCE),
        ],
    )
    .expect("the instance pods");
    let mut found: Vec<PodIdentity> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(pod_identity)
        .collect();
    found.sort();
    found
}

/// The one Ready PgBouncer pod, once there is exactly one: its identity and address.
fn pgbouncer_pod() -> anyhow::Result<Option<(PodIdentity, String)>> {
    let pods = get_json(
        NAMESPACE,
        &[
            "pods",
            "-l",
            &format!(
                "{},postgres-operator.crunchydata.com/role=pgbouncer",
                hippo::CLUSTER
            ),
        ],
    )?;
    let items = pods["items"].as_array().cloned().unwrap_or_default();
    let [pod] = items.as_slice() else {
        return Ok(None);
    };
    if !pod_ready(pod) || !pod["metadata"]["deletionTimestamp"].is_null() {
        return Ok(None);
    }
    let address = pod["status"]["podIP"].as_str().unwrap_or_default();
    Ok(Some((pod_identity(pod), address.to_string())))
}

/// Waits until one Ready PgBouncer pod serves the certificate of serial `serial`; that pod.
fn wait_for_pgbouncer_serial(serial: u64, timeout: Duration) -> PodIdentity {
    wait_for(
        &format!("PgBouncer to serve serial {serial:#x}"),
        timeout,
        || {
            let Some((pod, address)) = pgbouncer_pod()? else {
                return Ok(None);
            };
            Ok((served_serial(&address)? == serial).then_some(pod))
        },
    )
    .unwrap_or_else(|error| panic!("{error:#}"))
}

/// PgBouncer's custom certificate: the Secret that named another host gets one for `hippo-pgbouncer`, so the
/// condition turns True and a `verify-full` client gets through; a new certificate in the same Secret is
/// served by the same pod without a restart (PgBouncer reloads it); another Secret rolls PgBouncer.
fn pgbouncer_certificate_rotation(ca: &Ca, client: &Client) {
    let started = Instant::now();
    apply(&ca.secret(
        BOUNCER_SECRET,
        "hippo-pgbouncer",
        &pgbouncer_names(),
        0x3002,
    ));
    wait_for(
        "ProxyCertificateValid to turn True",
        Duration::from_secs(120),
        || {
            let seen = condition(NAMESPACE, "hippo", "ProxyCertificateValid");
            Ok((seen.status == "True").then_some(()))
        },
    )
    .expect("the condition follows the Secret");
    let through_pgbouncer = || {
        client
            .psql_until_ok(
                Target::Service("hippo-pgbouncer"),
                "select current_user",
                Duration::from_secs(60),
            )
            .expect("a verify-full client gets through PgBouncer")
    };
    let first = wait_for_pgbouncer_serial(0x3002, Duration::from_secs(180));
    assert_eq!(through_pgbouncer(), "hippo");
    eprintln!(
        "e2e: PgBouncer serves a certificate for its Service {:.1?} after the Secret was fixed",
        started.elapsed()
    );

    let rotating = Instant::now();
    apply(&ca.secret(
        BOUNCER_SECRET,
        "hippo-pgbouncer",
        &pgbouncer_names(),
        0x3003,
    ));
    let reloaded = wait_for_pgbouncer_serial(0x3003, Duration::from_secs(240));
    assert_eq!(
        reloaded, first,
        "the same PgBouncer pod, not restarted, serves the new certificate"
    );
    eprintln!(
        "e2e: PgBouncer reloaded the new certificate {:.1?} after the Secret changed, same pod",
        rotating.elapsed()
    );

    let rolling = Instant::now();
    apply(&ca.secret(
        NEXT_BOUNCER_SECRET,
        "hippo-pgbouncer",
        &pgbouncer_names(),
        0x3004,
    ));
    patch_cluster(
        NAMESPACE,
        "hippo",
        "merge",
        &format!(
            r#"{{"spec":{{"proxy":{{"pgBouncer":{{"customTLSSecret":{{"name":"{NEXT_BOUNCER_SECRET}"}}}}}}}}}}"#
        ),
    )
    .expect("the spec points PgBouncer at another Secret");
    let rolled = wait_for_pgbouncer_serial(0x3004, Duration::from_secs(240));
    assert_ne!(rolled.uid, first.uid, "another Secret rolls PgBouncer");
    assert_eq!(through_pgbouncer(), "hippo", "through the new PgBouncer");
    eprintln!(
        "e2e: PgBouncer rolled to the other Secret's certificate in {:.1?}",
        rolling.elapsed()
    );
}

/// Waits until every instance serves the certificate of serial `serial`.
fn wait_for_serial(instances: &[Instance], serial: u64, timeout: Duration) -> Duration {
    let started = Instant::now();
    wait_for(
        &format!("every instance to serve serial {serial:#x}"),
        timeout,
        || {
            for instance in instances {
                let served = served_serial(&instance.ip)?;
                if served != serial {
                    anyhow::bail!("{} serves {served:#x}", instance.pod);
                }
            }
            Ok(Some(()))
        },
    )
    .unwrap_or_else(|error| panic!("{error:#}"));
    started.elapsed()
}

#[test]
fn custom_tls_and_its_rotation() {
    require_cluster();
    let started = Instant::now();
    install_operator().expect("the operator installs and becomes available");
    let namespace = Namespace::fresh(NAMESPACE).expect("namespace");
    let ca = Ca::new();
    apply(&ca.secret(SERVER_SECRET, "hippo-primary", &server_names(), 0x1001));
    apply(&ca.secret(REPLICATION_SECRET, "_crunchyrepl", &[], 0x2001));
    // PgBouncer's certificate names the primary, not hippo-pgbouncer: a condition, not a crash.
    apply(&ca.secret(BOUNCER_SECRET, "hippo-primary", &server_names(), 0x3001));
    let spec = format!(
        "  customTLSSecret:
    name: {SERVER_SECRET}
  customReplicationTLSSecret:
    name: {REPLICATION_SECRET}
  proxy:
    pgBouncer:
      customTLSSecret:
        name: {BOUNCER_SECRET}
  monitoring:
    pgmonitor:
      exporter: {{}}
"
    );
    namespace
        .apply(&hippo::manifest(2, &spec))
        .expect("hippo applies");
    let (leader, replicas) = hippo::wait_for_roles(NAMESPACE, 1, Duration::from_secs(420))
        .expect("hippo's instances become Ready, one leading");
    eprintln!("e2e: hippo Ready after {:.1?}", started.elapsed());

    // verify-full against the custom CA, with the password of the user's Secret: the operator's SQL ran.
    let ca_pem = ca.certificate.pem();
    let host = HostPsql::trusting(NAMESPACE, "hippo", &ca_pem).expect("the primary's address");
    let password = wait_for("hippo's password", Duration::from_secs(120), || {
        let password = secret_field(NAMESPACE, "hippo-pguser-hippo", "password")?;
        Ok((!password.is_empty()).then_some(password))
    })
    .expect("the user's Secret");
    let answer = wait_for(
        "hippo to log in with verify-full against the custom CA",
        Duration::from_secs(180),
        || {
            Ok(host
                .run(
                    "hippo",
                    &password,
                    "hippo",
                    "select current_user || ' ' || ssl from pg_stat_ssl where pid = pg_backend_pid()",
                )
                .ok())
        },
    )
    .expect("hippo logs in");
    assert_eq!(answer, "hippo true");
    let client = Client::start_trusting(NAMESPACE, SERVER_SECRET).expect("the client pod");
    assert_eq!(
        client
            .psql_until_ok(
                Target::Service("hippo-replicas"),
                "select pg_is_in_recovery()",
                Duration::from_secs(60),
            )
            .expect("the replicas Service verifies"),
        "t",
        "a replica streams with the custom replication certificate and serves the custom one"
    );
    let status = wait_for(
        "PgBouncer's lookup and the exporter's role installed",
        Duration::from_secs(180),
        || {
            let cluster = get_json(NAMESPACE, &["postgrescluster", "hippo"])?;
            let bouncer = cluster["status"]["proxy"]["pgBouncer"]["postgresRevision"].clone();
            let exporter = cluster["status"]["monitoring"]["exporterConfiguration"].clone();
            Ok((bouncer.is_string() && exporter.is_string()).then_some((bouncer, exporter)))
        },
    )
    .expect("the operator's SQL runs under custom TLS");
    eprintln!(
        "e2e: PgBouncer revision {} and exporter configuration {} recorded",
        status.0, status.1
    );
    let bouncer = condition(NAMESPACE, "hippo", "ProxyCertificateValid");
    assert_eq!(
        (bouncer.status.as_str(), bouncer.reason.as_str()),
        ("False", "CertificateNameMismatch"),
        "{bouncer:?}"
    );
    assert!(bouncer.message.contains("hippo-pgbouncer"), "{bouncer:?}");
    let events = tusk_e2e::event_messages(NAMESPACE, "type=Warning,reason=CertificateNameMismatch")
        .expect("events");
    assert!(
        !events.is_empty(),
        "a Warning Event about PgBouncer's certificate"
    );
    pgbouncer_certificate_rotation(&ca, &client);

    // Rotation: the same Secret, a new certificate of the same CA, while a verify-full writer runs.
    let instances: Vec<Instance> = std::iter::once(leader.clone())
        .chain(replicas.iter().cloned())
        .collect();
    wait_for_serial(&instances, 0x1001, Duration::from_secs(10));
    let before = identities(NAMESPACE);
    let writer = Writer::start_trusting(NAMESPACE, "writer", SERVER_SECRET).expect("the writer");
    apply(&ca.secret(SERVER_SECRET, "hippo-primary", &server_names(), 0x1002));
    let rotated = wait_for_serial(&instances, 0x1002, Duration::from_secs(240));
    eprintln!(
        "e2e: every member serves the new certificate {rotated:.1?} after the Secret changed"
    );
    std::thread::sleep(Duration::from_secs(2));
    let log = writer.stop().expect("the writer stops");
    let rows = writer::rows(&client).expect("the rows");
    eprintln!(
        "e2e: the writer made {} attempts, {} refused, longest gap {:.1?}",
        log.attempts.len(),
        log.refused(),
        log.longest_refusal()
    );
    assert_eq!(log.refused(), 0, "no write failed during the rotation");
    assert!(log.lost(&rows).is_empty(), "no acknowledged write lost");
    assert_eq!(
        identities(NAMESPACE),
        before,
        "no instance pod restarted or replaced by the rotation"
    );
    let reloaded = tusk_e2e::event_messages(NAMESPACE, "reason=CustomTLSReloaded").expect("events");
    assert!(!reloaded.is_empty(), "the operator reported the reload");

    // Another Secret: the instances roll and then serve its certificate.
    apply(&ca.secret(NEXT_SECRET, "hippo-primary", &server_names(), 0x1003));
    let rolling = Instant::now();
    patch_cluster(
        NAMESPACE,
        "hippo",
        "merge",
        &format!(r#"{{"spec":{{"customTLSSecret":{{"name":"{NEXT_SECRET}"}}}}}}"#),
    )
    .expect("the spec points at the new Secret");
    let old: Vec<String> = before.iter().map(|pod| pod.uid.clone()).collect();
    let (leader, replicas) = wait_for(
        "every instance pod replaced",
        Duration::from_secs(420),
        || {
            let now = identities(NAMESPACE);
            if now.len() != 2 || now.iter().any(|pod| old.contains(&pod.uid)) {
                return Ok(None);
            }
            Ok(hippo::wait_for_roles(NAMESPACE, 1, Duration::from_secs(1)).ok())
        },
    )
    .expect("the instances roll");
    eprintln!("e2e: the instances rolled in {:.1?}", rolling.elapsed());
    let instances: Vec<Instance> = std::iter::once(leader).chain(replicas).collect();
    wait_for_serial(&instances, 0x1003, Duration::from_secs(30));
    let host = HostPsql::trusting(NAMESPACE, "hippo", &ca_pem).expect("the primary's address");
    let answer = wait_for(
        "hippo to log in after the roll",
        Duration::from_secs(120),
        || Ok(host.run("hippo", &password, "hippo", "select 1").ok()),
    )
    .expect("hippo logs in after the roll");
    assert_eq!(answer, "1");
    eprintln!("e2e: custom TLS test took {:.1?}", started.elapsed());
}
