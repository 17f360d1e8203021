//! The executable itself: what it loads at every start.
//!
//! Linux with glibc only, and not in a static build (`crt-static`), which
//! loads nothing and has no dynamic symbols: there these tests are not
//! compiled.

#![cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]

use std::process::Command;

/// What `cmd` prints on stdout; it must succeed.
fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} does not run: {e}"));
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The binary loads libc and libgcc_s, not libm: `pow`, the one function
/// it took from libm, is defined in `src/main.rs`, which saves every start
/// loading a library (24 page faults and about 0.09 ms of a one-session
/// build). glibc's loader lists what it would load when
/// `LD_TRACE_LOADED_OBJECTS` is set (what `ldd` does), without running the
/// program.
#[test]
fn the_binary_does_not_load_libm() {
    let listed = stdout_of(
        Command::new(env!("CARGO_BIN_EXE_litprog"))
            .arg("--version")
            .env("LD_TRACE_LOADED_OBJECTS", "1"),
    );
    assert!(
        listed.contains("libc.so"),
        "not the loader's list: {listed}"
    );
    assert!(!listed.contains("libm.so"), "libm is loaded: {listed}");
}

/// The binary's own `pow` stays out of its dynamic symbol table (the
/// version script of `build.rs`): a library loaded later gets libm's.
/// `readelf` comes with the linker the build needs (binutils).
#[test]
fn the_binary_does_not_export_its_pow() {
    let table = stdout_of(Command::new("readelf").args([
        "--dyn-syms",
        "-W",
        env!("CARGO_BIN_EXE_litprog"),
    ]));
    assert!(table.contains("GLIBC_"), "not a symbol table: {table}");
    let exported: Vec<&str> = table
        .lines()
        .filter(|l| l.split_whitespace().last() == Some("pow"))
        .collect();
    assert!(exported.is_empty(), "pow is exported: {exported:?}");
}
