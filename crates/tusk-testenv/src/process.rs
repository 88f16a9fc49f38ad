//! A child process that logs to a file, dies with the test process, and is killed when dropped.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};

/// How much of a log [`Supervised::log_tail`] shows.
const LOG_TAIL_LINES: usize = 30;

/// A supervised child process.
pub struct Supervised {
    name: &'static str,
    child: Mutex<Child>,
    log: PathBuf,
}

impl Supervised {
    /// Starts `command`, with standard output and error going to `<dir>/<name>.log`.
    pub fn spawn(name: &'static str, mut command: Command, dir: &Path) -> Result<Supervised> {
        let log = dir.join(format!("{name}.log"));
        let file = File::create(&log)?;
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and only calls prctl and getppid, which are
        // async-signal-safe. It asks the kernel to kill the child when its parent goes away, so no etcd or
        // kube-apiserver outlives a test process that exits without running destructors; the getppid check
        // covers a parent that died before prctl ran.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                if libc::getppid() as u32 != parent {
                    return Err(io::Error::other("the test process is gone"));
                }
                Ok(())
            });
        }
        let program = command.get_program().to_owned();
        let child = spawn_from_lasting_thread(command)
            .with_context(|| format!("cannot start {name} ({})", program.display()))?;
        Ok(Supervised {
            name,
            child: Mutex::new(child),
            log,
        })
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .id()
    }

    /// Fails, with the end of the log, when the process has exited.
    pub fn ensure_running(&self) -> Result<()> {
        let status = self
            .child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .try_wait()?;
        match status {
            None => Ok(()),
            Some(status) => bail!("{} exited ({status}):\n{}", self.name, self.log_tail()),
        }
    }

    /// The last lines of the log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let child = self
            .child
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A command to start, and where to send the started child.
type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Starts `command` from a thread that lives as long as the test process. The kernel sends the parent-death
/// signal when the *thread* that forked the child exits, so a child forked by a test's own thread would die
/// with that test, even when a control plane is shared by later tests.
fn spawn_from_lasting_thread(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("tusk-testenv-spawner".into())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the thread that starts test processes");
        requests
    });
    let (reply, started) = mpsc::channel();
    spawner
        .send((command, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    started
        .recv()
        .map_err(|_| io::Error::other("the spawner thread is gone"))?
}

#[cfg(test)]
mod tests {
    use super::Supervised;
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// Set in the copy of this test binary that [`children_die_with_the_test_process`] runs.
    const ORPHAN_VAR: &str = "TUSK_TESTENV_ORPHAN_DIR";

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
    }

    /// Run in a copy of the test binary: starts `sleep` from a thread that then ends, prints its PID, and exits
    /// without dropping it. Does nothing in an ordinary test run.
    #[test]
    fn orphan_helper() {
        let Some(dir) = std::env::var_os(ORPHAN_VAR) else {
            return;
        };
        let sleep = std::thread::spawn(move || {
            let mut command = Command::new("sleep");
            command.arg("600");
            Supervised::spawn("sleep", command, dir.as_ref()).unwrap()
        })
        .join()
        .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        sleep
            .ensure_running()
            .expect("sleep outlives the thread that started it");
        println!("pid={}", sleep.pid());
        std::process::exit(0);
    }

    #[test]
    fn children_die_with_the_test_process() {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "process::tests::orphan_helper", "--nocapture"])
            .env(ORPHAN_VAR, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let pid: u32 = stdout
            .lines()
            .find_map(|line| line.strip_prefix("pid="))
            .unwrap_or_else(|| {
                panic!(
                    "the helper printed no PID:\n{stdout}\n{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            })
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            !alive(pid),
            "sleep ({pid}) outlived the test process that started it"
        );
    }
}
