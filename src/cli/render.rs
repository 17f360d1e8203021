//! Diagnostics on the terminal: the source line with a caret under the
//! offending key or value, as rustc and cargo show them (rendered by
//! annotate-snippets).
//!
//! On a terminal the header is the message, then ` --> file:line:column`
//! (editors link it) and the annotated line, in colour as `--color`
//! decides. Anywhere else the first line stays `file:line: message`, which
//! scripts and editors' error parsers read, and the annotated line follows
//! without colour.

use std::io::IsTerminal;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use crate::error::Diagnostic;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A document error.
    Error,
    /// A warning.
    Warning,
}

/// How diagnostics are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `file:line: message`, then the annotated line, no colour.
    Plain,
    /// rustc's layout, without colour.
    Rich,
    /// rustc's layout, in colour.
    Color,
}

impl Style {
    /// The style for standard error as it is now: rustc's layout on a
    /// terminal, coloured as `--color` (and `NO_COLOR`) decide.
    pub fn for_stderr() -> Style {
        if !std::io::stderr().is_terminal() {
            Style::Plain
        } else if super::color_stderr() {
            Style::Color
        } else {
            Style::Rich
        }
    }
}

/// `d` as it is printed, with its severity's name in front, without a
/// trailing newline.
pub fn render(d: &Diagnostic, severity: Severity, style: Style) -> String {
    let level = match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let path = d.path.display().to_string();
    let snippet = d.snippet.as_ref().map(|s| {
        Snippet::source(s.source.as_str())
            .line_start(d.line)
            .annotation(AnnotationKind::Primary.span(s.span.clone()))
    });
    let renderer = match style {
        Style::Color => Renderer::styled(),
        Style::Plain | Style::Rich => Renderer::plain(),
    };
    match style {
        Style::Plain => {
            let name = match severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut out = format!("{name}: {d}");
            if let Some(snippet) = snippet {
                let body = renderer.render(&[Group::with_level(level).element(snippet)]);
                out.push('\n');
                out.push_str(body.trim_end());
            }
            out
        }
        Style::Rich | Style::Color => {
            let title = level.primary_title(d.message.as_str());
            let group = match snippet {
                Some(snippet) => title.element(snippet.path(path)),
                None if d.line > 0 => title.element(Origin::path(path).line(d.line)),
                None => title.element(Origin::path(path)),
            };
            renderer.render(&[group]).trim_end().to_string()
        }
    }
}

/// Print a document error to standard error.
pub fn error(d: &Diagnostic) {
    let text = render(d, Severity::Error, Style::for_stderr()) + "\n";
    super::status::eprint(text.as_bytes());
}

/// Print a warning to standard error, unless `-q` silenced warnings.
pub fn warning(d: &Diagnostic) {
    if log::log_enabled!(log::Level::Warn) {
        let text = render(d, Severity::Warning, Style::for_stderr()) + "\n";
        super::status::eprint(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Focus, Kind, attach_snippets};
    use std::path::Path;

    fn diagnostic() -> Diagnostic {
        let text = "```yaml\nlpid: s\nlptype: session\ntimeout: soon\n```\n";
        let mut d = vec![
            Diagnostic::new(
                Kind::InvalidValue,
                Path::new("doc.md"),
                4,
                "option 'timeout' must be a number",
            )
            .about(Focus::Value("timeout".into())),
        ];
        attach_snippets(Path::new("doc.md"), text, &mut d);
        d.remove(0)
    }

    #[test]
    fn plain_keeps_file_line_message_first_and_shows_the_caret() {
        let out = render(&diagnostic(), Severity::Error, Style::Plain);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "error: doc.md:4: option 'timeout' must be a number"
        );
        assert!(out.contains("4 | timeout: soon"), "{out}");
        let caret = lines.iter().find(|l| l.contains('^')).unwrap();
        assert_eq!(caret.find('^'), lines[2].find("soon"), "{out}");
        assert!(!out.contains('\x1b'), "{out}");
    }

    #[test]
    fn rich_has_rustcs_header_with_line_and_column() {
        let out = render(&diagnostic(), Severity::Warning, Style::Rich);
        assert!(
            out.starts_with("warning: option 'timeout' must be a number\n"),
            "{out}"
        );
        assert!(out.contains("--> doc.md:4:10"), "{out}");
        assert!(out.contains("^^^^"), "{out}");
        assert!(render(&diagnostic(), Severity::Error, Style::Color).contains('\x1b'));
        // Without a snippet: the header alone.
        let d = Diagnostic::new(Kind::Syntax, Path::new("doc.md"), 7, "no closing fence");
        let out = render(&d, Severity::Error, Style::Rich);
        assert!(out.contains("--> doc.md:7"), "{out}");
        assert_eq!(
            render(&d, Severity::Error, Style::Plain),
            "error: doc.md:7: no closing fence"
        );
    }
}
