//! Backslash escapes in KDL strings, where they trip up scripts.
//!
//! A KDL string that is not raw (`"..."`, `"""..."""`) processes escapes (KDL 2.0, section
//! 3.12: `\n \r \t \\ \" \b \f \s \u{...}`, and a backslash before whitespace drops the
//! whitespace, newlines included). Shell scripts are full of backslashes meant literally
//! (`grep '\bword\b'`, `sed 's/\./-/'`, line continuations), so a script in such a string
//! silently becomes another script, or, with an escape KDL does not know (`\.`), the whole
//! file fails to parse with a cascade of unrelated errors. Raw strings (`#"""..."""#`) keep
//! every backslash.
//!
//! [`script_escapes`] warns about the first kind; [`invalid_escape`] finds the second, so that
//! the parser's cascade can be replaced by one report.

use crate::declare_code;
use crate::diag::{Diagnostic, codes};
use crate::source::{FileId, Span};
use kdl::{KdlDocument, KdlEntry, KdlNode};

declare_code! {
    /// # A KDL escape changes a script
    ///
    /// In a KDL string that is not raw, a backslash starts an escape: `\b` is a backspace,
    /// `\n` a newline, `\\` one backslash, and a backslash at the end of a line joins it to
    /// the next. Shell scripts mean their backslashes literally (`grep '\bword\b'`,
    /// `sed 's/a\\b/c/'`, `cmd \` to continue a line), so the script Tekton runs is not the
    /// one written.
    ///
    /// ## Example
    /// ```kdl
    /// script """
    ///     grep -E '\bfoo\b' file
    ///     """
    /// ```
    /// runs `grep -E '<backspace>foo<backspace>' file`. Write the script as a raw string,
    /// whose backslashes are kept as written:
    /// ```kdl
    /// script #"""
    ///     grep -E '\bfoo\b' file
    ///     """#
    /// ```
    pub static KDL_ESCAPE = "tkc::syntax::kdl-escape", Warning;
}

/// One escape in a string's source text: where it is and what KDL makes of it.
struct Escape {
    start: usize,
    end: usize,
    /// What the string gets instead (`None`: not an escape KDL knows).
    becomes: Option<&'static str>,
}

/// The escapes of a non-raw string's source text `repr` (quotes included), at offsets
/// relative to it.
fn escapes(repr: &str) -> Vec<Escape> {
    let bytes = repr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let start = i;
        let next = repr[i + 1..].chars().next();
        let (len, becomes) = match next {
            Some('n') => (2, Some("a newline")),
            Some('r') => (2, Some("a carriage return")),
            Some('t') => (2, Some("a tab")),
            Some('\\') => (2, Some("one backslash")),
            Some('"') => (2, Some("a quote")),
            Some('b') => (2, Some("a backspace")),
            Some('f') => (2, Some("a form feed")),
            Some('s') => (2, Some("a space")),
            Some('u') => {
                let close = repr[i..].find('}').map_or(2, |c| c + 1);
                (close, Some("the character of that code"))
            }
            Some(c) if c.is_whitespace() => {
                // The escape swallows all the whitespace after it; it is shown as the
                // backslash alone.
                let rest = &repr[i + 1..];
                let ws = rest.len() - rest.trim_start().len();
                out.push(Escape {
                    start,
                    end: start + 1,
                    becomes: Some("nothing: it joins the next line to this one"),
                });
                i = start + 1 + ws;
                continue;
            }
            Some(c) => (1 + c.len_utf8(), None),
            None => (1, None),
        };
        out.push(Escape {
            start,
            end: start + len,
            becomes,
        });
        i = start + len;
    }
    out
}

/// Warnings for escapes in the `script` strings of a parsed document (a `script` node's
/// argument or a `script=` property) that are not raw.
pub fn script_escapes(file: FileId, document: &KdlDocument) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for node in document.nodes() {
        walk(file, node, &mut out);
    }
    out
}

fn walk(file: FileId, node: &KdlNode, out: &mut Vec<Diagnostic>) {
    for entry in node.entries() {
        let is_script = match entry.name() {
            Some(key) => key.value() == "script",
            None => node.name().value() == "script",
        };
        if is_script && let Some(d) = escape_warning(file, entry) {
            out.push(d);
        }
    }
    for child in node.iter_children() {
        walk(file, child, out);
    }
}

fn escape_warning(file: FileId, entry: &KdlEntry) -> Option<Diagnostic> {
    let format = entry.format()?;
    let repr = format.value_repr.as_str();
    if !repr.starts_with('"') {
        return None; // raw (`#"`), or not a string
    }
    let multi_line = repr.starts_with("\"\"\"");
    let found: Vec<Escape> = escapes(repr)
        .into_iter()
        // `\"` in a one-line string is how a quote is written there: meant.
        .filter(|e| multi_line || &repr[e.start..e.end] != "\\\"")
        .collect();
    let first = found.first()?;
    // The value's text starts where its repr does: at the end of the entry, minus the repr.
    let entry_end = entry.span().offset() + entry.span().len();
    let base = entry_end.checked_sub(repr.len())?;
    let span = |e: &Escape| Span::new(file, base + e.start, base + e.end);
    let label = |e: &Escape| match e.becomes {
        Some(what) => format!("`{}` becomes {what}", repr[e.start..e.end].trim_end()),
        None => "not a KDL escape".to_string(),
    };
    let message = match found.len() {
        1 => format!(
            "`{}` in this script is a KDL escape: the script gets {}",
            repr[first.start..first.end].trim_end(),
            first.becomes.unwrap_or("something else")
        ),
        n => format!("{n} KDL escapes change this script's text"),
    };
    let raw = if multi_line {
        "`#\"\"\"` … `\"\"\"#`"
    } else {
        "`#\"…\"#`"
    };
    let mut d = Diagnostic::new(&KDL_ESCAPE, message)
        .with_label(span(first), label(first))
        .with_help(format!(
            "write the script as a raw string, {raw}: its backslashes are kept as written"
        ));
    for e in found.iter().skip(1).take(7) {
        d = d.with_secondary(span(e), label(e));
    }
    Some(d)
}

/// The first escape KDL does not know (`\.`) in a non-raw string of `text`, outside comments:
/// one report for what the parser reports as several errors from the string on. Gives the
/// report and the offset of the string's start (the parser's reports from there on are its
/// consequences).
pub fn invalid_escape(file: FileId, text: &str) -> Option<(Diagnostic, usize)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut open = 1;
                i += 2;
                while i < bytes.len() && open > 0 {
                    if bytes[i..].starts_with(b"/*") {
                        open += 1;
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        open -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
            // A raw string has no escapes: skip to its end.
            b'#' => i = crate::syntax::kdl::skip_hashes(bytes, i),
            b'"' => {
                let start = i;
                let multi_line = bytes[i..].starts_with(b"\"\"\"");
                let open = if multi_line { 3 } else { 1 };
                let mut j = i + open;
                let mut end = bytes.len();
                while j < bytes.len() {
                    if multi_line && bytes[j..].starts_with(b"\"\"\"") {
                        end = j + 3;
                        break;
                    }
                    if !multi_line && matches!(bytes[j], b'"' | b'\n') {
                        end = j + 1;
                        break;
                    }
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                let end = end.min(bytes.len());
                let repr = text.get(start..end)?;
                if let Some(bad) = escapes(repr).into_iter().find(|e| e.becomes.is_none()) {
                    let written = &repr[bad.start..bad.end];
                    let span = Span::new(file, start + bad.start, start + bad.end);
                    let d = Diagnostic::new(
                        &codes::KDL,
                        format!("invalid KDL: `{written}` is not an escape KDL knows"),
                    )
                    .with_label(span, "unknown escape")
                    .with_help(
                        "in a KDL string a backslash starts an escape (`\\n`, `\\t`, `\\\\`, \
                         `\\\"`, `\\b`, `\\f`, `\\s`, `\\u{...}`); for a script, write a raw \
                         string, `#\"\"\"` … `\"\"\"#`, whose backslashes are kept as written \
                         (or double this one)",
                    );
                    return Some((d, start));
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    #[test]
    fn escapes_and_what_they_become() {
        let found = escapes(r#""a\bb\.c\u{41}d\\e""#);
        let shown: Vec<(&str, Option<&str>)> = found
            .iter()
            .map(|e| (&r#""a\bb\.c\u{41}d\\e""#[e.start..e.end], e.becomes))
            .collect();
        assert_eq!(
            shown,
            [
                ("\\b", Some("a backspace")),
                ("\\.", None),
                ("\\u{41}", Some("the character of that code")),
                ("\\\\", Some("one backslash")),
            ]
        );
    }

    #[test]
    fn invalid_escape_outside_raw_strings_and_comments() {
        let mut map = SourceMap::new();
        let text = "// a\\.b\nx #\"a\\.b\"# \"ok\\n\" \"\"\"\n  c\\.d\n  \"\"\"\n";
        let file = map.add("t.kdl", text);
        let found = invalid_escape(file, text);
        assert_eq!(
            found.as_ref().map(|(_, start)| &text[*start..*start + 3]),
            Some("\"\"\"")
        );
        let span = found.and_then(|(d, _)| d.primary_span());
        assert_eq!(span.map(|s| map.text(s)), Some("\\."));
        assert!(invalid_escape(file, "x #\"a\\.b\"#\n").is_none());
    }
}
