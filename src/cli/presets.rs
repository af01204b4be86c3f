use anyhow::Result;

use crate::decomp::presets;

#[derive(clap::Args)]
pub struct Args {
    /// Print one preset's full recipe as TOML (every key can be overridden with --set).
    #[arg(long)]
    show: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    match args.show {
        Some(name) => print!("{}", toml::to_string(&presets::find(&name)?.recipe)?),
        None => {
            for p in presets::all() {
                println!("{:<42} {:<22} {}", p.name, p.family, p.recipe.description);
            }
        }
    }
    Ok(())
}
