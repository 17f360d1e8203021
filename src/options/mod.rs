//! Block options: the only user of saphyr-parser, toml and serde_json.
//!
//! Options come from three places, all turned into [`RawOption`]s here:
//! option blocks (a `yaml`, `toml` or `json` block with an `lptype` or
//! `filepath` key), comment lines at the top of a code block
//! (`# lpid = demo`), and attributes in the info string
//! (`python lpid=demo`). [`crate::document`] merges them per group and
//! [`typed`] checks them into [`Spec`]s.
//!
//! [`block`] reads option blocks; [`source`] reads comment options and
//! info-string attributes; [`spec`] checks them.

pub mod block;
pub mod source;
pub mod spec;

pub use block::{MAX_NESTING, parse_option_block};
pub use source::{
    HeaderFormat, InfoAttributes, ParseError, RawOption, comment_options, comment_syntax,
    info_attributes,
};
pub use spec::{
    BLOCK_KEYS, CommandLine, Hide, LanguageDefault, LpType, OUT_FILE_KEYS, OptionError, OptionMap,
    OutFileSpec, OutputMode, SESSION_KEYS, SessionSpec, Spec, StatusMode, closest_key,
    command_kind, hide, language_default, language_kind, show, show_text, typed,
};
