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

use std::env;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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
