//! Reading one output stream of a child: a thread per stream, timestamped
//! chunks, a memory bound, and turning byte ranges back into decoded lines.
//!
//! Each stream gets its own thread from the moment the process starts, so the
//! child can never block on a full pipe while we are busy elsewhere (for
//! example writing its stdin). The thread reads big chunks and stamps each
//! chunk with the time since the session started; lines are only cut out
//! later, when the session is over, so reading does no per-byte work.

use std::borrow::Cow;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use encoding_rs::Encoding;

use super::capture::{CapturedLine, Stream};
use super::sys;

/// Default number of bytes kept per output stream (16 MiB). Output beyond it
/// is still read, so the child never blocks, but dropped; the capture then
/// says `truncated` and how many bytes were dropped.
pub const MAX_STREAM_BYTES: usize = 16 << 20;

const CHUNK_SIZE: usize = 64 << 10;

/// Chunks read within this time of each other are stamped alike.
const TIME_RESOLUTION: Duration = Duration::from_millis(1);

/// The bytes read from one stream so far, with the time each chunk arrived.
#[derive(Debug, Default)]
pub(crate) struct StreamBuf {
    pub(crate) data: Vec<u8>,
    /// `(end offset in data, time since start)` for each chunk, in order.
    chunks: Vec<(usize, Duration)>,
    pub(crate) dropped: u64,
    limit: usize,
}

impl StreamBuf {
    pub(crate) fn new(limit: usize) -> Self {
        StreamBuf {
            limit,
            ..StreamBuf::default()
        }
    }

    /// Appends a chunk read at `time`, keeping at most `limit` bytes in all.
    pub(crate) fn push(&mut self, bytes: &[u8], time: Duration) {
        let room = self.limit.saturating_sub(self.data.len());
        let kept = bytes.len().min(room);
        if kept > 0 {
            self.data.extend_from_slice(&bytes[..kept]);
            // A child writing byte by byte would otherwise cost an entry per
            // byte; chunks closer than the resolution share the first's time.
            match self.chunks.last_mut() {
                Some((end, first)) if time.saturating_sub(*first) < TIME_RESOLUTION => {
                    *end = self.data.len();
                }
                _ => self.chunks.push((self.data.len(), time)),
            }
        }
        self.dropped += (bytes.len() - kept) as u64;
    }

    /// The time the byte at `offset` arrived.
    fn time_of(&self, offset: usize) -> Duration {
        let i = self.chunks.partition_point(|&(end, _)| end <= offset);
        self.chunks
            .get(i)
            .or(self.chunks.last())
            .map_or(Duration::ZERO, |&(_, t)| t)
    }

    /// The lines of `range`, each stamped with the arrival of its last byte
    /// (the moment the line was complete), each keeping its `\n`.
    pub(crate) fn lines(
        &self,
        range: Range<usize>,
        stream: Stream,
        encoding: &'static Encoding,
    ) -> Vec<CapturedLine> {
        split_lines(&self.data[range.clone()])
            .map(|line| {
                let end = range.start + line.end;
                CapturedLine {
                    time: self.time_of(end - 1),
                    stream,
                    text: decode(encoding, &self.data[range.start + line.start..end]),
                }
            })
            .collect()
    }
}

impl StreamBuf {
    /// `range` decoded, with its lines (as [`StreamBuf::lines`] makes them)
    /// appended to `lines`. Valid UTF-8, the usual case, is checked once
    /// for the whole range and borrowed, and each line is a copy of its
    /// slice; anything else is decoded line by line as before, so the
    /// lines are the same either way.
    pub(crate) fn decode_lines(
        &self,
        range: Range<usize>,
        stream: Stream,
        encoding: &'static Encoding,
        lines: &mut Vec<CapturedLine>,
    ) -> Cow<'_, str> {
        let bytes = &self.data[range.clone()];
        if encoding == encoding_rs::UTF_8
            && let Ok(text) = std::str::from_utf8(bytes)
        {
            let unterminated = !bytes.is_empty() && !bytes.ends_with(b"\n");
            lines.reserve(memchr::memchr_iter(b'\n', bytes).count() + usize::from(unterminated));
            lines.extend(split_lines(bytes).map(|line| CapturedLine {
                time: self.time_of(range.start + line.end - 1),
                stream,
                text: text[line].to_owned(),
            }));
            return Cow::Borrowed(text);
        }
        lines.extend(self.lines(range, stream, encoding));
        Cow::Owned(decode(encoding, bytes))
    }
}

/// Byte ranges of the lines of `data`, each including its `\n`; a last line
/// without `\n` is kept as is.
pub(crate) fn split_lines(data: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= data.len() {
            return None;
        }
        let end = match memchr::memchr(b'\n', &data[start..]) {
            Some(i) => start + i + 1,
            None => data.len(),
        };
        let line = start..end;
        start = end;
        Some(line)
    })
}

/// Decodes `bytes` lossily: invalid sequences become U+FFFD, never an error.
pub(crate) fn decode(encoding: &'static Encoding, bytes: &[u8]) -> String {
    if encoding == encoding_rs::UTF_8 {
        // Valid UTF-8, the usual case, is checked much faster than
        // from_utf8_lossy's chunk-by-chunk walk gets through it.
        match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        }
    } else {
        encoding.decode_without_bom_handling(bytes).0.into_owned()
    }
}

/// Locks a stream buffer, accepting a poisoned lock: the data is plain bytes
/// and stays usable even if a reader panicked mid-push.
pub(crate) fn lock(buf: &Mutex<StreamBuf>) -> MutexGuard<'_, StreamBuf> {
    buf.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts a thread that reads `source` to its end into a shared buffer and
/// then sends `stream` on `done`.
///
/// The buffer is shared rather than returned from the thread so that the
/// session can take what was read even when the thread never ends: a process
/// that escaped the process group may keep the pipe open forever, and the
/// session must not hang on it.
pub(crate) fn spawn_reader<R: Read + Send + 'static>(
    mut source: R,
    stream: Stream,
    start: Instant,
    limit: usize,
    done: Sender<Stream>,
) -> io::Result<Arc<Mutex<StreamBuf>>> {
    let buf = Arc::new(Mutex::new(StreamBuf::new(limit)));
    let shared = Arc::clone(&buf);
    thread::Builder::new()
        .name(format!("litprog-{stream:?}").to_lowercase())
        .spawn(move || {
            let mut chunk = vec![0u8; CHUNK_SIZE];
            loop {
                match source.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => lock(&shared).push(&chunk[..n], start.elapsed()),
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) if sys::is_end_of_output(&err) => break,
                    Err(err) => {
                        log::warn!("reading {stream:?} failed: {err}");
                        break;
                    }
                }
            }
            // The receiver may be gone if the session gave up on us.
            let _ = done.send(stream);
        })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::sync::mpsc;

    const RAW_TEST_TEXT: &[u8] = b"Hello \xe4\xb8\x96\xe7\x95\x8c!\nfoo bar";

    fn texts(lines: &[CapturedLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn captured_lines_are_decoded() {
        let mut buf = StreamBuf::new(MAX_STREAM_BYTES);
        buf.push(RAW_TEST_TEXT, Duration::from_millis(1));
        let lines = buf.lines(0..RAW_TEST_TEXT.len(), Stream::Stdout, encoding_rs::UTF_8);
        assert_eq!(texts(&lines), ["Hello 世界!\n", "foo bar"]);
    }

    #[test]
    fn reader_thread_captures_lines() {
        let (tx, rx) = mpsc::channel();
        let buf = spawn_reader(
            Cursor::new(RAW_TEST_TEXT),
            Stream::Stdout,
            Instant::now(),
            MAX_STREAM_BYTES,
            tx,
        )
        .unwrap();
        assert_eq!(rx.recv().unwrap(), Stream::Stdout);
        let buf = lock(&buf);
        let lines = buf.lines(0..buf.data.len(), Stream::Stdout, encoding_rs::UTF_8);
        assert_eq!(texts(&lines), ["Hello 世界!\n", "foo bar"]);
    }

    #[test]
    fn invalid_bytes_are_replaced() {
        assert_eq!(decode(encoding_rs::UTF_8, b"a\xffb"), "a\u{fffd}b");
        let latin1 = Encoding::for_label(b"latin1").unwrap();
        assert_eq!(decode(latin1, b"caf\xe9"), "café");
    }

    #[test]
    fn lines_are_stamped_with_the_chunk_that_completes_them() {
        let mut buf = StreamBuf::new(MAX_STREAM_BYTES);
        buf.push(b"ab", Duration::from_millis(1));
        buf.push(b"c\nd\n", Duration::from_millis(2));
        let lines = buf.lines(0..6, Stream::Stderr, encoding_rs::UTF_8);
        assert_eq!(texts(&lines), ["abc\n", "d\n"]);
        assert_eq!(lines[0].time, Duration::from_millis(2));
    }

    #[test]
    fn chunks_within_the_resolution_share_one_entry() {
        let mut buf = StreamBuf::new(MAX_STREAM_BYTES);
        for i in 0..100 {
            buf.push(b"x", Duration::from_micros(i));
        }
        buf.push(b"\n", Duration::from_millis(5));
        assert_eq!(
            buf.chunks,
            [(100, Duration::ZERO), (101, Duration::from_millis(5))]
        );
    }

    #[test]
    fn output_beyond_the_limit_is_dropped_and_counted() {
        let mut buf = StreamBuf::new(4);
        buf.push(b"abc", Duration::ZERO);
        buf.push(b"defg", Duration::ZERO);
        assert_eq!(buf.data, b"abcd");
        assert_eq!(buf.dropped, 3);
    }

    #[test]
    fn decode_lines_matches_lines_and_decode() {
        let latin1 = Encoding::for_label(b"latin1").unwrap();
        let samples: [&[u8]; 5] = [
            RAW_TEST_TEXT,
            b"a\xffb\nc\xe4\n\xe4\xb8\nlast\xe4",
            b"",
            b"\n\n",
            b"caf\xe9\nx",
        ];
        for data in samples {
            let mut buf = StreamBuf::new(MAX_STREAM_BYTES);
            for (i, chunk) in data.chunks(3).enumerate() {
                buf.push(chunk, Duration::from_millis(2 * i as u64));
            }
            for enc in [encoding_rs::UTF_8, latin1] {
                for start in 0..=data.len() {
                    for end in start..=data.len() {
                        let mut lines = vec![CapturedLine {
                            time: Duration::ZERO,
                            stream: Stream::Stdin,
                            text: "kept".into(),
                        }];
                        let text = buf.decode_lines(start..end, Stream::Stderr, enc, &mut lines);
                        assert_eq!(text, decode(enc, &data[start..end]));
                        let expected = buf.lines(start..end, Stream::Stderr, enc);
                        assert_eq!(lines[0].text, "kept");
                        assert_eq!(lines[1..], expected[..], "{data:?} {start}..{end}");
                    }
                }
            }
        }
    }

    #[test]
    fn split_lines_keeps_a_last_line_without_newline() {
        let ranges: Vec<_> = split_lines(b"a\n\nb").collect();
        assert_eq!(ranges, [0..2, 2..3, 3..4]);
    }
}
