//! The benchmark harness: litprog against its physical floor.
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench
//! cargo run --release --example bench -- --quick        # one run each, smaller inputs
//! cargo run --release --example bench -- --runs 9 --only 1,2 --keep
//! ```
//!
//! It generates its workloads in a temporary directory, runs each several
//! times (`--runs N` or `LITPROG_BENCH_RUNS`, default 5), and prints a
//! Markdown table of medians. Every figure is measured next to its floor in
//! the same run, interleaved (floor, figure, floor, figure, ...), so that a
//! noisy machine shifts both alike and the ratio holds.
//!
//! The floors: the interpreter running the same code itself, from a file
//! (`bash script.sh`) and from a pipe (`bash < pipe`, how litprog feeds it:
//! bash then reads its script one byte at a time), and, for the per-block
//! workloads, the same code with litprog's marker statements between the
//! blocks (what the marker protocol costs the interpreter itself); for
//! Markdown, the pulldown-cmark parse of the same files in this process; for
//! start-up, `bash -c 'echo hi'`.
//!
//! The binary measured is `target/release/litprog` (built first with
//! `cargo build --release --bin litprog` unless `--no-build`), or the one
//! named by `LITPROG_BIN`, to compare a patched copy. `--keep` leaves the
//! workloads in place and prints where, for profiling them by hand.
//! `--against BIN` (or `LITPROG_AGAINST_BIN`) measures a second binary,
//! the previous commit's say, beside every workload's figure: each
//! workload is copied for it and built once by it (so that each binary
//! refreshes results in its own format), the two are run in turn, which
//! one goes first alternating, and a row under each figure gives the ratio,
//! with a goal of at most 5% slower.
//! `LITPROG_2022_BIN`, naming litprog 2022's `lit` command, adds its cached
//! rebuild of workload 8's documents (in its syntax) to workload 8; without
//! it that comparison is skipped, saying so.
//! Nothing here runs under `cargo test`.

use std::cell::RefCell;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Bytes in a megabyte, as throughput is reported (decimal, like `dd`).
const MB: f64 = 1e6;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// What the command line asked for.
struct Config {
    runs: usize,
    quick: bool,
    keep: bool,
    build: bool,
    only: Option<Vec<u32>>,
    /// `--against`: a second binary measured beside each figure.
    against: Option<PathBuf>,
}

impl Config {
    fn parse() -> Result<Config> {
        let mut config = Config {
            runs: match std::env::var("LITPROG_BENCH_RUNS") {
                Ok(v) => v.parse().context("LITPROG_BENCH_RUNS is not a number")?,
                Err(_) => 5,
            },
            quick: false,
            keep: false,
            build: true,
            only: None,
            against: std::env::var_os("LITPROG_AGAINST_BIN").map(PathBuf::from),
        };
        let mut args = std::env::args().skip(1);
        let mut runs_given = false;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => config.quick = true,
                "--keep" => config.keep = true,
                "--no-build" => config.build = false,
                "--runs" => {
                    let n = args.next().context("--runs needs a number")?;
                    config.runs = n.parse().with_context(|| format!("--runs {n}"))?;
                    runs_given = true;
                }
                "--against" => {
                    let bin = args.next().context("--against needs a binary")?;
                    config.against = Some(PathBuf::from(bin));
                }
                "--only" => {
                    let list = args.next().context("--only needs a list such as 1,4")?;
                    let ids = list
                        .split(',')
                        .map(|s| s.trim().parse::<u32>())
                        .collect::<Result<Vec<_>, _>>()
                        .with_context(|| format!("--only {list}"))?;
                    config.only = Some(ids);
                }
                "-h" | "--help" => {
                    println!(
                        "usage: cargo run --release --example bench -- [--quick] [--runs N] [--only 1,2,..] [--keep] [--no-build] [--against BIN]\n\
                         env: LITPROG_BENCH_RUNS (runs), LITPROG_BIN (binary to measure),\n\
                         LITPROG_AGAINST_BIN (a second binary measured beside it, as --against),\n\
                         LITPROG_2022_BIN (litprog 2022's `lit`, to compare workload 8 with it)"
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument '{other}' (try --help)"),
            }
        }
        if let Some(bin) = &config.against
            && !bin.is_file()
        {
            bail!("--against {}: no such file", bin.display());
        }
        if config.quick && !runs_given {
            config.runs = 1;
        }
        config.runs = config.runs.max(1);
        Ok(config)
    }

    fn wants(&self, id: u32) -> bool {
        self.only.as_ref().is_none_or(|ids| ids.contains(&id))
    }
}

/// A workload: generates its input, measures, and adds its rows.
type Workload = fn(&mut Bench) -> Result<()>;

/// One line of the table.
struct Row {
    id: &'static str,
    name: String,
    figure: String,
    floor: String,
    ratio: Option<f64>,
    goal: String,
    /// `None` for rows that only inform.
    pass: Option<bool>,
}

struct Bench {
    config: Config,
    bin: PathBuf,
    root: PathBuf,
    rows: Vec<Row>,
}

fn run() -> Result<bool> {
    let config = Config::parse()?;
    let bin = litprog_binary(config.build)?;
    let tmp = tempfile::Builder::new()
        .prefix("litprog-bench-")
        .tempdir()?;
    let root = if config.keep {
        tmp.keep()
    } else {
        tmp.path().to_path_buf()
    };
    eprintln!(
        "bench: {} run(s) per workload{}, binary {}{}, workloads in {}",
        config.runs,
        if config.quick { " (quick)" } else { "" },
        bin.display(),
        config
            .against
            .as_ref()
            .map_or(String::new(), |a| format!(" against {}", a.display())),
        root.display()
    );
    let mut bench = Bench {
        config,
        bin,
        root,
        rows: Vec::new(),
    };
    let workloads: [(u32, Workload); 8] = [
        (1, Bench::session_throughput),
        (2, Bench::per_block_markers),
        (3, Bench::parallelism),
        (4, Bench::python),
        (5, Bench::markdown_throughput),
        (6, Bench::peak_memory),
        (7, Bench::start_up),
        (8, Bench::cached_rebuild),
    ];
    for (id, workload) in workloads {
        if bench.config.wants(id) {
            eprintln!("bench: workload {id}");
            workload(&mut bench).with_context(|| format!("workload {id}"))?;
        }
    }
    print!("{}", bench.table());
    Ok(bench.rows.iter().all(|r| r.pass != Some(false)))
}

/// The release binary next to this example (`target/release/examples/bench`
/// -> `target/release/litprog`), built first so it matches the library.
fn litprog_binary(build: bool) -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("LITPROG_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot locate the target directory")?;
    let bin = dir.join("litprog");
    if build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--bin", "litprog"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("bench: warning: `cargo build --release --bin litprog` failed");
        }
    }
    if !bin.is_file() {
        bail!(
            "{} not found: run `cargo build --release` first",
            bin.display()
        );
    }
    Ok(bin)
}

/// Runs `cmd` to its end, feeding `stdin` through a pipe if given, and
/// returns its wall time in seconds. Output goes to pipes read by this
/// process, as litprog's own output does. Fails unless it exits with 0.
fn timed(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<f64> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    timed_as_set(cmd, stdin)
}

/// Like [`timed`], with the command's stdin left as the caller set it
/// (a file, say) unless `stdin` gives bytes to pipe.
fn timed_as_set(cmd: &mut Command, stdin: Option<&[u8]>) -> Result<f64> {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("spawning {cmd:?}"))?;
    let output = std::thread::scope(|scope| {
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            scope.spawn(move || pipe.write_all(bytes));
        }
        child.wait_with_output()
    })?;
    let elapsed = start.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(elapsed)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs each measurement `runs` times, interleaved, and returns the medians
/// in the same order.
fn interleaved<const N: usize>(
    runs: usize,
    mut measures: [&mut dyn FnMut() -> Result<f64>; N],
) -> Result<[f64; N]> {
    let mut samples: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(runs));
    for _ in 0..runs {
        for (measure, sample) in measures.iter_mut().zip(samples.iter_mut()) {
            sample.push(measure()?);
        }
    }
    Ok(samples.map(median))
}

/// `litprog build -q --no-cache <args>` of `bin` in `dir`.
fn litprog_of(bin: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .args(["build", "-q", "--no-cache"])
        .args(args);
    cmd
}

/// `litprog build -q .` of `bin` in `dir`: a build that uses the cache.
fn cached_of(bin: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir).args(["build", "-q", "."]);
    cmd
}

/// Copies the files under `from` to `to`, leaving out litprog's state
/// directory (`.litprog/`, the cache).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (path, name) = (entry.path(), entry.file_name());
        if name == ".litprog" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            fs::copy(&path, to.join(&name))
                .with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}

fn ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1e3)
}

impl Bench {
    fn dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// `litprog build -q --no-cache <args>` in `dir`.
    fn litprog(&self, dir: &Path, args: &[&str]) -> Command {
        litprog_of(&self.bin, dir, args)
    }

    /// With `--against`, a copy of workload `dir` for the other binary
    /// (`.litprog/` left out), built once by it with `first`.
    fn twin(
        &self,
        dir: &Path,
        first: &mut dyn FnMut(&Path, &Path) -> Command,
    ) -> Result<Option<PathBuf>> {
        let Some(other) = &self.config.against else {
            return Ok(None);
        };
        let mut name = dir
            .file_name()
            .context("workload without a name")?
            .to_os_string();
        name.push("-against");
        let copy = dir.with_file_name(name);
        if copy.exists() {
            fs::remove_dir_all(&copy)?;
        }
        copy_tree(dir, &copy)?;
        timed(&mut first(other, &copy), None)
            .with_context(|| format!("the first build by {}", other.display()))?;
        Ok(Some(copy))
    }

    /// The measurement `measure(bin, dir)` of this binary in `dir`; with a
    /// `twin`, each call also measures the `--against` binary in it, in
    /// turn second and first, and keeps its samples in `previous`.
    fn paired<'a>(
        &'a self,
        dir: &'a Path,
        twin: Option<&'a Path>,
        previous: &'a RefCell<Vec<f64>>,
        measure: impl Fn(&Path, &Path) -> Result<f64> + 'a,
    ) -> impl FnMut() -> Result<f64> + 'a {
        let mut calls = 0usize;
        move || {
            calls += 1;
            let (Some(other), Some(twin)) = (&self.config.against, twin) else {
                return measure(&self.bin, dir);
            };
            if calls.is_multiple_of(2) {
                previous.borrow_mut().push(measure(other, twin)?);
                measure(&self.bin, dir)
            } else {
                let figure = measure(&self.bin, dir)?;
                previous.borrow_mut().push(measure(other, twin)?);
                Ok(figure)
            }
        }
    }

    /// [`Bench::twin`] built with `litprog build -q --no-cache <args>`.
    fn twin_built(&self, dir: &Path, args: &[&str]) -> Result<Option<PathBuf>> {
        self.twin(dir, &mut |b, d| litprog_of(b, d, args))
    }

    /// [`Bench::paired`] timing of `litprog build -q --no-cache <args>`.
    fn paired_build<'a>(
        &'a self,
        dir: &'a Path,
        twin: Option<&'a Path>,
        previous: &'a RefCell<Vec<f64>>,
        args: &'a [&'a str],
    ) -> impl FnMut() -> Result<f64> + 'a {
        self.paired(dir, twin, previous, move |b, d| {
            timed(&mut litprog_of(b, d, args), None)
        })
    }

    /// With `--against`, the row comparing `figure` with the other
    /// binary's median of `previous`: at most 5% slower (or larger).
    fn against_row(
        &mut self,
        what: &str,
        figure: f64,
        previous: RefCell<Vec<f64>>,
        show: fn(f64) -> String,
    ) {
        let Some(other) = &self.config.against else {
            return;
        };
        let previous = previous.into_inner();
        if previous.is_empty() {
            return;
        }
        let before = median(previous);
        let ratio = figure / before;
        self.rows.push(Row {
            id: "",
            name: format!("({what}, against {})", other.display()),
            figure: show(figure),
            floor: format!("{} (--against)", show(before)),
            ratio: Some(ratio),
            goal: "≤ 1.05x".into(),
            pass: Some(ratio <= 1.05),
        });
    }

    /// A first build, which writes the result blocks: the measured builds
    /// then refresh them and change nothing, like a build on save. Checks
    /// that the document got `results` result blocks and a status line.
    fn first_build(&self, dir: &Path, doc: &str, results: usize) -> Result<()> {
        timed(&mut self.litprog(dir, &[doc]), None)?;
        let text = fs::read_to_string(dir.join(doc))?;
        let found = text.matches("lpout=").count();
        if found != results || !text.contains("# exit: 0") {
            bail!("{doc}: expected {results} result blocks and `# exit: 0`, found {found}");
        }
        Ok(())
    }

    /// One row per floor: the first carries the goal, the others inform.
    fn ratio_rows(
        &mut self,
        id: &'static str,
        name: &str,
        figure: f64,
        floors: &[(&str, f64)],
        goal: f64,
    ) {
        for (i, &(label, floor)) in floors.iter().enumerate() {
            let ratio = figure / floor;
            self.rows.push(Row {
                id: if i == 0 { id } else { "" },
                name: if i == 0 {
                    name.to_string()
                } else {
                    format!("(same, against {label})")
                },
                figure: ms(figure),
                floor: format!("{} ({label})", ms(floor)),
                ratio: Some(ratio),
                goal: if i == 0 {
                    format!("≤ {goal}x")
                } else {
                    "(info)".into()
                },
                pass: (i == 0).then_some(ratio <= goal),
            });
        }
    }

    /// The document and script of workloads 1 and 6: one bash block of
    /// 10,000 distinct `echo` lines.
    fn echo_workload(&self) -> Result<(PathBuf, String)> {
        let dir = self.dir("w1")?;
        let script: String = (0..10_000)
            .map(|i| format!("echo \"line {i}: the quick brown fox jumps over the lazy dog\"\n"))
            .collect();
        if !dir.join("script.sh").exists() {
            write_session_doc(&dir.join("doc.md"), "bash", std::slice::from_ref(&script))?;
            fs::write(dir.join("script.sh"), &script)?;
            self.first_build(&dir, "doc.md", 1)?;
        }
        Ok((dir, script))
    }

    /// 1. One bash block of 10,000 `echo` lines.
    fn session_throughput(&mut self) -> Result<()> {
        let (dir, script) = self.echo_workload()?;
        let twin = self.twin_built(&dir, &["doc.md"])?;
        let previous = RefCell::new(Vec::new());
        let [figure, file, pipe] = interleaved(
            self.config.runs,
            [
                &mut self.paired_build(&dir, twin.as_deref(), &previous, &["doc.md"]),
                &mut || {
                    timed(
                        Command::new("bash").arg("script.sh").current_dir(&dir),
                        None,
                    )
                },
                &mut || {
                    timed(
                        Command::new("bash").current_dir(&dir),
                        Some(script.as_bytes()),
                    )
                },
            ],
        )?;
        self.ratio_rows(
            "1",
            "bash, 1 block of 10,000 echo lines",
            figure,
            &[("bash script.sh", file), ("bash < pipe", pipe)],
            1.2,
        );
        self.against_row("same", figure, previous, ms);
        Ok(())
    }

    /// 2. One bash session of 1,000 one-line blocks.
    fn per_block_markers(&mut self) -> Result<()> {
        let dir = self.dir("w2")?;
        let blocks: Vec<String> = (0..1000)
            .map(|i| format!("echo \"block {i}: some output\"\n"))
            .collect();
        write_session_doc(&dir.join("doc.md"), "bash", &blocks)?;
        let script = blocks.concat();
        fs::write(dir.join("script.sh"), &script)?;
        let (marked_argv, marked) = prepared("bash", &blocks)?;
        fs::write(dir.join("marked.sh"), marked)?;
        self.first_build(&dir, "doc.md", 1000)?;
        let twin = self.twin_built(&dir, &["doc.md"])?;
        let previous = RefCell::new(Vec::new());
        let [figure, file, pipe, marked] = interleaved(
            self.config.runs,
            [
                &mut self.paired_build(&dir, twin.as_deref(), &previous, &["doc.md"]),
                &mut || {
                    timed(
                        Command::new("bash").arg("script.sh").current_dir(&dir),
                        None,
                    )
                },
                &mut || {
                    timed(
                        Command::new("bash").current_dir(&dir),
                        Some(script.as_bytes()),
                    )
                },
                &mut || run_prepared(&dir, &marked_argv, &dir.join("marked.sh")),
            ],
        )?;
        self.ratio_rows(
            "2",
            "bash, 1,000 one-line blocks (1,000 result blocks)",
            figure,
            &[
                ("bash script.sh", file),
                ("bash < pipe", pipe),
                ("bash /dev/stdin < marked.sh file, + markers", marked),
            ],
            1.5,
        );
        self.against_row("same", figure, previous, ms);
        Ok(())
    }

    /// 3. Eight independent `sleep 0.5` sessions with `-j 8`.
    fn parallelism(&mut self) -> Result<()> {
        let dir = self.dir("w3")?;
        let mut doc = String::from("# Eight sessions\n");
        for i in 0..8 {
            write!(
                doc,
                "\nSession {i}.\n\n```bash lpid=s{i} lptype=session\nsleep 0.5\n```\n"
            )?;
        }
        fs::write(dir.join("doc.md"), doc)?;
        self.first_build(&dir, "doc.md", 8)?;
        let twin = self.twin_built(&dir, &["-j", "8", "doc.md"])?;
        let previous = RefCell::new(Vec::new());
        let [figure, floor] = interleaved(
            self.config.runs,
            [
                &mut self.paired_build(&dir, twin.as_deref(), &previous, &["-j", "8", "doc.md"]),
                &mut || timed(Command::new("bash").args(["-c", "sleep 0.5"]), None),
            ],
        )?;
        self.rows.push(Row {
            id: "3",
            name: "8 sessions of `sleep 0.5`, -j 8 (wall)".into(),
            figure: format!("{figure:.3} s"),
            floor: format!("{floor:.3} s (one bash -c 'sleep 0.5')"),
            ratio: Some(figure / floor),
            goal: "≤ 0.8 s".into(),
            pass: Some(figure <= 0.8),
        });
        self.against_row("same", figure, previous, |s| format!("{s:.3} s"));
        Ok(())
    }

    /// 4. One python3 session of 1,000 blocks.
    ///
    /// The document and the floors run the interpreter that `python3`
    /// names ([`real_python3`]).
    fn python(&mut self) -> Result<()> {
        let dir = self.dir("w4")?;
        let python3 = real_python3();
        let blocks: Vec<String> = (0..1000)
            .map(|i| {
                format!(
                    "x{i} = sum(range({}))\nprint(f\"block {i}: {{x{i}}}\")\n",
                    i % 97
                )
            })
            .collect();
        write_session_doc(&dir.join("doc.md"), &python3, &blocks)?;
        let script = blocks.concat();
        fs::write(dir.join("script.py"), &script)?;
        let (marked_argv, marked) = prepared(&python3, &blocks)?;
        fs::write(dir.join("marked.py"), marked)?;
        self.first_build(&dir, "doc.md", 1000)?;
        let twin = self.twin_built(&dir, &["doc.md"])?;
        let previous = RefCell::new(Vec::new());
        let [figure, file, pipe, marked] = interleaved(
            self.config.runs,
            [
                &mut self.paired_build(&dir, twin.as_deref(), &previous, &["doc.md"]),
                &mut || {
                    timed(
                        Command::new(&python3).arg("script.py").current_dir(&dir),
                        None,
                    )
                },
                &mut || {
                    timed(
                        Command::new(&python3)
                            .env("PYTHONUNBUFFERED", "1")
                            .current_dir(&dir),
                        Some(script.as_bytes()),
                    )
                },
                // Exactly litprog's protocol: the driver, its frames as stdin
                // from a regular file, python unbuffered.
                &mut || run_prepared(&dir, &marked_argv, &dir.join("marked.py")),
            ],
        )?;
        self.ratio_rows(
            "4",
            "python3, 1,000 blocks (1,000 result blocks)",
            figure,
            &[
                ("python3 script.py", file),
                ("PYTHONUNBUFFERED=1 python3 < pipe", pipe),
                ("python3 -c DRIVER < frames file (litprog's cells)", marked),
            ],
            1.5,
        );
        self.against_row("same", figure, previous, ms);
        Ok(())
    }

    /// 5. 50 MB of Markdown without sessions: a build that changes nothing.
    fn markdown_throughput(&mut self) -> Result<()> {
        let dir = self.dir("w5")?;
        let (files, per_file) = if self.config.quick {
            (10, 1_000_000)
        } else {
            (50, 1_000_000)
        };
        let mut total = 0;
        let mut originals = Vec::new();
        for f in 0..files {
            let text = markdown_file(f as u64, per_file);
            total += text.len();
            let path = dir.join(format!("doc{f:02}.md"));
            fs::write(&path, &text)?;
            originals.push((path, text));
        }
        timed(&mut self.litprog(&dir, &["."]), None)?;
        for (path, text) in &originals {
            if fs::read_to_string(path)? != *text {
                bail!("{} was changed by a build with no sessions", path.display());
            }
        }
        let paths: Vec<&PathBuf> = originals.iter().map(|(p, _)| p).collect();
        let twin = self.twin_built(&dir, &["."])?;
        let previous = RefCell::new(Vec::new());
        let [figure, floor, read] = interleaved(
            self.config.runs,
            [
                &mut self.paired_build(&dir, twin.as_deref(), &previous, &["."]),
                &mut || parse_only(&paths),
                &mut || read_only(&paths),
            ],
        )?;
        let mb = total as f64 / MB;
        let row = |id, name: String, floor: f64, label: &str, goal: Option<f64>| Row {
            id,
            name,
            figure: format!("{:.0} MB/s ({})", mb / figure, ms(figure)),
            floor: format!("{:.0} MB/s ({}, {label})", mb / floor, ms(floor)),
            ratio: Some(figure / floor),
            goal: goal.map_or("(info)".into(), |g| format!("≥ {g} MB/s")),
            pass: goal.map(|g| mb / figure >= g),
        };
        self.rows.push(row(
            "5",
            format!("{mb:.0} MB of Markdown in {files} files, no sessions, nothing to change"),
            floor,
            "read + one pulldown-cmark parse in-process",
            Some(200.0),
        ));
        self.rows.push(row(
            "",
            "(same, against reading the files only)".into(),
            read,
            "read as UTF-8 in-process, one thread",
            None,
        ));
        self.against_row("same", figure, previous, ms);
        Ok(())
    }

    /// 6. Peak RSS of workload 1's build.
    fn peak_memory(&mut self) -> Result<()> {
        let (dir, _) = self.echo_workload()?;
        let twin = self.twin_built(&dir, &["doc.md"])?;
        let argv = |bin: &Path| -> Vec<OsString> {
            [bin.as_os_str(), "build".as_ref()]
                .into_iter()
                .chain(["-q", "--no-cache", "doc.md"].map(|s| s.as_ref()))
                .map(OsString::from)
                .collect()
        };
        let bash: Vec<OsString> = vec!["bash".into(), "script.sh".into()];
        let (mut figure, mut floor) = (Vec::new(), Vec::new());
        let previous = RefCell::new(Vec::new());
        let mut rss = self.paired(&dir, twin.as_deref(), &previous, |b, d| {
            Ok(max_rss_kib(d, &argv(b))? / 1024.0)
        });
        for _ in 0..self.config.runs {
            figure.push(rss()?);
            floor.push(max_rss_kib(&dir, &bash)? / 1024.0);
        }
        drop(rss);
        let (figure, floor) = (median(figure), median(floor));
        self.rows.push(Row {
            id: "6",
            name: "peak RSS of workload 1 (max of litprog and its bash)".into(),
            figure: format!("{figure:.1} MiB"),
            floor: format!("{floor:.1} MiB (bash script.sh)"),
            ratio: Some(figure / floor),
            goal: "≤ 20 MB".into(),
            pass: Some(figure * 1024.0 * 1024.0 <= 20.0 * MB),
        });
        self.against_row("same", figure, previous, |m| format!("{m:.1} MiB"));
        Ok(())
    }

    /// 7. Start-up: one `echo hi` session.
    fn start_up(&mut self) -> Result<()> {
        let dir = self.dir("w7")?;
        write_session_doc(&dir.join("doc.md"), "bash", &["echo hi\n".to_string()])?;
        self.first_build(&dir, "doc.md", 1)?;
        let twin = self.twin_built(&dir, &["doc.md"])?;
        let (previous, previous_version) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
        // Short runs: more samples for a stable median.
        let runs = self.config.runs * 4;
        let [figure, floor, version] = interleaved(
            runs,
            [
                &mut self.paired_build(&dir, twin.as_deref(), &previous, &["doc.md"]),
                &mut || timed(Command::new("bash").args(["-c", "echo hi"]), None),
                &mut self.paired(&dir, twin.as_deref(), &previous_version, |b, _| {
                    timed(Command::new(b).arg("--version"), None)
                }),
            ],
        )?;
        self.rows.push(Row {
            id: "7",
            name: "start-up: build of one `echo hi` session (wall)".into(),
            figure: ms(figure),
            floor: format!("{} (bash -c 'echo hi')", ms(floor)),
            ratio: Some(figure / floor),
            goal: "≤ 10 ms".into(),
            pass: Some(figure <= 0.010),
        });
        self.against_row("same", figure, previous, ms);
        self.rows.push(Row {
            id: "",
            name: "(litprog --version: exec and exit, no work)".into(),
            figure: ms(version),
            floor: format!("{} (bash -c 'echo hi')", ms(floor)),
            ratio: Some(version / floor),
            goal: "(info)".into(),
            pass: None,
        });
        self.against_row("--version", version, previous_version, ms);
        Ok(())
    }

    /// 8. A cached rebuild of 100 unchanged one-session documents.
    ///
    /// Every result comes from the cache, and no process starts.
    fn cached_rebuild(&mut self) -> Result<()> {
        let dir = self.dir("w8")?;
        let docs = 100;
        let mut paths = Vec::new();
        for d in 0..docs {
            let path = dir.join(format!("doc{d:03}.md"));
            let text = rebuild_document(
                d,
                &format!(
                    "```bash lpid=s{d} lptype=session\necho s{d} >> runs.log\necho \"chapter {d}: $((6 * 7))\"\n```\n"
                ),
            );
            fs::write(&path, text)?;
            paths.push(path);
        }
        let log = dir.join("runs.log");
        let _ = fs::remove_file(&log);
        let _ = fs::remove_dir_all(dir.join(".litprog"));
        let (bin, at) = (self.bin.clone(), dir.clone());
        let cached = move || cached_of(&bin, &at);
        timed(&mut cached(), None)?;
        let logged = |log: &Path| fs::read_to_string(log).map_or(0, |t| t.lines().count());
        if logged(&log) != docs {
            bail!("the first build ran {} sessions, not {docs}", logged(&log));
        }
        // The copy gets its own cache from its own first build.
        let twin = self.twin(&dir, &mut |b, d| cached_of(b, d))?;
        let (previous, previous_cpu) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
        let refs: Vec<&PathBuf> = paths.iter().collect();
        let names: Vec<String> = (0..docs).map(|d| format!("doc{d:03}.md")).collect();
        let cat = || {
            let mut cmd = Command::new("cat");
            cmd.args(&names).current_dir(&dir);
            cmd
        };
        // Wall time, the goal's measure, and CPU time (user and system, from
        // the kernel's rusage), which another process on the machine's
        // cores moves much less: on 2 shared cores the 3 ms of `cat` vary
        // by a third from run to run.
        let [figure, cat_wall, read, figure_cpu, cat_cpu] = interleaved_with_cpu(
            self.config.runs * 4,
            [
                &mut self.paired(&dir, twin.as_deref(), &previous, |b, d| {
                    timed(&mut cached_of(b, d), None)
                }),
                &mut || timed(&mut cat(), None),
                &mut || read_only(&refs),
            ],
            [
                &mut self.paired(&dir, twin.as_deref(), &previous_cpu, |b, d| {
                    cpu_timed(&mut cached_of(b, d))
                }),
                &mut || cpu_timed(&mut cat()),
            ],
        )?;
        if logged(&log) != docs {
            bail!("cached builds started {} sessions", logged(&log) - docs);
        }
        let [uncached] = interleaved(
            self.config.runs,
            [&mut || timed(&mut self.litprog(&dir, &["."]), None)],
        )?;
        self.ratio_rows(
            "8",
            "second build of 100 unchanged documents, 1 session each (cached: no process starts)",
            figure,
            &[
                ("cat of every document", cat_wall),
                ("read every document in-process", read),
                (
                    "the same build with --no-cache: 100 bash processes",
                    uncached,
                ),
            ],
            2.0,
        );
        self.rows.push(Row {
            id: "",
            name: "(same, CPU time, against cat's CPU time)".into(),
            figure: ms(figure_cpu),
            floor: format!("{} (cat of every document)", ms(cat_cpu)),
            ratio: Some(figure_cpu / cat_cpu),
            goal: "(info)".into(),
            pass: None,
        });
        self.rows.push(Row {
            id: "",
            name: "(same, absolute)".into(),
            figure: ms(figure),
            floor: String::new(),
            ratio: None,
            goal: "≤ 30 ms".into(),
            pass: Some(figure <= 0.030),
        });
        self.against_row("same", figure, previous, ms);
        self.against_row("same, CPU time", figure_cpu, previous_cpu, ms);
        self.litprog_2022(docs, &cached)
    }

    /// Workload 8 against litprog 2022's cached rebuild, when
    /// `LITPROG_2022_BIN` names its `lit` command: the same 100 documents in
    /// its syntax (an `# exec` block, then an `# out` block for its
    /// results), its cache in the workload (`XDG_CACHE_HOME`), built once,
    /// then its second build (`lit build -i .`) timed interleaved with
    /// litprog's.
    fn litprog_2022(&mut self, docs: usize, cached: &dyn Fn() -> Command) -> Result<()> {
        let Some(lit) = std::env::var_os("LITPROG_2022_BIN") else {
            eprintln!(
                "bench: workload 8 against litprog 2022 skipped (LITPROG_2022_BIN is not set)"
            );
            return Ok(());
        };
        let dir = self.dir("w8-2022")?;
        for d in 0..docs {
            let text = rebuild_document(
                d,
                &format!(
                    "```bash\n# exec\necho s{d} >> runs.log\necho \"chapter {d}: $((6 * 7))\"\n```\n\n```bash\n# out\n```\n"
                ),
            );
            fs::write(dir.join(format!("doc{d:03}.md")), text)?;
        }
        let log = dir.join("runs.log");
        let _ = fs::remove_file(&log);
        let _ = fs::remove_dir_all(dir.join("xdg-cache"));
        let lit_build = || {
            let mut cmd = Command::new(&lit);
            cmd.current_dir(&dir)
                .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
                .args(["build", "-i", "."]);
            cmd
        };
        timed(&mut lit_build(), None)?;
        let logged = |log: &Path| fs::read_to_string(log).map_or(0, |t| t.lines().count());
        if logged(&log) != docs {
            bail!(
                "litprog 2022's first build ran {} sessions, not {docs}",
                logged(&log)
            );
        }
        if !fs::read_to_string(dir.join("doc000.md"))?.contains("chapter 0: 42\n# exit: 0") {
            bail!("litprog 2022's first build wrote no results");
        }
        let [figure, old, figure_cpu, old_cpu] = interleaved_with_cpu(
            self.config.runs * 2,
            [&mut || timed(&mut cached(), None), &mut || {
                timed(&mut lit_build(), None)
            }],
            [&mut || cpu_timed(&mut cached()), &mut || {
                cpu_timed(&mut lit_build())
            }],
        )?;
        if logged(&log) != docs {
            bail!(
                "litprog 2022's cached builds started {} sessions",
                logged(&log) - docs
            );
        }
        for (name, figure, floor) in [
            ("(same, against litprog 2022's cached rebuild)", figure, old),
            (
                "(same, CPU time, against litprog 2022's)",
                figure_cpu,
                old_cpu,
            ),
        ] {
            self.rows.push(Row {
                id: "",
                name: name.into(),
                figure: ms(figure),
                floor: format!("{} (lit build -i, litprog 2022)", ms(floor)),
                ratio: Some(figure / floor),
                goal: "(info)".into(),
                pass: None,
            });
        }
        Ok(())
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n| # | workload | litprog | floor | ratio | goal | result |\n|---|---|---|---|---|---|---|"
        );
        for r in &self.rows {
            let ratio = r.ratio.map_or(String::new(), |x| format!("{x:.2}x"));
            let result = match r.pass {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.id, r.name, r.figure, r.floor, ratio, r.goal, result
            );
        }
        let _ = writeln!(
            out,
            "\nmedians of {} run(s){}; {}",
            self.config.runs,
            if self.config.quick { ", --quick" } else { "" },
            machine()
        );
        out
    }
}

/// The date and what the figures depend on, for the report: OS and
/// architecture, cores, CPU model, the interpreters' versions and the
/// litprog commit (where the tools to ask are there).
fn machine() -> String {
    let first_line = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                text.lines().next().map(|l| l.trim().to_string())
            })
            .filter(|l| !l.is_empty())
    };
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .or_else(|| first_line("sysctl", &["-n", "machdep.cpu.brand_string"]))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = first_line("date", &["-u", "+%Y-%m-%d"]).unwrap_or_default();
    let commit = first_line(
        "git",
        &[
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    )
    .unwrap_or_else(|| "unknown".into());
    let version = |program: &str, args: &[&str]| {
        first_line(program, args).unwrap_or_else(|| format!("{program}: not found"))
    };
    format!(
        "{date}, {} {}, {cores} cores, CPU \"{cpu}\", {}, {}, litprog at {commit}",
        std::env::consts::OS,
        std::env::consts::ARCH,
        version("bash", &["--version"]),
        version("python3", &["--version"]),
    )
}

/// What litprog runs for a session of `command` with `blocks`, from the
/// library itself (`litprog::session::prepare`): the command line and what
/// the interpreter reads, markers (or the python driver's frames) included.
fn prepared(command: &str, blocks: &[String]) -> Result<(Vec<String>, Vec<u8>)> {
    let opts = litprog::session::SessionOptions::from_command(command)?;
    Ok(litprog::session::prepare(&opts, blocks))
}

/// The interpreter `python3` runs, by its own account (`sys.executable`),
/// or `python3` if it cannot tell (or names a path that an info string
/// would have to quote). A version manager's shim is a program of its own
/// before python starts: pyenv's is a chain of bash scripts, about 55 ms a
/// start on the benchmark's machine, 21% of workload 4's CPU time, and
/// varying between runs by more than litprog's whole share, so measured
/// in, it made workload 4's ratio against another binary swing from 0.99x
/// to 1.21x. Both binaries and the floors run the one found here.
fn real_python3() -> String {
    Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|path| path.trim().to_string())
        .filter(|path| {
            !path.is_empty()
                && Path::new(path).is_file()
                && !path.contains(|c: char| c.is_whitespace() || "'\"\\".contains(c))
        })
        .unwrap_or_else(|| "python3".into())
}

/// Runs a prepared session's command in `dir` with `input` as stdin from a
/// regular file, as litprog gives it.
fn run_prepared(dir: &Path, argv: &[String], input: &Path) -> Result<f64> {
    let file = fs::File::open(input)?;
    timed_as_set(
        Command::new(&argv[0])
            .args(&argv[1..])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(file)
            .current_dir(dir),
        None,
    )
}

/// A document with one session of `command` whose blocks are `blocks`: the
/// first block declares the session in its info string, the others continue
/// its lpid (same language), with a sentence of prose between blocks.
fn write_session_doc(path: &Path, command: &str, blocks: &[String]) -> Result<()> {
    let lang = if command == "bash" { "bash" } else { "python" };
    let mut doc = String::from("# Benchmark\n\nA session.\n");
    for (i, code) in blocks.iter().enumerate() {
        let info = if i == 0 {
            format!("{lang} lpid=s lptype=session command={command}")
        } else {
            lang.to_string()
        };
        write!(doc, "\nStep {i}.\n\n```{info}\n{code}```\n")?;
    }
    fs::write(path, doc).with_context(|| format!("writing {}", path.display()))
}

/// A floor of workload 5: read every file and parse all of it with one
/// pulldown-cmark parse, with litprog's options
/// (`markdown::fences_in_one_parse`, what litprog did before it parsed only
/// the chunks that can hold a fence).
fn parse_only(paths: &[&PathBuf]) -> Result<f64> {
    let start = Instant::now();
    let mut fences = 0usize;
    for path in paths {
        let text = fs::read_to_string(path)?;
        fences += litprog::markdown::fences_in_one_parse(&text).len();
    }
    std::hint::black_box(fences);
    Ok(start.elapsed().as_secs_f64())
}

/// Reading `paths` as UTF-8 text and nothing else: what any tool that
/// looks at every byte pays.
/// Document `d` of workload 8: a title, five paragraphs, then `session`.
fn rebuild_document(d: usize, session: &str) -> String {
    let mut text = format!("# Chapter {d}\n\n");
    for p in 0..5 {
        let _ = writeln!(
            text,
            "Paragraph {p} of chapter {d}: some prose around the code, as a literate document has.\n"
        );
    }
    text.push_str(session);
    text
}

/// The CPU time (user and system) `cmd` took, with its descendants, from
/// the kernel's rusage of the children this process waited for.
fn cpu_timed(cmd: &mut Command) -> Result<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let cpu = || -> Result<f64> {
        let u = getrusage(UsageWho::RUSAGE_CHILDREN)?;
        let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
        Ok(secs(u.user_time()) + secs(u.system_time()))
    };
    let before = cpu()?;
    timed(cmd, None)?;
    Ok(cpu()? - before)
}

/// [`interleaved`] of wall times, then of CPU times, each set interleaved
/// within itself; the medians in order.
fn interleaved_with_cpu<const N: usize, const M: usize, const T: usize>(
    runs: usize,
    wall: [&mut dyn FnMut() -> Result<f64>; N],
    cpu: [&mut dyn FnMut() -> Result<f64>; M],
) -> Result<[f64; T]> {
    let walls = interleaved(runs, wall)?;
    let cpus = interleaved(runs, cpu)?;
    let all: Vec<f64> = walls.into_iter().chain(cpus).collect();
    all.try_into()
        .map_err(|_| anyhow::anyhow!("{N} + {M} medians are not {T}"))
}

fn read_only(paths: &[&PathBuf]) -> Result<f64> {
    let start = Instant::now();
    let mut bytes = 0usize;
    for path in paths {
        bytes += fs::read_to_string(path)?.len();
    }
    std::hint::black_box(bytes);
    Ok(start.elapsed().as_secs_f64())
}

/// Peak resident set of `argv` run in `dir`, in KiB: the largest of the
/// process and the descendants it waited for, from the kernel's rusage
/// (via GNU time, or Python's `resource` module if that is missing).
fn max_rss_kib(dir: &Path, argv: &[OsString]) -> Result<f64> {
    let report = dir.join("rss.txt");
    let mut cmd = if Path::new("/usr/bin/time").is_file() {
        let mut cmd = Command::new("/usr/bin/time");
        cmd.args(["-f", "%M", "-o"]).arg(&report).args(argv);
        cmd
    } else {
        let mut cmd = Command::new("python3");
        cmd.args([
            "-c",
            "import resource, subprocess, sys\n\
             subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL)\n\
             open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))",
        ])
        .arg(&report)
        .args(argv);
        cmd
    };
    timed(cmd.current_dir(dir), None)?;
    let text = fs::read_to_string(&report)?;
    text.trim()
        .parse()
        .with_context(|| format!("peak RSS report {text:?}"))
}

/// About `target` bytes of Markdown: headings, prose with inline markup,
/// lists, tables, block quotes and fenced code blocks (some of them in
/// named raw_block groups), but no sessions and no result blocks.
fn markdown_file(seed: u64, target: usize) -> String {
    let words: Vec<&str> = "literate program session block result tangle markdown fence \
        interpreter output the a of and to in is for with each"
        .split_whitespace()
        .collect();
    let mut rng = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move |n: usize| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((rng >> 33) as usize) % n
    };
    let mut out = String::with_capacity(target + 4096);
    let mut section = 0;
    while out.len() < target {
        section += 1;
        let _ = writeln!(out, "## Section {seed}.{section}\n");
        for _ in 0..3 {
            for w in 0..(40 + next(40)) {
                let word = words[next(words.len())];
                match next(12) {
                    0 => write!(out, "*{word}* "),
                    1 => write!(out, "`{word}()` "),
                    2 => write!(out, "[{word}](https://example.com/{word}) "),
                    3 => write!(out, "**{word}** "),
                    _ => write!(out, "{word} "),
                }
                .ok();
                if w % 12 == 11 {
                    out.push('\n');
                }
            }
            out.push_str("\n\n");
        }
        for i in 0..(3 + next(5)) {
            let _ = writeln!(out, "- item {i}: {} {}", words[next(20)], words[next(20)]);
        }
        out.push('\n');
        for i in 1..4 {
            let _ = writeln!(
                out,
                "{i}. step {} then {}",
                words[next(20)],
                words[next(20)]
            );
        }
        let _ = writeln!(out, "\n| name | value | note |\n|---|---:|---|");
        for i in 0..(4 + next(6)) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                words[next(20)],
                i * 7,
                words[next(20)]
            );
        }
        let _ = writeln!(
            out,
            "\n> A quoted {} about {}.\n",
            words[next(20)],
            words[next(20)]
        );
        match section % 4 {
            0 => {
                let _ = writeln!(
                    out,
                    "```rust\nfn f{section}(x: u32) -> u32 {{\n    x * {section}\n}}\n```\n"
                );
            }
            1 => {
                let _ = writeln!(
                    out,
                    "```python lpid=part{seed}_{section}\ndef g{section}(x):\n    return x + {section}\n```\n"
                );
            }
            2 => {
                let _ = writeln!(out, "```yaml\nname: example{section}\nitems: [1, 2]\n```\n");
            }
            _ => {
                let _ = writeln!(out, "~~~text\nplain text {section}\n~~~\n");
            }
        }
    }
    out
}
