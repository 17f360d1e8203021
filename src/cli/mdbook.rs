//! `litprog mdbook`: the mdBook preprocessor.
//!
//! mdBook runs `litprog mdbook supports RENDERER` to ask whether the
//! preprocessor works with a renderer (exit 0: yes), then `litprog mdbook`
//! with a JSON `[context, book]` pair on standard input, and reads the book
//! back as JSON from standard output. Everything else litprog says goes to
//! standard error, which mdBook shows.

use std::io::Read;

use mdbook_preprocessor::book::Book;
use mdbook_preprocessor::{MDBOOK_VERSION, PreprocessorContext};

use super::Status;
use crate::error::{Diagnostic, Diagnostics};

/// `litprog mdbook supports RENDERER`: litprog's output is Markdown, which
/// every renderer reads, so every renderer is supported.
pub fn supports(_renderer: &str) -> Status {
    Status::Success
}

/// `litprog mdbook`: read the `[context, book]` pair from standard input,
/// process the book, write it to standard output.
pub fn run() -> Result<Status, Diagnostics> {
    let (ctx, book) = read_input(std::io::stdin().lock())?;
    check_version(&ctx);
    let book = process(&ctx, book)?;
    write_book(&book)?;
    Ok(Status::Success)
}

/// The pair mdBook sends, or an error naming standard input.
fn read_input(input: impl Read) -> Result<(PreprocessorContext, Book), Diagnostics> {
    mdbook_preprocessor::parse_input(input).map_err(|e| {
        Diagnostics::from(Diagnostic::new(
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

/// The book with every chapter as readers should see it.
fn process(_ctx: &PreprocessorContext, book: Book) -> Result<Book, Diagnostics> {
    Ok(book)
}

/// Write the book as JSON to standard output.
fn write_book(book: &Book) -> Result<(), Diagnostics> {
    let json = serde_json::to_string(book).map_err(|e| {
        Diagnostics::from(Diagnostic::new(
            std::path::Path::new("<stdout>"),
            0,
            format!("cannot serialise the book: {e}"),
        ))
    })?;
    super::print_out(&json);
    Ok(())
}
