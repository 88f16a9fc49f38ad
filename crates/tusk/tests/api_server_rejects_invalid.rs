//! A real API server serving our CRD rejects every invalid manifest whose mistake the schema can express, and
//! names the field the case's `# apiserver:` header gives; the cases marked `accepts` are indeed accepted
//! (only Tusk catches those, and `render_rejects_invalid` checks that it does).

mod common;

use common::invalid_cases::{Case, case_files, read_case};

#[tokio::test]
async fn the_api_server_rejects_what_the_schema_forbids() {
    let plane = common::api_server::control_plane_with_crd().await;
    common::api_server::postgresclusters(&plane, "invalid").await;

    let mut failures = Vec::new();
    let mut rejected = 0;
    let mut accepted = 0;
    for file in case_files() {
        let case = read_case(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let output = plane
            .kubectl()
            .args([
                "create",
                "--dry-run=server",
                "--validate=strict",
                "--namespace=invalid",
                "-o",
                "name",
                "-f",
            ])
            .arg(&case.file)
            .output()
            .expect("kubectl runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let verdict = verdict(&case, output.status.success(), &stderr);
        match (&verdict, &case.apiserver) {
            (Ok(()), Some(_)) => rejected += 1,
            (Ok(()), None) => accepted += 1,
            (Err(problem), _) => failures.push(format!("{}: {problem}", case.name)),
        }
        println!(
            "{}  {}  {}",
            if verdict.is_ok() { "ok  " } else { "FAIL" },
            case.name,
            case.apiserver.as_deref().unwrap_or("accepts")
        );
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    println!(
        "the API server rejected {rejected} invalid manifests naming their field, and accepted the {accepted} only Tusk rejects"
    );
}

fn verdict(case: &Case, created: bool, stderr: &str) -> Result<(), String> {
    match (&case.apiserver, created) {
        (None, true) => Ok(()),
        (None, false) => Err(format!(
            "expected the API server to accept it, it said: {stderr}"
        )),
        (Some(field), false) if names_field(stderr, field) => Ok(()),
        (Some(field), false) => Err(format!("rejected, but without naming {field}: {stderr}")),
        (Some(field), true) => Err(format!(
            "expected a rejection naming {field}, but it was accepted"
        )),
    }
}

/// Whether the API server's message names `field` as a whole path (not as the prefix of a longer one).
fn names_field(stderr: &str, field: &str) -> bool {
    stderr.match_indices(field).any(|(at, _)| {
        let next = stderr[at + field.len()..].chars().next();
        !matches!(next, Some('.' | '[' | '_') | Some('a'..='z' | 'A'..='Z' | '0'..='9'))
    })
}
