//! The user book in `docs/` (mdBook) as the docs test reads it: which pages the tutorial has, and which of
//! their shell blocks run.
//!
//! The convention, for whoever writes a tutorial page (`docs/src/tutorial/`, listed in `docs/src/SUMMARY.md`):
//! - a fenced block whose info string is exactly `sh` runs, in the order of the pages in `SUMMARY.md` and of the
//!   blocks in a page, each in its own `bash` with `set -euo pipefail`, from the repository's root;
//! - `sh,norun` is shown as shell but never runs (a step that cannot run on the local Kubernetes, or one that
//!   would leave the tutorial's cluster unusable for the pages after it: say why in the page);
//! - every other info string (`yaml`, `text`, none) is only shown.
//!
//! A block that waits must wait with a timeout (`kubectl wait --timeout`, a bounded loop), so that a broken
//! step fails instead of hanging.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// The info string of a block that runs.
pub const RUN: &str = "sh";

/// A fenced code block of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The line of its opening fence (1-based).
    pub line: usize,
    /// Its info string, trimmed.
    pub info: String,
    /// Its text, without the fences.
    pub code: String,
}

impl Block {
    /// Whether the docs test runs it.
    pub fn runs(&self) -> bool {
        self.info == RUN
    }
}

/// A block being read: where it opened, its fence and what it holds so far.
struct Open<'a> {
    line: usize,
    fence: char,
    fence_len: usize,
    indent: usize,
    info: String,
    lines: Vec<&'a str>,
}

impl Open<'_> {
    fn close(self) -> Block {
        Block {
            line: self.line,
            info: self.info,
            code: self.lines.join("\n"),
        }
    }
}

/// The fenced code blocks of Markdown `text` (backticks or tildes, three or more; a block ends at a fence of
/// the same character at least as long, or at the end of the text, as CommonMark says). Indented fences (up to
/// three spaces) count; their indentation is removed from the block's lines.
pub fn blocks(text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Open> = None;
    for (index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        let fence = rest.chars().next().filter(|c| *c == '`' || *c == '~');
        let fence_len = fence.map_or(0, |c| rest.len() - rest.trim_start_matches(c).len());
        let is_fence = indent <= 3 && fence_len >= 3;
        let after_fence = rest[fence_len..].trim();
        match open.take() {
            None => {
                let Some(fence) = fence.filter(|_| is_fence) else {
                    continue;
                };
                if fence == '`' && after_fence.contains('`') {
                    continue;
                }
                open = Some(Open {
                    line: index + 1,
                    fence,
                    fence_len,
                    indent,
                    info: after_fence.to_string(),
                    lines: Vec::new(),
                });
            }
            Some(block)
                if is_fence
                    && fence == Some(block.fence)
                    && fence_len >= block.fence_len
                    && after_fence.is_empty() =>
            {
                found.push(block.close());
            }
            Some(mut block) => {
                block.lines.push(&line[indent.min(block.indent)..]);
                open = Some(block);
            }
        }
    }
    found.extend(open.map(Open::close));
    found
}

/// The targets of the Markdown links in `text` outside code blocks, in order (`[title](target)`; empty
/// targets, which mdBook's `SUMMARY.md` shows as drafts, are left out).
pub fn link_targets(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let fenced: Vec<(usize, usize)> = blocks(text)
        .iter()
        .map(|b| (b.line, b.line + b.code.lines().count() + 1))
        .collect();
    for (index, line) in text.lines().enumerate() {
        if fenced
            .iter()
            .any(|(first, last)| (*first..=*last).contains(&(index + 1)))
        {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].trim();
            if !target.is_empty() {
                links.push(target.to_string());
            }
            rest = &after[end + 1..];
        }
    }
    links
}

/// The book's source directory, `docs/src`.
pub fn book_src() -> PathBuf {
    crate::repo_root().join("docs/src")
}

/// The tutorial's pages, in the book's order: the pages of `SUMMARY.md` under `tutorial/`, as paths relative
/// to `docs/src`.
pub fn tutorial_pages(book_src: &Path) -> Result<Vec<String>> {
    let summary =
        std::fs::read_to_string(book_src.join("SUMMARY.md")).context("docs/src/SUMMARY.md")?;
    let pages: Vec<String> = link_targets(&summary)
        .into_iter()
        .filter(|target| target.starts_with("tutorial/"))
        .collect();
    if pages.is_empty() {
        bail!("SUMMARY.md lists no page under tutorial/");
    }
    Ok(pages)
}

/// What is broken in the book at `book_src`: a page `SUMMARY.md` names that does not exist, and a relative link
/// in any page (`.md` under `book_src`) to a file that does not exist (`#anchors` are not checked). Each item
/// names the page and the target.
pub fn broken_links(book_src: &Path) -> Result<Vec<String>> {
    let mut broken = Vec::new();
    let mut pages = vec![PathBuf::new()];
    let mut markdown = Vec::new();
    while let Some(dir) = pages.pop() {
        for entry in std::fs::read_dir(book_src.join(&dir))
            .with_context(|| format!("{}", book_src.join(&dir).display()))?
        {
            let entry = entry?;
            let relative = dir.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pages.push(relative);
            } else if relative.extension().is_some_and(|e| e == "md") {
                markdown.push(relative);
            }
        }
    }
    markdown.sort();
    for page in markdown {
        let text = std::fs::read_to_string(book_src.join(&page))?;
        let base = page.parent().unwrap_or(Path::new(""));
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            if !book_src.join(base).join(file).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    Ok(broken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_order_lines_and_info() {
        let page = "# Title\n\n```sh\nkubectl get pods\necho done\n```\n\ntext\n\n```yaml\na: 1\n```\n\n```sh,norun\nrm -rf /\n```\n";
        let found = blocks(page);
        assert_eq!(
            found,
            vec![
                Block {
                    line: 3,
                    info: "sh".into(),
                    code: "kubectl get pods\necho done".into()
                },
                Block {
                    line: 10,
                    info: "yaml".into(),
                    code: "a: 1".into()
                },
                Block {
                    line: 14,
                    info: "sh,norun".into(),
                    code: "rm -rf /".into()
                },
            ]
        );
        let runs: Vec<bool> = found.iter().map(Block::runs).collect();
        assert_eq!(runs, [true, false, false]);
    }

    #[test]
    fn a_longer_fence_holds_a_shorter_one_and_tildes_are_fences() {
        let page = "````sh\ncat <<'EOF'\n```\nEOF\n````\n~~~sh\nls\n~~~\n";
        let found = blocks(page);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].code, "cat <<'EOF'\n```\nEOF");
        assert_eq!(found[1].line, 6);
        assert_eq!(found[1].code, "ls");
    }

    #[test]
    fn indented_fences_lose_their_indent_and_inline_code_is_no_fence() {
        let page = "- a step:\n  ```sh\n  echo one\n    echo two\n  ```\n``not a fence`` here\n";
        let found = blocks(page);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "echo one\n  echo two");
    }

    #[test]
    fn an_unclosed_block_runs_to_the_end_and_a_fence_with_text_does_not_close() {
        let found = blocks("```sh\necho a\n``` not a closing fence\necho b\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "echo a\n``` not a closing fence\necho b");
    }

    #[test]
    fn only_sh_runs() {
        for (info, runs) in [
            ("sh", true),
            ("sh,norun", false),
            ("bash", false),
            ("", false),
            ("text", false),
        ] {
            let block = Block {
                line: 1,
                info: info.into(),
                code: String::new(),
            };
            assert_eq!(block.runs(), runs, "{info:?}");
        }
    }

    #[test]
    fn link_targets_in_order_outside_code() {
        let summary = "# Summary\n\n[Introduction](introduction.md)\n\n- [Tutorial](tutorial/README.md)\n  - [Create](tutorial/create.md)\n- [Draft]()\n";
        assert_eq!(
            link_targets(summary),
            [
                "introduction.md",
                "tutorial/README.md",
                "tutorial/create.md"
            ]
        );
        let page =
            "See [a](a.md#x) and [b](../b.md).\n```text\n[not](a link)\n```\n[c](https://c)\n";
        assert_eq!(link_targets(page), ["a.md#x", "../b.md", "https://c"]);
    }

    #[test]
    fn every_link_of_the_book_resolves_and_the_tutorial_has_runnable_blocks() {
        let src = book_src();
        assert_eq!(
            broken_links(&src).expect("the book reads"),
            Vec::<String>::new()
        );
        let runnable: usize = tutorial_pages(&src)
            .expect("tutorial pages")
            .iter()
            .map(|page| {
                let text = std::fs::read_to_string(src.join(page)).expect("a tutorial page");
                blocks(&text).iter().filter(|b| b.runs()).count()
            })
            .sum();
        assert!(
            runnable >= 10,
            "the tutorial has {runnable} runnable blocks"
        );
    }
}
