//! The command-line interface: argument parsing, the commands, and all
//! terminal output. The library below it never prints.

mod list;
mod report;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::build::{self, BuildOptions, Mode};
use crate::error::Diagnostics;
use crate::files;
use crate::runner::{self, RunOptions};

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
    /// Tangle out_files, run sessions, and write their results into the documents.
    Build(BuildArgs),
    /// Like build, but fail (exit 1) if any document's results are out of date,
    /// printing a diff; documents are not rewritten.
    Check(BuildArgs),
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// Markdown files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    /// Sessions to run at once (default: the number of CPUs).
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Timeout in seconds for sessions that set none.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_timeout)]
    timeout: f64,
    /// Run every session that can run, even after a failure.
    #[arg(short, long)]
    keep_going: bool,
    /// Permit out_files outside the current directory.
    #[arg(long)]
    allow_outside: bool,
    /// Run every session, ignoring cached results.
    #[arg(long)]
    no_cache: bool,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 && t < 1e9 => Ok(t),
        _ => Err(format!("'{s}' is not a positive number of seconds")),
    }
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
    /// Interrupted by SIGINT or SIGTERM.
    Interrupted = 130,
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
    ExitCode::from(match status {
        Status::Interrupted => INTERRUPTED_STATUS,
        other => other as u8,
    })
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
        Command::Build(args) => run_build(args, Mode::Write),
        Command::Check(args) => run_build(args, Mode::Check),
    }
}

fn run_build(args: BuildArgs, mode: Mode) -> Result<Status, Diagnostics> {
    install_signal_handler();
    let jobs = args
        .jobs
        .map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let options = BuildOptions {
        paths: args.paths,
        mode,
        run: RunOptions {
            jobs,
            default_timeout: std::time::Duration::from_secs_f64(args.timeout),
            keep_going: args.keep_going,
        },
        allow_outside: args.allow_outside,
    };
    let _ = args.no_cache; // every session runs: there is no result cache yet
    let report = build::build(&options, report::session_finished)?;
    let status = report::summary(&report, mode);
    // The process ends next: freeing every document, capture and result
    // line one by one would only cost time (6% of a build of 1,000 result
    // blocks).
    std::mem::forget(report);
    Ok(status)
}

/// On SIGINT or SIGTERM, terminate every running session's process group
/// and let the build end without rewriting documents; a second signal
/// exits at once.
fn install_signal_handler() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        log::warn!("cannot install signal handlers; interrupted sessions may outlive litprog");
        return;
    };
    std::thread::spawn(move || {
        let mut count = 0;
        for _ in signals.forever() {
            count += 1;
            if count > 1 {
                std::process::exit(INTERRUPTED_STATUS as i32);
            }
            log::error!("interrupted: terminating running sessions");
            runner::interrupt();
        }
    });
}

/// Exit status after an interruption (128 + SIGINT, as shells report it).
pub const INTERRUPTED_STATUS: u8 = 130;
