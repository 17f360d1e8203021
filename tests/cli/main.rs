//! Integration tests: the real `litprog` binary on fixture documents with
//! real interpreters.

mod util;

mod bad_input;
mod build;
mod check;
mod faults;
mod list;
mod options;
mod parse_errors;
mod reliability;
