//! The executable itself: what it loads at every start.

use std::process::Command;

/// On Linux with glibc the binary loads libc and libgcc_s, not libm:
/// `pow`, the one function it took from libm, is defined in `src/main.rs`,
/// which saves every start loading a library (24 page faults and about
/// 0.09 ms of a one-session build). glibc's loader lists what it would load when
/// `LD_TRACE_LOADED_OBJECTS` is set (what `ldd` does), without running the
/// program. A static build (`crt-static`) loads nothing and has no such
/// list, so the test is not compiled there.
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
#[test]
fn the_binary_does_not_load_libm() {
    let out = Command::new(env!("CARGO_BIN_EXE_litprog"))
        .arg("--version")
        .env("LD_TRACE_LOADED_OBJECTS", "1")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        listed.contains("libc.so"),
        "not the loader's list: {listed}"
    );
    assert!(!listed.contains("libm.so"), "libm is loaded: {listed}");
}

/// The binary's own `pow` stays out of its dynamic symbol table (the
/// version script of `build.rs`): a library loaded later gets libm's.
/// `readelf` comes with the linker the build needs (binutils).
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    not(target_feature = "crt-static")
))]
#[test]
fn the_binary_does_not_export_its_pow() {
    let out = Command::new("readelf")
        .args(["--dyn-syms", "-W", env!("CARGO_BIN_EXE_litprog")])
        .output()
        .expect("readelf (binutils) runs");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(table.contains("GLIBC_"), "not a symbol table: {table}");
    let exported: Vec<&str> = table
        .lines()
        .filter(|l| l.split_whitespace().last() == Some("pow"))
        .collect();
    assert!(exported.is_empty(), "pow is exported: {exported:?}");
}
