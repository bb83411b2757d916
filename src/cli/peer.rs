//! `gnutella peer` (being written).

/// Arguments of `gnutella peer`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("`gnutella peer` is not implemented yet".into())
}
