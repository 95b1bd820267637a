//! Diagnostics as data.
//!
//! A [`Diagnostic`] is a value: a stable [`Code`], a severity, a message, labelled spans,
//! `help` and `related` diagnostics. Checks build them; [`render`] turns them into a miette
//! report, JSON, SARIF, GitHub annotations or one-line summaries at the edge. Nothing here
//! prints.

pub mod codes;
pub mod render;
pub mod sarif;

use crate::source::{FileId, SourceMap, Span};
use std::cmp::Ordering;

/// How bad a finding is.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Severity {
    Error,
    Warning,
    Advice,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Advice => "advice",
        }
    }
}

/// A configured severity for a code (`tkc.toml` `[severity]`): `off` drops its diagnostics.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Level {
    Off,
    Advice,
    Warning,
    Error,
}

impl Level {
    pub const NAMES: [&'static str; 4] = ["off", "advice", "warning", "error"];

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "off" => Some(Level::Off),
            "advice" => Some(Level::Advice),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    /// The severity diagnostics get at this level (`None`: dropped).
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Off => None,
            Level::Advice => Some(Severity::Advice),
            Level::Warning => Some(Severity::Warning),
            Level::Error => Some(Severity::Error),
        }
    }
}

/// Applies per-code levels (keyed by full code name): drops `off` codes and sets the others'
/// severity. Codes not in the map keep theirs.
pub fn apply_levels(
    levels: &std::collections::BTreeMap<String, Level>,
    diagnostics: &mut Diagnostics,
) {
    if levels.is_empty() {
        return;
    }
    diagnostics.retain(|d| levels.get(d.code.name) != Some(&Level::Off));
    for d in diagnostics.iter_mut() {
        if let Some(severity) = levels.get(d.code.name).and_then(|l| l.severity()) {
            d.severity = severity;
        }
    }
}

/// A diagnostic code: a stable name users search for, configure and silence.
///
/// The doc text is the code's `tkc explain` page; declare codes with [`declare_code!`] so the
/// doc comment in the source *is* that text.
#[derive(Debug)]
pub struct Code {
    /// `tkc::<family>::<rule>`.
    pub name: &'static str,
    /// The severity a diagnostic of this code has unless configured otherwise.
    pub severity: Severity,
    /// The explanation, from the doc comment (first line: summary).
    pub doc: &'static str,
    /// The reason Tekton gives a run that fails this way (`ParameterMissing`, ...), if any.
    pub tekton_reason: Option<&'static str>,
}

impl Code {
    /// The first line of the documentation.
    pub fn summary(&self) -> &'static str {
        self.doc
            .lines()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .trim_start_matches("# ")
    }

    /// The documentation with the one leading space of doc comments removed.
    pub fn explanation(&self) -> String {
        let mut out = String::new();
        for line in self.doc.lines() {
            out.push_str(line.strip_prefix(' ').unwrap_or(line));
            out.push('\n');
        }
        out.trim_end().to_string() + "\n"
    }
}

impl PartialEq for Code {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// Declares a diagnostic [`Code`] whose doc comment is its `tkc explain` text.
///
/// ```ignore
/// declare_code! {
///     /// A field that Tekton does not know.
///     pub static UNKNOWN_FIELD = "tkc::schema::unknown-field", Error;
/// }
/// ```
#[macro_export]
macro_rules! declare_code {
    ($(#[doc = $doc:literal])* $vis:vis static $name:ident = $code:literal, $sev:ident $(, reason = $reason:literal)? ;) => {
        $(#[doc = $doc])*
        $vis static $name: $crate::diag::Code = $crate::diag::Code {
            name: $code,
            severity: $crate::diag::Severity::$sev,
            doc: concat!($($doc, "\n"),*),
            tekton_reason: $crate::declare_code!(@reason $($reason)?),
        };
    };
    (@reason) => { None };
    (@reason $reason:literal) => { Some($reason) };
}

/// A span with a message. The primary label is where the diagnostic "is".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// One finding.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub code: &'static Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// Further findings that belong to this one (for example the other definition of a
    /// duplicated name, in another file).
    pub related: Vec<Diagnostic>,
    /// The change that resolves the finding, as data, where the check knows it: editors
    /// offer it as a quick fix (the renderers show `help`, which says the same in words).
    pub fix: Option<Fix>,
}

/// A change a finding proposes, in terms of the model: the language server finds where it
/// goes in the text and writes it in the document's syntax.
#[derive(Clone, Debug, PartialEq)]
pub enum Fix {
    /// Bind params on the pipeline task whose name is at `task`.
    AddParams { task: Span, params: Vec<NewParam> },
    /// Pass the values of references pasted into a step's script through the step's `env`,
    /// and use the variables, quoted, instead.
    ScriptToEnv { uses: Vec<EnvUse> },
}

/// A param to bind, with a placeholder value for its type in each syntax.
#[derive(Clone, Debug, PartialEq)]
pub struct NewParam {
    pub name: String,
    /// `""`, `[]`, `{key: ""}`.
    pub yaml_value: String,
    /// `value=""`, `{ (array)value }`, `{ value key="" }`.
    pub kdl_value: String,
}

/// A reference pasted into a script: where, the environment variable to pass it through,
/// and the reference's text (`$(params.revision)`).
#[derive(Clone, Debug, PartialEq)]
pub struct EnvUse {
    pub span: Span,
    pub var: String,
    pub reference: String,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: &'static Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            related: Vec::new(),
            fix: None,
        }
    }

    /// Sets the fix the finding proposes.
    pub fn with_fix(mut self, fix: Fix) -> Diagnostic {
        self.fix = Some(fix);
        self
    }

    /// Adds the primary label (the first one added is primary).
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        let primary = !self.labels.iter().any(|l| l.primary);
        self.labels.push(Label {
            span,
            message: message.into(),
            primary,
        });
        self
    }

    /// Adds a secondary label.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_optional_help(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn with_related(mut self, related: Diagnostic) -> Diagnostic {
        self.related.push(related);
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Diagnostic {
        self.severity = severity;
        self
    }

    /// The primary label's span (or the first label's).
    pub fn primary_span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or_else(|| self.labels.first())
            .map(|l| l.span)
    }

    /// A total order for deterministic output: by file; in a file, what makes its text
    /// unreadable (bytes, then syntax) before anything else, as the rest may only be its
    /// consequences (a Task lost to a YAML error is "not found" earlier in the file); then by
    /// position, code, message.
    fn sort_key(&self) -> (Option<FileId>, u8, Option<Span>, &str, &str) {
        let span = self.primary_span();
        let stage = match self.code.name {
            "tkc::syntax::invalid-utf8" | "tkc::syntax::not-text" => 0,
            "tkc::syntax::yaml" | "tkc::syntax::kdl" => 1,
            _ => 2,
        };
        (
            span.map(|s| s.file),
            stage,
            span,
            self.code.name,
            &self.message,
        )
    }
}

/// A collection of diagnostics.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn extend(&mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(diagnostics);
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Sorts into source order and removes exact duplicates (the same finding reached twice).
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.items.dedup_by(|a, b| {
            a.sort_key().cmp(&b.sort_key()) == Ordering::Equal && a.labels == b.labels
        });
    }

    pub fn retain(&mut self, keep: impl FnMut(&Diagnostic) -> bool) {
        self.items.retain(keep);
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Diagnostic> {
        self.items.iter_mut()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// Suppression comments: `# tkc:ignore[code, other-code]` (or `// tkc:ignore[...]` in KDL) on
/// the line of a diagnostic's primary label, or alone on the line above it, silences those
/// codes there. A code may be given in full (`tkc::lint::latest-image`) or by its last part
/// (`latest-image`); `tkc:ignore` without a list silences every code.
pub fn apply_suppressions(sources: &SourceMap, diagnostics: &mut Diagnostics) {
    // Per file: does it have any suppression comment? (Asked once, not per diagnostic.)
    let mut has_comments: Vec<Option<bool>> = Vec::new();
    diagnostics.retain(|d| {
        let Some(span) = d.primary_span() else {
            return true;
        };
        let file = sources.get(span.file);
        let index = span.file.index();
        if has_comments.len() <= index {
            has_comments.resize(index + 1, None);
        }
        if !*has_comments[index].get_or_insert_with(|| file.text().contains("tkc:ignore")) {
            return true;
        }
        let line = file.line_col(span.start).line;
        let here = suppressed_codes(file.line_text(line));
        let above = if line > 1 {
            let prev = file.line_text(line - 1);
            let trimmed = prev.trim_start();
            if trimmed.starts_with('#') || trimmed.starts_with("//") {
                suppressed_codes(prev)
            } else {
                None
            }
        } else {
            None
        };
        ![here, above]
            .into_iter()
            .flatten()
            .any(|codes| codes.is_empty() || codes.iter().any(|c| code_matches(d.code, c)))
    });
}

fn code_matches(code: &Code, given: &str) -> bool {
    codes::names(code, given)
}

/// The codes a `tkc:ignore[...]` on this line names (empty list: all codes).
fn suppressed_codes(line: &str) -> Option<Vec<String>> {
    let listed = listed_codes(line)?;
    Some(listed.into_iter().map(|(c, _)| c.to_string()).collect())
}

/// The codes a `tkc:ignore[...]` on this line names, each with its byte offset in the line
/// (empty list: all codes).
fn listed_codes(line: &str) -> Option<Vec<(&str, usize)>> {
    let at = line.find("tkc:ignore")?;
    let open = at + "tkc:ignore".len();
    let Some(list) = line[open..].strip_prefix('[') else {
        return Some(Vec::new());
    };
    let end = list.find(']').unwrap_or(list.len());
    let mut out = Vec::new();
    let mut offset = open + 1;
    for item in list[..end].split(',') {
        let code = item.trim();
        if !code.is_empty() {
            let lead = item.len() - item.trim_start().len();
            out.push((code, offset + lead));
        }
        offset += item.len() + 1;
    }
    Some(out)
}

/// A `tkc:ignore[...]` comment in `files` that names a code no finding has: it silences
/// nothing ([`codes::UNKNOWN_IGNORE_CODE`]), with the code it most likely means. Only text
/// after a `#` or `//` on its line counts as a comment, and only words made of a code's
/// characters count as codes.
pub fn unknown_suppressions(sources: &SourceMap, files: &[FileId]) -> Vec<Diagnostic> {
    let all = codes::all();
    let mut out = Vec::new();
    for &file in files {
        let text = sources.get(file).text();
        if !text.contains("tkc:ignore") {
            continue;
        }
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let line_start = start;
            start += line.len();
            let Some(at) = line.find("tkc:ignore") else {
                continue;
            };
            if !(line[..at].contains('#') || line[..at].contains("//")) {
                continue;
            }
            for (given, offset) in listed_codes(line).unwrap_or_default() {
                // `tkc:ignore[...]` in prose about the syntax names no code.
                let code_like = given.chars().any(|c| c.is_ascii_alphabetic())
                    && given
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '-' || c == '_');
                if !code_like || all.iter().any(|c| codes::names(c, given)) {
                    continue;
                }
                let at = line_start + offset;
                let help = match codes::closest_as_written(given) {
                    Some(code) => format!("did you mean `{code}`?"),
                    None => "`tkc explain --list` lists the codes".to_string(),
                };
                out.push(
                    Diagnostic::new(
                        &codes::UNKNOWN_IGNORE_CODE,
                        format!("`tkc:ignore` names an unknown code `{given}`"),
                    )
                    .with_label(
                        Span::new(file, at, at + given.len()),
                        "no such code: this silences nothing",
                    )
                    .with_help(help),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppression_lists() {
        assert_eq!(
            suppressed_codes("image: x # tkc:ignore[latest-image, tkc::lint::x]"),
            Some(vec!["latest-image".to_string(), "tkc::lint::x".to_string()])
        );
        assert_eq!(suppressed_codes("# tkc:ignore"), Some(vec![]));
        assert_eq!(suppressed_codes("nothing"), None);
        assert_eq!(
            listed_codes("x # tkc:ignore[ a,  bb ,c]"),
            Some(vec![("a", 16), ("bb", 20), ("c", 24)])
        );
    }
}
