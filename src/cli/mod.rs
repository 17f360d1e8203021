//! The command-line interface: argument parsing, the commands, and all
//! terminal output. The library below it never prints.

mod interrupt;
mod list;
mod report;
mod watch;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::build::{self, BuildOptions, Mode, Progress};
use crate::cache::CacheMode;
use crate::error::Diagnostics;
use crate::files;
use crate::runner::RunOptions;
use crate::session::Cancel;

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
    Build {
        #[command(flatten)]
        args: BuildArgs,
        /// Overwrite tangled files that were changed since litprog wrote them.
        #[arg(long)]
        force: bool,
    },
    /// Like build, but fail (exit 1) if any document's results are out of date,
    /// printing a diff; documents are not rewritten.
    Check(BuildArgs),
    /// Remove the result cache (.litprog/cache/), and nothing else.
    Clean,
    /// Build, then build again on every change of a document, of a file in
    /// a session's `files:`, or of litprog.toml, until Ctrl-C.
    Watch(BuildArgs),
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// Markdown files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    /// Sessions to run at once. The default, 1, runs them one at a time in
    /// document order, so that sessions sharing files on disk give the same
    /// results on every run; with N > 1, independent sessions run in
    /// parallel (`requires` is always honoured).
    #[arg(short, long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: u32,
    /// Timeout in seconds for sessions that set none.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_timeout)]
    timeout: f64,
    /// Run every session that can run, even after a failure.
    #[arg(short, long)]
    keep_going: bool,
    /// Permit out_files outside the current directory.
    #[arg(long)]
    allow_outside: bool,
    /// Run every session, ignoring cached results (and store the new ones).
    #[arg(long)]
    no_cache: bool,
    /// Skip, with a warning, sessions whose interpreter is not installed
    /// (and those requiring them), leaving their results as they are,
    /// instead of failing.
    #[arg(long)]
    skip_unavailable: bool,
    /// `json`: print one JSON object per event on stdout (session started,
    /// finished, cached, file written, build finished), for editors and CI.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
}

/// How `build` and `check` report what happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MessageFormat {
    /// Lines for people, on stderr.
    Human,
    /// One JSON object per event on stdout (lines for people stay on stderr).
    Json,
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
            print_out(&out);
            Ok(Status::Success)
        }
        Command::Build { args, force } => run_build(args, Mode::Write, force),
        Command::Check(args) => run_build(args, Mode::Check, false),
        Command::Clean => Ok(report::clean(std::path::Path::new("."))),
        Command::Watch(args) => Ok(watch::watch(&args)),
    }
}

fn run_build(args: BuildArgs, mode: Mode, force: bool) -> Result<Status, Diagnostics> {
    let cancel = Cancel::new();
    let interrupts = interrupt::install(cancel.clone());
    let options = build_options(&args, mode, force, cancel);
    let json = args.message_format == MessageFormat::Json;
    let report = build::build(&options, |progress| {
        show_progress(&progress, json);
        if let Progress::Rewritten(path, _) = progress {
            interrupts.rewritten(path);
        }
    })?;
    let status = report::summary(&report, mode, json);
    // The process ends next: freeing every document, capture and result
    // line one by one would only cost time (6% of a build of 1,000 result
    // blocks).
    std::mem::forget(report);
    Ok(status)
}

/// Print an event: its JSON object (with `json`) and the lines for people.
fn show_progress(progress: &Progress<'_>, json: bool) {
    if json {
        print_out(&(report::event_json(progress).to_string() + "\n"));
    }
    if let Progress::SessionFinished(project, session) | Progress::SessionCached(project, session) =
        progress
    {
        report::session_finished(project, session)
    }
}

/// The library's options for `args`.
fn build_options(args: &BuildArgs, mode: Mode, force: bool, cancel: Cancel) -> BuildOptions {
    BuildOptions {
        paths: args.paths.clone(),
        mode,
        run: RunOptions {
            jobs: args.jobs as usize,
            default_timeout: std::time::Duration::from_secs_f64(args.timeout),
            keep_going: args.keep_going,
            skip_unavailable: args.skip_unavailable,
            cancel,
        },
        allow_outside: args.allow_outside,
        force,
        root: PathBuf::from("."),
        cache: if args.no_cache {
            CacheMode::Refresh
        } else {
            CacheMode::Use
        },
    }
}

/// Writes `text` to stdout. A closed pipe (`litprog list | head -1`) ends
/// the output quietly, as with other Unix tools; other errors are logged.
pub(crate) fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        log::error!("cannot write to stdout: {e}");
    }
}

/// Exit status after an interruption (128 + SIGINT, as shells report it).
pub const INTERRUPTED_STATUS: u8 = 130;
