//! Reading one output stream of a child: a thread per stream that divides
//! the stream among the blocks *as it reads*, at the markers, keeping at most
//! a limit of bytes per block.
//!
//! Each stream gets its own thread from the moment the process starts, so the
//! child can never block on a full pipe while we are busy elsewhere (for
//! example writing its input). The thread reads big chunks and hands them to
//! a [`Splitter`], which searches them for the session's marker prefix
//! (memmem, no work per byte outside it), cuts the stream into one
//! [`Segment`] per block, notes each marker the moment it arrives in the
//! session's [`LastMarker`] (so the session knows when each block started,
//! for per-block timeouts), and drops
//! lines that contain the prefix without being a marker (an interpreter
//! tracing or echoing the marker statement).
//!
//! Markers never count against the limit: they are not kept at all. Bytes
//! beyond a block's limit are still read and searched for markers, then
//! dropped and counted, so the next block's output is unaffected.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Instant;

use encoding_rs::Encoding;
use memchr::memmem::Finder;

use super::Observer;
use super::capture::Stream;
use super::sys;

/// Default number of output bytes kept per block (16 MiB). Output beyond it
/// is still read, so the child never blocks, but dropped; the block's
/// capture then says how many bytes were dropped.
pub const MAX_STREAM_BYTES: usize = 16 << 20;

const CHUNK_SIZE: usize = 64 << 10;

/// The longest block index a marker may carry (digits of `u64::MAX`).
const MAX_INDEX_DIGITS: usize = 19;

/// The output of one block on one stream.
#[derive(Debug, Default)]
pub(crate) struct Segment {
    pub(crate) data: Vec<u8>,
    /// Bytes beyond the limit, read and dropped.
    pub(crate) dropped: u64,
}

/// What a session's threads report to it as they go. Markers are not
/// among them: the readers note the last one in the session's
/// [`LastMarker`], where the session looks when its wait for a block times
/// out, so a block's end costs no message and no wake-up.
#[derive(Debug)]
pub(crate) enum Event {
    /// A stream reached its end.
    Done,
    /// The leader exited (reaped at that time).
    Exit(std::process::ExitStatus, Instant),
}

/// Divides one stream among the blocks at the markers, as it arrives.
#[derive(Debug)]
pub(crate) struct Splitter {
    /// `__litprog_<hex>_`, or `None` when the stream is one unit.
    prefix: Option<Vec<u8>>,
    finder: Option<Finder<'static>>,
    limit: usize,
    /// One per block seen so far; the last is being filled.
    pub(crate) segments: Vec<Segment>,
    /// The first block whose marker was skipped while a later one arrived:
    /// it read input meant for the blocks after it.
    pub(crate) skipped: Option<usize>,
    /// Bytes not yet committed: they may be the start of a marker.
    work: Vec<u8>,
    /// Inside a line that contains the prefix without being a marker.
    in_noise: bool,
    /// Who is told each kept line, if anyone.
    watch: Option<Watch>,
}

/// The highest marker a session's readers have found, and when the first
/// of them found it: block `index + 1` has been running since then.
///
/// A lock of its own, never held while taking another: the session looks
/// here while a reader may hold its splitter's lock for as long as an
/// [`Observer`] takes (a progress display that waits on a slow terminal),
/// and that must not hold up a block's timeout.
#[derive(Debug, Default)]
pub(crate) struct LastMarker(Mutex<Option<(usize, Instant)>>);

impl LastMarker {
    /// Marker `index` was found now; an index already noted (the other
    /// stream's copy of it) or a lower one changes nothing.
    fn note(&self, index: usize) {
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|(noted, _)| index > noted) {
            *last = Some((index, Instant::now()));
        }
    }

    /// The highest marker found and when, if any.
    pub(crate) fn get(&self) -> Option<(usize, Instant)> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A session's [`Observer`] and how many of its blocks it was told of,
/// shared by the session's streams: with two, both carry every marker, and
/// the first to see one tells it.
#[derive(Clone)]
pub(crate) struct Started {
    observer: Arc<dyn Observer>,
    told: Arc<AtomicUsize>,
}

impl Started {
    /// `observer`, which was told block 0.
    pub(crate) fn new(observer: Arc<dyn Observer>) -> Self {
        Started {
            observer,
            told: Arc::new(AtomicUsize::new(1)),
        }
    }

    /// Tells that block `index` started, unless another stream did.
    fn block(&self, index: usize) {
        if self.told.fetch_max(index + 1, Ordering::Relaxed) <= index {
            self.observer.block_started(index);
        }
    }
}

/// A [`Started`] told the lines of a stream as they are kept.
struct Watch {
    started: Started,
    stream: Stream,
    /// Bytes of the current block's kept output already told: always at a
    /// line boundary, so the lines told are read back from the segment
    /// itself and nothing is buffered for them.
    told: usize,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("stream", &self.stream)
            .field("told", &self.told)
            .finish()
    }
}

impl Watch {
    /// Tells the complete lines of `seg` not told yet; with `end` (the
    /// block is over) its unfinished last line too, unless output was
    /// dropped, which cut it.
    fn tell(&mut self, seg: &Segment, end: bool) {
        let new = &seg.data[self.told..];
        let upto = if end && seg.dropped == 0 {
            new.len()
        } else {
            memchr::memrchr(b'\n', new).map_or(0, |i| i + 1)
        };
        for line in split_lines(&new[..upto]) {
            self.started.observer.output_line(self.stream, &new[line]);
        }
        self.told += upto;
    }
}

impl Splitter {
    pub(crate) fn new(prefix: Option<&str>, limit: usize) -> Self {
        Splitter {
            finder: prefix.map(|p| Finder::new(p.as_bytes()).into_owned()),
            prefix: prefix.map(|p| p.as_bytes().to_vec()),
            limit,
            segments: vec![Segment::default()],
            skipped: None,
            work: Vec::new(),
            in_noise: false,
            watch: None,
        }
    }

    /// The splitter, telling `started`'s observer the lines of `stream` as
    /// they are kept, and the blocks as their markers arrive.
    pub(crate) fn observed(mut self, started: &Option<Started>, stream: Stream) -> Self {
        self.watch = started.as_ref().map(|started| Watch {
            started: started.clone(),
            stream,
            told: 0,
        });
        self
    }

    /// Starts the next block's segment, telling the current one's last line
    /// and then the new block.
    fn next_segment(&mut self) {
        self.segments.push(Segment::default());
        if let Some(watch) = &mut self.watch {
            let n = self.segments.len();
            watch.tell(&self.segments[n - 2], true);
            watch.told = 0;
            watch.started.block(n - 1);
        }
    }

    /// How many markers arrived (the index of the block being filled).
    pub(crate) fn markers_seen(&self) -> usize {
        self.segments.len() - 1
    }

    /// Appends `bytes` to the current block, up to the limit.
    fn commit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let seg = self.segments.last_mut().expect("one segment at least");
        let room = self.limit.saturating_sub(seg.data.len());
        let kept = bytes.len().min(room);
        seg.data.extend_from_slice(&bytes[..kept]);
        seg.dropped += (bytes.len() - kept) as u64;
        if let Some(watch) = &mut self.watch {
            watch.tell(seg, false);
        }
    }

    /// Removes the current block's unfinished last line (a noise line that
    /// started before the prefix was seen).
    fn drop_partial_line(&mut self) {
        let seg = self.segments.last_mut().expect("one segment at least");
        let keep = memchr::memrchr(b'\n', &seg.data).map_or(0, |i| i + 1);
        seg.data.truncate(keep);
    }

    /// Feeds `bytes`; `end` says the stream is over (nothing is held back).
    /// `on_marker` is called with each marker's index as it is recognised.
    pub(crate) fn push(&mut self, bytes: &[u8], end: bool, on_marker: &mut impl FnMut(usize)) {
        match (self.prefix.take(), self.finder.take()) {
            (Some(prefix), Some(finder)) => {
                self.split(bytes, end, on_marker, &prefix, &finder);
                self.prefix = Some(prefix);
                self.finder = Some(finder);
            }
            _ => self.commit(bytes),
        }
        if end && let Some(watch) = &mut self.watch {
            watch.tell(self.segments.last().expect("one segment at least"), true);
        }
    }

    fn split(
        &mut self,
        bytes: &[u8],
        end: bool,
        on_marker: &mut impl FnMut(usize),
        prefix: &[u8],
        finder: &Finder<'_>,
    ) {
        let mut work = std::mem::take(&mut self.work);
        work.extend_from_slice(bytes);
        let len = work.len();
        let mut pos = 0;
        while pos < len {
            if self.in_noise {
                match memchr::memchr(b'\n', &work[pos..]) {
                    Some(i) => {
                        pos += i + 1;
                        self.in_noise = false;
                        continue;
                    }
                    None => {
                        pos = len;
                        break;
                    }
                }
            }
            let Some(off) = finder.find(&work[pos..]) else {
                // Hold back a tail that could be the start of the prefix.
                let hold = if end {
                    0
                } else {
                    partial_prefix(&work[pos..], prefix)
                };
                self.commit(&work[pos..len - hold]);
                pos = len - hold;
                break;
            };
            let start = pos + off;
            self.commit(&work[pos..start]);
            pos = start;
            match parse_marker(&work[start + prefix.len()..], end) {
                Parsed::Incomplete => break,
                Parsed::Marker { index, len: n } => {
                    pos = start + prefix.len() + n;
                    let current = self.markers_seen();
                    if index >= current {
                        if index > current {
                            self.skipped.get_or_insert(current);
                        }
                        for _ in current..=index {
                            self.next_segment();
                        }
                        on_marker(index);
                    } else {
                        // An old marker again: not a boundary, drop its line.
                        self.drop_partial_line();
                        self.in_noise = true;
                        pos = start + prefix.len();
                    }
                }
                Parsed::Noise => {
                    self.drop_partial_line();
                    self.in_noise = true;
                    pos = start + prefix.len();
                }
            }
        }
        work.drain(..pos);
        if end {
            let rest = std::mem::take(&mut work);
            if !self.in_noise {
                self.commit(&rest);
            }
        }
        self.work = work;
    }

    /// Ends the stream: whatever was held back is committed.
    pub(crate) fn finish(&mut self) {
        self.push(&[], true, &mut |_| {});
        for seg in &mut self.segments {
            seg.data.shrink_to_fit();
        }
    }
}

enum Parsed {
    /// The bytes after the prefix end before it is known what they are.
    Incomplete,
    /// A marker: its index and the length of `<index>__` and its newline.
    Marker { index: usize, len: usize },
    /// The prefix without a marker's tail.
    Noise,
}

/// What follows a prefix: `<digits>__`, then an optional `\r\n` or `\n`.
fn parse_marker(rest: &[u8], end: bool) -> Parsed {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == rest.len() && !end && digits <= MAX_INDEX_DIGITS {
        return Parsed::Incomplete;
    }
    if digits == 0 || digits > MAX_INDEX_DIGITS {
        return Parsed::Noise;
    }
    let tail = &rest[digits..];
    if tail.len() < 2 && !end && b"__".starts_with(tail) {
        return Parsed::Incomplete;
    }
    if !tail.starts_with(b"__") {
        return Parsed::Noise;
    }
    let Ok(index) = std::str::from_utf8(&rest[..digits])
        .unwrap_or("")
        .parse::<usize>()
    else {
        return Parsed::Noise;
    };
    let after = &tail[2..];
    let newline = match after {
        [] | [b'\r'] if !end => return Parsed::Incomplete,
        [b'\r', b'\n', ..] => 2,
        [b'\n', ..] => 1,
        _ => 0,
    };
    Parsed::Marker {
        index,
        len: digits + 2 + newline,
    }
}

/// The length of the longest proper start of `prefix` that `data` ends with.
fn partial_prefix(data: &[u8], prefix: &[u8]) -> usize {
    let max = (prefix.len() - 1).min(data.len());
    (1..=max)
        .rev()
        .find(|&k| data.ends_with(&prefix[..k]))
        .unwrap_or(0)
}

/// Byte ranges of the lines of `data`, each including its `\n`; a last line
/// without `\n` is kept as is.
pub(crate) fn split_lines(data: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
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
/// Valid UTF-8, the usual case, is taken over without a copy.
pub(crate) fn decode(encoding: &'static Encoding, bytes: Vec<u8>) -> String {
    if encoding == encoding_rs::UTF_8 {
        match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        }
    } else {
        encoding.decode_without_bom_handling(&bytes).0.into_owned()
    }
}

/// Locks a splitter, accepting a poisoned lock: the data is plain bytes and
/// stays usable even if a reader panicked mid-push.
pub(crate) fn lock(buf: &Mutex<Splitter>) -> MutexGuard<'_, Splitter> {
    buf.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts a thread that reads `source` to its end into a shared splitter,
/// noting each marker in `last` as it finds it, and reporting the end on
/// `events`.
///
/// The splitter is shared rather than returned from the thread so that the
/// session can take what was read even when the thread never ends: a process
/// that escaped the process group may keep the pipe open forever, and the
/// session must not hang on it.
pub(crate) fn spawn_reader<R: Read + Send + 'static>(
    mut source: R,
    stream: Stream,
    splitter: Splitter,
    events: Sender<Event>,
    last: Arc<LastMarker>,
) -> io::Result<Arc<Mutex<Splitter>>> {
    let buf = Arc::new(Mutex::new(splitter));
    let shared = Arc::clone(&buf);
    thread::Builder::new()
        .name(format!("litprog-{stream:?}").to_lowercase())
        .spawn(move || {
            let mut chunk = vec![0u8; CHUNK_SIZE];
            let push = |bytes: &[u8], end: bool| {
                lock(&shared).push(bytes, end, &mut |i| last.note(i));
            };
            loop {
                match source.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => push(&chunk[..n], false),
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) if sys::is_end_of_output(&err) => break,
                    Err(err) => {
                        log::warn!("reading {stream:?} failed: {err}");
                        break;
                    }
                }
            }
            push(&[], true);
            // The receiver may be gone if the session gave up on us.
            let _ = events.send(Event::Done);
        })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "__litprog_0123456789abcdef_";

    fn split(chunks: &[&[u8]], limit: usize) -> (Vec<String>, Vec<usize>, Option<usize>) {
        let mut s = Splitter::new(Some(P), limit);
        let mut seen = Vec::new();
        for c in chunks {
            s.push(c, false, &mut |i| seen.push(i));
        }
        s.finish();
        let texts = s
            .segments
            .iter()
            .map(|seg| String::from_utf8_lossy(&seg.data).into_owned())
            .collect();
        (texts, seen, s.skipped)
    }

    #[test]
    fn splits_at_markers_in_any_chunking() {
        let data = format!("a\n{P}0__\nok2{P}1__\r\nc\n+ printf {P} 1__\nd");
        let bytes = data.as_bytes();
        for cut in 0..=bytes.len() {
            for cut2 in cut..=bytes.len() {
                let (texts, seen, skipped) =
                    split(&[&bytes[..cut], &bytes[cut..cut2], &bytes[cut2..]], 100);
                assert_eq!(texts, ["a\n", "ok2", "c\nd"], "{cut} {cut2}");
                assert_eq!(seen, [0, 1]);
                assert_eq!(skipped, None);
            }
        }
    }

    #[test]
    fn a_skipped_marker_names_the_block_that_read_it() {
        let data = format!("a\n{P}0__\nb\nc\n{P}2__\nd\n");
        let (texts, seen, skipped) = split(&[data.as_bytes()], 100);
        assert_eq!(texts, ["a\n", "b\nc\n", "", "d\n"]);
        assert_eq!(seen, [0, 2]);
        assert_eq!(skipped, Some(1));
    }

    #[test]
    fn the_limit_is_per_block_and_markers_do_not_count() {
        let data = format!("{}{P}0__\nshort\n{P}1__\n{P}2__\n", "x".repeat(50));
        let mut s = Splitter::new(Some(P), 10);
        s.push(data.as_bytes(), false, &mut |_| {});
        s.finish();
        let kept: Vec<_> = s.segments.iter().map(|g| g.data.len()).collect();
        let dropped: Vec<_> = s.segments.iter().map(|g| g.dropped).collect();
        assert_eq!(kept, [10, 6, 0, 0]);
        assert_eq!(dropped, [40, 0, 0, 0]);
    }

    /// What an observer of one stream hears, as `b<index>` and the lines.
    #[derive(Default)]
    struct Heard(Mutex<Vec<String>>);

    impl Observer for Heard {
        fn block_started(&self, index: usize) {
            self.0.lock().unwrap().push(format!("b{index}"));
        }
        fn output_line(&self, _: Stream, line: &[u8]) {
            self.0
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(line).into_owned());
        }
    }

    fn heard(chunks: &[&[u8]], limit: usize) -> Vec<String> {
        let heard = Arc::new(Heard::default());
        let started = Some(Started::new(heard.clone()));
        let mut s = Splitter::new(Some(P), limit).observed(&started, Stream::Stdout);
        for c in chunks {
            s.push(c, false, &mut |_| {});
        }
        s.finish();
        heard.0.lock().unwrap().clone()
    }

    #[test]
    fn lines_are_told_whole_and_in_order_in_any_chunking() {
        let data = format!("a\nbb\n{P}0__\nok2{P}1__\r\nc\n+ printf {P} 1__\nd");
        let bytes = data.as_bytes();
        for cut in 0..=bytes.len() {
            let told = heard(&[&bytes[..cut], &bytes[cut..]], 100);
            assert_eq!(
                told,
                ["a\n", "bb\n", "b1", "ok2", "b2", "c\n", "d"],
                "{cut}"
            );
        }
    }

    #[test]
    fn output_beyond_the_limit_is_not_told() {
        let data = format!("1234\n6789 and more\n{P}0__\nnext\n");
        assert_eq!(heard(&[data.as_bytes()], 8), ["1234\n", "b1", "next\n"]);
    }

    #[test]
    fn a_skipped_marker_tells_each_block() {
        let data = format!("{P}1__\nx\n");
        assert_eq!(heard(&[data.as_bytes()], 100), ["b1", "b2", "x\n"]);
    }

    #[test]
    fn a_prefix_cut_at_the_end_of_the_stream_is_output() {
        let (texts, _, _) = split(&[b"x__litprog_0123"], 100);
        assert_eq!(texts, ["x__litprog_0123"]);
    }

    #[test]
    fn invalid_bytes_are_replaced() {
        assert_eq!(decode(encoding_rs::UTF_8, b"a\xffb".to_vec()), "a\u{fffd}b");
        let latin1 = Encoding::for_label(b"latin1").unwrap();
        assert_eq!(decode(latin1, b"caf\xe9".to_vec()), "café");
    }

    #[test]
    fn split_lines_keeps_a_last_line_without_newline() {
        let ranges: Vec<_> = split_lines(b"a\n\nb").collect();
        assert_eq!(ranges, [0..2, 2..3, 3..4]);
    }
}
