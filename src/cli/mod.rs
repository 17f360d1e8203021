//! The command-line interface: argument parsing, the commands, and all
//! terminal output. The library below it never prints.

mod interrupt;
mod list;
mod mdbook;
mod report;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::build::{self, BuildOptions, Mode, Progress};
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
    /// Colour the output: auto (on a terminal, unless NO_COLOR is set),
    /// always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether stdout gets colour (diffs), decided once at start.
static COLOR_STDOUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Does `choice` colour a stream that is (or is not) a terminal? `auto`
/// honours `NO_COLOR` (set and not empty: no colour).
fn colors(choice: ColorChoice, terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Is stdout coloured?
pub(crate) fn color_stdout() -> bool {
    COLOR_STDOUT.load(std::sync::atomic::Ordering::Relaxed)
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
    /// printing a diff; documents are not rewritten. Every session that can
    /// run runs (as with --keep-going), and every problem is reported.
    Check {
        #[command(flatten)]
        args: BuildArgs,
        /// `text`: diffs and messages; `json`: one JSON object per problem
        /// on stdout (kind, file, line, lpid, expected, actual).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The mdBook preprocessor: `[preprocessor.litprog]` with
    /// `command = "litprog mdbook"` in book.toml. Reads mdBook's JSON from
    /// stdin and writes the book, with current results and without
    /// litprog's metadata, to stdout; never writes the Markdown sources.
    Mdbook {
        #[command(subcommand)]
        command: Option<MdbookCommand>,
    },
}

/// mdBook's questions to its preprocessor.
#[derive(Debug, Subcommand)]
enum MdbookCommand {
    /// Exit 0 if the preprocessor works with RENDERER (it works with all).
    Supports {
        /// The renderer's name (html, markdown, ...).
        renderer: String,
    },
}

/// How `check` reports problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
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
    /// Run every session, ignoring cached results.
    #[arg(long)]
    no_cache: bool,
    /// Skip, with a warning, sessions whose interpreter is not installed
    /// (and those requiring them), leaving their results as they are,
    /// instead of failing.
    #[arg(long)]
    skip_unavailable: bool,
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
    use std::io::IsTerminal;
    let stderr_colors = colors(cli.color, std::io::stderr().is_terminal());
    COLOR_STDOUT.store(
        colors(cli.color, std::io::stdout().is_terminal()),
        std::sync::atomic::Ordering::Relaxed,
    );
    env_logger::Builder::new()
        .filter_level(level)
        .parse_env("LITPROG_LOG")
        .write_style(if stderr_colors {
            env_logger::WriteStyle::Always
        } else {
            env_logger::WriteStyle::Never
        })
        .format(|buf, record| match record.level() {
            log::Level::Info => writeln!(buf, "{}", record.args()),
            level => {
                let style = buf.default_level_style(level).bold();
                let name = level.as_str().to_lowercase();
                writeln!(buf, "{style}{name}{style:#}: {}", record.args())
            }
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
        Command::Build { args, force } => run_build(args, Mode::Write, force, Format::Text),
        Command::Check { args, format } => run_build(args, Mode::Check, false, format),
        Command::Mdbook {
            command: Some(MdbookCommand::Supports { renderer }),
        } => Ok(mdbook::supports(&renderer)),
        Command::Mdbook { command: None } => mdbook::run(),
    }
}

fn run_build(
    args: BuildArgs,
    mode: Mode,
    force: bool,
    format: Format,
) -> Result<Status, Diagnostics> {
    let cancel = Cancel::new();
    let interrupts = interrupt::install(cancel.clone());
    let options = BuildOptions {
        paths: args.paths,
        mode,
        run: RunOptions {
            jobs: args.jobs as usize,
            default_timeout: std::time::Duration::from_secs_f64(args.timeout),
            // check reports every problem, so it runs all it can.
            keep_going: args.keep_going || mode == Mode::Check,
            skip_unavailable: args.skip_unavailable,
            cancel,
        },
        allow_outside: args.allow_outside,
        force,
    };
    let _ = args.no_cache; // every session runs: there is no result cache yet
    let report = build::build(&options, |progress| match progress {
        Progress::Session(project, session) => report::session_finished(project, session),
        Progress::Rewritten(path) => interrupts.rewritten(path),
    })?;
    let status = report::summary(&report, mode, format);
    // The process ends next: freeing every document, capture and result
    // line one by one would only cost time (6% of a build of 1,000 result
    // blocks).
    std::mem::forget(report);
    Ok(status)
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
