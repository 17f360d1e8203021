//! The result cache: a session whose inputs did not change is not run
//! again; the results it had are written back as if it had run.
//!
//! A session's key is a BLAKE3 hash over everything that can change what
//! it prints:
//!
//! - litprog's version;
//! - its checked options, all of them (`command`, `env`, `cwd`, `stderr`,
//!   `term`, `echo`, `encoding`, `marker`, `input_delay`, `timeout`,
//!   `output`, `expected_exit_code`, ...), and the build's default timeout
//!   when it sets none;
//! - the code of its blocks, with the path of the document of each (the
//!   driver gives interpreters the document's name; line numbers are left
//!   out, so that editing prose does not rerun anything);
//! - every group it `requires`, transitively: a session's options and
//!   code, an out_file's tangled content, a raw block's code;
//! - the content of every file matched by its `files:` globs (relative to
//!   the project root), and which files they match.
//!
//! Entries live in `<root>/.litprog/cache/<key>.entry`, one per key,
//! written atomically (a temporary file, then a rename: two builds at once
//! each write a whole entry, and a reader sees one whole entry or none),
//! and not synced to disk: an entry a crash loses or tears is a miss. Each
//! ends with a BLAKE3 checksum of the rest: an entry that is truncated,
//! edited, corrupt or unreadable is a miss, never an error. An entry holds
//! what the write-back needs, the result lines of each code block and the
//! outcome, not the engine's capture, in a text format that is written and
//! read in one pass (described at `write_entry`), so that a hit costs about the
//! memory of its lines.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::document::{Group, Project};
use crate::files;
use crate::lines::Lines;
use crate::options::Spec;
use crate::state::STATE_DIR;
use crate::tangle::TangledFile;

/// The cache's directory inside litprog's state directory (`.litprog/`).
pub const CACHE_DIR: &str = "cache";
/// The entry format's version, in each key and each entry: entries of an
/// older format are misses.
const FORMAT: u64 = 2;
/// The first word of every entry.
const MAGIC: &str = "litprog-cache-entry";
/// The start of an entry's last line, its checksum.
const SUM: &str = "blake3 ";

/// How a build uses the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Look results up, and store those of sessions that ran (default).
    #[default]
    Use,
    /// Run every session and store its results (`--no-cache`).
    Refresh,
    /// Neither look up nor store.
    Off,
}

/// A session's cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(blake3::Hash);

impl Key {
    /// 64 hex digits.
    pub fn hex(&self) -> String {
        self.0.to_hex().to_string()
    }
}

/// A session's results as stored: what the write-back needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    /// For each code block of the session, the lines of its result block
    /// (`None`: no result block), as [`crate::result_block::placements`] made them.
    pub lines: Vec<Option<Lines>>,
    /// The outcome as [`crate::runner::SessionReport::outcome`] said it.
    pub outcome: String,
    /// How long the run that was stored took.
    pub runtime: Duration,
}

/// The cache of one build.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    /// [`dir`] of `root`.
    dir: PathBuf,
    mode: CacheMode,
    /// Content hash of each out_file group's tangled file.
    tangled: HashMap<usize, blake3::Hash>,
    /// The first problem storing an entry, for the build's warnings.
    warning: Mutex<Option<String>>,
    /// [`BUILD_ID`], which the tests vary.
    build: &'static str,
}

/// The source this litprog is built from, by a hash of it (`build.rs`):
/// part of every key, so that a build of other code under the same
/// version number runs sessions again instead of showing what the other
/// code produced.
pub const BUILD_ID: &str = env!("LITPROG_BUILD_ID");

/// The cache's directory under `root`.
pub fn dir(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(CACHE_DIR)
}

/// What a key is hashed over: length-prefixed fields, so that no two
/// sequences of fields give the same bytes. Gathered in one buffer and
/// hashed once: a session's key has a dozen short fields, and each
/// `blake3::Hasher::update` costs more than its bytes.
#[derive(Default)]
struct KeyText(Vec<u8>);

impl KeyText {
    fn field(&mut self, tag: &str, bytes: &[u8]) {
        self.0.extend_from_slice(tag.as_bytes());
        self.0
            .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.0.extend_from_slice(bytes);
    }

    /// A field of `value`'s `Debug` text, formatted in place.
    fn debug_field(&mut self, tag: &str, value: &dyn std::fmt::Debug) {
        self.0.extend_from_slice(tag.as_bytes());
        let at = self.0.len();
        self.0.extend_from_slice(&[0; 8]);
        // Writing to a Vec cannot fail.
        let _ = write!(self.0, "{value:?}");
        let len = (self.0.len() - at - 8) as u64;
        self.0[at..at + 8].copy_from_slice(&len.to_le_bytes());
    }
}

impl Cache {
    /// The cache under `root` for a project whose out_files tangle to
    /// `outputs`.
    pub fn new(root: &Path, mode: CacheMode, outputs: &[TangledFile]) -> Cache {
        Cache {
            root: root.to_path_buf(),
            dir: dir(root),
            mode,
            tangled: outputs
                .iter()
                .map(|o| (o.group, blake3::hash(&o.contents)))
                .collect(),
            warning: Mutex::new(None),
            build: BUILD_ID,
        }
    }

    /// The key of session group `group`, hashed now (the `files:` as they
    /// are at this moment); `None` when its results are not cached (the
    /// build's mode is [`CacheMode::Off`], or `cache: false`).
    pub fn key(&self, project: &Project, group: usize, default_timeout: Duration) -> Option<Key> {
        let g = &project.groups[group];
        let Spec::Session(spec) = &g.spec else {
            return None;
        };
        if self.mode == CacheMode::Off || !spec.cache {
            return None;
        }
        let mut h = KeyText::default();
        h.field("format", &FORMAT.to_le_bytes());
        h.field("version", env!("CARGO_PKG_VERSION").as_bytes());
        h.field("build", self.build.as_bytes());
        let timeout = spec.timeout.unwrap_or(default_timeout);
        h.debug_field("timeout", &timeout);
        hash_group(&mut h, project, g, self);
        // What it requires, transitively, in a fixed order.
        let mut seen = BTreeSet::new();
        let mut todo = vec![group];
        while let Some(at) = todo.pop() {
            if let Spec::Session(s) = &project.groups[at].spec {
                for req in &s.requires {
                    for found in project.matching(req) {
                        if found != group && seen.insert(found) {
                            todo.push(found);
                        }
                    }
                }
            }
        }
        for &r in &seen {
            h.field("requires", project.groups[r].lpid.as_bytes());
            hash_group(&mut h, project, &project.groups[r], self);
        }
        for pattern in &spec.files {
            h.field("files", pattern.as_bytes());
            self.hash_files(&mut h, pattern);
        }
        Some(Key(blake3::hash(&h.0)))
    }

    /// Which files `pattern` matches under the root, and their content.
    fn hash_files(&self, h: &mut KeyText, pattern: &str) {
        let full = self.root.join(pattern);
        let Some(text) = full.to_str() else {
            h.field("unreadable", b"pattern");
            return;
        };
        let Ok(paths) = glob::glob(text) else {
            h.field("unreadable", b"pattern");
            return;
        };
        let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        matched.sort();
        for path in matched {
            let rel = path.strip_prefix(&self.root).unwrap_or(&path);
            h.field("path", rel.as_os_str().as_encoded_bytes());
            match fs::metadata(&path) {
                Ok(m) if m.is_dir() => h.field("dir", b""),
                _ => match fs::read(&path) {
                    Ok(bytes) => h.field("content", blake3::hash(&bytes).as_bytes()),
                    Err(e) => h.field("unreadable", format!("{:?}", e.kind()).as_bytes()),
                },
            }
        }
    }

    /// The stored results for `key` of a session with `blocks` code
    /// blocks; `None` on a miss (no entry, or one that cannot be trusted),
    /// and always with [`CacheMode::Refresh`].
    pub fn get(&self, key: &Key, blocks: usize) -> Option<Cached> {
        if self.mode != CacheMode::Use {
            return None;
        }
        let bytes = fs::read(self.entry(key)).ok()?;
        parse_entry(&bytes, key, blocks)
    }

    /// Store `cached` under `key`. A failure is kept as a warning (see
    /// [`Cache::take_warning`]); the build goes on.
    pub fn put(&self, key: &Key, cached: &Cached) {
        if self.mode == CacheMode::Off {
            return;
        }
        if let Err(e) = self.write(key, cached) {
            let mut warning = self.warning.lock().unwrap_or_else(|p| p.into_inner());
            warning.get_or_insert_with(|| {
                format!(
                    "cannot store session results in the cache ({e}); they will run again next time"
                )
            });
        }
    }

    fn write(&self, key: &Key, cached: &Cached) -> io::Result<()> {
        let dir = &self.dir;
        if fs::symlink_metadata(dir).is_err() {
            let state = self.root.join(STATE_DIR);
            fs::create_dir_all(dir)?;
            let ignore = state.join(".gitignore");
            if fs::symlink_metadata(&ignore).is_err() {
                files::write_atomic(&ignore, b"*\n")?;
            }
        }
        let entry = self.entry(key);
        if holds_already(&entry, key, cached) {
            return Ok(());
        }
        // A temporary file, then a rename: readers see a whole entry or
        // none. Not synced to disk: an entry lost or torn in a crash is a
        // miss (its checksum), and a sync per session would cost more than
        // many sessions take (docs/performance.md has the figures).
        let mut tmp = tempfile::Builder::new()
            .prefix(".entry-")
            .suffix(".tmp")
            .tempfile_in(dir)?;
        write_entry(tmp.as_file_mut(), key, cached)?;
        tmp.persist(entry).map_err(|e| e.error)?;
        Ok(())
    }

    /// The first problem met storing entries, once.
    pub fn take_warning(&self) -> Option<String> {
        self.warning
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn entry(&self, key: &Key) -> PathBuf {
        let mut name = String::with_capacity(70);
        name.push_str(key.0.to_hex().as_str());
        name.push_str(".entry");
        self.dir.join(name)
    }
}

/// Entries this size or smaller are read before one is stored under the
/// same key (a build with `--no-cache`), so that an unchanged one is left
/// as it is: renaming over an existing file makes ext4 start writing the
/// new one out at once (`auto_da_alloc`), which costs a small session more
/// than running it. Larger entries are rewritten unread.
const COMPARED: u64 = 64 << 10;

/// Does `path` hold a valid entry of `key` with `cached`'s results and
/// outcome (whatever its run time)?
fn holds_already(path: &Path, key: &Key, cached: &Cached) -> bool {
    if !fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= COMPARED) {
        return false;
    }
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    parse_entry(&bytes, key, cached.lines.len())
        .is_some_and(|old| old.lines == cached.lines && old.outcome == cached.outcome)
}

/// A group's options and code (a session, a raw block), or its tangled
/// content (an out_file).
fn hash_group(h: &mut KeyText, project: &Project, g: &Group, cache: &Cache) {
    h.field("lptype", g.lptype.as_str().as_bytes());
    match &g.spec {
        Spec::Session(spec) => h.debug_field("options", spec),
        Spec::OutFile(spec) => {
            h.field("filepath", spec.filepath.as_bytes());
            let index = project.group_index(&g.lpid);
            if let Some(content) = index.and_then(|i| cache.tangled.get(&i)) {
                h.field("tangled", content.as_bytes());
            }
            return;
        }
        Spec::RawBlock | Spec::Meta => {}
    }
    for &r in &g.blocks {
        let path = &project.documents[r.doc].path;
        h.field("block", path.as_os_str().as_encoded_bytes());
        h.field("code", project.block(r).code.as_bytes());
    }
}

/// Entry format 2, text that reads in one pass, each block's lines
/// straight into [`Lines`] (no tree of values in between, which for a
/// million short lines cost twenty times their bytes):
///
/// ```text
/// litprog-cache-entry 2
/// key <64 hex digits>
/// runtime_ms <n>
/// outcome <n bytes>
/// <the outcome>
/// blocks <n>
/// -                            a block without a result block, or:
/// lines <n bytes>              then the lines, each ended by \n
/// ...
/// blake3 <64 hex digits>       of every byte above this line
/// ```
///
/// The lines are [`Lines::as_text`], written and read back as they are.
/// The checksum comes last so that an entry is written in one pass; a
/// truncated entry has no valid last line.
fn write_entry(out: impl io::Write, key: &Key, cached: &Cached) -> io::Result<()> {
    // Buffered before the hasher, so that it hashes large pieces.
    let mut w = io::BufWriter::with_capacity(64 << 10, Hashing::new(out));
    write!(
        w,
        "{MAGIC} {FORMAT}\nkey {}\nruntime_ms {}\noutcome {}\n{}\nblocks {}\n",
        key.hex(),
        cached.runtime.as_millis() as u64,
        cached.outcome.len(),
        cached.outcome,
        cached.lines.len()
    )?;
    for block in &cached.lines {
        match block {
            None => w.write_all(b"-\n")?,
            Some(lines) => {
                writeln!(w, "lines {}", lines.as_text().len())?;
                w.write_all(lines.as_text().as_bytes())?;
            }
        }
    }
    let Hashing { mut inner, hasher } = w.into_inner().map_err(|e| e.into_error())?;
    writeln!(inner, "{SUM}{}", hasher.finalize().to_hex())?;
    inner.flush()
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: blake3::Hasher::new(),
        }
    }
}

impl<W: io::Write> io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An entry's bytes, read from the front.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// The next line, without its `\n`.
    fn line(&mut self) -> Option<&'a str> {
        let end = memchr::memchr(b'\n', self.rest)?;
        let line = std::str::from_utf8(&self.rest[..end]).ok()?;
        self.rest = &self.rest[end + 1..];
        Some(line)
    }

    /// The value of the next line, which must be `name value`.
    fn field(&mut self, name: &str) -> Option<&'a str> {
        self.line()?.strip_prefix(name)?.strip_prefix(' ')
    }

    fn number(&mut self, name: &str) -> Option<u64> {
        self.field(name)?.parse().ok()
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(taken)
    }
}

fn parse_entry(bytes: &[u8], key: &Key, blocks: usize) -> Option<Cached> {
    let body = bytes.strip_suffix(b"\n")?;
    let at = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
    let (payload, trailer) = bytes.split_at(at);
    let sum = std::str::from_utf8(&trailer[..trailer.len() - 1])
        .ok()?
        .strip_prefix(SUM)?;
    if blake3::hash(payload).to_hex().as_str() != sum {
        return None;
    }
    let mut r = Reader { rest: payload };
    if r.field(MAGIC)?.parse::<u64>().ok()? != FORMAT || r.field("key")? != key.0.to_hex().as_str()
    {
        return None;
    }
    let runtime = Duration::from_millis(r.number("runtime_ms")?);
    let outcome_len = usize::try_from(r.number("outcome")?).ok()?;
    let outcome = std::str::from_utf8(r.take(outcome_len)?).ok()?.to_string();
    if r.take(1)? != b"\n" || r.number("blocks")? != blocks as u64 {
        return None;
    }
    let mut lines = Vec::with_capacity(blocks);
    for _ in 0..blocks {
        let head = r.line()?;
        if head == "-" {
            lines.push(None);
            continue;
        }
        let len = head.strip_prefix("lines ")?.parse().ok()?;
        let text = std::str::from_utf8(r.take(len)?).ok()?;
        let block = Lines::from_text(text.to_string())?;
        lines.push(Some(block));
    }
    if !r.rest.is_empty() {
        return None;
    }
    Some(Cached {
        lines,
        outcome,
        runtime,
    })
}

/// Remove the cache under `root` (and nothing else); how many entries it
/// held.
pub fn clean(root: &Path) -> io::Result<usize> {
    let dir = dir(root);
    match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
        Ok(m) if !m.is_dir() => {
            fs::remove_file(&dir)?;
            Ok(0)
        }
        Ok(_) => {
            let entries = fs::read_dir(&dir)?
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                // `.json`: entries of format 1.
                .filter(|e| {
                    e.path()
                        .extension()
                        .is_some_and(|x| x == "entry" || x == "json")
                })
                .count();
            fs::remove_dir_all(&dir)?;
            Ok(entries)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cached {
        Cached {
            lines: vec![None, Some(["hi", "# exit: 0"].iter().collect())],
            outcome: "exit 0".into(),
            runtime: Duration::from_millis(12),
        }
    }

    #[test]
    fn a_build_of_other_source_has_other_keys() {
        let doc = crate::document::Document::parse(
            Path::new("t.md"),
            "```bash lpid=s lptype=session\necho hi\n```\n".into(),
        )
        .unwrap();
        let project = Project::new(vec![doc]).unwrap();
        let root = tempfile::tempdir().unwrap();
        let mut cache = Cache::new(root.path(), CacheMode::Use, &[]);
        let key = |c: &Cache| c.key(&project, 0, Duration::from_secs(30)).unwrap();
        let ours = key(&cache);
        assert_eq!(key(&cache), ours, "a key is the same every time");
        assert_eq!(BUILD_ID.len(), 16, "{BUILD_ID}");
        cache.build = "0000000000000000";
        assert_ne!(key(&cache), ours);
    }

    #[test]
    fn empty_blocks_blank_lines_and_any_text_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path(), CacheMode::Use, &[]);
        let key = Key(blake3::hash(b"k"));
        let cached = Cached {
            lines: vec![
                Some(Lines::new()),
                Some(
                    ["", "", "! héllo\r", "lines 3", "-", "blake3 x"]
                        .iter()
                        .collect(),
                ),
                None,
            ],
            outcome: "exit 0\nsecond line".into(),
            runtime: Duration::from_millis(0),
        };
        cache.put(&key, &cached);
        assert_eq!(cache.take_warning(), None);
        assert_eq!(cache.get(&key, 3), Some(cached));
    }

    #[test]
    fn an_unchanged_entry_is_left_as_it_is_and_a_changed_or_damaged_one_replaced() {
        use std::os::unix::fs::MetadataExt;
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path(), CacheMode::Refresh, &[]);
        let key = Key(blake3::hash(b"k"));
        let inode = || fs::metadata(cache.entry(&key)).unwrap().ino();
        cache.put(&key, &sample());
        let first = inode();
        // Another run time, the same results: not rewritten.
        let slower = Cached {
            runtime: Duration::from_secs(9),
            ..sample()
        };
        cache.put(&key, &slower);
        assert_eq!(inode(), first);
        // Other results: replaced.
        let mut other = sample();
        other.outcome = "exit 1".into();
        cache.put(&key, &other);
        let second = inode();
        assert_ne!(second, first);
        let use_it = Cache::new(root.path(), CacheMode::Use, &[]);
        assert_eq!(use_it.get(&key, 2), Some(other.clone()));
        // A damaged entry of the same results: replaced by a whole one.
        let mut bytes = fs::read(cache.entry(&key)).unwrap();
        bytes.truncate(bytes.len() - 2);
        fs::write(cache.entry(&key), &bytes).unwrap();
        cache.put(&key, &other);
        assert_eq!(use_it.get(&key, 2), Some(other.clone()));
        // A FIFO where the entry should be is not opened (it would block):
        // a new entry takes its place.
        fs::remove_file(cache.entry(&key)).unwrap();
        nix::unistd::mkfifo(&cache.entry(&key), nix::sys::stat::Mode::S_IRWXU).unwrap();
        cache.put(&key, &other);
        assert_eq!(use_it.get(&key, 2), Some(other));
        assert_eq!(cache.take_warning(), None);
    }

    #[test]
    fn entries_round_trip_and_damaged_ones_are_misses() {
        let root = tempfile::tempdir().unwrap();
        let cache = Cache::new(root.path(), CacheMode::Use, &[]);
        let key = Key(blake3::hash(b"k"));
        assert_eq!(cache.get(&key, 2), None);
        cache.put(&key, &sample());
        assert_eq!(cache.get(&key, 2), Some(sample()));
        assert_eq!(cache.get(&key, 3), None, "a different number of blocks");
        assert_eq!(
            fs::read_to_string(root.path().join(".litprog/.gitignore")).unwrap(),
            "*\n"
        );
        let path = cache.entry(&key);
        let good = fs::read(&path).unwrap();
        // Truncated at every length, one byte changed anywhere: a miss.
        for cut in 0..good.len() {
            fs::write(&path, &good[..cut]).unwrap();
            assert_eq!(cache.get(&key, 2), None, "cut at {cut}");
        }
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            fs::write(&path, &bad).unwrap();
            assert_eq!(cache.get(&key, 2), None, "byte {at} changed");
        }
        // An entry stored under another key, copied here: a miss.
        let other = Key(blake3::hash(b"other"));
        cache.put(&other, &sample());
        fs::copy(cache.entry(&other), &path).unwrap();
        assert_eq!(cache.get(&key, 2), None);
        // A directory where the entry should be: a miss.
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert_eq!(cache.get(&key, 2), None);
        let refresh = Cache::new(root.path(), CacheMode::Refresh, &[]);
        assert_eq!(refresh.get(&other, 2), None);
        assert_eq!(clean(root.path()).unwrap(), 1);
        assert!(!dir(root.path()).exists());
        assert!(root.path().join(".litprog/.gitignore").exists());
        assert_eq!(clean(root.path()).unwrap(), 0);
    }
}
