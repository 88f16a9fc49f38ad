//! Issue #5, end-to-end tests 5, 6 and 9 (part): changes that need new pods or a restart roll through a
//! two-instance hippo — replicas first, then a controlled switchover through Patroni's REST API, then the former
//! primary — while a writer keeps inserting through `hippo-primary`; the longest stretch of refused writes is
//! printed as a figure. Then `patroni.dynamicConfiguration`: `work_mem` reaches every instance without a
//! restart, `shared_buffers` by an automatic rolling restart; then a restart through `spec.metadata.annotations`
//! and a minor update (`spec.image` changed to a second tag of the local image); last `spec.shutdown` true then
//! false keeps every row.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tusk_e2e::{
    Namespace, get_json, install_operator, kubectl, local_hippo, pod_ready, require_cluster,
    wait_for,
};

const NAMESPACE: &str = "tusk-e2e-rolling";
const CLUSTER: &str = "postgres-operator.crunchydata.com/cluster=hippo";
const ROLE: &str = "postgres-operator.crunchydata.com/role";
/// The second tag `cargo xtask cluster up` gives the local PostgreSQL image.
const NEXT_IMAGE: &str = "localhost/tusk-postgres:next";

/// The instance pods: name → (uid, role, ready).
fn pods() -> anyhow::Result<BTreeMap<String, (String, String, bool)>> {
    let list = get_json(
        NAMESPACE,
        &[
            "pods",
            "-l",
            &format!("{CLUSTER},postgres-operator.crunchydata.com/instance"),
        ],
    )?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pod| {
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
            let role = pod["metadata"]["labels"][ROLE].as_str().unwrap_or_default();
            (
                name.to_string(),
                (uid.to_string(), role.to_string(), pod_ready(pod)),
            )
        })
        .collect())
}

/// Waits for two ready instance pods, one of them the leader; the pods as [`pods`] gives them and the leader.
fn settled(what: &str) -> (BTreeMap<String, (String, String, bool)>, String) {
    wait_for(what, Duration::from_secs(420), || {
        let pods = pods()?;
        let ready = pods.values().filter(|(_, _, ready)| *ready).count();
        let leader = pods
            .iter()
            .find(|(_, (_, role, ready))| role == "master" && *ready)
            .map(|(name, _)| name.clone());
        Ok(match leader {
            Some(leader) if pods.len() == 2 && ready == 2 => Some((pods, leader)),
            _ => None,
        })
    })
    .expect(what)
}

/// `psql -XAt -c sql` as `postgres` over the local socket of `pod`, in database `postgres`.
fn psql(pod: &str, sql: &str) -> anyhow::Result<String> {
    psql_in(pod, "postgres", sql)
}

/// `psql -XAt -c sql` as `postgres` over the local socket of `pod`, in `database`.
fn psql_in(pod: &str, database: &str, sql: &str) -> anyhow::Result<String> {
    Ok(kubectl(&[
        "-n", NAMESPACE, "exec", pod, "-c", "database", "--", "psql", "-XAt", "-d", database, "-c",
        sql,
    ])?
    .trim()
    .to_string())
}

fn patch(patch: &str) {
    kubectl(&[
        "-n",
        NAMESPACE,
        "patch",
        "postgrescluster/hippo",
        "--type",
        "merge",
        "-p",
        patch,
    ])
    .expect("the patch applies");
}

/// A pod that inserts a row (into `writes`, which the test makes) through `hippo-primary` every 100 ms with the user Secret's `uri` (verify-full),
/// printing `ok <ms>` or `fail <ms>` for each attempt.
const WRITER: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: writer
spec:
  restartPolicy: Never
  enableServiceLinks: false
  securityContext: {runAsNonRoot: true, runAsUser: 26, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: writer
      image: localhost/tusk-postgres:dev
      imagePullPolicy: IfNotPresent
      env:
        - {name: PGSSLMODE, value: verify-full}
        - {name: PGSSLROOTCERT, value: /cluster-cert/ca.crt}
        - {name: PGCONNECT_TIMEOUT, value: "2"}
      command:
        - sh
        - -c
        - |
          while true; do
            now=$(date +%s%3N)
            if psql "$(cat /user/uri)" -XAtq -c "insert into writes values ($now)" 2>/dev/null; then
              echo "ok $now"
            else
              echo "fail $now"
            fi
            sleep 0.1
          done
      securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
      volumeMounts:
        - {name: user, mountPath: /user, readOnly: true}
        - {name: cluster-cert, mountPath: /cluster-cert, readOnly: true}
  volumes:
    - name: user
      secret: {secretName: hippo-pguser-hippo}
    - name: cluster-cert
      secret: {secretName: hippo-cluster-cert, items: [{key: ca.crt, path: ca.crt}]}
"#;

/// The writer's longest stretch of refused writes, in seconds (from the first failure to the next success),
/// and how many writes succeeded.
fn refused_seconds() -> anyhow::Result<(f64, usize)> {
    let log = kubectl(&["-n", NAMESPACE, "logs", "writer"])?;
    let mut longest = 0.0_f64;
    let mut first_failure: Option<u64> = None;
    let mut succeeded = 0;
    for line in log.lines() {
        let Some((outcome, at)) = line.split_once(' ') else {
            continue;
        };
        let Ok(at) = at.parse::<u64>() else { continue };
        match outcome {
            "fail" => {
                first_failure.get_or_insert(at);
            }
            "ok" => {
                succeeded += 1;
                if let Some(start) = first_failure.take() {
                    longest = longest.max((at - start) as f64 / 1000.0);
                }
            }
            _ => {}
        }
    }
    Ok((longest, succeeded))
}

/// The notes of the cluster's rolling-update and switchover Events, oldest first.
fn rollout_events() -> Vec<String> {
    let events = get_json(NAMESPACE, &["events"]).expect("events");
    let mut found: Vec<(String, String)> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reason"] == "RollingUpdate" || e["reason"] == "Switchover")
        .map(|e| {
            let at = e["eventTime"].as_str().unwrap_or_default().to_string();
            (at, e["message"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, note)| note).collect()
}

/// Waits until every instance shows `setting` as `value`.
fn setting_everywhere(setting: &str, value: &str) {
    wait_for(
        &format!("{setting} = {value} on every instance"),
        Duration::from_secs(300),
        || {
            let pods = pods()?;
            for pod in pods.keys() {
                if psql(pod, &format!("show {setting}"))? != value {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    )
    .expect("the setting reaches every instance");
}

#[test]
fn rolling_updates_with_a_controlled_switchover() {
    require_cluster();
    install_operator().expect("the operator installs");
    let namespace = Namespace::fresh(NAMESPACE).expect("namespace");
    let hippo = local_hippo().replace(
        "    - name: instance1\n",
        "    - name: instance1\n      replicas: 2\n",
    );
    namespace.apply(&hippo).expect("hippo applies");
    let (before, leader) = settled("two ready instances, one leading");
    wait_for("the table of writes", Duration::from_secs(120), || {
        Ok(psql_in(
            &leader,
            "hippo",
            "create table if not exists writes (at bigint); grant select, insert on writes to hippo",
        )
        .ok())
    })
    .expect("the table is made");
    namespace.apply(WRITER).expect("the writer applies");
    wait_for("the writer's first write", Duration::from_secs(180), || {
        Ok((refused_seconds()?.1 > 0).then_some(()))
    })
    .expect("the writer writes");

    // Test 5: resize. New resources need new pods: the replica first, then a switchover, then the old leader.
    let started = Instant::now();
    patch(
        r#"{"spec":{"instances":[{"name":"instance1","replicas":2,"resources":{"requests":{"cpu":"50m","memory":"200Mi"},"limits":{"memory":"1Gi"}},"dataVolumeClaimSpec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}"#,
    );
    let (after, new_leader) = wait_for(
        "both pods replaced with the new resources",
        Duration::from_secs(420),
        || {
            let (pods, leader) = settled("two ready instances");
            let renewed = pods
                .iter()
                .all(|(name, (uid, _, _))| before.get(name).is_some_and(|(old, _, _)| old != uid));
            Ok(renewed.then_some((pods, leader)))
        },
    )
    .expect("the rolling update finishes");
    eprintln!(
        "e2e: resize rolled through both instances in {:.1?}",
        started.elapsed()
    );
    assert_ne!(
        leader, new_leader,
        "a controlled switchover moved the leader"
    );
    for pod in after.keys() {
        let spec = get_json(NAMESPACE, &["pod", pod]).expect("pod");
        assert_eq!(
            spec["spec"]["containers"][0]["resources"]["requests"]["memory"], "200Mi",
            "{pod} runs the new template"
        );
    }
    let events = rollout_events();
    let order: Vec<&str> = events.iter().map(String::as_str).collect();
    let replaced_replica = order
        .iter()
        .position(|m| m.contains(&format!("replaced pod {new_leader}")));
    let switched = order.iter().position(|m| m.contains("switched over"));
    let replaced_leader = order
        .iter()
        .position(|m| m.contains(&format!("replaced pod {leader}")));
    assert!(
        replaced_replica < switched && switched < replaced_leader && replaced_replica.is_some(),
        "replica, switchover, former primary: {events:#?}"
    );
    let (refused, written) = refused_seconds().expect("the writer's log");
    eprintln!("e2e: figure rolling_update_refused_write_seconds={refused:.1} ({written} writes)");

    // Test 6: configuration. work_mem needs no restart; shared_buffers rolls a restart through Patroni.
    patch(
        r#"{"spec":{"patroni":{"dynamicConfiguration":{"postgresql":{"parameters":{"work_mem":"5MB"}}}}}}"#,
    );
    setting_everywhere("work_mem", "5MB");
    let unchanged = pods().expect("pods");
    assert!(
        unchanged
            .iter()
            .all(|(name, (uid, _, _))| after.get(name).is_some_and(|(old, _, _)| old == uid)),
        "work_mem did not replace a pod"
    );
    patch(
        r#"{"spec":{"patroni":{"dynamicConfiguration":{"postgresql":{"parameters":{"work_mem":"5MB","shared_buffers":"64MB"}}}}}}"#,
    );
    setting_everywhere("shared_buffers", "64MB");
    settled("two ready instances after the restart");

    // Test 9: a restart through spec.metadata.annotations replaces every pod.
    let before_restart = pods().expect("pods");
    patch(r#"{"spec":{"metadata":{"annotations":{"restarted":"now"}}}}"#);
    wait_for(
        "every pod replaced after the restart annotation",
        Duration::from_secs(420),
        || {
            let (pods, _) = settled("two ready instances");
            Ok(pods
                .iter()
                .all(|(name, (uid, _, _))| {
                    before_restart
                        .get(name)
                        .is_some_and(|(old, _, _)| old != uid)
                })
                .then_some(()))
        },
    )
    .expect("the restart rolls");

    // Test 9: a minor update — spec.image changed to another tag — rolls with a switchover too.
    let (before_update, leader_before_update) = settled("two ready instances");
    patch(&format!(r#"{{"spec":{{"image":"{NEXT_IMAGE}"}}}}"#));
    let leader_after_update = wait_for(
        "every pod on the new image",
        Duration::from_secs(420),
        || {
            let (pods, leader) = settled("two ready instances");
            let mut updated = true;
            for (name, (uid, _, _)) in &pods {
                let pod = get_json(NAMESPACE, &["pod", name])?;
                updated &= pod["spec"]["containers"][0]["image"] == NEXT_IMAGE
                    && before_update
                        .get(name)
                        .is_some_and(|(old, _, _)| old != uid);
            }
            Ok(updated.then_some(leader))
        },
    )
    .expect("the image update rolls");
    assert_ne!(
        leader_before_update, leader_after_update,
        "the update switched over"
    );

    let (refused, written) = refused_seconds().expect("the writer's log");
    eprintln!(
        "e2e: longest refused-write stretch over the whole test {refused:.1}s ({written} writes)"
    );
    let rows = psql_in(&new_leader_now(), "hippo", "select count(*) from writes").expect("count");
    let rows: usize = rows.parse().unwrap_or(0);
    assert!(rows >= written, "{rows} rows, {written} acknowledged");

    // Test 9: shutdown stops every instance; starting again brings the same data back.
    kubectl(&["-n", NAMESPACE, "delete", "pod", "writer", "--wait=true"]).expect("writer stops");
    patch(r#"{"spec":{"shutdown":true}}"#);
    wait_for("no instance pods", Duration::from_secs(300), || {
        Ok(pods()?.is_empty().then_some(()))
    })
    .expect("shutdown stops every instance");
    patch(r#"{"spec":{"shutdown":false}}"#);
    let (_, leader) = settled("two ready instances after the shutdown");
    let again = wait_for(
        "the rows after the restart",
        Duration::from_secs(120),
        || {
            Ok(psql_in(&leader, "hippo", "select count(*) from writes")
                .ok()
                .and_then(|count| count.parse::<usize>().ok()))
        },
    )
    .expect("count");
    assert!(
        again >= rows,
        "{again} rows after the shutdown, {rows} before"
    );
}

/// The current leader's pod.
fn new_leader_now() -> String {
    settled("a leader").1
}
