//! `gnutella sim` (being written).

/// Arguments of `gnutella sim`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("`gnutella sim` is not implemented yet".into())
}
