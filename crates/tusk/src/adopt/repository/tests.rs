use super::*;
use crate::pgbackrest::tests::hippo_with;
use std::path::Path;
use std::process::Command;

const REPOS: &str = "repos: [{name: repo2, s3: {bucket: b, endpoint: e, region: r}}, {name: repo3, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]";

fn adopting(volumes: &str) -> PostgresCluster {
    hippo_with(REPOS, &format!("dataSource: {{volumes: {{{volumes}}}}}"))
}

fn v4() -> PostgresCluster {
    adopting(
        "pgDataVolume: {pvcName: oldhippo, directory: oldhippo}, pgBackRestVolume: {pvcName: oldhippo-pgbr-repo, directory: oldhippo-backrest-shared-repo}",
    )
}

#[test]
fn the_claim_becomes_the_first_volume_repository() {
    let cluster = v4();
    let volume = pg_backrest_volume(&cluster).expect("adopted");
    assert_eq!(volume.pvc_name, "oldhippo-pgbr-repo");
    let repo = repository(&cluster).expect("a volume repository");
    assert_eq!((repo.name, repo.number), ("repo3", 3));
    assert_eq!(
        directories(volume, repo),
        Ok((
            "/pgbackrest/repo3/oldhippo-backrest-shared-repo".into(),
            "/pgbackrest/repo3".into()
        ))
    );
    let mut found = PersistentVolumeClaim::default();
    found.metadata.name = Some("oldhippo-pgbr-repo".into());
    found.metadata.labels = Some([("vendor".to_string(), "v4".to_string())].into());
    let claim = as_repo_volume(&cluster, repo, &found);
    let got = claim.metadata.labels.expect("labels");
    assert_eq!(got["vendor"], "v4", "the user's labels stay");
    for (key, value) in labels::pgbackrest_repo_volume("hippo", "repo3") {
        assert_eq!(got[&key], value, "{key}");
    }
    let mut cloud_only = cluster.clone();
    cloud_only.spec.backups.pgbackrest.repos.truncate(1);
    assert!(repository(&cloud_only).is_none());
}

#[test]
fn the_directory_is_one_plain_name_or_the_repository_in_place() {
    let cluster = v4();
    let repo = repository(&cluster).expect("repo");
    let mut volume = pg_backrest_volume(&cluster).expect("adopted").clone();
    for bad in ["", ".", "..", "../x", "a/b", "/etc", "x\ny"] {
        volume.directory = Some(bad.into());
        let refused = directories(&volume, repo).expect_err(bad);
        assert!(refused.starts_with(DIRECTORY_FIELD), "{refused}");
    }
    volume.directory = None;
    assert_eq!(
        directories(&volume, repo),
        Ok(("/pgbackrest/repo3".into(), "/pgbackrest/repo3".into()))
    );
}

#[test]
fn adopted_only_with_the_data_and_never_with_a_restore() {
    assert!(unsupported(&v4()).is_none());
    let alone = adopting("pgBackRestVolume: {pvcName: oldhippo-pgbr-repo}");
    assert!(pg_backrest_volume(&alone).is_none());
    assert!(
        unsupported(&alone)
            .expect("refused")
            .contains("only with pgDataVolume")
    );
    let mut restoring = v4();
    restoring
        .spec
        .data_source
        .as_mut()
        .expect("source")
        .postgres_cluster = Some(Default::default());
    assert!(pg_backrest_volume(&restoring).is_none());
    assert!(
        unsupported(&restoring)
            .expect("refused")
            .contains("not supported yet")
    );
    let data_only = adopting("pgDataVolume: {pvcName: oldhippo}");
    assert!(unsupported(&data_only).is_none() && pg_backrest_volume(&data_only).is_none());
}

#[test]
fn the_job_passes_paths_as_arguments_and_mounts_the_claim_at_the_repository_root() {
    let mut cluster = v4();
    cluster.metadata.uid = Some("a-uid".into());
    let job = move_job(
        &cluster,
        &Images::default(),
        "oldhippo-pgbr-repo",
        "/pgbackrest/repo3/oldhippo-backrest-shared-repo",
        "/pgbackrest/repo3",
    );
    assert_eq!(
        job.metadata.name.as_deref(),
        Some("hippo-move-pgbackrest-repo-dir")
    );
    let job_labels = job.metadata.labels.as_ref().expect("labels");
    assert!(job_labels.contains_key(labels::MOVE_PGBACKREST_REPO_DIR));
    assert_eq!(
        job.metadata.owner_references.as_ref().expect("owned")[0].kind,
        "PostgresCluster"
    );
    let command = super::super::command(&job).expect("command");
    assert_eq!(command[2], SCRIPT, "the script is fixed text");
    assert_eq!(
        command[4..],
        [
            "/pgbackrest/repo3/oldhippo-backrest-shared-repo",
            "/pgbackrest/repo3"
        ]
    );
    let pod = job.spec.expect("spec").template.spec.expect("pod");
    let volumes = pod.volumes.as_ref().expect("volumes");
    assert_eq!(
        volumes[0]
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str()),
        Some("oldhippo-pgbr-repo")
    );
    let mounts = pod.containers[0].volume_mounts.as_ref().expect("mounts");
    assert_eq!(
        mounts[0].mount_path, "/pgbackrest/repo3",
        "as the repository host"
    );
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(
        pod.security_context,
        Some(pods::pod_security_context(&cluster))
    );
}

/// Runs the move script with `source` under `root` (the volume); its success and stderr.
fn run(root: &Path, source: &str) -> (bool, String) {
    let source = if source.is_empty() {
        root.to_path_buf()
    } else {
        root.join(source)
    };
    let out = Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg(CONTAINER)
        .arg(source)
        .arg(root)
        .output()
        .expect("sh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn repository_at(path: &Path) {
    std::fs::create_dir_all(path.join("archive/db")).expect("archive");
    std::fs::create_dir_all(path.join("backup/db")).expect("backup");
    std::fs::write(path.join("backup/db/backup.info"), "[db]\n").expect("info");
    std::fs::write(path.join(".hidden"), "x").expect("a dot file");
}

#[test]
fn the_script_moves_the_repository_to_the_top_of_the_volume_and_is_idempotent() {
    let root = tempfile::tempdir().expect("temp");
    repository_at(&root.path().join("old-shared-repo"));
    std::fs::create_dir(root.path().join("lost+found")).expect("a file system's own");
    let (ok, err) = run(root.path(), "old-shared-repo");
    assert!(ok, "{err}");
    assert!(root.path().join("backup/db/backup.info").exists());
    assert!(root.path().join("archive/db").is_dir());
    assert!(root.path().join(".hidden").exists(), "dot files too");
    assert!(!root.path().join("old-shared-repo").exists());
    let (again, err) = run(root.path(), "old-shared-repo");
    assert!(again, "a rerun finds the repository in place: {err}");
    let (in_place, err) = run(root.path(), "");
    assert!(in_place, "without a directory it only checks: {err}");
}

#[test]
fn an_interrupted_move_goes_on() {
    let root = tempfile::tempdir().expect("temp");
    repository_at(&root.path().join("old"));
    std::fs::rename(root.path().join("old/archive"), root.path().join("archive")).expect("half");
    let (ok, err) = run(root.path(), "old");
    assert!(ok, "{err}");
    assert!(root.path().join("backup/db/backup.info").exists());
    assert!(!root.path().join("old").exists());
}

#[test]
fn the_script_refuses_what_it_cannot_adopt() {
    let root = tempfile::tempdir().expect("temp");
    let (ok, err) = run(root.path(), "missing");
    assert!(!ok && err.contains("no directory"), "{err}");

    std::fs::create_dir(root.path().join("notrepo")).expect("mkdir");
    let (ok, err) = run(root.path(), "notrepo");
    assert!(!ok && err.contains("not a pgBackRest repository"), "{err}");

    let (ok, err) = run(root.path(), "");
    assert!(!ok && err.contains("not a pgBackRest repository"), "{err}");

    let root = tempfile::tempdir().expect("temp");
    repository_at(&root.path().join("old"));
    std::fs::write(root.path().join("keep"), "x").expect("content");
    let (ok, err) = run(root.path(), "old");
    assert!(!ok && err.contains("holds keep"), "{err}");
    assert!(root.path().join("old/backup").exists(), "nothing moved");
    assert!(root.path().join("keep").exists(), "nothing removed");

    let root = tempfile::tempdir().expect("temp");
    repository_at(&root.path().join("old"));
    repository_at(root.path());
    let (ok, err) = run(root.path(), "old");
    assert!(!ok && err.contains("already holds"), "{err}");
    assert!(
        root.path().join("old/backup/db/backup.info").exists(),
        "nothing moved"
    );
}
