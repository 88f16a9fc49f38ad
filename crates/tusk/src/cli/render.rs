//! `tusk render -f FILE`: checks a manifest offline and prints it defaulted.

use clap::Args;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tusk render`.
#[derive(Args)]
pub struct RenderArgs {
    /// The PostgresCluster manifest to read, or `-` for standard input.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    file: PathBuf,
}

/// Prints the defaulted manifest, or every violation (naming the field and the rule) and exits 1.
pub fn run(args: &RenderArgs) -> ExitCode {
    let text = match read(&args.file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.file.display());
            return ExitCode::from(2);
        }
    };
    match tusk_api::manifest::parse(&text) {
        Ok(cluster) => match tusk_api::yaml::to_yaml(&cluster) {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: cannot print the manifest as YAML: {error}");
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

fn read(file: &PathBuf) -> std::io::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(file)
    }
}
