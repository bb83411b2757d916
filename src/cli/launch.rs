//! `gnutella launch` (being written).

/// Arguments of `gnutella launch`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("`gnutella launch` is not implemented yet".into())
}
