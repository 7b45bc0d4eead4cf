//! `eko`: the libeko command line.

mod inspect;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// libeko: store, combine and serve evolution kernel operators (EKOs).
#[derive(Parser)]
#[command(name = "eko", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Describe a .npy file or an .npz archive: format version, dtype, byte and memory order,
    /// shape, data offset, and whether it can be viewed with no copy.
    #[command(after_help = "Examples:\n  eko inspect 100.npy\n  eko inspect --json thresholds.npz")]
    Inspect(inspect::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eko: error: {}", one_line(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Error messages are printed on one line.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
