use std::io::Write;

use anyhow::Result;

use crate::decomp::presets;

#[derive(clap::Args)]
pub struct Args {
    /// Print one preset's full recipe as TOML (every key can be overridden with --set).
    #[arg(long)]
    show: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let written = match args.show {
        Some(name) => write!(out, "{}", toml::to_string(&presets::find(&name)?.recipe)?),
        None => presets::all().iter().try_for_each(|p| writeln!(out, "{:<42} {:<22} {}", p.name, p.family, p.recipe.description)),
    };
    match written {
        // A closed pipe (`bilens presets | head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
