//! The `gnutella` command line.

mod cli;

use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = cli::Cli::parse();
    if let Err(e) = cli::run(cli) {
        std::process::exit(cli::fail(&*e));
    }
}
