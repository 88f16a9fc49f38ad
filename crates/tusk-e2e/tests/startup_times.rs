//! Figures for `docs/src/development/performance.md` (issue #5): the time from `kubectl apply` to a ready cluster, for the docs'
//! hippo with one instance and with three. Ready means every instance pod Ready, one of them Patroni's leader,
//! and the user Secret present; the test fails when that does not happen within the time PGO users would
//! tolerate.

use std::time::{Duration, Instant};
use tusk_e2e::{
    Namespace, get_json, install_operator, local_hippo, pod_ready, require_cluster, wait_for,
};

const CLUSTER: &str = "postgres-operator.crunchydata.com/cluster=hippo";

/// Applies hippo with `replicas` instances in `namespace` and waits until it is ready; the time that took.
fn apply_to_ready(namespace: &str, replicas: usize) -> Duration {
    let namespace = Namespace::fresh(namespace).expect("namespace");
    let hippo = local_hippo().replace(
        "    - name: instance1\n",
        &format!("    - name: instance1\n      replicas: {replicas}\n"),
    );
    let applied = Instant::now();
    namespace.apply(&hippo).expect("hippo applies");
    wait_for(
        &format!("{replicas} ready instances, one leading"),
        Duration::from_secs(600),
        || {
            let pods = get_json(
                &namespace.0,
                &[
                    "pods",
                    "-l",
                    &format!("{CLUSTER},postgres-operator.crunchydata.com/instance"),
                ],
            )?;
            let pods = pods["items"].as_array().cloned().unwrap_or_default();
            let ready = pods.iter().filter(|pod| pod_ready(pod)).count();
            let leads = pods.iter().any(|pod| {
                pod_ready(pod)
                    && pod["metadata"]["labels"]["postgres-operator.crunchydata.com/role"]
                        == "master"
            });
            let secret = get_json(&namespace.0, &["secret", "hippo-pguser-hippo"]).is_ok();
            Ok((ready == replicas && leads && secret).then_some(()))
        },
    )
    .expect("the cluster becomes ready");
    applied.elapsed()
}

#[test]
fn apply_to_ready_for_one_and_three_instances() {
    require_cluster();
    install_operator().expect("the operator installs");
    let one = apply_to_ready("tusk-e2e-startup-1", 1);
    eprintln!(
        "e2e: figure apply_to_ready_seconds{{instances=1}}={:.1}",
        one.as_secs_f64()
    );
    let three = apply_to_ready("tusk-e2e-startup-3", 3);
    eprintln!(
        "e2e: figure apply_to_ready_seconds{{instances=3}}={:.1}",
        three.as_secs_f64()
    );
}
