//! Where an instance's WAL lives when a WAL volume (`walVolumeClaimSpec`) is added to or removed from a running
//! cluster: the database container starts with a script (`wal_move.sh`) that moves the WAL to where the spec
//! wants it, then runs Patroni. New instances need no move: Patroni's `initdb` and `pg_basebackup` put the WAL
//! on the WAL volume themselves (`patroni::config`).
//!
//! A WAL volume removed from the spec stays mounted while its claim exists, so the WAL can be moved back from
//! it; the claim itself is never deleted by Tusk (it may hold the only copy of WAL until the move).

/// The variable that tells the start script where the WAL belongs (unset: in the data directory).
pub const DIRECTORY_VARIABLE: &str = "TUSK_WAL_DIRECTORY";

/// The start script; its arguments are the command it runs last.
pub const MOVE_SCRIPT: &str = include_str!("wal_move.sh");

/// The database container's command: the move script, then `start`.
pub fn command(start: &[&str]) -> Vec<String> {
    let mut command = vec![
        "sh".to_string(),
        "-c".into(),
        MOVE_SCRIPT.into(),
        "wal-move".into(),
    ];
    command.extend(start.iter().map(|s| s.to_string()));
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::Path;
    use std::process::Command;

    /// Runs the script against `data`, with the WAL wanted in `wal` (or in the data directory), starting
    /// `true` at the end.
    fn run(data: &Path, wal: Option<&Path>) {
        let mut script = Command::new("sh");
        script.args(command(&["true"])[1..].iter());
        script.env("PGDATA", data).env_remove(DIRECTORY_VARIABLE);
        if let Some(wal) = wal {
            script.env(DIRECTORY_VARIABLE, wal);
        }
        let output = script.output().expect("sh runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn segment(dir: &Path) -> String {
        fs::read_to_string(dir.join("000000010000000000000001")).expect("the segment")
    }

    #[test]
    fn moves_the_wal_to_the_volume_and_back() {
        let root = tempfile::tempdir().expect("temp");
        let data = root.path().join("pgdata/pg15");
        let wal = root.path().join("pgwal/pg15_wal");
        fs::create_dir_all(data.join("pg_wal")).unwrap();
        fs::create_dir_all(root.path().join("pgwal")).unwrap();
        fs::write(data.join("pg_wal/000000010000000000000001"), "wal").unwrap();

        run(&data, Some(&wal));
        assert_eq!(fs::read_link(data.join("pg_wal")).unwrap(), wal);
        assert_eq!(segment(&wal), "wal");
        run(&data, Some(&wal));
        assert_eq!(
            segment(&data.join("pg_wal")),
            "wal",
            "a second start changes nothing"
        );

        run(&data, None);
        assert!(!data.join("pg_wal").is_symlink());
        assert_eq!(segment(&data.join("pg_wal")), "wal");
        assert_eq!(fs::read_dir(&data).unwrap().count(), 1, "nothing left over");
    }

    #[test]
    fn an_interrupted_move_is_finished_from_the_complete_copy() {
        let root = tempfile::tempdir().expect("temp");
        let data = root.path().join("pg15");
        let wal = root.path().join("pg15_wal");
        // Killed after the data's pg_wal was renamed, before the link took its place.
        fs::create_dir_all(data.join("pg_wal.tusk-old")).unwrap();
        fs::create_dir_all(&wal).unwrap();
        fs::write(wal.join("000000010000000000000001"), "wal").unwrap();
        fs::write(data.join("pg_wal.tusk-old/000000010000000000000001"), "wal").unwrap();
        symlink(&wal, data.join("pg_wal.tusk-link")).unwrap();
        run(&data, Some(&wal));
        assert_eq!(fs::read_link(data.join("pg_wal")).unwrap(), wal);
        assert!(!data.join("pg_wal.tusk-old").exists());

        // Killed while copying back: the link still stands, the partial copy is redone.
        fs::create_dir_all(data.join("pg_wal.tusk-copy")).unwrap();
        run(&data, None);
        assert_eq!(segment(&data.join("pg_wal")), "wal");
    }

    #[test]
    fn a_new_instance_without_data_is_left_to_patroni() {
        let root = tempfile::tempdir().expect("temp");
        let data = root.path().join("pg15");
        run(&data, Some(&root.path().join("wal")));
        assert!(!data.exists());
    }
}
