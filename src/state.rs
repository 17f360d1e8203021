//! What litprog last wrote: the state file `.litprog/state.json`.
//!
//! For every tangled file litprog wrote (or found already holding what it
//! would write), the file's path and a BLAKE3 hash of its content. A
//! tangled file whose content matches neither what the documents produce
//! now nor the recorded hash was changed by someone else (a hand edit, a
//! checkout), and is not overwritten without `--force`.
//!
//! The directory holds a `.gitignore` of `*`, so it is never committed. The
//! file is written atomically; one that cannot be read or parsed is taken as
//! empty (every tangled file then counts as not written by litprog), with a
//! warning. It is read and saved under an exclusive `flock` on
//! `.litprog/lock` held in between, so two builds at once do not lose each
//! other's records.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::files;

/// The directory of litprog's own files, in the project root.
pub const STATE_DIR: &str = ".litprog";
/// The state file's name inside [`STATE_DIR`].
pub const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";
const VERSION: u64 = 1;

/// The hash recorded for `contents`: `blake3:` and 64 hex digits.
pub fn hash(contents: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(contents).to_hex())
}

/// The recorded hashes, keyed by path (relative to the directory that holds
/// [`STATE_DIR`], or absolute for files outside it).
#[derive(Debug)]
pub struct State {
    dir: PathBuf,
    files: BTreeMap<String, String>,
    changed: bool,
    /// Held from reading to saving (`None` while there is no directory).
    lock: Option<fs::File>,
}

impl State {
    /// Lock and read the state under `root`. The second value is a warning
    /// when the state file existed but could not be used. Nothing is
    /// created until [`State::save`] has something to record.
    pub fn open(root: &Path) -> io::Result<(State, Option<String>)> {
        let dir = root.join(STATE_DIR);
        let mut state = State {
            dir,
            files: BTreeMap::new(),
            changed: false,
            lock: None,
        };
        if fs::symlink_metadata(&state.dir).is_err() {
            return Ok((state, None));
        }
        state.lock()?;
        let path = state.dir.join(STATE_FILE);
        let warning = match fs::read(&path) {
            Ok(bytes) => match parse(&bytes) {
                Some(files) => {
                    state.files = files;
                    None
                }
                None => Some(
                    "not a state file litprog can read; taken as empty, so every existing tangled file that differs from the documents counts as edited by hand".to_string(),
                ),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("cannot read it ({e}); taken as empty")),
        };
        Ok((state, warning))
    }

    /// Take the exclusive lock, creating the directory and its
    /// `.gitignore` if needed.
    fn lock(&mut self) -> io::Result<()> {
        if self.lock.is_some() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir)?;
        let ignore = self.dir.join(".gitignore");
        if fs::symlink_metadata(&ignore).is_err() {
            files::write_atomic(&ignore, b"*\n")?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(LOCK_FILE))?;
        // std's `File::lock` is `flock(LOCK_EX)` on Unix, released when the
        // file is closed (with `self`).
        file.lock()?;
        self.lock = Some(file);
        Ok(())
    }

    /// The hash recorded for `key`.
    pub fn recorded(&self, key: &str) -> Option<&str> {
        self.files.get(key).map(String::as_str)
    }

    /// Record that `key` now holds content with hash `hash`.
    pub fn record(&mut self, key: &str, hash: String) {
        if self.files.get(key) != Some(&hash) {
            self.files.insert(key.to_string(), hash);
            self.changed = true;
        }
    }

    /// Write the state file atomically if a record changed (creating
    /// [`STATE_DIR`] with a `.gitignore` of `*` the first time); the lock
    /// is released when `self` is dropped.
    pub fn save(&mut self) -> io::Result<()> {
        if !self.changed {
            return Ok(());
        }
        if self.lock.is_none() {
            // There was no state when it was read: keep what another
            // litprog recorded since.
            self.lock()?;
            if let Some(theirs) = fs::read(self.dir.join(STATE_FILE))
                .ok()
                .and_then(|b| parse(&b))
            {
                for (k, v) in theirs {
                    self.files.entry(k).or_insert(v);
                }
            }
        }
        let files: Map<String, Value> = self
            .files
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let text = serde_json::to_string_pretty(&json!({ "version": VERSION, "files": files }))
            .map_err(io::Error::other)?;
        files::write_atomic(&self.dir.join(STATE_FILE), (text + "\n").as_bytes())
    }
}

fn parse(bytes: &[u8]) -> Option<BTreeMap<String, String>> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    if value.get("version")?.as_u64()? != VERSION {
        return None;
    }
    value
        .get("files")?
        .as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_save_and_corrupt_files_read_as_empty() {
        let root = tempfile::tempdir().unwrap();
        {
            let (mut s, warning) = State::open(root.path()).unwrap();
            assert!(warning.is_none());
            assert!(!root.path().join(STATE_DIR).exists());
            s.record("out.txt", hash(b"x"));
            s.save().unwrap();
        }
        assert_eq!(
            fs::read_to_string(root.path().join(".litprog/.gitignore")).unwrap(),
            "*\n"
        );
        let (s, _) = State::open(root.path()).unwrap();
        assert_eq!(s.recorded("out.txt"), Some(hash(b"x").as_str()));
        drop(s);
        for bad in [
            &b"{"[..],
            b"[]",
            b"{\"version\": 9, \"files\": {}}",
            b"\xff\xfe",
            b"",
        ] {
            fs::write(root.path().join(".litprog/state.json"), bad).unwrap();
            let (s, warning) = State::open(root.path()).unwrap();
            assert!(warning.unwrap().contains("taken as empty"));
            assert_eq!(s.recorded("out.txt"), None);
        }
    }
}
