//! A child process that logs to a file, dies with the test process, and is killed when dropped.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

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
    pub fn spawn(name: &'static str, command: &mut Command, dir: &Path) -> Result<Supervised> {
        let log = dir.join(format!("{name}.log"));
        let file = File::create(&log)?;
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        // SAFETY: the closure runs in the forked child before exec and only calls prctl, which is
        // async-signal-safe. It asks the kernel to kill the child when the thread that started it exits, so no
        // etcd or kube-apiserver outlives a test process that exits without running destructors.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", command.get_program()))?;
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
