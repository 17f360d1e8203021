//! [`Lines`]: text lines held compactly, as result blocks and the cache
//! hold them.
//!
//! A plain container below every module that passes lines around (the
//! cache stores them, [`crate::result_block`] makes and renders them,
//! [`crate::writeback`] splices them in); it knows nothing of what they say.

/// Lines of text, held compactly: one string of all of them, each ended by
/// `\n`, and how many there are. A block of a million short lines costs
/// its bytes and one byte a line, not a `String` (24 bytes and an
/// allocation) a line, nor an offset (4 bytes) a line; the cache stores
/// and reads that string as it is.
///
/// A line holds no `\n`: one pushed with a `\n` in it is two lines.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Lines {
    text: String,
    count: usize,
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

    /// No lines, with room for `bytes` bytes of lines with their `\n`s.
    pub fn with_capacity(bytes: usize) -> Self {
        Lines {
            text: String::with_capacity(bytes),
            count: 0,
        }
    }

    /// The lines of `text`, in which every line, the last one too, ends
    /// with `\n`; `None` if it does not end so.
    pub fn from_text(text: String) -> Option<Self> {
        if !(text.is_empty() || text.ends_with('\n')) {
            return None;
        }
        let count = memchr::memchr_iter(b'\n', text.as_bytes()).count();
        Some(Lines { text, count })
    }

    /// Every line with its `\n`, one after the other: what
    /// [`Lines::from_text`] reads back.
    pub fn as_text(&self) -> &str {
        &self.text
    }

    /// Appends a line (two or more if it holds `\n`).
    pub fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        self.count += 1 + memchr::memchr_iter(b'\n', line.as_bytes()).count();
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.count
    }

    /// No lines at all?
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The lines, in order, without their `\n`.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            rest: &self.text,
            count: self.count,
        }
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

/// The lines of a [`Lines`], from either end.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    /// The lines not yet returned, each with its `\n`.
    rest: &'a str,
    count: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let end = memchr::memchr(b'\n', self.rest.as_bytes())?;
        let line = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        self.count -= 1;
        Some(line)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.count, Some(self.count))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let body = self.rest.strip_suffix('\n')?;
        let start = memchr::memrchr(b'\n', body.as_bytes()).map_or(0, |i| i + 1);
        let line = &body[start..];
        self.rest = &self.rest[..start];
        self.count -= 1;
        Some(line)
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Lines {
    type Item = &'a str;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_iterate_from_both_ends_and_read_back_their_text() {
        let lines: Lines = ["a", "", "bc", ""].iter().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines.iter().collect::<Vec<_>>(), ["a", "", "bc", ""]);
        assert_eq!(lines.iter().rev().collect::<Vec<_>>(), ["", "bc", "", "a"]);
        let mut it = lines.iter();
        assert_eq!(
            (it.next(), it.next_back(), it.len()),
            (Some("a"), Some(""), 2)
        );
        assert_eq!(it.collect::<Vec<_>>(), ["", "bc"]);
        assert_eq!(lines.last(), Some(""));
        assert_eq!(lines.as_text(), "a\n\nbc\n\n");
        assert_eq!(Lines::from_text(lines.as_text().to_string()), Some(lines));
        assert_eq!(Lines::from_text("a\nb".into()), None);
        assert_eq!(Lines::from_text(String::new()), Some(Lines::new()));
        assert!(Lines::new().iter().next_back().is_none());
    }

    #[test]
    fn a_line_pushed_with_a_line_break_is_two_lines() {
        let mut lines = Lines::new();
        lines.push("a\nb");
        lines.push("c");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines.iter().len(), 3);
        assert_eq!(lines.to_vec(), ["a", "b", "c"]);
    }
}
