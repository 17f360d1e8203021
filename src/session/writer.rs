//! What a session's interpreter reads, and writing it: from its own thread
//! into a pipe, or up front into a file.
//!
//! A [`Feed`] turns blocks into the script the interpreter reads: for shells,
//! ruby, perl (and interpreters fed on stdin) the blocks with a marker
//! statement between consecutive blocks, laid out so that the interpreter's
//! line numbers are the document's; for python and node, framed cells that
//! the driver (see `driver.rs`) compiles one by one.
//!
//! The caller only queues bytes on a channel, so [`Session::send`] never
//! blocks, even when the child does not read and the pipe is full. Dropping
//! the channel's sender closes the pipe once everything queued was written.
//! A child that exits without reading makes the write fail with EPIPE (the
//! Rust runtime ignores SIGPIPE); that ends the thread quietly.
//!
//! When all input is known before the process starts ([`run`] without
//! `input_delay`), [`spool`] writes it to an unlinked temporary file instead:
//! no thread, no pipe, and interpreters read a regular file in big chunks.
//!
//! [`Session::send`]: super::Session::send
//! [`run`]: super::run

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::sync::mpsc::Receiver;
use std::thread;
use std::time::Duration;

use encoding_rs::Encoding;

use super::marker::Markers;
use super::reader::split_lines;

/// One block of code and where it comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// The code.
    pub code: String,
    /// The document it comes from, as tracebacks and messages should name it.
    pub file: Option<String>,
    /// The document line of the code's first line (1-based; 0: unknown).
    pub line: usize,
}

/// Anything that can be sent as a block: a [`Block`], or plain code
/// (`String`, `&str`) with no location.
pub trait BlockSource {
    /// The code.
    fn code(&self) -> &str;
    /// The document the code comes from.
    fn file(&self) -> Option<&str> {
        None
    }
    /// The document line of the code's first line (0: unknown).
    fn line(&self) -> usize {
        0
    }
}

impl BlockSource for Block {
    fn code(&self) -> &str {
        &self.code
    }
    fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }
    fn line(&self) -> usize {
        self.line
    }
}

impl BlockSource for String {
    fn code(&self) -> &str {
        self
    }
}

impl BlockSource for &str {
    fn code(&self) -> &str {
        self
    }
}

/// How blocks reach the interpreter.
pub(crate) enum Protocol {
    /// No markers: the text as sent, one unit.
    Plain,
    /// Marker statements between the blocks.
    Statements {
        markers: Markers,
        /// Written before anything else (the stdin redirection).
        setup: String,
        layout: Layout,
    },
    /// Framed cells for a driver, which prints the markers itself.
    Framed {
        markers: Markers,
        /// The driver's first line: marker prefix and settings.
        header: String,
    },
}

/// How the script is laid out between blocks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// As sent.
    Packed,
    /// Blank lines before each block of the session's first document, so
    /// that its first line has the script line number of its document line.
    Padded,
    /// perl: a `# line N "file"` directive before each located block.
    PerlLines,
}

/// The input side of the marker protocol.
pub(crate) struct Feed {
    pub(crate) protocol: Protocol,
    encoding: &'static Encoding,
    echo: bool,
    /// Blocks sent so far; later text belongs to the last of them.
    pub(crate) blocks_sent: usize,
    ends_with_newline: bool,
    started: bool,
    /// The script line the next byte written is on.
    line: usize,
    /// The file of the first located block.
    first_file: Option<Option<String>>,
    /// With `echo`: the input sent before the first block, then each block's.
    pub(crate) inputs: Vec<String>,
}

impl Feed {
    pub(crate) fn new(protocol: Protocol, encoding: &'static Encoding, echo: bool) -> Self {
        Feed {
            protocol,
            encoding,
            echo,
            blocks_sent: 0,
            ends_with_newline: true,
            started: false,
            line: 1,
            first_file: None,
            inputs: vec![String::new()],
        }
    }

    /// The markers, if output is divided at them.
    pub(crate) fn markers(&self) -> Option<&Markers> {
        match &self.protocol {
            Protocol::Plain => None,
            Protocol::Statements { markers, .. } | Protocol::Framed { markers, .. } => {
                Some(markers)
            }
        }
    }

    /// Back to nothing sent (after a failed [`spool`]).
    pub(crate) fn restart(&mut self) {
        self.blocks_sent = 0;
        self.ends_with_newline = true;
        self.started = false;
        self.line = 1;
        self.first_file = None;
        self.inputs = vec![String::new()];
    }

    fn emit_raw<E>(
        &mut self,
        text: &str,
        emit: &mut impl FnMut(Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        if text.is_empty() {
            return Ok(());
        }
        self.line += memchr::memchr_iter(b'\n', text.as_bytes()).count();
        let bytes = if self.encoding == encoding_rs::UTF_8 || self.is_framed() {
            text.as_bytes().to_vec()
        } else {
            self.encoding.encode(text).0.into_owned()
        };
        emit(bytes)
    }

    fn is_framed(&self) -> bool {
        matches!(self.protocol, Protocol::Framed { .. })
    }

    fn start<E>(&mut self, emit: &mut impl FnMut(Vec<u8>) -> Result<(), E>) -> Result<(), E> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let preamble = match &self.protocol {
            Protocol::Plain => return Ok(()),
            Protocol::Statements { setup, .. } => setup.clone(),
            Protocol::Framed { header, .. } => header.clone(),
        };
        self.emit_raw(&preamble, emit)
    }

    /// Code as part of the last block sent (or before any block).
    fn code<E>(
        &mut self,
        code: &str,
        file: Option<&str>,
        line: usize,
        new_block: bool,
        emit: &mut impl FnMut(Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.echo {
            self.inputs.last_mut().expect("inputs").push_str(code);
        }
        if self.is_framed() {
            let kind = if new_block { 'b' } else { 't' };
            let name = serde_json::to_string(file.unwrap_or("<stdin>")).unwrap_or_default();
            let frame = format!("{kind} {} {} {name}\n", code.len(), line.max(1));
            self.emit_raw(&frame, emit)?;
            return emit(code.as_bytes().to_vec());
        }
        if code.is_empty() {
            return Ok(());
        }
        self.ends_with_newline = code.ends_with('\n');
        self.emit_raw(code, emit)
    }

    /// `text` as part of the last block sent (or before any block).
    pub(crate) fn text<E>(
        &mut self,
        text: &str,
        emit: &mut impl FnMut(Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        if text.is_empty() {
            return Ok(());
        }
        self.start(emit)?;
        self.code(text, None, 0, false, emit)
    }

    /// `blocks`, each ending with a newline, with a marker statement between
    /// consecutive blocks (also between calls) when there are markers.
    pub(crate) fn blocks<B: BlockSource, E>(
        &mut self,
        blocks: &[B],
        emit: &mut impl FnMut(Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.start(emit)?;
        for block in blocks {
            if self.blocks_sent > 0 && !self.is_framed() {
                if !self.ends_with_newline {
                    self.emit_raw("\n", emit)?;
                }
                if let Protocol::Statements { markers, .. } = &self.protocol {
                    let stmt = markers.statement(self.blocks_sent - 1);
                    self.emit_raw(&stmt, emit)?;
                }
                self.ends_with_newline = true;
            }
            self.layout(block, emit)?;
            self.blocks_sent += 1;
            if self.echo {
                self.inputs.push(String::new());
            }
            self.code(block.code(), block.file(), block.line(), true, emit)?;
        }
        Ok(())
    }

    /// What goes before `block` so that its line numbers are the document's.
    fn layout<B: BlockSource, E>(
        &mut self,
        block: &B,
        emit: &mut impl FnMut(Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let Protocol::Statements { layout, .. } = &self.protocol else {
            return Ok(());
        };
        let layout = *layout;
        let line = block.line();
        if line == 0 {
            return Ok(());
        }
        match layout {
            Layout::Packed => Ok(()),
            Layout::Padded => {
                let file = block.file().map(str::to_string);
                let first = self.first_file.get_or_insert_with(|| file.clone());
                if *first == file && line > self.line {
                    let pad = "\n".repeat(line - self.line);
                    self.emit_raw(&pad, emit)?;
                }
                Ok(())
            }
            Layout::PerlLines => match block.file() {
                Some(file) if !file.contains('"') && !file.contains('\n') => {
                    self.emit_raw(&format!("# line {line} \"{file}\"\n"), emit)
                }
                _ => Ok(()),
            },
        }
    }
}

/// Writes `blocks` through `feed` to an unlinked temporary file and returns
/// it rewound, to be the child's stdin.
pub(crate) fn spool<B: BlockSource>(feed: &mut Feed, blocks: &[B]) -> io::Result<File> {
    let mut file = BufWriter::with_capacity(64 << 10, tempfile::tempfile()?);
    feed.blocks(blocks, &mut |bytes| file.write_all(&bytes))?;
    let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.rewind()?;
    Ok(file)
}

/// Starts the thread that writes every queued chunk to `sink`, pausing
/// `input_delay` after each line when set.
pub(crate) fn spawn_writer<W: Write + Send + 'static>(
    mut sink: W,
    queue: Receiver<Vec<u8>>,
    input_delay: Option<Duration>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("litprog-stdin".into())
        .spawn(move || {
            for bytes in queue {
                let written = write_paced(&mut sink, &bytes, input_delay);
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

fn write_paced<W: Write>(sink: &mut W, bytes: &[u8], delay: Option<Duration>) -> io::Result<()> {
    match delay {
        None => {
            sink.write_all(bytes)?;
            sink.flush()
        }
        Some(delay) => {
            for line in split_lines(bytes) {
                sink.write_all(&bytes[line])?;
                sink.flush()?;
                // The pacing the caller asked for, not synchronisation.
                thread::sleep(delay);
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(feed: &mut Feed, blocks: &[Block]) -> String {
        let mut out = Vec::new();
        feed.blocks(blocks, &mut |b| {
            out.extend(b);
            Ok::<(), ()>(())
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn at(code: &str, file: &str, line: usize) -> Block {
        Block {
            code: code.into(),
            file: Some(file.into()),
            line,
        }
    }

    #[test]
    fn padded_blocks_start_on_their_document_lines() {
        let markers = Markers::new("mark {marker}".into());
        let protocol = Protocol::Statements {
            markers,
            setup: "setup\n".into(),
            layout: Layout::Padded,
        };
        let mut feed = Feed::new(protocol, encoding_rs::UTF_8, false);
        let text = script(
            &mut feed,
            &[
                at("a\nb\n", "x.md", 3),
                at("c", "x.md", 8),
                at("d\n", "y.md", 2),
            ],
        );
        let lines: Vec<_> = text.lines().collect();
        assert_eq!((lines[0], lines[2], lines[3]), ("setup", "a", "b"));
        assert_eq!(lines[7], "c");
        assert!(lines[8].starts_with("mark "));
        assert_eq!(lines[9], "d");
    }

    #[test]
    fn frames_carry_the_code_and_its_location() {
        let markers = Markers::new(String::new());
        let protocol = Protocol::Framed {
            markers,
            header: "head\n".into(),
        };
        let mut feed = Feed::new(protocol, encoding_rs::UTF_8, true);
        let text = script(&mut feed, &[at("é\n", "a.md", 4), at("x", "a.md", 9)]);
        assert_eq!(text, "head\nb 3 4 \"a.md\"\né\nb 1 9 \"a.md\"\nx");
        assert_eq!(feed.inputs, ["", "é\n", "x"]);
    }

    #[test]
    fn paced_writes_keep_the_bytes() {
        let mut out = Vec::new();
        write_paced(&mut out, b"a\nb", Some(Duration::ZERO)).unwrap();
        assert_eq!(out, b"a\nb");
    }
}
