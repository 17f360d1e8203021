//! litprog: literate programming for Markdown.
//!
//! Documents are the source of truth. Fenced code blocks are grouped by `lpid`;
//! `out_file` groups are tangled into source files and `session` groups are run
//! through long-lived interpreters whose output is written back into the
//! documents as annotated result blocks.
//!
//! The pipeline, one module per step:
//!
//! | step | module |
//! |------|--------|
//! | Markdown text -> fenced blocks with byte spans | [`markdown`] |
//! | option text -> typed options | [`options`] |
//! | files -> documents, blocks and groups | [`document`] |
//! | groups -> file contents | [`tangle`] |
//! | groups -> dependency order | [`plan`] |
//! | running interpreters | [`session`] |
//! | captures -> result blocks spliced into the text | [`writeback`] |

pub mod build;
pub mod cli;
pub mod document;
pub mod error;
pub mod files;
pub mod markdown;
pub mod options;
pub mod plan;
pub mod runner;
pub mod session;
pub mod tangle;
pub mod writeback;
