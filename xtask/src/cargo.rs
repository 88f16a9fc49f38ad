//! The cargo that runs xtask, for the steps that call cargo again.

use std::process::Command;

/// A `cargo` command: the same cargo binary that started xtask.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
