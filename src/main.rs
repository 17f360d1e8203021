//! The `litprog` command: a thin layer over [`litprog::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    litprog::cli::main()
}

/// `pow` for the whole binary, so that it does not load `libm.so` at every
/// start.
///
/// With glibc, `pow` is the only function litprog takes from libm (for
/// indicatif's rate estimates, through `f64::powf`), and loading the
/// library costs a one-session build 24 page faults (333 against 309) and
/// about 0.09 ms on the benchmark's machine, some 2% of it
/// (`docs/performance.md`, "Libraries loaded at start"). Defined here,
/// the symbol is resolved inside the executable and the linker
/// (`--as-needed`) drops libm. `build.rs` keeps it out of the dynamic
/// symbol table (a version script), so a library loaded later (an NSS
/// module, an `LD_PRELOAD`) that calls `pow` still gets libm's.
///
/// The `libm` crate's `pow` is fdlibm's: within 1 ulp, and in the last
/// bit different from glibc's for about 10% of inputs. Its only users are
/// progress figures on the terminal, never a document's bytes.
///
/// Only the binary defines it, never the library: a program using
/// `litprog` as a library keeps its own libm.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // an exported symbol; the function itself is safe
#[unsafe(no_mangle)]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::pow;

    #[test]
    fn pow_gives_libm_s_results() {
        assert_eq!(pow(2.0, 10.0), 1024.0);
        assert_eq!(pow(10.0, -2.0), 0.01);
        assert_eq!(pow(0.5, 0.0), 1.0);
        assert_eq!(pow(f64::NAN, 0.0), 1.0);
        assert!(pow(-8.0, 1.0 / 3.0).is_nan());
        assert_eq!(pow(0.0, -1.0), f64::INFINITY);
        // A weight of the kind indicatif uses (as glibc gives this one too).
        assert_eq!(pow(0.1, 1.0 / 15.0), 0.857_695_898_590_894_1);
    }
}
