//! The command-line interface: argument parsing, the commands, and all
//! terminal output. The library below it never prints.

mod interrupt;
mod list;
mod mdbook;
mod render;
mod report;
mod status;
mod watch;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::build::{self, BuildOptions, Mode, Progress};
use crate::cache::CacheMode;
use crate::config::{self, Config};
use crate::error::{Diagnostic, Diagnostics, Kind};
use crate::files;
use crate::runner::{Detail, RunOptions};
use crate::session::Cancel;

/// litprog: literate programming for Markdown.
#[derive(Debug, Parser)]
#[command(name = "litprog", version, about, long_about = None)]
struct Cli {
    /// Print more detail: each session's output as it runs, on stderr, each
    /// line prefixed by the session's lpid (`[lpid] line`), and debug
    /// messages (repeat for trace messages).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Print only failures and errors: no line per session, no status area.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// The project root (default: the nearest directory, from the first
    /// PATH or the current directory upwards, holding litprog.toml, else
    /// .git, else the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
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

/// Whether stderr gets colour (diagnostics), decided once at start.
static COLOR_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Is stderr coloured?
pub(crate) fn color_stderr() -> bool {
    COLOR_STDERR.load(std::sync::atomic::Ordering::Relaxed)
}

/// Is stdout coloured?
pub(crate) fn color_stdout() -> bool {
    COLOR_STDOUT.load(std::sync::atomic::Ordering::Relaxed)
}

// Each subcommand's arguments are built only when it is the one invoked
// (clap's `Command::defer`): a build does not pay for the others' (about
// 100 K instructions of the start of every run).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    /// Print the project root, then the groups (lpid, lptype, blocks,
    /// location) of the documents.
    List {
        /// Markdown files or directories to list (default: the whole project).
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
    /// Write the out_files only: no session runs, no document changes.
    Tangle {
        #[command(flatten)]
        args: BuildArgs,
        /// Overwrite tangled files that were changed since litprog wrote them.
        #[arg(long)]
        force: bool,
    },
    /// Write a commented litprog.toml in the current directory (or --root).
    Init,
    /// Print a completion script for SHELL to stdout
    /// (`litprog completions bash > ~/.local/share/bash-completion/completions/litprog`).
    Completions {
        /// The shell: bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Remove the result cache (.litprog/cache/), and nothing else.
    Clean,
    /// Build, then build again on every change of a document, of a file in
    /// a session's `files:`, or of litprog.toml, until Ctrl-C.
    Watch(BuildArgs),
    /// The mdBook preprocessor: `[preprocessor.litprog]` with
    /// `command = "litprog mdbook"` in book.toml. Reads mdBook's JSON from
    /// stdin and writes the book, with current results and without
    /// litprog's metadata, to stdout; never writes the Markdown sources.
    Mdbook {
        #[command(subcommand)]
        command: Option<MdbookCommand>,
    },
}

// mdBook's questions to its preprocessor. (Not a doc comment: with the
// subcommands deferred, it would replace `mdbook`'s own description.)
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
    /// Markdown files or directories: only their sessions and out_files
    /// (and what those require) run, and only they are written (default:
    /// the whole project). Every document of the project is read all the
    /// same.
    paths: Vec<PathBuf>,
    /// Only the sessions and out_files with this lpid (a glob such as
    /// 'ch2.*' is allowed; repeatable), and what they require.
    #[arg(long, value_name = "LPID")]
    only: Vec<String>,
    /// Sessions to run at once. The default, 1, runs them one at a time in
    /// document order, so that sessions sharing files on disk give the same
    /// results on every run; with N > 1, independent sessions run in
    /// parallel (`requires` is always honoured). Default: `jobs` of
    /// litprog.toml, else 1.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Timeout in seconds for sessions that set none. Default: `timeout`
    /// of litprog.toml, else 30.
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    timeout: Option<f64>,
    /// Run every session that can run, even after a failure.
    #[arg(short, long)]
    keep_going: bool,
    /// Permit out_files outside the project root.
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
    /// `human`: a line per session on stderr, and on a terminal a status
    /// area of the running sessions (lpid, file:line of the block running,
    /// elapsed time). `json`: also one JSON object per event on stdout
    /// (tangled_file_written, session_started, block_started,
    /// session_finished, session_cached, document_written, warnings,
    /// build_finished), for editors and CI, and no status area.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
}

/// How much the user asked to see (`-q`, `-v`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ui {
    quiet: bool,
    verbose: u8,
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
            status_of(&e)
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
    COLOR_STDERR.store(stderr_colors, std::sync::atomic::Ordering::Relaxed);
    COLOR_STDOUT.store(
        colors(cli.color, std::io::stdout().is_terminal()),
        std::sync::atomic::Ordering::Relaxed,
    );
    env_logger::Builder::new()
        .filter_level(level)
        // Above the status area, when one is shown.
        .target(env_logger::Target::Pipe(Box::new(status::LogTarget)))
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
                // `warning:`, as the rendered diagnostics (and rustc) say.
                let name = match level {
                    log::Level::Warn => "warning".to_string(),
                    _ => level.as_str().to_lowercase(),
                };
                writeln!(buf, "{style}{name}{style:#}: {}", record.args())
            }
        })
        .init();
}

/// The exit status of a command that `problems` stopped, decided by their
/// kinds: a failure to read or write a file is a failed run (1), like a
/// document that cannot be written; anything else, an invalid document
/// or usage (2).
pub(crate) fn status_of(problems: &Diagnostics) -> Status {
    if problems.all_io() {
        Status::Failure
    } else {
        Status::Invalid
    }
}

fn report_diagnostics(e: &Diagnostics) {
    e.0.iter().for_each(render::error);
}

fn run(cli: Cli) -> Result<Status, Diagnostics> {
    let cwd = std::env::current_dir()
        .map_err(|e| Diagnostic::io(Path::new("."), 0, "cannot resolve", e))?;
    if let Command::Completions { shell } = cli.command {
        let mut script = Vec::new();
        clap_complete::generate(
            shell,
            &mut <Cli as clap::CommandFactory>::command(),
            "litprog",
            &mut script,
        );
        print_out(&String::from_utf8_lossy(&script));
        return Ok(Status::Success);
    }
    if let Command::Init = cli.command {
        return init(&cli.root.map_or(cwd.clone(), |r| cwd.join(r)));
    }
    // mdBook runs its preprocessor in the book's root, which is the
    // project's; the preprocessor finds its chapters in what mdBook sends.
    let ui = Ui {
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    if let Command::Mdbook { command } = cli.command {
        return match command {
            Some(MdbookCommand::Supports { renderer }) => Ok(mdbook::supports(&renderer)),
            None => mdbook::run(ui),
        };
    }
    let paths = match &cli.command {
        Command::List { paths, .. } => paths,
        Command::Build { args, .. }
        | Command::Check { args, .. }
        | Command::Tangle { args, .. }
        | Command::Watch(args) => &args.paths,
        Command::Clean => &Vec::new(),
        Command::Init | Command::Mdbook { .. } | Command::Completions { .. } => unreachable!(),
    };
    let root = match &cli.root {
        Some(dir) => cwd.join(dir),
        None => config::find_root(
            &config::search_start(&cwd, paths.first().map(PathBuf::as_path)),
            &cwd,
        ),
    };
    let root = std::fs::canonicalize(&root)
        .map_err(|e| Diagnostic::named(&root, "cannot use as the project root", e))?;
    let paths: Vec<PathBuf> = paths
        .iter()
        .map(|p| config::relative_to_root(&root, &cwd, p))
        .collect();
    // From here on every relative path (documents, out_files, sessions'
    // working directories, .litprog/) is relative to the root.
    std::env::set_current_dir(&root)
        .map_err(|e| Diagnostic::named(&root, "cannot enter the project root", e))?;
    let (config, warnings) = Config::load(Path::new("."))?;
    warnings.iter().for_each(render::warning);
    match cli.command {
        Command::List { json, .. } => {
            let loaded = files::load_project(&paths, &config)?;
            loaded.project.warnings.iter().for_each(render::warning);
            let out = if json {
                serde_json::to_string_pretty(&list::to_json(&loaded)).unwrap_or_default() + "\n"
            } else {
                format!("root: {}\n{}", root.display(), list::to_text(&loaded))
            };
            print_out(&out);
            Ok(Status::Success)
        }
        Command::Build { args, force } => {
            let how = (Mode::Write, force, false, Format::Text);
            run_build(args, paths, config, how, ui)
        }
        Command::Check { args, format } => {
            run_build(args, paths, config, (Mode::Check, false, false, format), ui)
        }
        Command::Tangle { args, force } => {
            let how = (Mode::Write, force, true, Format::Text);
            run_build(args, paths, config, how, ui)
        }
        Command::Clean => Ok(report::clean(Path::new("."))),
        Command::Watch(args) => Ok(watch::watch(&args, &paths, &config, ui)),
        Command::Init | Command::Mdbook { .. } | Command::Completions { .. } => unreachable!(),
    }
}

/// `litprog init`: write the commented starting litprog.toml into `dir`.
fn init(dir: &Path) -> Result<Status, Diagnostics> {
    let path = dir.join(config::CONFIG_FILE);
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(Diagnostic::new(
            Kind::UnsafeTarget,
            &path,
            0,
            "already exists; it was left as it is",
        )
        .into());
    }
    std::fs::create_dir_all(dir)
        .and_then(|()| files::write_atomic(&path, config::INIT_TEMPLATE.as_bytes()))
        .map_err(|e| Diagnostic::io(&path, 0, "cannot write", e))?;
    log::info!("wrote {}", path.display());
    Ok(Status::Success)
}

/// `build`, `check` or `tangle`: `how` is the mode, `--force`, whether
/// to stop after tangling, and `check`'s `--format`.
fn run_build(
    args: BuildArgs,
    paths: Vec<PathBuf>,
    config: Config,
    (mode, force, tangle_only, format): (Mode, bool, bool, Format),
    ui: Ui,
) -> Result<Status, Diagnostics> {
    let cancel = Cancel::new();
    let interrupts = interrupt::install(cancel.clone());
    let json = args.message_format == MessageFormat::Json;
    let mut options = build_options(&args, paths, config, mode, force, tangle_only, cancel);
    let mut reporter = Reporter::new(ui, json);
    options.run.detail = reporter.detail();
    let report = build::build(&options, |progress| {
        reporter.show(&progress);
        if let Progress::Rewritten(path, _) = progress {
            interrupts.rewritten(path);
        }
    })?;
    // The process ends once the summary is printed: freeing every document
    // of the project first would be work for nothing, and much of a build
    // that changes nothing (docs/performance.md). `watch`, which builds
    // again and again, drops its reports.
    let report = std::mem::ManuallyDrop::new(report);
    Ok(report::summary(&report, mode, format, json))
}

/// What the CLI shows of a build as it goes, from its events: JSON objects
/// on stdout (`--message-format json`); on stderr, a line per session, the
/// warnings, the status area on a terminal, and with `-v` each session's
/// output.
pub(crate) struct Reporter {
    json: bool,
    /// `-v`: output lines, prefixed by their session's lpid.
    output: bool,
    status: Option<status::StatusArea>,
}

impl Reporter {
    /// The reporter for `ui` and `--message-format json`.
    pub(crate) fn new(ui: Ui, json: bool) -> Reporter {
        Reporter {
            json,
            output: ui.verbose > 0,
            status: status::wanted(ui.quiet, json).then(status::StatusArea::new),
        }
    }

    /// What the build must report for it: blocks for the status area and
    /// JSON, output lines for `-v`, else nothing more than sessions.
    pub(crate) fn detail(&self) -> Detail {
        if self.output {
            Detail::Output
        } else if self.json || self.status.is_some() {
            Detail::Blocks
        } else {
            Detail::Sessions
        }
    }

    /// Shows an event.
    pub(crate) fn show(&mut self, progress: &Progress<'_>) {
        if self.json
            && let Some(event) = report::event_json(progress)
        {
            print_out(&(event.to_string() + "\n"));
        }
        // The session's line leaves the area before its summary scrolls
        // above it.
        if let Some(status) = &mut self.status {
            status.show(progress);
        }
        match progress {
            Progress::SessionFinished(project, session)
            | Progress::SessionCached(project, session) => {
                report::session_finished(project, session);
            }
            Progress::Warnings(warnings) => warnings.iter().for_each(render::warning),
            Progress::Output {
                project,
                group,
                line,
                ..
            } if self.output => {
                let lpid = &project.groups[*group].lpid;
                status::eprint(format!("[{lpid}] {line}\n").as_bytes());
            }
            _ => {}
        }
    }
}

/// The library's options for `args`, the project's `config` and the
/// documents `paths` (relative to the root, which is the current directory).
fn build_options(
    args: &BuildArgs,
    paths: Vec<PathBuf>,
    config: Config,
    mode: Mode,
    force: bool,
    tangle_only: bool,
    cancel: Cancel,
) -> BuildOptions {
    let jobs = args.jobs.or(config.jobs).unwrap_or(1);
    let timeout = args
        .timeout
        .or(config.timeout)
        .unwrap_or(crate::runner::DEFAULT_TIMEOUT.as_secs_f64());
    BuildOptions {
        paths,
        only: args.only.clone(),
        config,
        tangle_only,
        mode,
        run: RunOptions {
            jobs: jobs as usize,
            default_timeout: std::time::Duration::from_secs_f64(timeout),
            // check reports every problem, so it runs all it can.
            keep_going: args.keep_going || mode == Mode::Check,
            skip_unavailable: args.skip_unavailable,
            cancel,
            // The reporter says what more it shows.
            detail: Detail::Sessions,
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
