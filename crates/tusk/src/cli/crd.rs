//! `tusk crd`: prints the CustomResourceDefinition.

use std::process::ExitCode;

/// Prints the CRD that `deploy/crd/` keeps a copy of.
pub fn run() -> ExitCode {
    print!("{}", tusk_api::crd::crd_yaml());
    ExitCode::SUCCESS
}
