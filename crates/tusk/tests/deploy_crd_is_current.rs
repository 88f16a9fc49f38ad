//! `deploy/crd/` must hold exactly what `tusk crd` prints, so that an install from the repository serves the
//! API the code defines.

use std::path::Path;
use std::process::Command;

#[test]
fn deploy_crd_equals_tusk_crd() {
    let output = Command::new(env!("CARGO_BIN_EXE_tusk"))
        .arg("crd")
        .output()
        .expect("tusk runs");
    assert!(
        output.status.success(),
        "tusk crd failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).expect("tusk crd prints UTF-8");

    let committed_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crd/postgresclusters.yaml");
    let committed =
        std::fs::read_to_string(&committed_path).expect("deploy/crd/postgresclusters.yaml exists");

    assert!(
        printed == committed,
        "deploy/crd/postgresclusters.yaml differs from `tusk crd`; regenerate it with\n  \
         cargo run -q -p tusk -- crd > deploy/crd/postgresclusters.yaml"
    );
}
