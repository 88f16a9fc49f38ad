//! `tusk render -f FILE`: checks a manifest offline and prints it defaulted.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tusk render`: prints the defaulted manifest, then every object Tusk would create for it.
#[derive(Args)]
pub struct RenderArgs {
    /// The PostgresCluster manifest to read, or `-` for standard input.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: PathBuf,
}

/// Prints the defaulted manifest, or every violation (naming the field and the rule) and exits 1.
pub fn run(args: &RenderArgs) -> ExitCode {
    let text = match super::read_manifest(&args.file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let checked = tusk_api::manifest::parse(&text).and_then(|cluster| {
        let violations = tusk::validate::name_lengths(&tusk::build::completed(&cluster));
        if violations.is_empty() {
            Ok(cluster)
        } else {
            Err(violations)
        }
    });
    match checked {
        Ok(cluster) => match documents(&cluster) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
        Err(violations) => {
            let source = if args.file.as_os_str() == "-" {
                "standard input".into()
            } else {
                args.file.display().to_string()
            };
            eprintln!("error: {source} is not a valid PostgresCluster:");
            for violation in violations {
                eprintln!("  {violation}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The defaulted cluster, then every object Tusk would create for it, as one multi-document YAML stream.
fn documents(cluster: &tusk_api::PostgresCluster) -> Result<String, String> {
    let mut out = yaml(cluster)?;
    let images = tusk::images::Images::from_environment(std::env::vars());
    let objects = tusk::build::render(cluster, &images)
        .map_err(|error| format!("cannot build the cluster's objects: {error}"))?;
    for object in objects.to_json() {
        out.push_str("---\n");
        out.push_str(&yaml(&object)?);
    }
    Ok(out)
}

/// `value` as YAML, or why it cannot be printed.
fn yaml(value: &impl serde::Serialize) -> Result<String, String> {
    tusk_api::yaml::to_yaml(value).map_err(|error| format!("cannot print as YAML: {error}"))
}
