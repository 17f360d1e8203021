//! The `litprog` command: a thin layer over [`litprog::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    litprog::cli::main()
}
