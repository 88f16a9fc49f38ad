//! Issue #5, end-to-end tests 5, 6 and 9: changes that need new pods or a restart roll through a two-instance
//! hippo — replicas first, then a controlled switchover through Patroni's REST API, then the former primary —
//! while a writer keeps inserting through `hippo-primary`; the longest stretch without an accepted write is
//! printed as a figure. Then `patroni.dynamicConfiguration`: `work_mem` reaches every instance without a
//! restart, `shared_buffers` by an automatic rolling restart; then a restart through `spec.metadata.annotations`
//! and a minor update (`spec.image` changed to a second tag of the local image); last `spec.shutdown` true then
//! false keeps every row.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tusk_e2e::client::{Client, Target};
use tusk_e2e::hippo::{self, Instance};
use tusk_e2e::writer::{self, Writer};
use tusk_e2e::{get_json, wait_for};

const NAMESPACE: &str = "tusk-e2e-rolling";
/// The second tag `cargo xtask cluster up` gives the local PostgreSQL image.
const NEXT_IMAGE: &str = "localhost/tusk-postgres:next";
/// How long one rolling change may take.
const ROLL: Duration = Duration::from_secs(420);

/// The instance pods' UIDs, by pod name.
fn uids() -> BTreeMap<String, String> {
    let pods = get_json(
        NAMESPACE,
        &[
            "pods",
            "-l",
            &format!("{},{}", hippo::CLUSTER, hippo::INSTANCE),
        ],
    )
    .expect("pods");
    pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pod| {
            let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&pod["metadata"]["name"]),
                text(&pod["metadata"]["uid"]),
            )
        })
        .collect()
}

/// Waits until both instances are Ready again (one leading) with pods other than `before`'s; the leader.
fn rolled(what: &str, before: &BTreeMap<String, String>) -> Instance {
    wait_for(what, ROLL, || {
        let (leader, _) = hippo::wait_for_roles(NAMESPACE, 1, ROLL)?;
        let now = uids();
        let renewed =
            now.len() == before.len() && now.iter().all(|(pod, uid)| before.get(pod) != Some(uid));
        Ok(renewed.then_some(leader))
    })
    .expect(what)
}

fn patch(patch: &str) {
    tusk_e2e::patch_cluster(NAMESPACE, "hippo", "merge", patch).expect("the patch applies");
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
fn setting_everywhere(client: &Client, setting: &str, value: &str) {
    wait_for(
        &format!("{setting} = {value} on every instance"),
        Duration::from_secs(300),
        || {
            for instance in hippo::instances(NAMESPACE)? {
                if client.psql(Target::Pod(&instance.ip), &format!("show {setting}"))? != value {
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
    let (namespace, leader, replicas) = hippo::start(NAMESPACE, 2, "");
    let client = Client::start(NAMESPACE).expect("the client pod runs");
    let writer = Writer::start(NAMESPACE, "writer").expect("the writer writes");

    // Test 5: resize. New resources need new pods: the replica first, then a switchover, then the old leader.
    let started = Instant::now();
    let before = uids();
    let resized = hippo::manifest(2, "").replace(
        "      dataVolumeClaimSpec:",
        "      resources: {requests: {cpu: 50m, memory: 200Mi}, limits: {memory: 1Gi}}\n      dataVolumeClaimSpec:",
    );
    // `tusk plan` says so before it happens: both instances restart, the primary after a switchover.
    let planned =
        tusk_e2e::plan(NAMESPACE, &resized).expect("tusk plan runs in the operator's pod");
    eprintln!("e2e: tusk plan of the resize:\n{planned}");
    for line in [
        format!(
            "  ~ StatefulSet {}\n      spec.template.spec.containers[database].resources",
            leader.instance
        ),
        format!(
            "    → rolling restart: {} is the primary, so it goes last, after a switchover to a replica\n",
            leader.instance
        ),
        format!("  ~ StatefulSet {}\n", replicas[0].instance),
    ] {
        assert!(planned.contains(&line), "{line:?} in {planned}");
    }
    assert!(
        planned.ends_with("2 instances restart, with one switchover.\n"),
        "{planned}"
    );
    // The docs' other two examples (docs/src/guide/plan.md), planned and not applied: a new user, a second repository.
    let rhino = tusk_e2e::plan(
        NAMESPACE,
        &hippo::manifest(2, "  users: [{name: rhino, databases: [zoo]}]"),
    )
    .expect("tusk plan of a new user");
    eprintln!("e2e: tusk plan of a new user:\n{rhino}");
    assert!(
        rhino.contains("  + Secret hippo-pguser-rhino\n    → a new user: its role and databases are created on the primary\n"),
        "{rhino}"
    );
    let repo2 = hippo::with_backups(
        &hippo::manifest(2, ""),
        "  backups:\n    pgbackrest:\n      repos:\n      - name: repo1\n        volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}\n      - name: repo2\n        volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}\n",
    );
    let repo2 = tusk_e2e::plan(NAMESPACE, &repo2).expect("tusk plan of a second repository");
    eprintln!("e2e: tusk plan of a second repository:\n{repo2}");
    assert!(
        repo2.contains("  + PersistentVolumeClaim hippo-repo2\n    → a new volume for repo2"),
        "{repo2}"
    );
    assert_eq!(uids(), before, "the plans changed nothing");
    namespace.apply(&resized).expect("the resize applies");
    let new_leader = rolled("both pods replaced with the new resources", &before);
    eprintln!(
        "e2e: resize rolled through both instances in {:.1?}",
        started.elapsed()
    );
    assert_eq!(
        new_leader.pod, replicas[0].pod,
        "a controlled switchover moved the leader to the updated replica"
    );
    for instance in hippo::instances(NAMESPACE).expect("instances") {
        let pod = get_json(NAMESPACE, &["pod", &instance.pod]).expect("pod");
        assert_eq!(
            pod["spec"]["containers"][0]["resources"]["requests"]["memory"], "200Mi",
            "{} runs the new template",
            instance.pod
        );
    }
    let events = rollout_events();
    let position = |text: &str| events.iter().position(|note| note.contains(text));
    let replaced_replica = position(&format!("replaced pod {}", replicas[0].pod));
    let switched = position("switched over");
    let replaced_leader = position(&format!("replaced pod {}", leader.pod));
    assert!(
        replaced_replica.is_some() && replaced_replica < switched && switched < replaced_leader,
        "replica, switchover, former primary: {events:#?}"
    );
    let refusal = writer.log().expect("the writer's log").longest_refusal();
    eprintln!(
        "e2e: figure rolling_update_longest_refusal_seconds={:.1}",
        refusal.as_secs_f64()
    );

    // Test 6: configuration. work_mem needs no restart; shared_buffers rolls a restart through Patroni.
    let before = uids();
    patch(
        r#"{"spec":{"patroni":{"dynamicConfiguration":{"postgresql":{"parameters":{"work_mem":"5MB"}}}}}}"#,
    );
    setting_everywhere(&client, "work_mem", "5MB");
    assert_eq!(uids(), before, "work_mem replaced no pod");
    patch(
        r#"{"spec":{"patroni":{"dynamicConfiguration":{"postgresql":{"parameters":{"work_mem":"5MB","shared_buffers":"64MB"}}}}}}"#,
    );
    setting_everywhere(&client, "shared_buffers", "64MB");
    hippo::wait_for_roles(NAMESPACE, 1, ROLL).expect("both Ready after the restart");

    // Test 9: a restart through spec.metadata.annotations replaces every pod.
    let before = uids();
    patch(r#"{"spec":{"metadata":{"annotations":{"restarted":"now"}}}}"#);
    rolled("every pod replaced after the restart annotation", &before);

    // Test 9: a minor update — spec.image changed to another tag — rolls with a switchover too.
    let (leader_before_update, _) = hippo::wait_for_roles(NAMESPACE, 1, ROLL).expect("roles");
    let before = uids();
    patch(&format!(r#"{{"spec":{{"image":"{NEXT_IMAGE}"}}}}"#));
    let leader_after_update = rolled("every pod on the new image", &before);
    for instance in hippo::instances(NAMESPACE).expect("instances") {
        let pod = get_json(NAMESPACE, &["pod", &instance.pod]).expect("pod");
        assert_eq!(pod["spec"]["containers"][0]["image"], NEXT_IMAGE);
    }
    assert_ne!(
        leader_before_update.pod, leader_after_update.pod,
        "the update switched over"
    );

    let log = writer.stop().expect("the writer stops");
    eprintln!(
        "e2e: longest stretch without an accepted write over five rolling changes: {:.1}s ({} acknowledged)",
        log.longest_refusal().as_secs_f64(),
        log.committed().len()
    );
    let rows = writer::rows(&client).expect("the rows");
    let lost = log.lost(&rows);
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");

    // Test 9: shutdown stops every instance; starting again brings the same rows back.
    patch(r#"{"spec":{"shutdown":true}}"#);
    wait_for("no instance pods", Duration::from_secs(300), || {
        Ok(hippo::instances(NAMESPACE)?.is_empty().then_some(()))
    })
    .expect("shutdown stops every instance");
    patch(r#"{"spec":{"shutdown":false}}"#);
    hippo::wait_for_roles(NAMESPACE, 1, ROLL).expect("both Ready after the shutdown");
    assert_eq!(
        writer::rows(&client).expect("the rows after the shutdown"),
        rows
    );
}
