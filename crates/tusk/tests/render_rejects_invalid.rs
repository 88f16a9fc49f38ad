//! `tusk render` rejects every manifest in `tests/invalid-manifests/`: it exits 1 without panicking and names
//! the field the case's `# render:` header gives. Every failing case is reported, not just the first.

mod common;

use common::invalid_cases::{Case, case_files, read_case};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

/// The fewest cases the directory must hold.
const MIN_CASES: usize = 30;

#[test]
fn render_rejects_every_invalid_manifest() {
    let files = case_files();
    assert!(
        files.len() >= MIN_CASES,
        "expected at least {MIN_CASES} invalid manifests, found {}",
        files.len()
    );

    let mut failures: Vec<String> = Vec::new();
    let mut table: Vec<(bool, String, String)> = Vec::new();
    let mut numbers: BTreeMap<String, String> = BTreeMap::new();
    for file in &files {
        let label = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let case = match read_case(file) {
            Ok(case) => case,
            Err(error) => {
                failures.push(format!("{label}: bad header: {error}"));
                table.push((false, label, "(bad header)".to_string()));
                continue;
            }
        };
        if let Some(other) = numbers.insert(case.name[..2].to_string(), case.name.clone()) {
            failures.push(format!(
                "{}: number {} is also used by {other}",
                case.name,
                &case.name[..2]
            ));
        }
        let problems = check_render(&case);
        let ok = problems.is_empty();
        if !ok {
            failures.push(format!(
                "{} ({}):\n    {}",
                case.name,
                case.rejected,
                problems.join("\n    ")
            ));
        }
        table.push((ok, case.name, case.render_field));
    }

    let width = table
        .iter()
        .map(|(_, name, _)| name.len())
        .max()
        .unwrap_or(0);
    for (ok, name, field) in &table {
        println!(
            "{}  {name:width$}  {field}",
            if *ok { "ok  " } else { "FAIL" }
        );
    }
    let passed = table.iter().filter(|(ok, _, _)| *ok).count();
    assert!(
        failures.is_empty(),
        "render rejected {passed}/{} invalid manifests naming their field; {} failed:\n  {}",
        table.len(),
        failures.len(),
        failures.join("\n  ")
    );
    println!(
        "render rejected {passed}/{} invalid manifests, each naming its field",
        table.len()
    );
}

/// Runs `tusk render -f FILE` and lists what is wrong with its answer: the exit code, a panic, the first
/// line, and whether some violation line `  <field>: <rule>` names the case's field exactly.
fn check_render(case: &Case) -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_tusk"))
        .arg("render")
        .arg("-f")
        .arg(&case.file)
        .stdin(Stdio::null())
        .output()
        .expect("tusk runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let shown = || match stderr.trim_end() {
        "" => "stderr was empty".to_string(),
        text => format!("stderr was:\n      {}", text.replace('\n', "\n      ")),
    };
    let mut problems = Vec::new();
    match output.status.code() {
        Some(1) => {}
        Some(0) => problems.push("tusk render accepted it (exit 0)".to_string()),
        Some(101) => problems.push("tusk render panicked (exit 101)".to_string()),
        code => problems.push(format!("tusk render exited with {code:?}, not 1")),
    }
    if stderr.contains("panicked") {
        problems.push("stderr mentions a panic".to_string());
    }
    if output.status.code() != Some(0) {
        let heading = format!(
            "error: {} is not a valid PostgresCluster:",
            case.file.display()
        );
        let mut lines = stderr.lines();
        if lines.next() != Some(heading.as_str()) {
            problems.push(format!("the first line of stderr is not {heading:?}"));
        }
        let fields: Vec<&str> = lines
            .filter_map(|line| line.strip_prefix("  "))
            .filter_map(|line| line.split_once(": "))
            .map(|(field, _)| field)
            .collect();
        if !fields.contains(&case.render_field.as_str()) {
            problems.push(format!(
                "no violation names {} (named: {})",
                case.render_field,
                fields.join(", ")
            ));
        }
    }
    if !problems.is_empty() {
        problems.push(shown());
    }
    problems
}
