//! [`Lines`]: text lines held compactly, as result blocks and the cache
//! hold them.
//!
//! A plain container below every module that passes lines around (the
//! cache stores them, [`crate::result_block`] makes and renders them,
//! [`crate::writeback`] splices them in); it knows nothing of what they say.

/// Lines of text, held compactly: one string for all of
/// them and where each ends, so a block of a million short lines costs
/// its bytes and 4 bytes a line, not a `String` (24 bytes and an
/// allocation) a line.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Lines {
    text: String,
    ends: Vec<u32>,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Lines {
    /// No lines.
    pub fn new() -> Self {
        Lines::default()
    }

    /// Appends a line. (A block's output is capped far below the 4 GiB
    /// an end offset can hold.)
    pub fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// No lines at all?
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The lines, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + '_ {
        (0..self.ends.len()).map(move |i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
            &self.text[start..self.ends[i] as usize]
        })
    }

    /// The last line.
    pub fn last(&self) -> Option<&str> {
        self.iter().next_back()
    }

    /// The lines as strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Lines {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut lines = Lines::new();
        lines.extend(iter);
        lines
    }
}

impl<S: AsRef<str>> Extend<S> for Lines {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        for line in iter {
            self.push(line.as_ref());
        }
    }
}

impl From<Vec<String>> for Lines {
    fn from(lines: Vec<String>) -> Self {
        lines.into_iter().collect()
    }
}

impl From<&[&str]> for Lines {
    fn from(lines: &[&str]) -> Self {
        lines.iter().collect()
    }
}
