//! `gnutella topology gen|stats` (being written).

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate a topology config.
    Gen {},
    /// Print statistics of a topology (config or SNAP edge list).
    Stats {},
}

pub fn run(_cmd: Command) -> Result<(), Box<dyn std::error::Error>> {
    Err("`gnutella topology` is not implemented yet".into())
}
