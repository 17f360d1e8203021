use std::process::ExitCode;

fn main() -> ExitCode {
    litprog::cli::main()
}
