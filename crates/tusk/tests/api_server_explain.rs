//! The CRD installs on a real API server, becomes Established, and `kubectl explain` shows our field
//! descriptions, so that users can read the API from their cluster.

mod common;

use std::time::{Duration, Instant};

#[tokio::test]
async fn kubectl_explain_describes_the_repositories() {
    let plane = common::api_server::control_plane_with_crd().await;

    // The API server publishes a new CRD's OpenAPI a moment after it is Established.
    let deadline = Instant::now() + Duration::from_secs(60);
    let explained = loop {
        let output = plane
            .kubectl()
            .args(["explain", "postgresclusters.spec.backups.pgbackrest.repos"])
            .output()
            .expect("kubectl runs");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if output.status.success() && stdout.contains("pgBackRest repositories") {
            break stdout;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl explain never described the field:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    println!("{explained}");
    for expected in [
        "GROUP:      postgres-operator.crunchydata.com",
        "FIELDS:",
        "name\t<string> -required-",
        "volume\t<Object>",
        "schedules\t<Object>",
    ] {
        assert!(
            explained.contains(expected),
            "kubectl explain lacks {expected:?}:\n{explained}"
        );
    }
}
