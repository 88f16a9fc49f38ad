use super::*;
use crate::pgbackrest::tests::hippo_with;
use std::path::Path;
use std::process::Command;

fn adopting(directory: &str) -> PostgresCluster {
    hippo_with(
        "repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]",
        &format!(
            "dataSource: {{volumes: {{pgDataVolume: {{pvcName: oldhippo, directory: {directory:?}}}}}}}"
        ),
    )
}

#[test]
fn the_directory_is_one_plain_name_in_the_volume() {
    let cluster = adopting("oldhippo");
    let volume = pg_data_volume(&cluster).expect("adopts");
    assert_eq!(
        source_directory(&cluster, volume),
        Ok("/pgdata/oldhippo".into())
    );
    for bad in ["", ".", "..", "../x", "a/b", "/etc", "x\ny"] {
        let mut volume = volume.clone();
        volume.directory = Some(bad.into());
        let refused = source_directory(&cluster, &volume).expect_err(bad);
        assert!(refused.starts_with(DIRECTORY_FIELD), "{refused}");
    }
    let mut volume = volume.clone();
    volume.directory = None;
    assert_eq!(
        source_directory(&cluster, &volume),
        Ok("/pgdata/pg16".into())
    );
}

#[test]
fn a_restored_cluster_adopts_nothing() {
    let mut cluster = adopting("oldhippo");
    assert!(pg_data_volume(&cluster).is_some());
    assert!(bootstrap_method(&cluster).is_some());
    cluster
        .spec
        .data_source
        .as_mut()
        .expect("source")
        .postgres_cluster = Some(Default::default());
    assert!(pg_data_volume(&cluster).is_none());
    assert!(bootstrap_method(&cluster).is_none());
}

#[test]
fn the_adopted_claim_gets_the_startup_instance_labels() {
    let cluster = adopting("oldhippo");
    let mut found = PersistentVolumeClaim::default();
    found.metadata.name = Some("oldhippo".into());
    found.metadata.labels = Some([("app".to_string(), "old".to_string())].into());
    let claim = as_instance_volume(
        &cluster,
        "instance1",
        "hippo-instance1-abcd",
        labels::ROLE_PGDATA,
        &found,
    );
    let labels = claim.metadata.labels.expect("labels");
    assert_eq!(labels["app"], "old", "the user's labels stay");
    assert_eq!(labels[labels::INSTANCE], "hippo-instance1-abcd");
    assert_eq!(labels[labels::ROLE], labels::ROLE_PGDATA);
    assert_eq!(labels[labels::CLUSTER], "hippo");
}

#[test]
fn the_job_passes_paths_as_arguments_and_runs_as_the_instances() {
    let cluster = adopting("oldhippo");
    let set = &cluster.spec.instances[0];
    let job = move_job(
        &cluster,
        set,
        &Images::default(),
        "oldhippo",
        Some("oldhippo-wal"),
        "/pgdata/oldhippo",
    );
    assert_eq!(job.metadata.name.as_deref(), Some("hippo-move-pgdata-dir"));
    let command = command(&job).expect("command");
    assert_eq!(command[2], SCRIPT, "the script is fixed text");
    assert_eq!(
        command[4..],
        [
            "/pgdata/oldhippo",
            "/pgdata/pg16_bootstrap",
            "/pgdata/pg16",
            "16"
        ]
    );
    let pod = job.spec.expect("spec").template.spec.expect("pod");
    assert_eq!(
        pod.volumes.as_ref().expect("volumes")[0]
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str()),
        Some("oldhippo")
    );
    assert_eq!(
        pod.volumes.as_ref().expect("volumes")[2]
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str()),
        Some("oldhippo-wal"),
        "the WAL volume, where pg_wal links to"
    );
    assert_eq!(
        pod.security_context,
        Some(pods::pod_security_context(&cluster))
    );
}

#[test]
fn patroni_moves_the_bootstrap_directory_into_place() {
    let (method, settings) = bootstrap_method(&adopting("oldhippo")).expect("a method");
    assert_eq!(method, BOOTSTRAP_METHOD);
    let command = settings["command"].as_str().expect("command");
    assert!(
        command.ends_with(" /pgdata/pg16_bootstrap /pgdata/pg16"),
        "{command}"
    );
    assert!(!command.contains("oldhippo"), "no user input: {command}");
    assert_eq!(settings["no_params"], true);
}

/// Runs the move script in `root` (as the volume) on `source`; returns its exit success and stderr.
fn run(root: &Path, source: &str) -> (bool, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg(CONTAINER)
        .arg(root.join(source))
        .arg(root.join("pg16_bootstrap"))
        .arg(root.join("pg16"))
        .arg("16")
        .output()
        .expect("sh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn data_directory(path: &Path, version: &str) {
    std::fs::create_dir_all(path).expect("mkdir");
    std::fs::write(path.join("PG_VERSION"), format!("{version}\n")).expect("PG_VERSION");
    std::fs::write(path.join("postmaster.pid"), "4242\n").expect("pid");
}

#[test]
fn the_script_moves_checks_and_is_idempotent() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("temp");
    data_directory(&root.path().join("oldhippo"), "16");
    std::fs::create_dir(root.path().join("pg16")).expect("an empty data directory is fine");
    let (ok, err) = run(root.path(), "oldhippo");
    assert!(ok, "{err}");
    let target = root.path().join("pg16_bootstrap");
    assert!(target.join("PG_VERSION").exists());
    assert!(!target.join("postmaster.pid").exists());
    assert!(!root.path().join("oldhippo").exists());
    let mode = std::fs::metadata(&target)
        .expect("target")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let (again, err) = run(root.path(), "oldhippo");
    assert!(again, "a retried Job finds the moved directory: {err}");
}

#[test]
fn the_script_refuses_what_it_cannot_adopt() {
    let root = tempfile::tempdir().expect("temp");
    let (ok, err) = run(root.path(), "missing");
    assert!(!ok && err.contains("no directory"), "{err}");

    data_directory(&root.path().join("old13"), "13");
    let (ok, err) = run(root.path(), "old13");
    assert!(!ok && err.contains("PostgreSQL 13"), "{err}");
    assert!(root.path().join("old13").exists(), "nothing moved");

    data_directory(&root.path().join("oldhippo"), "16");
    data_directory(&root.path().join("pg16"), "16");
    let (ok, err) = run(root.path(), "oldhippo");
    assert!(!ok && err.contains("not empty"), "{err}");

    let root = tempfile::tempdir().expect("temp");
    data_directory(&root.path().join("walhippo"), "16");
    std::os::unix::fs::symlink("/pgwal/walhippo-wal", root.path().join("walhippo/pg_wal"))
        .expect("link");
    let (ok, err) = run(root.path(), "walhippo");
    assert!(!ok && err.contains("pgWALVolume"), "{err}");
    std::fs::create_dir(root.path().join("walhippo-wal")).expect("the WAL directory");
    std::fs::remove_file(root.path().join("walhippo/pg_wal")).expect("unlink");
    std::os::unix::fs::symlink(
        root.path().join("walhippo-wal"),
        root.path().join("walhippo/pg_wal"),
    )
    .expect("link");
    let (ok, err) = run(root.path(), "walhippo");
    assert!(ok, "a link that resolves is kept: {err}");

    let root = tempfile::tempdir().expect("temp");
    std::fs::create_dir(root.path().join("notdata")).expect("mkdir");
    let (ok, err) = run(root.path(), "notdata");
    assert!(!ok && err.contains("PG_VERSION"), "{err}");
}
