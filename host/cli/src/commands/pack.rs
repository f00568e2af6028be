//! `eligo pack`: one JSON file holding a bundle, its name, version and hash.

use std::path::PathBuf;

use super::{load, out, CommandResult, Failure};

/// `eligo pack` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy bundle: a directory, or a file made by `eligo pack`.
    bundle: PathBuf,
    /// Where to write it (default: standard output). The file is
    /// replaced whole or not at all.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: &Args) -> CommandResult {
    let bundle = load(&args.bundle)?;
    let packed = eligo_core::api::pack_json(&bundle) + "\n";
    let Some(output) = &args.output else {
        out!("{}", packed.trim_end());
        return Ok(());
    };
    // Written beside the target and renamed over it, so a reader never sees
    // half a bundle.
    let partial = output.with_extension("partial");
    std::fs::write(&partial, &packed)
        .and_then(|()| std::fs::rename(&partial, output))
        .map_err(|error| {
            let _ = std::fs::remove_file(&partial);
            Failure::Io(format!("cannot write {}: {error}", output.display()))
        })?;
    eprintln!(
        "packed {} {} ({}) into {}: {} files, {} bytes",
        bundle.name(),
        bundle.version(),
        bundle.hash(),
        output.display(),
        bundle.files().len(),
        packed.len()
    );
    Ok(())
}
