//! The cluster's certificates and kubeconfigs, made once by `up` and kept in `<state>/pki` and `<state>/config`.
//! Every component authenticates with a client certificate whose name is the identity Kubernetes' built-in
//! RBAC roles expect (`system:kube-controller-manager`, `system:node:tusk` in `system:nodes`, ...).

use super::{API_PORT, API_SERVICE_IP, Layout, NODE, NODE_IP, write_file};
use anyhow::Result;
use std::path::Path;
use tusk_testenv::pki::{Authority, Pair, signing_key};

/// The kubeconfigs: component, user, groups.
const CLIENTS: &[(&str, &str, &[&str])] = &[
    ("controller-manager", "system:kube-controller-manager", &[]),
    ("scheduler", "system:kube-scheduler", &[]),
    ("kubelet", "system:node:tusk", &["system:nodes"]),
    ("kube-proxy", "system:kube-proxy", &[]),
];

/// Makes the certificates and kubeconfigs unless they exist.
pub fn ensure(layout: &Layout) -> Result<()> {
    let pki = layout.pki();
    if pki.join("ca.crt").exists() && layout.admin_kubeconfig().exists() {
        return Ok(());
    }
    std::fs::create_dir_all(&pki)?;
    let ca = Authority::generate("tusk-cluster-ca")?;
    let save = |name: &str, pair: &Pair| -> Result<()> {
        write_file(&pki.join(format!("{name}.crt")), &pair.cert)?;
        write_file(&pki.join(format!("{name}.key")), &pair.key)?;
        Ok(())
    };
    let apiserver = ca.server(
        "kube-apiserver",
        &[
            NODE_IP,
            API_SERVICE_IP,
            "127.0.0.1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ],
    )?;
    save("apiserver", &apiserver)?;
    // The API server reaches kubelets (logs, exec, port-forward) as a cluster administrator.
    save(
        "apiserver-kubelet-client",
        &ca.client("kube-apiserver-kubelet-client", &["system:masters"])?,
    )?;
    save("kubelet-serving", &ca.server(NODE, &[NODE, NODE_IP])?)?;
    let admin = ca.client("tusk-admin", &["system:masters"])?;
    save("admin", &admin)?;
    for (component, user, groups) in CLIENTS {
        let pair = ca.client(user, groups)?;
        save(component, &pair)?;
        write_file(
            &layout.kubeconfig(component),
            &kubeconfig(
                &pki.join("ca.crt"),
                &pki.join(format!("{component}.crt")),
                &pki.join(format!("{component}.key")),
            ),
        )?;
    }
    let service_account = signing_key()?;
    write_file(&pki.join("service-account.key"), &service_account.key)?;
    write_file(&pki.join("service-account.pub"), &service_account.cert)?;
    write_file(&pki.join("ca.key"), &ca.key_pem())?;
    // Last: its presence tells the next `up` that everything above is there.
    write_file(&pki.join("ca.crt"), ca.cert_pem())?;
    write_file(
        &layout.admin_kubeconfig(),
        &kubeconfig(
            &pki.join("ca.crt"),
            &pki.join("admin.crt"),
            &pki.join("admin.key"),
        ),
    )?;
    Ok(())
}

fn kubeconfig(ca: &Path, cert: &Path, key: &Path) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: tusk
  cluster:
    server: https://{NODE_IP}:{API_PORT}
    certificate-authority: {ca}
users:
- name: tusk
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: tusk
  context:
    cluster: tusk
    user: tusk
current-context: tusk
",
        ca = ca.display(),
        cert = cert.display(),
        key = key.display(),
    )
}
