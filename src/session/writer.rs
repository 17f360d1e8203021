//! Writing a child's stdin from its own thread.
//!
//! The caller only queues text on a channel, so [`Session::send`] never
//! blocks, even when the child does not read its stdin and the pipe is full.
//! Dropping the channel's sender closes stdin once everything queued was
//! written. A child that exits without reading makes the write fail with
//! EPIPE (the Rust runtime ignores SIGPIPE); that ends the thread quietly.
//!
//! [`Session::send`]: super::Session::send

use std::io::{self, Write};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use encoding_rs::Encoding;

use super::capture::{CapturedLine, InputLine, Stream};
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
                if let Err(err) = write_input(&mut sink, &input, &config) {
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
            split_lines(bytes).for_each(record);
            write_encoded(sink, &input.text, config.encoding)
        }
        Some(delay) => {
            for line in split_lines(bytes) {
                record(line.clone());
                write_encoded(sink, &input.text[line], config.encoding)?;
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
        sink.write_all(text.as_bytes())?;
    } else {
        sink.write_all(&encoding.encode(text).0)?;
    }
    sink.flush()
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
