//! `cargo xtask docs`: the user book in `docs/` (mdBook). Checks that every page `SUMMARY.md` names exists and
//! that every relative link between pages resolves (`tusk_e2e::docs::broken_links`), then builds the book
//! into `target/book` with `mdbook`, when one is installed (`cargo install mdbook`); without it the check alone
//! runs and says so. The tutorial's commands are run by the end-to-end test `docs_tutorial`.

use anyhow::{Result, bail};
use std::path::Path;
use std::process::Command;

/// Checks the book's links (whether they all resolve; each broken one is printed) without building it.
pub fn check_links() -> Result<bool> {
    let broken = tusk_e2e::docs::broken_links(&tusk_e2e::docs::book_src())?;
    for link in &broken {
        eprintln!("xtask: docs/src/{link}: no such file");
    }
    Ok(broken.is_empty())
}

/// Checks the links, then builds the book if `mdbook` is on `PATH`.
pub fn run() -> Result<()> {
    if !check_links()? {
        bail!("the book has broken links");
    }
    println!("xtask: every link of the book resolves");
    let book = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/book");
    match Command::new("mdbook")
        .arg("build")
        .arg(&book)
        .arg("--dest-dir")
        .arg(&out)
        .status()
    {
        Ok(status) if status.success() => {
            println!("xtask: the book is in {}", out.display());
            Ok(())
        }
        Ok(status) => bail!("mdbook build failed ({status})"),
        Err(_) => {
            println!(
                "xtask: mdbook is not installed (`cargo install mdbook`), so the book was not built"
            );
            Ok(())
        }
    }
}
