//! Writing a child's stdin: from its own thread into a pipe, or up front
//! into a file.
//!
//! The caller only queues text on a channel, so [`Session::send`] never
//! blocks, even when the child does not read its stdin and the pipe is full.
//! Dropping the channel's sender closes stdin once everything queued was
//! written. A child that exits without reading makes the write fail with
//! EPIPE (the Rust runtime ignores SIGPIPE); that ends the thread quietly.
//!
//! When all input is known before the process starts ([`run`] without
//! `input_delay`), [`spool`] writes it to an unlinked temporary file instead,
//! which becomes the child's stdin: no thread, no pipe, and interpreters
//! read a regular file in big chunks. Either way the text goes through a
//! [`Feed`], which puts the marker statements between the blocks.
//!
//! [`Session::send`]: super::Session::send
//! [`run`]: super::run

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use encoding_rs::Encoding;

use super::capture::{CapturedLine, InputLine, Stream};
use super::marker::Markers;
use super::reader::split_lines;

/// Text queued for the child's stdin.
pub(crate) struct Input {
    pub(crate) text: String,
    /// The block the text belongs to, for the per-block echo.
    pub(crate) block: Option<usize>,
    /// Whether to record the text's lines (false for marker statements).
    pub(crate) echo: bool,
}

/// How the writer thread writes.
pub(crate) struct WriterConfig {
    pub(crate) start: Instant,
    pub(crate) encoding: &'static Encoding,
    pub(crate) input_delay: Option<Duration>,
    /// Where echoed input lines go, stamped just before they are written so
    /// that they sort before the output they cause.
    pub(crate) log: Arc<Mutex<Vec<InputLine>>>,
}

/// The input side of the marker protocol: what was sent so far, and the
/// statements that go between blocks. [`Feed::blocks`] and [`Feed::text`]
/// hand each piece of input to `emit`, which queues it for the writer thread
/// or writes it to the stdin file.
pub(crate) struct Feed {
    pub(crate) markers: Option<Markers>,
    echo: bool,
    /// Blocks sent so far; later text belongs to the last of them.
    pub(crate) blocks_sent: usize,
    ends_with_newline: bool,
}

impl Feed {
    pub(crate) fn new(markers: Option<Markers>, echo: bool) -> Self {
        Feed {
            markers,
            echo,
            blocks_sent: 0,
            ends_with_newline: true,
        }
    }

    /// Back to nothing sent (after a failed [`spool`]).
    pub(crate) fn restart(&mut self) {
        self.blocks_sent = 0;
        self.ends_with_newline = true;
    }

    /// `text` as part of the last block sent (or before any block).
    pub(crate) fn text<E>(
        &mut self,
        text: &str,
        emit: &mut impl FnMut(Input) -> Result<(), E>,
    ) -> Result<(), E> {
        if text.is_empty() {
            return Ok(());
        }
        self.ends_with_newline = text.ends_with('\n');
        emit(Input {
            text: text.to_string(),
            block: self.blocks_sent.checked_sub(1),
            echo: self.echo,
        })
    }

    /// `blocks`, each ending with a newline, with a marker statement between
    /// consecutive blocks (also between calls) when there are markers.
    pub(crate) fn blocks<E>(
        &mut self,
        blocks: &[String],
        emit: &mut impl FnMut(Input) -> Result<(), E>,
    ) -> Result<(), E> {
        for block in blocks {
            if self.blocks_sent > 0 {
                if !self.ends_with_newline {
                    emit(Input::hidden("\n".into()))?;
                }
                if let Some(markers) = &self.markers {
                    emit(Input::hidden(markers.statement(self.blocks_sent - 1)))?;
                }
                self.ends_with_newline = true;
            }
            self.blocks_sent += 1;
            self.text(block, emit)?;
        }
        Ok(())
    }
}

impl Input {
    /// Text of the protocol's own, never echoed.
    fn hidden(text: String) -> Self {
        Input {
            text,
            block: None,
            echo: false,
        }
    }
}

/// Writes `blocks` through `feed` to an unlinked temporary file and returns
/// it rewound, to be the child's stdin. Echoed lines are logged as by the
/// writer thread.
pub(crate) fn spool(feed: &mut Feed, blocks: &[String], config: &WriterConfig) -> io::Result<File> {
    let mut file = BufWriter::with_capacity(64 << 10, tempfile::tempfile()?);
    feed.blocks(blocks, &mut |input| write_input(&mut file, &input, config))?;
    let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.rewind()?;
    Ok(file)
}

/// Starts the thread that writes every queued [`Input`] to `sink`.
pub(crate) fn spawn_writer<W: Write + Send + 'static>(
    mut sink: W,
    queue: Receiver<Input>,
    config: WriterConfig,
) -> io::Result<()> {
    thread::Builder::new()
        .name("litprog-stdin".into())
        .spawn(move || {
            for input in queue {
                let written = write_input(&mut sink, &input, &config).and_then(|()| sink.flush());
                if let Err(err) = written {
                    if err.kind() != io::ErrorKind::BrokenPipe {
                        log::warn!("writing to stdin failed: {err}");
                    }
                    // Dropping the sink and the queue: later sends are discarded.
                    return;
                }
            }
        })?;
    Ok(())
}

fn write_input<W: Write>(sink: &mut W, input: &Input, config: &WriterConfig) -> io::Result<()> {
    let bytes = input.text.as_bytes();
    let record = |range: std::ops::Range<usize>| {
        if input.echo {
            let line = CapturedLine {
                time: config.start.elapsed(),
                stream: Stream::Stdin,
                text: input.text[range].to_string(),
            };
            let mut log = config.log.lock().unwrap_or_else(PoisonError::into_inner);
            log.push(InputLine {
                line,
                block: input.block,
            });
        }
    };
    match config.input_delay {
        None => {
            if input.echo {
                split_lines(bytes).for_each(record);
            }
            write_encoded(sink, &input.text, config.encoding)
        }
        Some(delay) => {
            for line in split_lines(bytes) {
                record(line.clone());
                write_encoded(sink, &input.text[line], config.encoding)?;
                sink.flush()?;
                // The pacing the caller asked for, not synchronisation.
                thread::sleep(delay);
            }
            Ok(())
        }
    }
}

fn write_encoded<W: Write>(
    sink: &mut W,
    text: &str,
    encoding: &'static Encoding,
) -> io::Result<()> {
    if encoding == encoding_rs::UTF_8 {
        sink.write_all(text.as_bytes())
    } else {
        sink.write_all(&encoding.encode(text).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn writes_encoded_text_and_records_echo_lines() {
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let config = WriterConfig {
            start: Instant::now(),
            encoding: Encoding::for_label(b"latin1").unwrap(),
            input_delay: None,
            log: Arc::clone(&log),
        };
        tx.send(Input {
            text: "café\nb".into(),
            block: Some(1),
            echo: true,
        })
        .unwrap();
        drop(tx);
        let mut out = Vec::new();
        for input in rx {
            write_input(&mut out, &input, &config).unwrap();
        }
        assert_eq!(out, b"caf\xe9\nb");
        let log = log.lock().unwrap();
        let lines: Vec<_> = log
            .iter()
            .map(|l| (l.line.text.as_str(), l.block))
            .collect();
        assert_eq!(lines, [("café\n", Some(1)), ("b", Some(1))]);
    }
}
