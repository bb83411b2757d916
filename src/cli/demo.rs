//! `gnutella demo` (being written).

/// Arguments of `gnutella demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("`gnutella demo` is not implemented yet".into())
}
