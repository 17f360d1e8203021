//! What a finished session returns: [`Capture`], and how it is put together
//! from the streams as the readers divided them.

use std::time::Duration;

use encoding_rs::Encoding;

use super::reader::{self, Segment, Splitter, split_lines};

/// How the session's process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The process exited with this status.
    Exited(i32),
    /// The process was killed by a signal it did not get from the timeout.
    Signaled {
        /// The signal number.
        signal: i32,
        /// The signal's name, such as `SIGSEGV`.
        name: String,
    },
    /// A block ran longer than this timeout (counted from the moment it
    /// started) and the session's group was terminated.
    TimedOut(Duration),
    /// The whole session ran longer than this (`session_timeout`) and its
    /// group was terminated.
    SessionTimedOut(Duration),
}

impl Outcome {
    /// True for `Exited(0)`.
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl std::fmt::Display for Outcome {
    /// `exit 1`, `killed by SIGSEGV`, `timed out after 2.5 s`, `session
    /// timed out after 60 s`: the one rendering of an outcome, in result
    /// blocks (`# timed out after 2 s`), reports and messages alike.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exit {code}"),
            Outcome::Signaled { name, .. } => write!(f, "killed by {name}"),
            Outcome::TimedOut(timeout) => write!(f, "timed out after {} s", seconds(*timeout)),
            Outcome::SessionTimedOut(timeout) => {
                write!(f, "session timed out after {} s", seconds(*timeout))
            }
        }
    }
}

/// Seconds as people write them: `2`, `2.5`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Input written to the process (with `echo`).
    Stdin,
    /// The process's standard output; with [`StderrMode::Merged`] its
    /// standard error too, in the order written.
    ///
    /// [`StderrMode::Merged`]: super::StderrMode::Merged
    Stdout,
    /// The process's standard error (only with `StderrMode::Separate`).
    Stderr,
}

/// One line of a block's capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// Where the line came from.
    pub stream: Stream,
    /// The decoded text, including its `\n` if it had one.
    pub text: &'a str,
}

/// The output of one block sent with [`Session::send_blocks`](super::Session::send_blocks).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockCapture {
    /// False when the process ended before the block started.
    pub ran: bool,
    /// The block's standard output, markers removed. With
    /// `StderrMode::Merged` (the default) its standard error too: one
    /// stream, in exactly the order the program wrote it.
    pub stdout: String,
    /// The block's standard error (`StderrMode::Separate` only).
    pub stderr: String,
    /// The block's input as sent (with `echo`).
    pub input: String,
    /// Output bytes of this block beyond the output limit, read and dropped.
    /// The kept output then ends at a line boundary.
    pub dropped_bytes: u64,
}

impl BlockCapture {
    /// The block's lines: its input (with `echo`), its stdout, then its
    /// stderr lines.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        [
            (self.input.as_str(), Stream::Stdin),
            (self.stdout.as_str(), Stream::Stdout),
            (self.stderr.as_str(), Stream::Stderr),
        ]
        .into_iter()
        .flat_map(|(text, stream)| {
            split_lines(text.as_bytes()).map(move |r| Line {
                stream,
                text: &text[r],
            })
        })
    }
}

/// Everything a session produced.
#[derive(Clone, Debug)]
pub struct Capture {
    /// How the process ended.
    pub outcome: Outcome,
    /// From the start of the session to the end of its process.
    pub runtime: Duration,
    /// One entry per block sent with `send_blocks` when the output could be
    /// attributed to blocks ([`Capture::per_block`]); otherwise one entry
    /// holding the whole session.
    pub blocks: Vec<BlockCapture>,
    /// True when `blocks` has one entry per block.
    pub per_block: bool,
    /// For a session fed on its stdin: the block that read input meant for
    /// the blocks after it (a marker never arrived while later ones did, or
    /// the interpreter exited 0 before all markers arrived). Its output is
    /// then not trustworthy, and the session should count as failed.
    pub input_consumed_by: Option<usize>,
}

impl Capture {
    /// The whole standard output (merged: all output), markers removed.
    pub fn stdout(&self) -> String {
        self.blocks.iter().map(|b| b.stdout.as_str()).collect()
    }

    /// The whole standard error (`StderrMode::Separate` only).
    pub fn stderr(&self) -> String {
        self.blocks.iter().map(|b| b.stderr.as_str()).collect()
    }

    /// Every block's lines in order.
    pub fn transcript(&self) -> Vec<Line<'_>> {
        self.blocks.iter().flat_map(|b| b.lines()).collect()
    }

    /// How many output bytes were dropped, all blocks together.
    pub fn dropped_bytes(&self) -> u64 {
        self.blocks.iter().map(|b| b.dropped_bytes).sum()
    }

    /// True when some block's output went beyond the output limit.
    pub fn truncated(&self) -> bool {
        self.dropped_bytes() > 0
    }

    /// How many blocks ran (started).
    pub fn ran(&self) -> usize {
        self.blocks.iter().filter(|b| b.ran).count()
    }
}

/// The raw material of a capture.
pub(crate) struct Parts {
    /// The merged stream, or stdout and stderr.
    pub(crate) streams: Vec<Splitter>,
    /// Blocks sent, when the output is divided at markers.
    pub(crate) blocks: Option<usize>,
    /// The echoed input of each block (and what was sent before the first).
    pub(crate) inputs: Vec<String>,
    pub(crate) encoding: &'static Encoding,
    pub(crate) outcome: Outcome,
    pub(crate) runtime: Duration,
    /// Whether the script came on stdin, where a block can read it.
    pub(crate) fed_on_stdin: bool,
}

impl Parts {
    pub(crate) fn into_capture(self) -> Capture {
        let count = self.blocks.unwrap_or(1).max(1);
        let mut streams: Vec<Vec<Segment>> = Vec::new();
        let mut seen = Vec::new();
        let mut skipped = None;
        for mut s in self.streams {
            s.finish();
            seen.push(s.markers_seen());
            skipped = match (skipped, s.skipped) {
                (Some(a), Some(b)) => Some(usize::min(a, b)),
                (a, b) => a.or(b),
            };
            streams.push(std::mem::take(&mut s.segments));
        }
        let ran = (seen.iter().copied().max().unwrap_or(0) + 1).min(count);
        let mut blocks: Vec<BlockCapture> = (0..count)
            .map(|i| BlockCapture {
                ran: i < ran,
                ..BlockCapture::default()
            })
            .collect();
        let any_marker = seen.iter().any(|&n| n > 0);
        for (k, segments) in streams.into_iter().enumerate() {
            // A stream that shows no marker while another does (sqlite3's
            // `.print` writes only stdout) goes to the last block that ran.
            let shift = if seen[k] == 0 && any_marker {
                ran - 1
            } else {
                0
            };
            for (i, seg) in segments.into_iter().enumerate() {
                let b = (i + shift).min(count - 1);
                let text = finish_segment(seg, self.encoding, &mut blocks[b].dropped_bytes);
                let field = if k == 0 {
                    &mut blocks[b].stdout
                } else {
                    &mut blocks[b].stderr
                };
                if field.is_empty() {
                    *field = text;
                } else {
                    field.push_str(&text);
                }
            }
        }
        let mut inputs = self.inputs.into_iter();
        let before = inputs.next().unwrap_or_default();
        for (b, input) in blocks.iter_mut().zip(inputs) {
            b.input = input;
        }
        if !before.is_empty() {
            blocks[0].input.insert_str(0, &before);
        }
        let mut input_consumed_by = if self.fed_on_stdin { skipped } else { None };
        if self.fed_on_stdin
            && self.blocks.is_some()
            && input_consumed_by.is_none()
            && self.outcome == Outcome::Exited(0)
            && ran < count
        {
            input_consumed_by = Some(ran - 1);
        }
        Capture {
            outcome: self.outcome,
            runtime: self.runtime,
            blocks,
            per_block: self.blocks.is_some(),
            input_consumed_by,
        }
    }
}

/// A segment's kept bytes, decoded; when some were dropped, cut back to the
/// last line boundary (the cut part counts as dropped).
fn finish_segment(seg: Segment, encoding: &'static Encoding, dropped: &mut u64) -> String {
    let mut data = seg.data;
    *dropped += seg.dropped;
    if seg.dropped > 0
        && let Some(nl) = memchr::memrchr(b'\n', &data)
    {
        *dropped += (data.len() - nl - 1) as u64;
        data.truncate(nl + 1);
    }
    reader::decode(encoding, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_well() {
        let signaled = Outcome::Signaled {
            signal: 11,
            name: "SIGSEGV".into(),
        };
        assert_eq!(signaled.to_string(), "killed by SIGSEGV");
        assert_eq!(Outcome::Exited(2).to_string(), "exit 2");
        let timed_out = Outcome::TimedOut(Duration::from_millis(2500));
        assert_eq!(timed_out.to_string(), "timed out after 2.5 s");
    }

    const P: &str = "__litprog_0123456789abcdef_";

    fn parts(out: &str, err: Option<&str>, count: usize, outcome: Outcome) -> Capture {
        let mut streams = Vec::new();
        for data in std::iter::once(out).chain(err) {
            let mut s = Splitter::new(Some(P), 1 << 20);
            s.push(data.as_bytes(), false, &mut |_| {});
            streams.push(s);
        }
        Parts {
            streams,
            blocks: Some(count),
            inputs: Vec::new(),
            encoding: encoding_rs::UTF_8,
            outcome,
            runtime: Duration::ZERO,
            fed_on_stdin: true,
        }
        .into_capture()
    }

    #[test]
    fn output_after_the_last_marker_belongs_to_the_running_block() {
        let out = format!("ok1\nok2{P}0__\nok3");
        let err = format!("moep\n{P}0__\n");
        let c = parts(&out, Some(&err), 3, Outcome::Exited(1));
        let texts: Vec<_> = c
            .blocks
            .iter()
            .map(|b| (b.ran, &*b.stdout, &*b.stderr))
            .collect();
        assert_eq!(
            texts,
            [
                (true, "ok1\nok2", "moep\n"),
                (true, "ok3", ""),
                (false, "", "")
            ]
        );
        assert_eq!(c.input_consumed_by, None);
    }

    #[test]
    fn a_stream_without_markers_goes_to_the_last_block_that_ran() {
        let out = format!("a\n{P}0__\nb\n{P}1__\nc\n");
        let c = parts(&out, Some("oops\n"), 3, Outcome::Exited(0));
        assert_eq!(c.blocks[2].stderr, "oops\n");
        assert_eq!(c.stdout(), "a\nb\nc\n");
    }

    #[test]
    fn exit_0_before_every_marker_arrived_names_the_last_block_that_ran() {
        let out = format!("a\n{P}0__\nb\n");
        let c = parts(&out, None, 4, Outcome::Exited(0));
        assert_eq!(c.input_consumed_by, Some(1));
        let c = parts(&out, None, 4, Outcome::Exited(3));
        assert_eq!(c.input_consumed_by, None);
    }

    #[test]
    fn a_truncated_block_ends_at_a_line_boundary() {
        let mut s = Splitter::new(Some(P), 10);
        s.push(
            format!("0123\n5678\nabc{P}0__\nok\n").as_bytes(),
            false,
            &mut |_| {},
        );
        let c = Parts {
            streams: vec![s],
            blocks: Some(2),
            inputs: Vec::new(),
            encoding: encoding_rs::UTF_8,
            outcome: Outcome::Exited(0),
            runtime: Duration::ZERO,
            fed_on_stdin: false,
        }
        .into_capture();
        assert_eq!(c.blocks[0].stdout, "0123\n5678\n");
        assert_eq!(c.blocks[0].dropped_bytes, 3);
        assert_eq!(c.blocks[1].stdout, "ok\n");
        assert_eq!(c.blocks[1].dropped_bytes, 0);
    }

    #[test]
    fn lines_put_input_first() {
        let b = BlockCapture {
            ran: true,
            stdout: "a\nb".into(),
            stderr: "e\n".into(),
            input: "echo a\n".into(),
            dropped_bytes: 0,
        };
        let lines: Vec<_> = b.lines().map(|l| (l.stream, l.text)).collect();
        assert_eq!(
            lines,
            [
                (Stream::Stdin, "echo a\n"),
                (Stream::Stdout, "a\n"),
                (Stream::Stdout, "b"),
                (Stream::Stderr, "e\n")
            ]
        );
    }
}
