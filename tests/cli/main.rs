//! Integration tests: the real `litprog` binary on fixture documents with
//! real interpreters.

mod util;

mod attribution;
mod bad_input;
mod build;
mod cache;
mod check;
mod defaults;
mod documents;
mod events;
mod faults;
mod list;
mod mdbook;
mod options;
mod outfiles;
mod parse_errors;
mod patterns;
mod processes;
mod project;
mod reliability;
mod watch;
