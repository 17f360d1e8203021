//! Integration tests, in one binary so that the suite compiles once: the
//! real `litprog` binary on fixture documents with real interpreters, the
//! session engine against real interpreters (`session`), and generated
//! documents through the parser and the rewrite (`rewrite_props`).

mod util;

mod attribution;
mod bad_input;
mod binary;
mod build;
mod cache;
mod check;
mod defaults;
mod documents;
mod events;
mod faults;
mod list;
mod mdbook;
mod memory;
mod options;
mod outfiles;
mod parse_errors;
mod patterns;
mod processes;
mod progress;
mod project;
mod reliability;
mod rewrite_props;
mod session;
mod watch;
