//! The live status area: on a terminal, one line per running session (its
//! lpid, the file:line of the block running now, the time since it started),
//! redrawn a few times a second below the lines that scroll above it.
//!
//! It is drawn by indicatif (a `MultiProgress` with a spinner per session)
//! on stderr, and only when [`wanted`]: stderr is a terminal, `TERM` is not
//! `dumb`, and neither `-q` nor `--message-format json` was given. While it
//! is shown, everything else the CLI writes to stderr (log records, rendered
//! diagnostics, `-v`'s output lines) goes through [`eprint`], which prints
//! above the area instead of through it. It is cleared when the build ends,
//! when it is dropped (an error return), and by [`clear`] before an exit
//! that does not return (the interrupt handler's).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::build::Progress;

/// How often the area is redrawn (the elapsed times tick).
const TICK: Duration = Duration::from_millis(200);

/// The area being shown, for [`eprint`] and [`clear`]: stderr is one per
/// process, and so is what is drawn on it.
static SHOWN: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Whether a status area is shown: stderr is a terminal that can redraw
/// (`TERM` is not `dumb`), and the output is neither quiet nor JSON.
pub fn wanted(quiet: bool, json: bool) -> bool {
    !quiet
        && !json
        && std::io::stderr().is_terminal()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// The running sessions, drawn on stderr.
pub struct StatusArea {
    multi: MultiProgress,
    /// A spinner per running session, by group index.
    bars: HashMap<usize, ProgressBar>,
    style: ProgressStyle,
}

impl StatusArea {
    /// An empty area, from now on the one [`eprint`] prints above.
    pub fn new() -> StatusArea {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        *SHOWN.lock().unwrap_or_else(PoisonError::into_inner) = Some(multi.clone());
        let style =
            ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold}  {msg}  {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
        StatusArea {
            multi,
            bars: HashMap::new(),
            style,
        }
    }

    /// Follows the build: a line for each session that starts, its block
    /// as each starts, gone when the session ends; all gone at the end.
    pub fn show(&mut self, progress: &Progress<'_>) {
        match progress {
            Progress::SessionStarted(project, group) => {
                let g = &project.groups[*group];
                let bar = ProgressBar::new_spinner()
                    .with_style(self.style.clone())
                    .with_prefix(g.lpid.clone())
                    .with_message(crate::error::location(&g.path, g.line));
                let bar = self.multi.add(bar);
                bar.enable_steady_tick(TICK);
                self.bars.insert(*group, bar);
            }
            Progress::BlockStarted { group, .. } => {
                if let (Some(bar), Some((path, line))) =
                    (self.bars.get(group), progress.block_location())
                {
                    bar.set_message(crate::error::location(path, line));
                }
            }
            Progress::SessionFinished(_, report) => {
                if let Some(bar) = self.bars.remove(&report.group) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
            }
            Progress::Finished(_) => self.close(),
            _ => {}
        }
    }

    /// Removes every line and stops being the area [`eprint`] prints above.
    fn close(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
        self.multi.set_draw_target(ProgressDrawTarget::hidden());
        let mut shown = SHOWN.lock().unwrap_or_else(PoisonError::into_inner);
        *shown = None;
    }
}

impl Drop for StatusArea {
    /// An error return leaves no status lines on the terminal.
    fn drop(&mut self) {
        self.close();
    }
}

/// Writes `text` to stderr, above the status area if one is shown.
pub fn eprint(text: &[u8]) {
    let write = || {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text).and_then(|()| err.flush());
    };
    let shown = SHOWN.lock().unwrap_or_else(PoisonError::into_inner);
    match &*shown {
        Some(multi) => multi.suspend(write),
        None => write(),
    }
}

/// Clears the status area, if one is shown, for good: for an exit that
/// does not return.
pub fn clear() {
    if let Some(multi) = SHOWN.lock().unwrap_or_else(PoisonError::into_inner).take() {
        let _ = multi.clear();
        // The spinners' ticks draw nothing more.
        multi.set_draw_target(ProgressDrawTarget::hidden());
    }
}

/// The log's stderr: records go through [`eprint`], so that they never
/// garble the status area.
pub struct LogTarget;

impl Write for LogTarget {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        eprint(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
