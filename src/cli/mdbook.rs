//! `litprog mdbook`: the mdBook preprocessor.
//!
//! mdBook runs `litprog mdbook supports RENDERER` to ask whether the
//! preprocessor works with a renderer (exit 0: yes), then `litprog mdbook`
//! with a JSON `[context, book]` pair on standard input, and reads the book
//! back as JSON from standard output. Everything else litprog says goes to
//! standard error, which mdBook shows.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::{MDBOOK_VERSION, PreprocessorContext};

use super::{Status, interrupt};
use crate::build::{self, BuildOptions, Progress, Source};
use crate::error::{Diagnostic, Diagnostics, Kind};
use crate::mdbook::{self, OnFailure, Settings};
use crate::runner::RunOptions;
use crate::session::Cancel;

/// `litprog mdbook supports RENDERER`: litprog's output is Markdown, which
/// every renderer reads, so every renderer is supported.
pub fn supports(_renderer: &str) -> Status {
    Status::Success
}

/// `litprog mdbook`: read the `[context, book]` pair from standard input,
/// process the book, write it to standard output.
/// `ui` (`-q`, `-v`) says what is shown of the build on stderr.
pub fn run(ui: super::Ui) -> Result<Status, Diagnostics> {
    let (ctx, book) = read_input(std::io::stdin().lock())?;
    check_version(&ctx);
    let (book, status) = process(&ctx, book, ui)?;
    if status == Status::Success {
        write_book(&book)?;
    }
    Ok(status)
}

/// The pair mdBook sends, or an error naming standard input.
fn read_input(input: impl Read) -> Result<(PreprocessorContext, Book), Diagnostics> {
    mdbook_preprocessor::parse_input(input).map_err(|e| {
        Diagnostics::from(Diagnostic::new(
            Kind::Usage,
            std::path::Path::new("<stdin>"),
            0,
            format!("not an mdBook preprocessor input: {e:#}"),
        ))
    })
}

/// Warn when mdBook's version is not the one the protocol types come from
/// (another minor version may send what this one does not read).
fn check_version(ctx: &PreprocessorContext) {
    let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    if minor(&ctx.mdbook_version) != minor(MDBOOK_VERSION) {
        log::warn!(
            "litprog mdbook was built for mdBook {MDBOOK_VERSION}, but is run by mdBook {}",
            ctx.mdbook_version
        );
    }
}

/// The path of a chapter's source file, relative to the project root (as
/// messages name it): `book` is the book's directory relative to the root.
fn source_path(ctx: &PreprocessorContext, book: &Path, chapter_source: &Path) -> PathBuf {
    book.join(&ctx.config.book.src).join(chapter_source)
}

/// Run the chapters as litprog documents and give each chapter its
/// current results. The project root is found from the book's directory
/// by the project rules (the nearest `litprog.toml`, else `.git`, else the
/// book's directory) and becomes the current directory, so a book inside
/// a repository gets the same results as `litprog build` there.
fn process(
    ctx: &PreprocessorContext,
    mut book: Book,
    ui: super::Ui,
) -> Result<(Book, Status), Diagnostics> {
    let enter = |dir: &Path| {
        std::env::set_current_dir(dir)
            .map_err(|e| Diagnostics::from(Diagnostic::io(dir, 0, "cannot enter the directory", e)))
    };
    if !ctx.root.as_os_str().is_empty() {
        enter(&ctx.root)?;
    }
    let book_dir = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|e| {
            Diagnostics::from(Diagnostic::io(
                &ctx.root,
                0,
                "cannot resolve the book root",
                e,
            ))
        })?;
    let root = crate::config::find_root(&book_dir, &book_dir);
    enter(&root)?;
    let book_in_root = book_dir
        .strip_prefix(&root)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let table: Option<serde_json::Value> = ctx
        .config
        .get("preprocessor.litprog")
        .map_err(|e| book_toml_error(&format!("{e:#}")))?;
    let (settings, warnings) =
        Settings::from_table(table.as_ref()).map_err(|e| book_toml_error(&e))?;
    for w in warnings {
        log::warn!("book.toml: {w}");
    }
    // Each chapter once: a source file listed twice in SUMMARY.md is one
    // document.
    let mut sources = Vec::new();
    let mut seen = HashSet::new();
    for chapter in book.chapters() {
        let Some(source) = &chapter.source_path else {
            continue;
        };
        let path = source_path(ctx, &book_in_root, source);
        if seen.insert(path.clone()) {
            sources.push(Source::new(path, chapter.content.clone()));
        }
    }
    let (config, config_warnings) = crate::config::Config::load(Path::new("."))?;
    for w in &config_warnings {
        log::warn!("{w}");
    }
    let cancel = Cancel::new();
    let _interrupts = interrupt::install(cancel.clone());
    let mut options = BuildOptions {
        run: RunOptions {
            // Every session runs, as with `check`: a book shows them all.
            keep_going: true,
            jobs: settings.jobs,
            default_timeout: settings.timeout,
            cancel,
            ..RunOptions::default()
        },
        // The book's litprog.toml, if it has one: its defaults apply.
        config,
        // Unchanged chapters come from the result cache under `mdbook serve`.
        root: PathBuf::from("."),
        ..BuildOptions::default()
    };
    // mdBook reads the book from stdout: the reporter prints to stderr only.
    let mut reporter = super::Reporter::new(ui, false);
    options.run.detail = reporter.detail();
    let built = build::build_in_memory(sources, &options, |progress| {
        // The warnings are logged with the book's, below.
        if !matches!(progress, Progress::Warnings(_)) {
            reporter.show(&progress);
        }
    })?;
    drop(reporter);
    for w in &built.project.warnings {
        log::warn!("{w}");
    }
    let status = status(&built, &settings);
    if status != Status::Success {
        return Ok((book, status));
    }
    let texts: HashMap<PathBuf, String> = mdbook::reader_view(&built, &settings)?
        .into_iter()
        .collect();
    for_each_chapter(&mut book, &mut |chapter| {
        let Some(source) = &chapter.source_path else {
            return;
        };
        if let Some(text) = texts.get(&source_path(ctx, &book_in_root, source)) {
            chapter.content.clone_from(text);
        }
    });
    Ok((book, status))
}

/// A problem with the `[preprocessor.litprog]` table.
fn book_toml_error(message: &str) -> Diagnostics {
    Diagnostic::new(Kind::InvalidValue, Path::new("book.toml"), 0, message).into()
}

/// Apply `f` to every chapter, nested ones included.
fn for_each_chapter(book: &mut Book, f: &mut dyn FnMut(&mut mdbook_preprocessor::book::Chapter)) {
    book.for_each_mut(|item| {
        if let BookItem::Chapter(chapter) = item {
            f(chapter);
        }
    });
}

/// How the preprocessor ends after `built`: it fails when a session
/// failed, a tangled file was edited by hand or the build was interrupted.
fn status(built: &build::Built, settings: &Settings) -> Status {
    if built.interrupted {
        log::error!("interrupted; the book was not written");
        return Status::Interrupted;
    }
    for edited in &built.edited {
        log::error!(
            "{} was changed since litprog wrote it and differs from what the documents produce; no session ran. Move the change into the document at {}, or overwrite it with `litprog build --force`",
            edited.path.display(),
            edited.location
        );
    }
    let failed = built.sessions.iter().filter(|s| !s.ok).count();
    let warn = settings.on_failure == OnFailure::Warn;
    if failed > 0 && warn {
        log::warn!(
            "{failed} of {} sessions failed; the failures are rendered into the chapters (on-failure = \"warn\")",
            built.sessions.len()
        );
    } else if failed > 0 {
        log::error!(
            "{failed} of {} sessions failed; the book was not built (on-failure = \"warn\" renders failures into the chapters instead)",
            built.sessions.len()
        );
    }
    // An internal error leaves no current results to show, warn or not.
    let crashed = built
        .sessions
        .iter()
        .any(|s| matches!(s.run, crate::runner::Run::Crashed(_)));
    if (failed > 0 && !warn) || crashed || !built.edited.is_empty() {
        Status::Failure
    } else {
        Status::Success
    }
}

/// Write the book as JSON to standard output.
fn write_book(book: &Book) -> Result<(), Diagnostics> {
    let json = serde_json::to_string(book).map_err(|e| {
        Diagnostics::from(Diagnostic::io_saying(
            std::path::Path::new("<stdout>"),
            0,
            format!("cannot serialise the book: {e}"),
            e.into(),
        ))
    })?;
    super::print_out(&json);
    Ok(())
}
