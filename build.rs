//! Build script: which optional interpreters the test suite can run here.
//!
//! A test that needs one (python3, node, ruby, ...) is marked
//! `#[cfg_attr(not(has_ruby), ignore = "ruby is not installed")]`, so that
//! where it cannot run, `cargo test` lists it as ignored, with the reason,
//! instead of passing it. Under CI (`CI` set) every `has_*` is set whatever
//! is installed: CI installs every interpreter (`.ci/run`), and one that is
//! missing fails the tests that need it instead of skipping them.
//!
//! Found on `PATH` when the script runs, which is again when `PATH` or `CI`
//! changes. An interpreter installed into a directory already on `PATH`
//! is seen after `touch build.rs`; one removed since fails its tests
//! (`util::require` says why) rather than passing them.
//!
//! It also chooses how the binary is linked on Linux (see [`link`]) and
//! names the source it is built from (see [`build_id`]).

use std::env;
use std::fs;
use std::hash::{DefaultHasher, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The interpreters the tests use beyond `bash`, `sh` and `cat`, which
/// every test of sessions needs, and the name of the `has_*` cfg of each.
const OPTIONAL: &[(&str, &str)] = &[
    ("python", "has_python"),
    ("python3", "has_python3"),
    ("node", "has_node"),
    ("ruby", "has_ruby"),
    ("perl", "has_perl"),
    ("zsh", "has_zsh"),
    ("dash", "has_dash"),
    ("sqlite3", "has_sqlite3"),
    ("setsid", "has_setsid"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo:rerun-if-env-changed=CI");
    let ci = env::var_os("CI").is_some();
    let path = env::var_os("PATH").unwrap_or_default();
    for (program, cfg) in OPTIONAL {
        println!("cargo:rustc-check-cfg=cfg({cfg})");
        let found = || env::split_paths(&path).any(|dir| is_executable(&dir.join(program)));
        if ci || found() {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
    seed(ci);
    link();
    build_id();
}

/// `LITPROG_BUILD_ID`, which the cache puts in every key: a hash of the
/// source the library is built from (`src/`, `build.rs`, `Cargo.toml`, and
/// `Cargo.lock` where there is one, so the dependencies' versions too).
/// Two builds of different code under one version number (a checkout
/// between releases, `cargo install --git`) may write different results
/// for the same session, so they must not reuse each other's.
///
/// std's `DefaultHasher` is enough here: the id only has to differ when
/// the source does. A toolchain that hashes differently gives cache misses
/// once, never a wrong hit.
fn build_id() {
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let mut files = Vec::new();
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(path),
                // A link to a file counts as the file; links to
                // directories are not followed (no loops).
                Ok(t) if t.is_file() || (t.is_symlink() && path.is_file()) => files.push(path),
                _ => {}
            }
        }
    }
    files.sort();
    files.extend(["build.rs", "Cargo.toml", "Cargo.lock"].map(|f| root.join(f)));
    let mut h = DefaultHasher::new();
    for path in &files {
        let Ok(bytes) = fs::read(path) else {
            continue;
        };
        let name = path.strip_prefix(&root).unwrap_or(path);
        h.write(name.as_os_str().as_encoded_bytes());
        h.write_usize(bytes.len());
        h.write(&bytes);
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rustc-env=LITPROG_BUILD_ID={:016x}", h.finish());
}

/// How the `litprog` binary is linked on Linux with glibc, building for
/// the machine it runs on: as a position-dependent executable (`-no-pie`),
/// or with `LITPROG_PIE` set, position-independent with packed relative
/// relocations where glibc applies them. Any other target (macOS, musl, a
/// cross build) links as rustc's default, and so does a static build
/// (`crt-static`, README "Install").
///
/// A position-independent Rust binary holds one relative relocation per
/// pointer in its read-only data (vtables, tables of string slices): about
/// 15,000 in litprog, which the dynamic linker applies at every start,
/// writing, and so copying, each of the 68 pages they are on. A
/// position-dependent one has none: those pages stay shared with the page
/// cache: a one-session build takes 45 page faults fewer (401 to 356),
/// `--version` 1.74 ms instead of 1.91, the build itself (5 ms) 0.02 to
/// 0.07 ms less (`docs/performance.md`, workload 7). The
/// price is that the executable's own code and data sit at a fixed address;
/// its libraries, heap, stack and mappings are still placed at random.
/// litprog runs the code of the documents it builds by design, so that
/// address protects little; a distribution that requires PIE everywhere
/// sets `LITPROG_PIE=1`.
///
/// Packed relocations (`-z pack-relative-relocs`, DT_RELR) make the PIE's
/// table 4.4 KB instead of 357 KB. Where glibc is older than 2.36 the flag
/// must not be given: the linker would mark the binary as needing
/// `GLIBC_ABI_DT_RELR`, and it would not start at all. So it is given only
/// when that machine's glibc, as `getconf GNU_LIBC_VERSION` names it, is
/// 2.36 or later (no `getconf`: not given). `LITPROG_NO_RELR` set turns it
/// off.
fn link() {
    println!("cargo:rerun-if-env-changed=LITPROG_PIE");
    println!("cargo:rerun-if-env-changed=LITPROG_NO_RELR");
    let var = |name: &str| env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    local_pow(&var("OUT_DIR"));
    if var("HOST") != var("TARGET") {
        return;
    }
    // A static build (`-C target-feature=+crt-static`) chooses its own
    // link: `-no-pie` on top of rustc's static PIE gives an executable that
    // names a dynamic linker it does not use, and crashes at its first
    // instruction.
    if var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static")
    {
        return;
    }
    if env::var_os("LITPROG_PIE").is_none() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
        return;
    }
    if env::var_os("LITPROG_NO_RELR").is_some() {
        return;
    }
    let Some(version) = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
    else {
        return;
    };
    if glibc_at_least(&version, (2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Keeps the binary's own `pow` (`src/main.rs`) out of its dynamic symbol
/// table. The linker would export it, since libm, still on the link line,
/// defines a `pow` of its own; exported, it would be what a library loaded
/// later (an NSS module, an `LD_PRELOAD`) gets for its `pow` calls, in
/// place of libm's, which also sets `errno`.
fn local_pow(out_dir: &str) {
    if out_dir.is_empty() {
        return;
    }
    let script = Path::new(out_dir).join("local-pow.ver");
    if fs::write(&script, "{ local: pow; };\n").is_ok() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--version-script={}",
            script.display()
        );
    }
}

/// Whether `getconf`'s `glibc 2.36` names at least version `want`.
fn glibc_at_least(text: &str, want: (u32, u32)) -> bool {
    let Some(number) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = number.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= want,
        _ => false,
    }
}

/// `has_seed`: the seed document beside the checkout, which five tests read.
fn seed(ci: bool) {
    println!("cargo:rustc-check-cfg=cfg(has_seed)");
    let dir = env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    if ci || Path::new(&dir).join("../shared/seed/session.md").is_file() {
        println!("cargo:rustc-cfg=has_seed");
    }
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
