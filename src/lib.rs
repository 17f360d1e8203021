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
//! | groups -> file contents | `tangle` (internal) |
//! | groups -> dependency order | [`plan`] |
//! | running interpreters | [`session`] |
//! | output -> output without machine-specific paths | `redact` (internal) |
//! | stored result blocks as patterns for new output | `pattern` (internal) |
//! | session outcomes -> result blocks: lines, rendering, ownership | [`result_block`] |
//! | result blocks spliced into the text | [`writeback`] |
//! | the whole build: load, tangle, run, write back or check | [`build`] |
//! | the same build on documents held in memory | [`build::build_in_memory`] |
//! | chapters as the readers of an mdBook see them | [`mdbook`] |
//!
//! The session engine works on its own:
//!
//! ```
//! use std::time::Duration;
//! use litprog::session::{self, SessionOptions};
//!
//! let opts = SessionOptions::from_command("bash").unwrap();
//! let blocks = vec!["x=6\necho a\n".to_string(), "echo $((x * 7))\n".to_string()];
//! let capture = session::run(opts, &blocks, Duration::from_secs(10)).unwrap();
//! let per_block = &capture.blocks;
//! assert_eq!(per_block[0].stdout, "a\n");
//! assert_eq!(per_block[1].stdout, "42\n");
//! ```
//!
//! So do the parser and the write-back, on text:
//!
//! ```
//! use std::path::Path;
//! use litprog::document::{Document, Project};
//! use litprog::writeback::{self, Wanted};
//!
//! let text = "```bash lpid=demo lptype=session\necho hi\n```\n";
//! let doc = Document::parse(Path::new("doc.md"), text.to_string()).unwrap();
//! let mut wanted = Wanted::new();
//! wanted.insert(0, Some(["hi", "# exit: 0"].iter().collect()));
//! let new_text = writeback::rewrite(&doc, &wanted);
//! assert!(new_text.ends_with("```\n\n```text lpout=demo\nhi\n# exit: 0\n```\n"));
//! let project = Project::new(vec![doc]).unwrap();
//! assert_eq!(project.groups[0].lpid, "demo");
//! ```

pub mod build;
pub mod cache;
pub mod cli;
pub mod config;
pub mod document;
pub mod error;
pub mod files;
pub(crate) mod lines;
pub mod markdown;
pub mod mdbook;
pub mod options;
pub(crate) mod pattern;
pub mod plan;
pub(crate) mod redact;
pub mod result_block;
pub mod runner;
pub mod session;
pub(crate) mod state;
pub(crate) mod tangle;
pub mod writeback;
