//! File system edges: finding Markdown files, reading them as UTF-8, and
//! writing files atomically.

use std::fs;
use std::io::{self, Write};
use std::num::NonZero;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

use crate::config::Config;
use crate::document::{Document, Project};
use crate::error::{Diagnostic, Diagnostics, Kind};

/// Is `path` a Markdown file by its extension?
fn is_markdown(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("md" | "markdown")
    )
}

/// Strip a leading `./` so paths print as users write them.
fn tidy(path: PathBuf) -> PathBuf {
    match path.strip_prefix(".") {
        Ok(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => path,
    }
}

/// What directory walks leave out besides the ignore files: the
/// project's `include` and `exclude` globs (gitignore-style, relative to
/// the root, which is the current directory).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Option<ignore::gitignore::Gitignore>,
    exclude: Option<ignore::gitignore::Gitignore>,
}

impl Filter {
    /// A filter from gitignore-style globs; `include` empty means every
    /// Markdown file. The globs were checked when the settings were read;
    /// one that does not build is an error naming it.
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filter, String> {
        let build = |globs: &[String]| -> Result<Option<ignore::gitignore::Gitignore>, String> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut b = ignore::gitignore::GitignoreBuilder::new(".");
            for g in globs {
                b.add_line(None, g)
                    .map_err(|e| format!("invalid glob '{g}': {e}"))?;
            }
            b.build().map(Some).map_err(|e| e.to_string())
        };
        Ok(Filter {
            include: build(include)?,
            exclude: build(exclude)?,
        })
    }

    fn excluded(&self, path: &Path, is_dir: bool) -> bool {
        path.is_relative()
            && self
                .exclude
                .as_ref()
                .is_some_and(|g| g.matched(path, is_dir).is_ignore())
    }

    fn included(&self, path: &Path) -> bool {
        match &self.include {
            Some(g) if path.is_relative() => g.matched_path_or_any_parents(path, false).is_ignore(),
            _ => true,
        }
    }
}

/// The Markdown files under `paths`, sorted by path. Files are taken as
/// given; directories are searched recursively as ripgrep would: skipping
/// hidden files and directories and what `.gitignore`, `.ignore` and
/// `.git/info/exclude` files leave out (in the directory and above it, in
/// a git repository or not), and always `target/` and `node_modules/`. No
/// paths means the current directory.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostics> {
    discover_with(paths, &Filter::default())
}

/// [`discover`], leaving out what `filter` excludes too. A directory below
/// the first that holds a `litprog.toml` of its own is another project and
/// is not searched.
pub fn discover_with(paths: &[PathBuf], filter: &Filter) -> Result<Vec<PathBuf>, Diagnostics> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let before = found.len();
                if let Err(e) = walk(path, filter, &mut found) {
                    errors.push(Diagnostic::io(path, 0, "cannot read directory", e));
                } else if found.len() == before {
                    errors.push(Diagnostic::new(
                        Kind::Usage,
                        path,
                        0,
                        "no Markdown files (.md, .markdown) here",
                    ));
                }
            }
            Ok(_) => found.push(tidy(path.clone())),
            Err(e) => errors.push(Diagnostic::named(path, "cannot read", e)),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, filter: &Filter, found: &mut Vec<PathBuf>) -> io::Result<()> {
    let walker = ignore::WalkBuilder::new(dir)
        .hidden(true)
        .ignore(true)
        .git_ignore(true)
        .git_exclude(true)
        // A user's global excludes file differs between machines; the same
        // checkout must find the same documents everywhere.
        .git_global(false)
        .require_git(false)
        .parents(true)
        .follow_links(false)
        .filter_entry({
            let filter = filter.clone();
            move |entry| {
                if entry.depth() == 0 {
                    return true;
                }
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                let path = tidy(entry.path().to_path_buf());
                if is_dir {
                    let name = entry.file_name();
                    if name == "target"
                        || name == "node_modules"
                        || entry.path().join(crate::config::CONFIG_FILE).is_file()
                    {
                        return false;
                    }
                }
                !filter.excluded(&path, is_dir)
            }
        })
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            // A line of an ignore file that is not a valid glob: the
            // file's other lines still apply.
            Err(e) if e.io_error().is_none() => {
                log::warn!("{e}");
                continue;
            }
            Err(e) => {
                return Err(e
                    .into_io_error()
                    .unwrap_or_else(|| io::Error::other("walk")));
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let path = tidy(entry.path().to_path_buf());
        let kind = entry.file_type();
        let is_file = kind.is_some_and(|t| t.is_file())
            || kind.is_some_and(|t| t.is_symlink()) && path.is_file();
        if is_file && is_markdown(&path) && filter.included(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// Read a document as UTF-8; anything else is an error naming the file.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let bytes = fs::read(path).map_err(|e| Diagnostic::io(path, 0, "cannot read", e))?;
    decode(path, bytes)
}

/// The text of a file's bytes, or the error naming where it is not UTF-8.
fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        Diagnostic::new(
            Kind::Syntax,
            path,
            line,
            format!("not valid UTF-8 (byte {at})"),
        )
    })
}

/// One file of [`load`], read and parsed.
enum Loaded {
    Document(Document),
    /// Not UTF-8: an error if the file was named, skipped if it was found
    /// in a directory.
    NotText(Diagnostic),
    Invalid(Diagnostics),
}

/// Discover, read and parse every document under `paths`, and group them.
///
/// A file found by scanning a directory that is not UTF-8 (a Latin-1
/// note, a UTF-16 export) is skipped with a warning naming it; one named
/// in `paths` is an error.
///
/// Documents are read and parsed on all cores (parsing is CPU-bound); the
/// documents and the errors come out in the order of the paths all the same.
pub fn load(paths: &[PathBuf]) -> Result<Project, Diagnostics> {
    load_files(discover(paths)?, paths, &crate::config::Defaults::default())
}

/// The documents of a project and which of them a run selects.
#[derive(Debug)]
pub struct LoadedProject {
    /// Every document of the project, grouped.
    pub project: Project,
    /// For each of [`Project::documents`]: is it under a PATH of the run
    /// (every document is, without PATHs)?
    pub selected: Vec<bool>,
}

/// Load every document of the project rooted at the current directory
/// (the Markdown files under it that `config` and the ignore files leave
/// in), and those under `paths` wherever they are; the documents under
/// `paths` (all, without any) are the selected ones. `requires` and
/// `inputs` resolve across all of them.
pub fn load_project(paths: &[PathBuf], config: &Config) -> Result<LoadedProject, Diagnostics> {
    let config_path = config
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::config::CONFIG_FILE));
    let filter = Filter::new(&config.include, &config.exclude)
        .map_err(|e| Diagnostic::new(Kind::InvalidValue, &config_path, 0, e))?;
    let selected = discover_with(paths, &filter)?;
    let mut all = selected.clone();
    if !paths.is_empty() {
        walk(Path::new("."), &filter, &mut all)
            .map_err(|e| Diagnostic::io(Path::new("."), 0, "cannot read directory", e))?;
        all.sort();
        all.dedup();
    }
    let project = load_files(all, paths, &config.defaults)?;
    // A document found under the very name it was selected by is selected;
    // only the others (named through a link, `sub/../doc.md`) need their
    // real paths, two system calls or more each.
    let named: std::collections::HashSet<&Path> = selected.iter().map(PathBuf::as_path).collect();
    let identity = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut chosen: Option<std::collections::HashSet<PathBuf>> = None;
    let selected = project
        .documents
        .iter()
        .map(|d| {
            named.contains(d.path.as_path())
                || chosen
                    .get_or_insert_with(|| selected.iter().map(|p| identity(p)).collect())
                    .contains(&identity(&d.path))
        })
        .collect();
    Ok(LoadedProject { project, selected })
}

/// Read, parse and group `files`; `paths` are the PATHs the user named.
fn load_files(
    files: Vec<PathBuf>,
    paths: &[PathBuf],
    defaults: &crate::config::Defaults,
) -> Result<Project, Diagnostics> {
    let files = once_each(files);
    let named: Vec<PathBuf> = paths
        .iter()
        .filter(|p| !p.is_dir())
        .map(|p| tidy(p.clone()))
        .collect();
    let parsed = map_parallel(&files, |path| match fs::read(path) {
        Err(e) => Loaded::Invalid(Diagnostic::io(path, 0, "cannot read", e).into()),
        Ok(bytes) => match decode(path, bytes) {
            Err(e) => Loaded::NotText(e),
            Ok(text) => match Document::parse(path, text) {
                Ok(doc) => Loaded::Document(doc),
                Err(e) => Loaded::Invalid(e),
            },
        },
    });
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    for (path, result) in files.iter().zip(parsed) {
        match result {
            Loaded::Document(doc) => documents.push(doc),
            Loaded::NotText(e) if !named.contains(path) => skipped.push(Diagnostic {
                message: format!(
                    "{}; skipped (name the file to make this an error)",
                    e.message
                ),
                ..e
            }),
            Loaded::NotText(e) => errors.push(e),
            Loaded::Invalid(e) => errors.extend(e.0),
        }
    }
    if !errors.is_empty() {
        // The other documents' problems are reported in the same run.
        if let Err(more) = Project::with_defaults(documents, defaults) {
            errors.extend(more.0);
        }
        return Err(Diagnostics(errors));
    }
    let mut project = group(documents, defaults)?;
    project.warnings.splice(0..0, skipped);
    Ok(project)
}

/// [`Project::with_defaults`], reporting every document problem in one
/// run: when a group's options are wrong, what planning finds too
/// (unknown lpids in `requires`, cycles, values the OS cannot take) and
/// what tangling finds (unknown or cyclic inputs, bad targets), which would
/// otherwise only be seen once those are fixed. Targets outside the
/// project root depend on `--allow-outside`, which only the build knows:
/// those come once the others are fixed.
pub fn group(
    documents: Vec<Document>,
    defaults: &crate::config::Defaults,
) -> Result<Project, Diagnostics> {
    let (project, mut errors) = Project::grouped(documents, defaults);
    if !errors.is_empty() {
        if let Err(more) = crate::plan::Plan::new(&project) {
            errors.extend(more.0);
        }
        if let Err(more) = crate::tangle::tangle(&project, true) {
            errors.extend(more.0);
        }
    }
    project.checked(errors)
}

/// `f` of every item, in the items' order, computed on up to
/// `available_parallelism()` threads (the caller's among them).
///
/// Items are handed out one at a time from a shared counter, so one big
/// file does not hold up a thread's share of small ones. A helper thread
/// that cannot be started leaves its share to the others; a panic in `f`
/// is passed on to the caller.
fn map_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    // Asked only when there is a choice: reading the CPU quota takes a
    // dozen system calls.
    let threads = match items.len() {
        0 | 1 => 1,
        n => thread::available_parallelism()
            .map_or(1, NonZero::get)
            .min(n),
    };
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    // Relaxed is enough: the counter only has to hand out each index once;
    // the results come back through `join`.
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut done: Vec<(usize, R)> = thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| {
                thread::Builder::new()
                    .name("litprog-parse".into())
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut done = work();
        for helper in helpers {
            done.extend(
                helper
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
        }
        done
    });
    done.sort_unstable_by_key(|&(i, _)| i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// What [`replace_if_unchanged`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// The file held the expected bytes and now holds the new ones.
    Written,
    /// The file no longer held the expected bytes; it was left alone.
    Changed,
    /// The caller no longer wanted the write (the build was interrupted);
    /// the file was left alone.
    Abandoned,
}

/// Replace `path` by `new` only if it still holds `expected`.
///
/// The comparison and the rename happen under an exclusive `flock` on the
/// file, so two litprog processes rewriting the same document serialise:
/// the second sees the first one's text, reports [`Replaced::Changed`], and
/// never overwrites it. (Editors do not take the lock; for them the window
/// is the few microseconds between the comparison and the rename.)
///
/// Once the lock is held and the file is found unchanged, `proceed` decides,
/// under [`hold_writes`], whether to write after all, and `written` is
/// called under it once the file is replaced: a process exiting at once
/// after taking [`hold_writes`] has either not written the file or has
/// recorded that it did.
pub fn replace_if_unchanged(
    path: &Path,
    expected: &[u8],
    new: &[u8],
    proceed: impl FnOnce() -> bool,
    written: impl FnOnce(),
) -> io::Result<Replaced> {
    // Held until `file` is closed, when this returns.
    let file = fs::File::open(path)?;
    file.lock()?;
    if fs::read(path)? != expected {
        return Ok(Replaced::Changed);
    }
    let _writing = hold_writes();
    if !proceed() {
        return Ok(Replaced::Abandoned);
    }
    write_atomic_holding(path, new, 0o666)?;
    written();
    Ok(Replaced::Written)
}

/// Held while a file is being replaced (from its temporary file's creation
/// to the rename): see [`hold_writes`].
static WRITING: Mutex<()> = Mutex::new(());

/// Waits until no file is being written and keeps any new write from
/// starting while the guard lives. A process that must exit at once (a
/// second Ctrl-C) takes it first, so that it never leaves a temporary file
/// behind or exits between writing one and renaming it.
pub fn hold_writes() -> MutexGuard<'static, ()> {
    WRITING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Write `contents` to `path` atomically, as a new file would be created
/// (mode `0o666` less the umask) or keeping an existing file's mode, owner
/// and group. See [`write_atomic_mode`].
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_mode(path, contents, 0o666)
}

/// Write `contents` to `path` atomically: a temporary file in the same
/// directory, then a rename, so readers see the old or the new file, never
/// half of one.
///
/// - A symbolic link at `path` is written through: the link stays, the file
///   it leads to gets the content (a dangling link is an error).
/// - A new file gets `new_mode` less the umask, as `open(2)` gives it.
/// - An existing file keeps its mode, owner and group. Giving the new file
///   the old one's owner needs root: when litprog runs as root and cannot,
///   nothing is written and the error says so; run by another user (who can
///   write the file through its group or other bits), the file keeps its
///   group where that user belongs to it, and becomes theirs, as with any
///   editor that saves by renaming.
pub fn write_atomic_mode(path: &Path, contents: &[u8], new_mode: u32) -> io::Result<()> {
    let _writing = hold_writes();
    write_atomic_holding(path, contents, new_mode)
}

/// [`write_atomic_mode`] for a caller that holds [`hold_writes`].
fn write_atomic_holding(path: &Path, contents: &[u8], new_mode: u32) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let target = resolve_link(path)?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".litprog-")
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(new_mode))
        .tempfile_in(dir)?;
    tmp.write_all(contents)?;
    match fs::metadata(&target) {
        Ok(old) => {
            let file = tmp.as_file();
            let ours = file.metadata()?;
            if (ours.uid(), ours.gid()) != (old.uid(), old.gid()) {
                keep_owner(file, &ours, &old).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!(
                            "cannot give the new file the owner {}:{} of the old one ({e}); it was left as it was",
                            old.uid(),
                            old.gid()
                        ),
                    )
                })?;
            }
            // After the owner: chown may clear set-user-ID bits.
            file.set_permissions(fs::Permissions::from_mode(old.mode() & 0o7777))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// Give `file` (created by this process, `ours`) the owner and group of
/// `old`. Root must succeed; anyone else keeps the group if they can.
fn keep_owner(file: &fs::File, ours: &fs::Metadata, old: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, fchown};
    match fchown(file, Some(old.uid()), Some(old.gid())) {
        Ok(()) => Ok(()),
        // Only root may give a file away. Root that cannot (an ID the
        // file system or user namespace does not map) must not silently
        // take the file over; an ordinary user renaming over a file they
        // may write is what every editor does.
        Err(e) if ours.uid() != 0 && e.raw_os_error() == Some(nix::libc::EPERM) => {
            if ours.gid() != old.gid() {
                let _ = fchown(file, None, Some(old.gid()));
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Where writing to `path` lands: `path` itself, or the file a symbolic
/// link at `path` leads to (through any chain of links).
pub fn resolve_link(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "{} is a symbolic link that leads nowhere ({e})",
                    path.display()
                ),
            )
        }),
        _ => Ok(path.to_path_buf()),
    }
}

/// The content of `path` if it is a regular file, `None` if there is
/// nothing there. Anything else (a FIFO, socket, device or directory) is
/// an error, found without blocking: the file is opened non-blocking and
/// checked before it is read.
pub fn read_regular(path: &Path) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, not a regular file",
                path.display(),
                kind_of(&meta)
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// What kind of file `meta` describes, for messages ("a FIFO").
pub fn kind_of(meta: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Real paths (`fs::canonicalize`) of many paths relative to one real
/// directory, found with one `lstat` for each file and for each directory
/// met once, where `realpath` takes a `readlink` for every component of
/// every path, and a `getcwd`. A path through a symbolic link, or with
/// `..` or `.`, is left to `fs::canonicalize`.
pub struct RealPaths {
    base: PathBuf,
    /// Real path of each relative directory met; `None` where it or one
    /// above it is not a plain directory.
    dirs: std::collections::HashMap<PathBuf, Option<PathBuf>>,
}

impl RealPaths {
    /// Resolves relative paths against `base`, a real path (the current
    /// directory's, for paths as the process names them).
    pub fn new(base: PathBuf) -> Self {
        let mut dirs = std::collections::HashMap::new();
        dirs.insert(PathBuf::new(), Some(base.clone()));
        RealPaths { base, dirs }
    }

    /// The real path of `path`, which must exist.
    pub fn of(&mut self, path: &Path) -> io::Result<PathBuf> {
        use std::path::Component;
        let full = self.base.join(path);
        let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
        let (true, Some(parent), Some(name)) = (plain, path.parent(), path.file_name()) else {
            return fs::canonicalize(full);
        };
        let Some(dir) = self.dir(parent) else {
            return fs::canonicalize(full);
        };
        if fs::symlink_metadata(&full)?.file_type().is_symlink() {
            return fs::canonicalize(full);
        }
        Ok(dir.join(name))
    }

    /// The real path of the relative directory `dir` (of plain names).
    fn dir(&mut self, dir: &Path) -> Option<PathBuf> {
        if let Some(known) = self.dirs.get(dir) {
            return known.clone();
        }
        let real = match (dir.parent(), dir.file_name()) {
            (Some(parent), Some(name)) => self
                .dir(parent)
                .filter(|_| {
                    fs::symlink_metadata(self.base.join(dir)).is_ok_and(|m| m.file_type().is_dir())
                })
                .map(|up| up.join(name)),
            _ => None,
        };
        self.dirs.insert(dir.to_path_buf(), real.clone());
        real
    }
}

/// The absolute path `path` leads to, through symbolic links, whether or
/// not it exists: its deepest existing ancestor resolved, the rest added
/// lexically. Two paths naming one file get the same identity.
pub fn identity(path: &Path) -> io::Result<PathBuf> {
    use std::path::Component;
    let absolute = std::env::current_dir()?.join(path);
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if fs::symlink_metadata(existing).is_ok() {
            break;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            // `..` or the root: resolve what is there.
            _ => break,
        }
    }
    let mut out = fs::canonicalize(existing)?;
    for name in rest.iter().rev() {
        match Path::new(name).components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::Normal(n)) => out.push(n),
            _ => {}
        }
    }
    Ok(out)
}

/// `paths` with every file named more than once (through a symbolic link,
/// `sub/../doc.md`) kept once, under the name that is not a link where
/// there is one, else the first; sorted. Hard links are separate files.
///
/// Files are told apart by device and inode, one `stat` a path; real paths
/// (a `readlink` a component) are compared only for names of one inode.
pub fn once_each(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut seen: std::collections::HashMap<(u64, u64), Vec<usize>> =
        std::collections::HashMap::new();
    let mut out: Vec<PathBuf> = Vec::with_capacity(paths.len());
    for path in paths {
        let Ok(inode) = fs::metadata(&path).map(|m| (m.dev(), m.ino())) else {
            // Reading it will report the problem.
            out.push(path);
            continue;
        };
        let names = seen.entry(inode).or_default();
        let real = |p: &Path| fs::canonicalize(p).ok();
        let same = (!names.is_empty())
            .then(|| real(&path))
            .flatten()
            .and_then(|r| {
                names
                    .iter()
                    .copied()
                    .find(|&i| real(&out[i]) == Some(r.clone()))
            });
        match same {
            None => {
                names.push(out.len());
                out.push(path);
            }
            Some(i) => {
                let is_link =
                    |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
                if is_link(&out[i]) && !is_link(&path) {
                    out[i] = path;
                }
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_named_several_ways_is_kept_once_and_a_hard_link_is_another_file() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        fs::write(d.join("doc.md"), "# a\n").unwrap();
        fs::create_dir(d.join("sub")).unwrap();
        std::os::unix::fs::symlink("doc.md", d.join("link.md")).unwrap();
        fs::hard_link(d.join("doc.md"), d.join("hard.md")).unwrap();
        let named = vec![
            d.join("link.md"),
            d.join("sub/../doc.md"),
            d.join("hard.md"),
            d.join("doc.md"),
            d.join("missing.md"),
        ];
        // The link's name gives way to one that is not a link; of two
        // plain names, the first is kept.
        assert_eq!(
            once_each(named),
            [
                d.join("hard.md"),
                d.join("missing.md"),
                d.join("sub/../doc.md"),
            ]
        );
    }

    #[test]
    fn real_paths_are_those_of_canonicalize() {
        let t = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(t.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("far.md"), "").unwrap();
        for dir in ["sub/deeper", "other"] {
            fs::create_dir_all(base.join(dir)).unwrap();
        }
        for file in ["doc.md", "sub/a.md", "sub/deeper/b.md", "other/c.md"] {
            fs::write(base.join(file), "").unwrap();
        }
        let link = |target: &Path, at: &str| std::os::unix::fs::symlink(target, base.join(at));
        link(Path::new("doc.md"), "link.md").unwrap();
        link(Path::new("../other"), "sub/up").unwrap();
        link(&outside.path().join("far.md"), "far.md").unwrap();
        link(outside.path(), "away").unwrap();
        let mut real = RealPaths::new(base.clone());
        for path in [
            "doc.md",
            "sub/a.md",
            "sub/deeper/b.md",
            "sub/a.md",
            "link.md",
            "sub/up/c.md",
            "far.md",
            "away/far.md",
            "sub/../doc.md",
            "./doc.md",
        ] {
            assert_eq!(
                real.of(Path::new(path)).unwrap(),
                fs::canonicalize(base.join(path)).unwrap(),
                "{path}"
            );
        }
        assert!(real.of(Path::new("sub/missing.md")).is_err());
        assert!(real.of(Path::new("missing/x.md")).is_err());
    }

    #[test]
    fn map_parallel_keeps_the_order_and_calls_once_per_item() {
        let items: Vec<usize> = (0..1000).collect();
        let calls = AtomicUsize::new(0);
        let out = map_parallel(&items, |&i| {
            calls.fetch_add(1, Ordering::Relaxed);
            // Uneven work, so that threads finish out of order.
            for _ in 0..(i % 7) * 1000 {
                std::hint::black_box(i);
            }
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(calls.into_inner(), items.len());
        assert!(map_parallel(&[] as &[u8], |_| 0).is_empty());
    }

    #[test]
    fn load_reports_documents_and_errors_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut want = Vec::new();
        for i in 0..40 {
            let name = format!("{i:02}.md");
            if i % 3 == 0 {
                std::fs::write(dir.path().join(&name), b"ok\n\xff\n").unwrap();
                want.push(format!("{name}:2"));
            } else {
                std::fs::write(dir.path().join(&name), format!("# doc {i}\n")).unwrap();
            }
        }
        let all: Vec<PathBuf> = (0..40)
            .map(|i| dir.path().join(format!("{i:02}.md")))
            .collect();
        let errors = load(&all).unwrap_err();
        // Found by scanning, the broken ones are skipped with a warning.
        let scanned = load(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(scanned.documents.len(), 26);
        let warned: Vec<String> = scanned
            .warnings
            .iter()
            .map(|d| {
                let name = d.path.file_name().unwrap().to_string_lossy();
                format!("{name}:{}", d.line)
            })
            .collect();
        assert_eq!(warned, want);
        // The same files without the broken ones load in order too.
        let good: Vec<PathBuf> = (0..40)
            .filter(|i| i % 3 != 0)
            .map(|i| dir.path().join(format!("{i:02}.md")))
            .collect();
        let project = load(&good).unwrap();
        let paths: Vec<&PathBuf> = project.documents.iter().map(|d| &d.path).collect();
        assert_eq!(paths, good.iter().collect::<Vec<_>>());
        let got: Vec<String> = errors
            .0
            .iter()
            .map(|d| {
                let name = d.path.file_name().unwrap().to_string_lossy();
                format!("{name}:{}", d.line)
            })
            .collect();
        assert_eq!(got, want);
    }
}
