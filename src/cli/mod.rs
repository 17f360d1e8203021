//! The command-line interface: argument parsing, the commands, and all
//! terminal output. The library below it never prints.

mod list;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Diagnostics;
use crate::files;

/// litprog: literate programming for Markdown.
#[derive(Debug, Parser)]
#[command(name = "litprog", version, about, long_about = None)]
struct Cli {
    /// Print more detail (repeat for debug output).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Print only failures and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the groups (lpid, lptype, blocks, location) of the documents.
    List {
        /// Markdown files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// How a command ended, as an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything worked.
    Success = 0,
    /// A session failed, or `check` found stale output.
    Failure = 1,
    /// Invalid documents or usage.
    Invalid = 2,
}

/// Parse the arguments, run the command, and return the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logger(&cli);
    let status = match run(cli) {
        Ok(status) => status,
        Err(e) => {
            report_diagnostics(&e);
            Status::Invalid
        }
    };
    ExitCode::from(status as u8)
}

fn init_logger(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Info,
        (false, 1) => log::LevelFilter::Debug,
        (false, _) => log::LevelFilter::Trace,
    };
    env_logger::Builder::new()
        .filter_level(level)
        .parse_env("LITPROG_LOG")
        .format(|buf, record| match record.level() {
            log::Level::Info => writeln!(buf, "{}", record.args()),
            level => writeln!(buf, "{}: {}", level.as_str().to_lowercase(), record.args()),
        })
        .init();
}

fn report_diagnostics(e: &Diagnostics) {
    for d in &e.0 {
        eprintln!("error: {d}");
    }
}

fn run(cli: Cli) -> Result<Status, Diagnostics> {
    match cli.command {
        Command::List { paths, json } => {
            let project = files::load(&paths)?;
            for w in &project.warnings {
                log::warn!("{w}");
            }
            let out = if json {
                serde_json::to_string_pretty(&list::to_json(&project)).unwrap_or_default() + "\n"
            } else {
                list::to_text(&project)
            };
            print!("{out}");
            Ok(Status::Success)
        }
    }
}
