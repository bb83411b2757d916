//! `gnutella search` (being written).

/// Arguments of `gnutella search`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("`gnutella search` is not implemented yet".into())
}
