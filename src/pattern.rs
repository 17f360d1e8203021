//! Result blocks as patterns: what an author may write in a stored result
//! block so that output which changes between runs still checks clean.
//!
//! A stored block's lines are matched against the new output's lines:
//!
//! - a line that is exactly `...` matches any number of whole lines,
//!   including none;
//! - a line ending in ` (re)` is a regular expression (the `regex` crate's
//!   syntax) that must match the whole line;
//! - `[..]` inside a line matches any run of characters within that line,
//!   possibly empty;
//! - any other line matches itself only.
//!
//! A line always matches an identical line, whatever it looks like, so
//! output that happens to end in ` (re)` or to hold `[..]` still matches
//! what litprog wrote for it.
//!
//! Matching is linear in the size of the block for ordinary patterns: the
//! runs of lines between `...` lines are found leftmost first, which is
//! exact for gaps that match anything, so there is no backtracking to blow
//! up, and regular expressions run in the regex crate's linear time. The
//! worst case is the product of the pattern's and the output's line counts
//! (a run that almost matches everywhere), never exponential.

use regex::Regex;

/// The marker that ends a regular-expression line.
const REGEX_SUFFIX: &str = " (re)";
/// A line matching any number of lines.
const GAP: &str = "...";
/// Matches any run of characters within a line.
const ANY: &str = "[..]";
/// Largest compiled regular expression, so that a hostile pattern line
/// cannot take the build's memory (the regex crate's own default is 10 MiB).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One line of a pattern.
#[derive(Debug)]
enum Line<'a> {
    /// Matches itself only.
    Literal(&'a str),
    /// `[..]` wildcards: the pieces between them, in order.
    Wild(&'a str, Vec<&'a str>),
    /// A whole-line regular expression; the line as written too.
    Regex(&'a str, Regex),
}

impl<'a> Line<'a> {
    fn new(text: &'a str) -> Line<'a> {
        if let Some(re) = text.strip_suffix(REGEX_SUFFIX) {
            let anchored = format!("^(?:{re})$");
            // A line that is not a valid expression is taken literally: it
            // is more likely output than an author's mistake, and literal
            // lines always match themselves.
            if let Ok(re) = regex::RegexBuilder::new(&anchored)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
            {
                return Line::Regex(text, re);
            }
        }
        if text.contains(ANY) {
            return Line::Wild(text, text.split(ANY).collect());
        }
        Line::Literal(text)
    }

    fn matches(&self, actual: &str) -> bool {
        match self {
            Line::Literal(text) => *text == actual,
            Line::Wild(text, pieces) => *text == actual || wild_match(pieces, actual),
            Line::Regex(text, re) => *text == actual || re.is_match(actual),
        }
    }
}

/// Is `line` anything but a literal line: `...`, a ` (re)` line or one
/// holding `[..]`? (A ` (re)` line whose expression does not compile is
/// literal, but saying yes here only costs a compile.)
pub fn is_pattern_line(line: &str) -> bool {
    line == GAP || line.ends_with(REGEX_SUFFIX) || line.contains(ANY)
}

/// Do `pieces` (the parts of a line between `[..]`) match `actual`? The
/// first piece is anchored at the start, the last at the end, the others
/// are found leftmost first.
fn wild_match(pieces: &[&str], actual: &str) -> bool {
    let (first, rest) = match pieces.split_first() {
        Some(split) => split,
        None => return actual.is_empty(),
    };
    let Some(mut left) = actual.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return left.is_empty();
    };
    for piece in middle {
        match left.find(piece) {
            Some(at) => left = &left[at + piece.len()..],
            None => return false,
        }
    }
    left.ends_with(last)
}

/// A stored result block's lines, compiled for matching.
#[derive(Debug)]
pub struct Pattern<'a> {
    /// Runs of lines separated by `...`, none empty.
    runs: Vec<Vec<Line<'a>>>,
    /// The pattern starts with `...`.
    leading_gap: bool,
    /// The pattern ends with `...`.
    trailing_gap: bool,
}

impl<'a> Pattern<'a> {
    /// Compiles the lines of a stored block (without their line endings).
    pub fn new(lines: &[&'a str]) -> Pattern<'a> {
        let mut runs = vec![Vec::new()];
        for &line in lines {
            if line == GAP {
                runs.push(Vec::new());
            } else {
                runs.last_mut().expect("never empty").push(Line::new(line));
            }
        }
        // Empty runs (at either end, or between adjacent gaps) say nothing.
        runs.retain(|r| !r.is_empty());
        Pattern {
            runs,
            leading_gap: lines.first() == Some(&GAP),
            trailing_gap: lines.last() == Some(&GAP),
        }
    }

    /// Does the new output `actual` match?
    pub fn matches(&self, actual: &[&str]) -> bool {
        let runs = &self.runs;
        if runs.is_empty() {
            // Nothing but gaps (or nothing at all).
            return self.leading_gap || self.trailing_gap || actual.is_empty();
        }
        let mut at = 0;
        for (i, run) in runs.iter().enumerate() {
            let anchored_start = i == 0 && !self.leading_gap;
            let anchored_end = i == runs.len() - 1 && !self.trailing_gap;
            if anchored_end {
                // The last run must end the output, after what came before.
                let Some(start) = actual.len().checked_sub(run.len()) else {
                    return false;
                };
                if start < at || (anchored_start && start != 0) {
                    return false;
                }
                return run_matches_at(run, actual, start);
            }
            if anchored_start {
                if !run_matches_at(run, actual, 0) {
                    return false;
                }
                at = run.len();
                continue;
            }
            // Leftmost occurrence at or after `at`.
            let last_start = match actual.len().checked_sub(run.len()) {
                Some(n) => n,
                None => return false,
            };
            match (at..=last_start).find(|&s| run_matches_at(run, actual, s)) {
                Some(s) => at = s + run.len(),
                None => return false,
            }
        }
        // Ends with a gap: whatever follows is fine.
        true
    }
}

fn run_matches_at(run: &[Line<'_>], actual: &[&str], start: usize) -> bool {
    actual.len() >= start + run.len()
        && run
            .iter()
            .zip(&actual[start..])
            .all(|(line, actual)| line.matches(actual))
}

/// Does the stored block `stored` match the output `actual`?
pub fn matches(stored: &[&str], actual: &[&str]) -> bool {
    Pattern::new(stored).matches(actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, actual: &str) -> bool {
        let p: Vec<&str> = pattern.lines().collect();
        let a: Vec<&str> = actual.lines().collect();
        matches(&p, &a)
    }

    #[test]
    fn literal_lines_match_only_themselves() {
        assert!(m("a\nb", "a\nb"));
        assert!(!m("a\nb", "a\nc"));
        assert!(!m("a", "a\nb"));
        assert!(!m("a\nb", "a"));
        assert!(m("", ""));
        assert!(!m("", "x"));
    }

    #[test]
    fn wildcards_match_within_a_line() {
        assert!(m("took [..] s", "took 0.25 s"));
        assert!(m("took [..] s", "took  s"));
        assert!(!m("took [..] s", "took 1 ms"));
        assert!(m("[..]", "anything at all"));
        assert!(matches(&["[..]"], &[""]));
        assert!(m("pid [..], port [..]", "pid 4242, port 8080"));
        assert!(!m("pid [..], port [..]", "pid 4242; port 8080"));
        assert!(m("a[..]a", "aa"));
        assert!(!m("a[..]a", "a"));
        // A wildcard never spans lines.
        assert!(!m("start [..] end", "start\nend"));
    }

    #[test]
    fn gaps_match_any_number_of_lines() {
        assert!(m("first\n...\nlast", "first\nlast"));
        assert!(m("first\n...\nlast", "first\n1\n2\n3\nlast"));
        assert!(!m("first\n...\nlast", "first\n1\n2"));
        assert!(m("...", ""));
        assert!(m("...", "a\nb"));
        assert!(m("...\nlast", "a\nb\nlast"));
        assert!(!m("...\nlast", "a\nb"));
        assert!(m("first\n...", "first\nx"));
        assert!(!m("first\n...", "x\nfirst"));
        assert!(m("a\n...\nb\n...\nc", "a\nx\nb\ny\nb\nc"));
        assert!(m("a\n...\n...\nc", "a\nc"));
        // The last run is anchored at the end even when it also occurs earlier.
        assert!(m("...\nb", "b\nx\nb"));
        assert!(!m("a\n...\na", "a"));
        assert!(m("a\n...\na", "a\na"));
    }

    #[test]
    fn regex_lines_match_whole_lines() {
        assert!(m(r"id [0-9a-f]{8} (re)", "id deadbeef"));
        assert!(!m(r"id [0-9a-f]{8} (re)", "id deadbeef!"));
        assert!(!m(r"\d+ (re)", "x12"));
        // Anchored even with alternation.
        assert!(!m(r"a|b (re)", "xa"));
        // Invalid: literal.
        assert!(m(r"broken ( (re)", "broken ( (re)"));
        assert!(!m(r"broken ( (re)", "broken ("));
    }

    #[test]
    fn a_line_always_matches_itself() {
        for line in ["see [..] here", r"f(x) (re)", "[..][..]", r"a+ (re)"] {
            assert!(m(line, line), "{line}");
        }
        assert!(m("...", "..."));
    }

    #[test]
    fn patterns_combine() {
        let pattern = "started at [..]\n...\n[0-9]+ rows (re)\n# exit: [..]";
        assert!(m(
            pattern,
            "started at 12:00\nnoise\nmore\n42 rows\n# exit: 0"
        ));
        assert!(!m(pattern, "started at 12:00\n42 rows\n# exit: 0\nextra"));
    }

    #[test]
    fn adversarial_gaps_stay_fast() {
        // 10,000 output lines, a pattern of 100 gaps around lines that
        // almost match everywhere: no exponential backtracking.
        let actual: Vec<String> = (0..10_000).map(|i| format!("line {}", i % 7)).collect();
        let actual: Vec<&str> = actual.iter().map(String::as_str).collect();
        let mut pattern = Vec::new();
        for _ in 0..100 {
            pattern.push("...");
            pattern.push("line [..]");
        }
        pattern.push("never there");
        let started = std::time::Instant::now();
        assert!(!matches(&pattern, &actual));
        let mut ok = pattern.clone();
        ok.pop();
        ok.push("...");
        assert!(matches(&ok, &actual));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
