//! `gnutella experiment` (being written).

/// Arguments of `gnutella experiment`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("`gnutella experiment` is not implemented yet".into())
}
