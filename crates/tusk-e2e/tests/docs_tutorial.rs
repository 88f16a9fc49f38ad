//! Issue #8, "docs cannot rot": runs the tutorial of the user book (`docs/src/tutorial/`, in `SUMMARY.md`'s
//! order) against the local Kubernetes, block by block, as a reader would paste them.
//!
//! Which blocks run (see `tusk_e2e::docs`): a fence with the info string exactly `sh` runs; `sh,norun` (a
//! step that cannot run here, or a destructive one; the page says why) and every other info string are only
//! shown. Each runnable block runs in a `bash` of its own with `set -euo pipefail`, from the repository's root,
//! with stdin closed and at most 5 minutes; the tutorial's commands wait with `kubectl wait --timeout` or
//! bounded loops. The pages work in the namespace `tutorial`: this test removes what an earlier run left there
//! first, and the tutorial's last page deletes it (kept, with the usual report, when a block fails).
//!
//! `tusk` in a block is the release binary that `cargo xtask cluster up` builds for the operator's image (the
//! same build as the running operator), first on `PATH`, using the test's kubeconfig. The first failing block
//! fails the test with its page and line, its text and its output.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tusk_e2e::docs::{blocks, book_src, tutorial_pages};
use tusk_e2e::{Namespace, install_operator, repo_root, require_cluster};

/// The namespace the tutorial's pages use.
const NAMESPACE: &str = "tutorial";
/// The longest a block may take.
const BLOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// `PATH` with the directory of the release `tusk` first: the binary `cargo xtask cluster up` builds for the
/// operator's image, in the target directory of this test.
fn path_with_tusk() -> String {
    let exe = std::env::current_exe().expect("the test's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps");
    let release = target.join("release");
    assert!(
        release.join("tusk").is_file(),
        "no {}/tusk: `cargo xtask cluster up` builds it",
        release.display()
    );
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{}:{path}", release.display())
}

/// Runs `code` as the tutorial says; its exit success and its output (standard output and error together).
fn run_block(code: &str, path: &str, root: &Path) -> (bool, String) {
    let script = format!("set -euo pipefail\nexec 2>&1\n{code}\n");
    let output = Command::new("timeout")
        .args([
            "--kill-after=10",
            &BLOCK_TIMEOUT.as_secs().to_string(),
            "bash",
            "-c",
            &script,
        ])
        .current_dir(root)
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .expect("running bash");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        text.push_str(&format!("\n[exit: {}]", output.status));
    }
    (output.status.success(), text)
}

#[test]
fn tutorial_blocks_run() {
    require_cluster();
    install_operator().expect("the operator installs");
    let started = Instant::now();
    let namespace = Namespace::fresh(NAMESPACE).expect("a fresh tutorial namespace");
    let path = path_with_tusk();
    let root = repo_root();
    let src = book_src();
    let mut ran = 0;
    for page in tutorial_pages(&src).expect("the tutorial's pages") {
        let text = std::fs::read_to_string(src.join(&page)).expect("a tutorial page");
        let page_started = Instant::now();
        for block in blocks(&text).into_iter().filter(|b| b.runs()) {
            let block_started = Instant::now();
            let (ok, output) = run_block(&block.code, &path, &root);
            let took = block_started.elapsed().as_secs_f64();
            eprintln!(
                "docs: docs/src/{page}:{} {} ({took:.1} s)",
                block.line,
                if ok { "ok" } else { "FAILED" }
            );
            assert!(
                ok,
                "docs/src/{page}:{}: the block failed after {took:.1} s\n--- block ---\n{}\n--- output ---\n{}",
                block.line,
                block.code,
                output.trim_end()
            );
            ran += 1;
        }
        eprintln!(
            "docs: {page} done in {:.1} s",
            page_started.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "docs: {ran} blocks of the tutorial ran in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(namespace);
}
