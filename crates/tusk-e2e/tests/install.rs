//! Issue #8, "Install" (docs: Installation, Kustomize and Helm): both installs as a user runs them, on the local
//! Kubernetes, while the suite's own operator (`deploy/install`) is scaled to zero, so that no two operators
//! ever reconcile one cluster.
//! - `deploy/install-single-namespace` (through an overlay that puts it in a fresh namespace and leaves the
//!   shared CRD alone): a cluster of its namespace becomes Ready, a cluster of another namespace is never
//!   touched, the operator logs no forbidden request, and `kubectl delete -k` removes it.
//! - `deploy/helm/tusk` with `singleNamespace=true` (the cluster-wide chart would collide with the suite's
//!   ClusterRole and ClusterRoleBinding of the same names): install, a cluster becomes Ready, `helm upgrade` to
//!   another image tag and other resources replaces the operator's pod and leaves every Postgres pod and
//!   StatefulSet as it was, `helm uninstall` removes the operator and keeps the cluster's volumes.
//! - What each install grants its service account (`kubectl auth can-i --list`), printed: no `pods/exec`, no
//!   wildcard, and in single-namespace mode nothing outside the namespace.
//! - Offline: the chart renders exactly the kustomize installs' objects (RBAC rules included), in both modes.

use anyhow::{Context, Result};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};
use tusk_e2e::hippo::{self, wait_for_roles};
use tusk_e2e::{
    Namespace, OPERATOR_NAMESPACE, OperatorStopped, PodIdentity, get_json, install_operator,
    kubectl, pod_identity, repo_root, require_cluster, wait_for,
};

const SINGLE: &str = "tusk-e2e-install-single";
const OTHER: &str = "tusk-e2e-install-other";
const HELM: &str = "tusk-e2e-install-helm";
/// The operator's image under another tag, for the Helm upgrade.
const UPGRADE_IMAGE: &str = "localhost/tusk-operator:e2e-upgrade";
const OPERATOR_IMAGE: &str = "localhost/tusk-operator:dev";
const OPERATOR_PODS: &str = "app.kubernetes.io/name=tusk,app.kubernetes.io/component=operator";
const CLUSTERS: &str = "postgresclusters.postgres-operator.crunchydata.com";

/// Runs `program args`: its standard output, or an error with its standard error.
fn run(program: &str, args: &[&str]) -> Result<String> {
    tusk_e2e::run_with(program.as_ref(), args, None)
}

fn chart() -> String {
    repo_root()
        .join("deploy/helm/tusk")
        .to_str()
        .expect("UTF-8 path")
        .to_string()
}

/// The objects of a multi-document YAML text, without empty documents.
fn objects(yaml: &str) -> Vec<Value> {
    let mut objects: Vec<Value> = serde_saphyr::from_multiple::<Value>(yaml)
        .expect("YAML")
        .into_iter()
        .filter(|object| !object.is_null())
        .collect();
    objects.sort_by_key(|object| {
        let meta = &object["metadata"];
        format!("{} {} {}", object["kind"], meta["namespace"], meta["name"])
    });
    objects
}

/// `helm template` of the chart in `postgres-operator` with `singleNamespace`, CRD included, matches
/// `kubectl kustomize` of `install` but for the Namespace (Helm installs into an existing one).
fn assert_chart_renders(single_namespace: bool, install: &str) {
    let set = format!("singleNamespace={single_namespace}");
    let chart = chart();
    let helm = [
        "template",
        "tusk",
        &chart,
        "--namespace",
        OPERATOR_NAMESPACE,
        "--include-crds",
        "--set",
        &set,
    ];
    let rendered = objects(&run("helm", &helm).expect("helm template"));
    let path = repo_root().join("deploy").join(install);
    let kustomized: Vec<Value> = objects(
        &kubectl(&["kustomize", path.to_str().expect("UTF-8")]).expect("kubectl kustomize"),
    )
    .into_iter()
    .filter(|object| object["kind"] != "Namespace")
    .collect();
    let kinds = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|o| {
                let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
                format!("{}/{}", text(&o["kind"]), text(&o["metadata"]["name"]))
            })
            .collect()
    };
    assert_eq!(kinds(&rendered), kinds(&kustomized), "{set} vs {install}");
    for (chart_object, kustomize_object) in rendered.iter().zip(&kustomized) {
        if let Some(difference) = difference(chart_object, kustomize_object, String::new()) {
            panic!(
                "the chart ({set}) and deploy/{install} differ in {}/{}: {difference}",
                chart_object["kind"], chart_object["metadata"]["name"]
            );
        }
    }
    eprintln!(
        "e2e: helm template ({set}) = kubectl kustomize deploy/{install}: {:?}",
        kinds(&rendered)
    );
}

/// The first place where `chart` and `kustomize` differ (numbers by value), as a path and both values.
fn difference(chart: &Value, kustomize: &Value, path: String) -> Option<String> {
    match (chart, kustomize) {
        (Value::Object(a), Value::Object(b)) => a
            .keys()
            .chain(b.keys().filter(|key| !a.contains_key(*key)))
            .find_map(|key| {
                difference(
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    format!("{path}.{key}"),
                )
            }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (a, b))| difference(a, b, format!("{path}[{i}]"))),
        // The CRD's `minimum: 1.0` is `1` once kustomize wrote it again.
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: chart {a}, kustomize {b}")),
    }
}

#[test]
fn helm_chart_renders_what_kustomize_installs() {
    assert_chart_renders(false, "install");
    assert_chart_renders(true, "install-single-namespace");
}

/// One row of `kubectl auth can-i --list`: the resource (empty for non-resource URLs) and the verbs.
fn grants(listing: &str) -> Vec<(String, Vec<String>)> {
    listing
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let first = line.split_whitespace().next().unwrap_or_default();
            let resource = if first.starts_with('[') { "" } else { first };
            let verbs = line
                .rsplit_once('[')
                .map(|(_, verbs)| verbs.trim_end().trim_end_matches(']'))
                .unwrap_or_default();
            (
                resource.to_string(),
                verbs.split_whitespace().map(str::to_string).collect(),
            )
        })
        .collect()
}

/// Whether `kubectl auth can-i <args>` answers yes (it exits non-zero for no).
fn can_i(args: &[&str]) -> bool {
    let output = Command::new("kubectl")
        .args(["auth", "can-i"])
        .args(args)
        .output()
        .expect("kubectl runs");
    String::from_utf8_lossy(&output.stdout).trim() == "yes"
}

/// Prints what the service account `tusk-operator` of `namespace` may do there and checks it is the least:
/// the PostgresClusters readable, no exec, attach or port-forward into pods, no wildcard resource or verb.
fn assert_least_privilege(namespace: &str) {
    let user = format!("--as=system:serviceaccount:{namespace}:tusk-operator");
    let listing = kubectl(&["auth", "can-i", "--list", &user, "-n", namespace])
        .expect("kubectl auth can-i --list");
    eprintln!("e2e: what {namespace}/tusk-operator may do in {namespace}:\n{listing}");
    let rows = grants(&listing);
    let verbs_of = |resource: &str| {
        rows.iter()
            .filter(|(r, _)| r == resource)
            .flat_map(|(_, verbs)| verbs.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(verbs_of(CLUSTERS), ["get", "list", "watch"], "{listing}");
    for (resource, verbs) in &rows {
        assert!(
            !["pods/exec", "pods/attach", "pods/portforward", "*", "*.*"]
                .contains(&resource.as_str()),
            "{resource} granted: {listing}"
        );
        assert!(
            !verbs.iter().any(|verb| verb == "*"),
            "{resource}: {verbs:?}"
        );
    }
    for subresource in ["pods/exec", "pods/attach"] {
        assert!(!can_i(&["create", subresource, &user, "-n", namespace]));
    }
}

/// Asserts that the service account `tusk-operator` of `namespace` may read no PostgresCluster or Secret in
/// `other` and none across the cluster.
fn assert_nothing_elsewhere(namespace: &str, other: &str) {
    let user = format!("--as=system:serviceaccount:{namespace}:tusk-operator");
    for (verb, resource) in [("list", CLUSTERS), ("get", "secrets"), ("create", "pods")] {
        assert!(
            !can_i(&[verb, resource, &user, "-n", other]),
            "{verb} {resource} in {other}"
        );
        assert!(
            !can_i(&[verb, resource, &user, "--all-namespaces"]),
            "{verb} {resource} everywhere"
        );
    }
    let listing = kubectl(&["auth", "can-i", "--list", &user, "-n", other]).unwrap_or_default();
    assert!(
        grants(&listing)
            .iter()
            .all(|(resource, _)| resource.is_empty() || resource.starts_with("selfsubject")),
        "{namespace}/tusk-operator may do this in {other}:\n{listing}"
    );
}

/// A kustomize overlay in a temporary directory: `deploy/install-single-namespace` in `namespace`, without the
/// Namespace (the test's) and the CRD (the suite's operator serves it). Dropping it (even when the test panics)
/// deletes what it applied, so no second operator outlives the test.
struct SingleNamespaceInstall {
    dir: tempfile::TempDir,
    namespace: String,
    deleted: bool,
}

impl SingleNamespaceInstall {
    fn apply(namespace: &str) -> Result<SingleNamespaceInstall> {
        let dir = tempfile::tempdir()?;
        // Kustomize takes only relative paths to other kustomizations.
        let up = "../".repeat(dir.path().components().count() - 1);
        let install = repo_root()
            .join("deploy/install-single-namespace")
            .canonicalize()?;
        let install = format!(
            "{up}{}",
            install.display().to_string().trim_start_matches('/')
        );
        std::fs::write(
            dir.path().join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: {namespace}
resources:
  - {install}
patches:
  - patch: |
      $patch: delete
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata:
        name: {CLUSTERS}
  - patch: |
      $patch: delete
      apiVersion: v1
      kind: Namespace
      metadata:
        name: {OPERATOR_NAMESPACE}
"
            ),
        )?;
        let installed = SingleNamespaceInstall {
            dir,
            namespace: namespace.to_string(),
            deleted: false,
        };
        kubectl(&["apply", "--server-side", "-k", installed.path()])?;
        Ok(installed)
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().expect("UTF-8 path")
    }

    /// `kubectl delete -k` of the overlay, waiting until its objects are gone.
    fn delete(&mut self) -> Result<()> {
        self.deleted = true;
        kubectl(&[
            "delete",
            "-k",
            self.path(),
            "--ignore-not-found",
            "--wait=true",
        ])?;
        wait_operator_pods_gone(&self.namespace)
    }
}

impl Drop for SingleNamespaceInstall {
    fn drop(&mut self) {
        if !self.deleted
            && let Err(error) = self.delete()
        {
            eprintln!("e2e: could not delete the single-namespace install: {error:#}");
        }
    }
}

/// Waits until no operator pod runs in `namespace`.
fn wait_operator_pods_gone(namespace: &str) -> Result<()> {
    wait_for("the operator's pods to go", Duration::from_secs(90), || {
        Ok(operator_pods_all(namespace)?.is_empty().then_some(()))
    })
}

/// The names of the operator pods of `namespace`, terminating ones too.
fn operator_pods_all(namespace: &str) -> Result<Vec<String>> {
    let pods = kubectl(&[
        "-n",
        namespace,
        "get",
        "pods",
        "-l",
        OPERATOR_PODS,
        "-o",
        "name",
    ])?;
    Ok(pods.lines().map(str::to_string).collect())
}

/// Whether `namespace` holds none of the objects the installs make.
fn operator_gone(namespace: &str) -> Result<bool> {
    let left = kubectl(&[
        "-n",
        namespace,
        "get",
        "deployment,serviceaccount,role,rolebinding",
        "-l",
        "app.kubernetes.io/name=tusk",
        "-o",
        "name",
    ])?;
    eprintln!(
        "e2e: left of the operator in {namespace}: {:?}",
        left.trim()
    );
    Ok(left.trim().is_empty())
}

#[test]
fn single_namespace_kustomize_install_reconciles_its_namespace_alone() {
    require_cluster();
    let started = Instant::now();
    install_operator().expect("the suite's operator is installed");
    let _suite_operator = OperatorStopped::stop().expect("the suite's operator stops");
    let own = Namespace::fresh(SINGLE).expect("namespace");
    let other = Namespace::fresh(OTHER).expect("another namespace");
    let mut install = SingleNamespaceInstall::apply(SINGLE).expect("the single-namespace install");
    tusk_e2e::wait_for_operator(SINGLE).expect("the operator becomes available");
    eprintln!(
        "e2e: single-namespace operator available after {:.0?}",
        started.elapsed()
    );
    assert_least_privilege(SINGLE);
    assert_nothing_elsewhere(SINGLE, OTHER);

    let manifest = hippo::manifest(1, "");
    other.apply(&manifest).expect("hippo applies elsewhere");
    let applied_elsewhere = Instant::now();
    own.apply(&manifest).expect("hippo applies");
    let (leader, _) = wait_for_roles(SINGLE, 0, Duration::from_secs(300))
        .expect("hippo becomes Ready under the single-namespace operator");
    eprintln!(
        "e2e: {SINGLE}/{} Ready after {:.0?}",
        leader.pod,
        started.elapsed()
    );
    // By now the operator has reconciled its own cluster many times: one in another namespace that it
    // watched (applied first) would have objects and a status too. Give it 20 s at least.
    std::thread::sleep(Duration::from_secs(20).saturating_sub(applied_elsewhere.elapsed()));
    let elsewhere = kubectl(&[
        "-n",
        OTHER,
        "get",
        "statefulsets,services,secrets,configmaps",
        "-l",
        hippo::CLUSTER,
        "-o",
        "name",
    ])
    .expect("kubectl get");
    assert_eq!(elsewhere.trim(), "", "the operator made objects in {OTHER}");
    let untouched = get_json(OTHER, &["postgrescluster", "hippo"]).expect("hippo elsewhere");
    assert!(untouched["status"].is_null(), "{}", untouched["status"]);
    let log = kubectl(&["-n", SINGLE, "logs", "deployment/tusk-operator"]).expect("logs");
    assert!(log.contains("watching PostgresClusters in one namespace"));
    let refused: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("forbidden") || line.contains("Forbidden"))
        .collect();
    assert!(refused.is_empty(), "the operator was refused: {refused:#?}");

    install.delete().expect("kubectl delete -k");
    assert!(operator_gone(SINGLE).expect("kubectl get"));
    eprintln!(
        "e2e: single-namespace install test took {:.0?}",
        started.elapsed()
    );
}

/// What an upgrade of the operator must leave alone: each Postgres pod (of a StatefulSet) with its uid and
/// restarts, each StatefulSet with its generation and pod template.
#[derive(Debug, PartialEq)]
struct Running {
    pods: Vec<PodIdentity>,
    statefulsets: Vec<(String, i64, Value)>,
}

fn running(namespace: &str) -> Result<Running> {
    let pods = get_json(namespace, &["pods", "-l", hippo::CLUSTER])?;
    let mut pods: Vec<PodIdentity> = pods["items"]
        .as_array()
        .context("pods")?
        .iter()
        .filter(|pod| {
            pod["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|owner| owner["kind"] == "StatefulSet")
        })
        .map(pod_identity)
        .collect();
    pods.sort();
    let sets = get_json(namespace, &["statefulsets", "-l", hippo::CLUSTER])?;
    let mut statefulsets: Vec<(String, i64, Value)> = sets["items"]
        .as_array()
        .context("statefulsets")?
        .iter()
        .map(|set| {
            (
                set["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                set["metadata"]["generation"].as_i64().unwrap_or_default(),
                set["spec"]["template"].clone(),
            )
        })
        .collect();
    statefulsets.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Running { pods, statefulsets })
}

/// The operator pods of `namespace`: name and image.
fn operator_pods(namespace: &str) -> Result<Vec<(String, String)>> {
    let pods = get_json(namespace, &["pods", "-l", OPERATOR_PODS])?;
    Ok(pods["items"]
        .as_array()
        .context("pods")?
        .iter()
        .filter(|pod| pod["metadata"]["deletionTimestamp"].is_null())
        .map(|pod| {
            (
                pod["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                pod["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect())
}

/// How many reconciles `pod` (an operator) finished well, from its `/metrics`.
fn reconciled(namespace: &str, pod: &str) -> Result<u64> {
    let metrics = kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/{namespace}/pods/{pod}:8080/proxy/metrics"),
    ])?;
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("tusk_reconciles_total{result=\"ok\"} "))
        .context("tusk_reconciles_total in /metrics")?
        .trim()
        .parse()
        .context("a count")
}

/// A Helm release of the chart; dropping it (even when the test panics) uninstalls it, so no second operator
/// outlives the test, and removes the upgrade's image tag.
struct HelmRelease {
    namespace: String,
    uninstalled: bool,
}

impl HelmRelease {
    fn install(namespace: &str, args: &[&str]) -> Result<HelmRelease> {
        let chart = chart();
        let mut install = vec![
            "install",
            "tusk",
            &chart,
            "--namespace",
            namespace,
            "--wait",
            "--timeout=3m",
        ];
        install.extend_from_slice(args);
        let release = HelmRelease {
            namespace: namespace.to_string(),
            uninstalled: false,
        };
        eprintln!("e2e: {}", run("helm", &install)?.trim());
        Ok(release)
    }

    fn upgrade(&self, args: &[&str]) -> Result<()> {
        let chart = chart();
        let mut upgrade = vec![
            "upgrade",
            "tusk",
            &chart,
            "--namespace",
            &self.namespace,
            "--wait",
            "--timeout=3m",
        ];
        upgrade.extend_from_slice(args);
        eprintln!("e2e: {}", run("helm", &upgrade)?.trim());
        Ok(())
    }

    fn uninstall(&mut self) -> Result<()> {
        self.uninstalled = true;
        let args = [
            "uninstall",
            "tusk",
            "--namespace",
            &self.namespace,
            "--wait",
        ];
        eprintln!("e2e: {}", run("helm", &args)?.trim());
        wait_operator_pods_gone(&self.namespace)
    }
}

impl Drop for HelmRelease {
    fn drop(&mut self) {
        if !self.uninstalled
            && let Err(error) = self.uninstall()
        {
            eprintln!("e2e: could not uninstall the Helm release: {error:#}");
        }
        let _ = run(
            "ctr",
            &["--namespace", "k8s.io", "images", "rm", UPGRADE_IMAGE],
        );
    }
}

#[test]
fn helm_install_upgrade_in_place_and_uninstall() {
    require_cluster();
    assert!(
        std::env::var_os("CONTAINERD_ADDRESS").is_some(),
        "CONTAINERD_ADDRESS unset: `eval \"$(cargo xtask cluster env)\"` sets it for ctr"
    );
    let started = Instant::now();
    install_operator().expect("the suite's operator is installed");
    let _suite_operator = OperatorStopped::stop().expect("the suite's operator stops");
    let namespace = Namespace::fresh(HELM).expect("namespace");
    let mut release =
        HelmRelease::install(HELM, &["--set", "singleNamespace=true"]).expect("helm install");
    eprintln!("e2e: helm install done after {:.0?}", started.elapsed());
    assert_least_privilege(HELM);
    assert_nothing_elsewhere(HELM, OPERATOR_NAMESPACE);
    let before_upgrade = operator_pods(HELM).expect("operator pods");
    assert_eq!(before_upgrade.len(), 1, "{before_upgrade:?}");
    assert_eq!(before_upgrade[0].1, OPERATOR_IMAGE);

    namespace
        .apply(&hippo::manifest(1, ""))
        .expect("hippo applies");
    wait_for_roles(HELM, 0, Duration::from_secs(300)).expect("hippo becomes Ready");
    eprintln!("e2e: hippo Ready after {:.0?}", started.elapsed());
    let claims_before =
        kubectl(&["-n", HELM, "get", "pvc", "-l", hippo::CLUSTER, "-o", "name"]).expect("claims");
    let before = running(HELM).expect("hippo's pods");
    assert!(
        !before.pods.is_empty() && !before.statefulsets.is_empty(),
        "{before:?}"
    );

    // Another tag of the same image: the upgrade replaces the operator's pod as a new version would.
    run(
        "ctr",
        &[
            "--namespace",
            "k8s.io",
            "images",
            "tag",
            "--force",
            OPERATOR_IMAGE,
            UPGRADE_IMAGE,
        ],
    )
    .expect("ctr images tag");
    let upgrading = Instant::now();
    release
        .upgrade(&[
            "--set",
            "singleNamespace=true",
            "--set",
            "image.tag=e2e-upgrade",
            "--set",
            "resources.limits.memory=320Mi",
        ])
        .expect("helm upgrade");
    let after_upgrade = wait_for(
        "one operator pod of the new image",
        Duration::from_secs(120),
        || {
            let pods = operator_pods(HELM)?;
            Ok((pods.len() == 1 && pods[0].1 == UPGRADE_IMAGE).then(|| pods[0].clone()))
        },
    )
    .expect("the operator's pod is replaced");
    assert_ne!(after_upgrade.0, before_upgrade[0].0);
    let limits = get_json(HELM, &["deployment", "tusk-operator"]).expect("deployment")["spec"]
        ["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
        .clone();
    assert_eq!(limits, "320Mi");
    let reconciles = wait_for(
        "the upgraded operator to reconcile hippo",
        Duration::from_secs(90),
        || Ok(Some(reconciled(HELM, &after_upgrade.0)?).filter(|n| *n >= 1)),
    )
    .expect("the new operator reconciles");
    eprintln!(
        "e2e: upgraded operator {} reconciled {reconciles} time(s), {:.0?} after helm upgrade began",
        after_upgrade.0,
        upgrading.elapsed()
    );
    // What a reconcile changes it changes at once (apply, pod deletion); wait a little more for stragglers.
    std::thread::sleep(Duration::from_secs(5));
    let after = running(HELM).expect("hippo's pods");
    assert_eq!(
        before, after,
        "the operator's upgrade alone changed Postgres"
    );
    wait_for_roles(HELM, 0, Duration::from_secs(10)).expect("hippo still Ready");

    release.uninstall().expect("helm uninstall");
    assert!(operator_gone(HELM).expect("kubectl get"));
    let cluster_left = get_json(HELM, &["postgrescluster", "hippo"]).expect("hippo stays");
    assert!(cluster_left["metadata"]["deletionTimestamp"].is_null());
    let claims_after =
        kubectl(&["-n", HELM, "get", "pvc", "-l", hippo::CLUSTER, "-o", "name"]).expect("claims");
    assert!(!claims_after.trim().is_empty());
    assert_eq!(
        claims_before, claims_after,
        "helm uninstall kept hippo's volumes"
    );
    eprintln!("e2e: Helm install test took {:.0?}", started.elapsed());
}

#[test]
fn cluster_wide_install_grants_the_least() {
    require_cluster();
    install_operator().expect("the suite's operator is installed");
    assert_least_privilege(OPERATOR_NAMESPACE);
    let user = format!("--as=system:serviceaccount:{OPERATOR_NAMESPACE}:tusk-operator");
    assert!(can_i(&["list", CLUSTERS, &user, "--all-namespaces"]));
    assert!(!can_i(&["create", "pods/exec", &user, "--all-namespaces"]));
    assert!(!can_i(&["list", "nodes", &user]));
}
