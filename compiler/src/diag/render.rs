//! Renderers: the same diagnostics as a miette report, JSON, SARIF, GitHub annotations or
//! one line each. Every renderer returns a `String`; the CLI decides where it goes.

use super::{Diagnostic, Label, Severity};
use crate::source::{FileId, SourceFile, SourceMap, Span};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};
use serde::Serialize;
use std::fmt;

/// Options of the human renderer.
#[derive(Copy, Clone, Debug)]
pub struct HumanOptions {
    pub color: bool,
    pub width: usize,
}

impl Default for HumanOptions {
    fn default() -> Self {
        HumanOptions {
            color: false,
            width: 100,
        }
    }
}

/// miette's graphical report of each diagnostic, with the source snippet.
pub fn human(sources: &SourceMap, diagnostics: &[Diagnostic], options: HumanOptions) -> String {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let wrapping = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(options.width)
        .with_context_lines(1);
    let straight = wrapping.clone().with_wrap_lines(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let report = MietteDiagnostic::new(sources, diagnostic);
        let handler = if fits_unwrapped(diagnostic, options.width) {
            &straight
        } else {
            &wrapping
        };
        let mut rendered = String::new();
        if handler.render_report(&mut rendered, &report).is_err() {
            // Rendering into a String cannot fail on I/O; fall back to one line if miette
            // refuses a span.
            rendered = short_line(sources, diagnostic);
        }
        out.push_str(&fold_unlabelled_lines(&rendered));
        out.push('\n');
    }
    out
}

/// Whether wrapping would leave the diagnostic's text as it is: every line of the message
/// and the help is ASCII (one column a byte) and fits the width beside the widest indent
/// miette gives it (`  help: `, 8 columns, within `width - 2`). Wrapping is most of the
/// cost of rendering (`textwrap` measures every word of every line), and most findings are
/// short; those with related findings (rendered nested, narrower) are always wrapped.
fn fits_unwrapped(diagnostic: &Diagnostic, width: usize) -> bool {
    const INDENT: usize = 8;
    let fits = |text: &str| {
        text.is_ascii()
            && text.lines().all(|line| {
                INDENT + line.len() + 2 <= width && !line.ends_with(" ") && !line.contains("\t")
            })
    };
    diagnostic.related.is_empty()
        && fits(&diagnostic.message)
        && diagnostic.help.as_deref().is_none_or(fits)
}

/// Lines between two labels that miette shows in one snippet are folded to `⋮`, keeping
/// one line of context on each side, so the labels stay close to each other. (miette 7 joins
/// two labels into one snippet when the second starts before the first one's line number
/// plus its snippet's end line: far into a file, labels hundreds of lines apart.)
fn fold_unlabelled_lines(report: &str) -> String {
    /// `(is a source line, is a label line)` of a rendered line, ANSI colours aside.
    fn kind(line: &str) -> (bool, bool) {
        let plain = strip_ansi(line);
        let gutter = plain.trim_start();
        let digits = gutter.chars().take_while(char::is_ascii_digit).count();
        let source = digits > 0 && gutter[digits..].starts_with(" │");
        // Inside a multi-line label the line carries its bar: keep it, or the bar breaks.
        let in_span = source
            && gutter[digits + " │".len()..]
                .trim_start_matches(' ')
                .starts_with(['│', '├', '╭', '╰']);
        (source && !in_span, gutter.starts_with('·') || in_span)
    }
    let lines: Vec<&str> = report.split_inclusive('\n').collect();
    let kinds: Vec<(bool, bool)> = lines.iter().map(|l| kind(l)).collect();
    let mut out = String::with_capacity(report.len());
    let mut i = 0;
    while i < lines.len() {
        // A run of source lines right after a label line whose last line has labels (so: the
        // lines between two labelled lines, and the second of them): all but one line of
        // context on each side are folded, if that hides two lines or more.
        let after_label = i > 0 && kinds[i - 1].1;
        let run = kinds[i..]
            .iter()
            .take_while(|(source, label)| *source && !*label)
            .count();
        let labelled_last = kinds.get(i + run).is_some_and(|(_, label)| *label);
        if after_label && labelled_last && run >= 5 {
            out.push_str(lines[i]);
            let width = strip_ansi(lines[i])
                .find('│')
                .unwrap_or(1)
                .saturating_sub(1);
            out.push_str(&format!("{:>width$} ⋮\n", ""));
            out.push_str(lines[i + run - 2]);
            out.push_str(lines[i + run - 1]);
            i += run;
            continue;
        }
        out.push_str(lines[i]);
        i += 1;
    }
    out
}

/// `text` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A file's text as miette wants it, named as the user named it.
struct FileSource<'a> {
    file: &'a SourceFile,
}

impl SourceCode for FileSource<'_> {
    /// miette's own `read_span` scans the text from its start for every span, which makes
    /// many reports on one big file quadratic; it is given only the lines around the span
    /// (found with the file's line index) and its answer is moved back into place.
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let text = self.file.text();
        let span_end = span.offset().saturating_add(span.len());
        let (start, end, lines_before) = if span_end <= text.len() {
            let first_line = self.file.line_col(clamp(span.offset())).line;
            let last_line = self.file.line_col(clamp(span_end)).line;
            let window_first = first_line.saturating_sub(context_lines_before + 1).max(1);
            let start = self.file.line_start(window_first);
            let end = self
                .file
                .line_start(last_line + context_lines_after + 2)
                .max(span_end);
            (start, end, window_first - 1)
        } else {
            (0, text.len(), 0)
        };
        let window = text.get(start..end).unwrap_or(text);
        let (start, lines_before) = if window.len() == text.len() {
            (0, 0)
        } else {
            (start, lines_before)
        };
        let inner_span = SourceSpan::new(span.offset().saturating_sub(start).into(), span.len());
        let inner = window.read_span(&inner_span, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.file.name().to_string(),
            inner.data(),
            SourceSpan::new((inner.span().offset() + start).into(), inner.span().len()),
            inner.line() + lines_before,
            inner.column(),
            inner.line_count() + lines_before,
        )))
    }
}

fn clamp(offset: usize) -> u32 {
    u32::try_from(offset).unwrap_or(u32::MAX)
}

/// The most labels one human report shows: miette lays labels out in time that grows much
/// faster than their number (4,000 labels on one line took 40 s), and a reader gains nothing
/// from the 33rd.
const MAX_HUMAN_LABELS: usize = 32;

/// Lines longer than this (in bytes) are not shown in a human report: miette lays out a
/// snippet in time that grows with the line's length for every label, and panics on columns
/// past 65,535 (a 1.4 MB one-line file took ten minutes, then panicked). The report names the
/// place instead.
const MAX_SNIPPET_LINE: usize = 4096;

/// One diagnostic in miette's terms. Labels in a file other than the primary label's become
/// related reports, since a miette report shows one source.
struct MietteDiagnostic<'a> {
    message: String,
    code: &'static str,
    severity: Severity,
    help: Option<String>,
    source: Option<FileSource<'a>>,
    labels: Vec<LabeledSpan>,
    related: Vec<MietteDiagnostic<'a>>,
}

impl<'a> MietteDiagnostic<'a> {
    fn new(sources: &'a SourceMap, d: &Diagnostic) -> MietteDiagnostic<'a> {
        let on_long_line = d.labels.iter().any(|l| {
            let file = sources.get(l.span.file);
            file.line_len_at(l.span.start) > MAX_SNIPPET_LINE
                || file.line_len_at(l.span.end) > MAX_SNIPPET_LINE
        });
        if on_long_line {
            return MietteDiagnostic::without_snippet(sources, d);
        }
        let primary_file = d.primary_span().map(|s| s.file);
        let mut related: Vec<MietteDiagnostic<'a>> = Vec::new();
        let mut labels = Vec::new();
        // The primary labels and the first others, in their order; the rest are counted only.
        let primaries = d.labels.iter().filter(|l| l.primary).count();
        let mut others_left = MAX_HUMAN_LABELS.saturating_sub(primaries);
        let mut hidden = 0;
        let shown = d.labels.iter().filter(|l| {
            if l.primary {
                return true;
            }
            if others_left == 0 {
                hidden += 1;
                return false;
            }
            others_left -= 1;
            true
        });
        for label in shown {
            if Some(label.span.file) == primary_file {
                labels.push(labeled_span(sources, label));
            } else {
                related.push(MietteDiagnostic {
                    message: if label.message.is_empty() {
                        "see also".to_string()
                    } else {
                        label.message.clone()
                    },
                    code: "",
                    severity: Severity::Advice,
                    help: None,
                    source: Some(file_source(sources, label.span.file)),
                    labels: vec![LabeledSpan::new_with_span(
                        None,
                        source_span(sources, label.span),
                    )],
                    related: Vec::new(),
                });
            }
        }
        related.extend(d.related.iter().map(|r| MietteDiagnostic::new(sources, r)));
        let help = match (hidden, &d.help) {
            (0, help) => help.clone(),
            (n, help) => {
                let note = format!("{n} more places not shown here (`--format json` lists them)");
                Some(
                    help.as_ref()
                        .map_or(note.clone(), |h| format!("{h}\n{note}")),
                )
            }
        };
        MietteDiagnostic {
            message: d.message.clone(),
            code: d.code.name,
            severity: d.severity,
            help,
            source: primary_file.map(|f| file_source(sources, f)),
            labels,
            related,
        }
    }
}

impl<'a> MietteDiagnostic<'a> {
    /// The report without source lines: the message with where it is, and the help.
    fn without_snippet(sources: &'a SourceMap, d: &Diagnostic) -> MietteDiagnostic<'a> {
        let at = d.primary_span().map_or(String::new(), |span| {
            let l = locate(sources, span);
            format!(
                "\n  at {}:{}:{} (the line is too long to show)",
                l.file, l.line, l.column
            )
        });
        MietteDiagnostic {
            message: format!("{}{at}", d.message),
            code: d.code.name,
            severity: d.severity,
            help: d.help.clone(),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        }
    }
}

fn file_source(sources: &SourceMap, file: FileId) -> FileSource<'_> {
    FileSource {
        file: sources.get(file),
    }
}

fn source_span(sources: &SourceMap, span: Span) -> SourceSpan {
    let len = sources.get(span.file).text().len();
    let start = (span.start as usize).min(len);
    let end = (span.end as usize).min(len).max(start);
    SourceSpan::new(start.into(), end - start)
}

fn labeled_span(sources: &SourceMap, label: &Label) -> LabeledSpan {
    let text = (!label.message.is_empty()).then(|| label.message.clone());
    let span = source_span(sources, label.span);
    if label.primary {
        LabeledSpan::new_primary_with_span(text, span)
    } else {
        LabeledSpan::new_with_span(text, span)
    }
}

impl fmt::Debug for MietteDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for MietteDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteDiagnostic<'_> {}

impl miette::Diagnostic for MietteDiagnostic<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        (!self.code.is_empty()).then(|| Box::new(self.code) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Advice => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty()).then(|| Box::new(self.labels.iter().cloned()) as Box<_>)
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        (!self.related.is_empty())
            .then(|| Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)) as Box<_>)
    }
}

/// A location as editors count it: 1-based lines, columns in Unicode characters, end exclusive.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// Where a span is, for the machine-readable formats.
pub fn locate(sources: &SourceMap, span: Span) -> Location {
    let file = sources.get(span.file);
    let start = file.line_col(span.start);
    let end = file.line_col(span.end);
    Location {
        file: file.name().to_string(),
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    files_checked: usize,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

/// One diagnostic in the `--format json` shape (also embedded in `tkc run --output json`).
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: &'a str,
    message: &'a str,
    help: Option<&'a str>,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    labels: Vec<JsonLabel<'a>>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    message: &'a str,
    #[serde(flatten)]
    location: Location,
}

/// The diagnostics as values in the `--format json` shape.
pub fn json_diagnostics<'a>(
    sources: &SourceMap,
    diagnostics: &'a [Diagnostic],
) -> Vec<JsonDiagnostic<'a>> {
    diagnostics
        .iter()
        .map(|d| {
            let at = d.primary_span().map(|s| locate(sources, s));
            // The primary label first, then the others in source order.
            let mut labels: Vec<&Label> = d.labels.iter().collect();
            labels.sort_by_key(|l| !l.primary);
            JsonDiagnostic {
                code: d.code.name,
                severity: d.severity.as_str(),
                message: &d.message,
                help: d.help.as_deref(),
                file: at.as_ref().map(|l| l.file.clone()),
                line: at.as_ref().map(|l| l.line),
                column: at.as_ref().map(|l| l.column),
                end_line: at.as_ref().map(|l| l.end_line),
                end_column: at.as_ref().map(|l| l.end_column),
                labels: labels
                    .into_iter()
                    .chain(d.related.iter().flat_map(|r| r.labels.iter()))
                    .map(|l| JsonLabel {
                        message: &l.message,
                        location: locate(sources, l.span),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// `--format json`: `{"version": 1, "files_checked", "errors", "warnings", "diagnostics": [...]}`.
pub fn json(sources: &SourceMap, diagnostics: &[Diagnostic], files_checked: usize) -> String {
    let report = JsonReport {
        version: 1,
        files_checked,
        errors: count(diagnostics, Severity::Error),
        warnings: count(diagnostics, Severity::Warning),
        diagnostics: json_diagnostics(sources, diagnostics),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

fn count(diagnostics: &[Diagnostic], severity: Severity) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

fn short_line(sources: &SourceMap, d: &Diagnostic) -> String {
    let at = match d.primary_span() {
        Some(span) => {
            let l = locate(sources, span);
            format!("{}:{}:{}: ", l.file, l.line, l.column)
        }
        None => String::new(),
    };
    format!(
        "{at}{}[{}] {}\n",
        d.severity.as_str(),
        d.code.name,
        d.message
    )
}

/// `--format short`: `file:line:col: severity[code] message`, one per line.
pub fn short(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| short_line(sources, d)).collect()
}

/// `--format github`: workflow commands that GitHub Actions shows as annotations.
pub fn github(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Advice => "notice",
        };
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        out.push_str("::");
        out.push_str(command);
        if let Some(span) = d.primary_span() {
            let l = locate(sources, span);
            out.push_str(&format!(
                " file={},line={},col={},endLine={},endColumn={},",
                escape_property(&l.file),
                l.line,
                l.column,
                l.end_line,
                l.end_column
            ));
        } else {
            out.push(' ');
        }
        out.push_str(&format!(
            "title={}::{}\n",
            escape_property(d.code.name),
            escape_data(&message)
        ));
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub use super::sarif::{SrcRoot, sarif};

#[cfg(test)]
mod window_tests {
    use super::*;

    /// The windowed `read_span` answers exactly what miette's full scan answers.
    #[test]
    fn windowed_read_span_matches_a_full_scan() {
        let text = "a: 1\n\nb:\n  - x\r\n  - yy\n\n\nc: é ✓\nlast";
        let mut map = SourceMap::new();
        let file = map.add("t.yaml", text);
        let source = FileSource {
            file: map.get(file),
        };
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        for &start in &boundaries {
            for &end in boundaries.iter().filter(|&&e| e >= start) {
                for context in [0, 1, 2] {
                    let span = SourceSpan::new(start.into(), end - start);
                    let full = text.read_span(&span, context, context);
                    let windowed = source.read_span(&span, context, context);
                    match (full, windowed) {
                        (Ok(f), Ok(w)) => {
                            let what = format!("{start}..{end} context {context}");
                            assert_eq!(f.data(), w.data(), "{what}");
                            assert_eq!(f.span(), w.span(), "{what}");
                            assert_eq!(f.line(), w.line(), "{what}");
                            assert_eq!(f.column(), w.column(), "{what}");
                            assert_eq!(f.line_count(), w.line_count(), "{what}");
                        }
                        (f, w) => assert_eq!(f.is_ok(), w.is_ok(), "{start}..{end}"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod fold_tests {
    use super::*;
    use crate::diag::codes;

    fn render(text: &str, labels: &[(usize, usize)]) -> String {
        let mut map = SourceMap::new();
        let file = map.add("t.yaml", text);
        let mut d = Diagnostic::new(&codes::YAML, "m");
        for &(start, end) in labels {
            d = d.with_label(Span::new(file, start, end), "here");
        }
        human(&map, &[d], HumanOptions::default())
    }

    /// Lines `lineNN` with some text after them (miette groups labels by their distance).
    fn lines(n: usize) -> String {
        (1..=n)
            .map(|i| format!("line{i:02}: {}\n", "x".repeat(30)))
            .collect()
    }

    #[test]
    fn lines_between_two_labels_fold() {
        // Two uses of a Task nine lines apart, far enough into the file that miette shows them
        // in one snippet, with every line between them (it joins labels whose distance is
        // less than the first one's line number).
        let filler = "# filler\n".repeat(20);
        let text = &(filler
            + "kind: Pipeline\nspec:\n  tasks:\n    - name: a\n      taskRef:\n        name: build\n    - name: b\n      taskSpec:\n        steps:\n          - name: s\n            image: alpine\n            script: echo\n    - name: c\n      taskRef:\n        name: build\n");
        let first = text.find("build").unwrap_or(0);
        let second = text.rfind("build").unwrap_or(0);
        let out = render(text, &[(first, first + 5), (second, second + 5)]);
        assert!(out.contains("27 │     - name: b"), "{out}");
        assert!(out.contains("⋮\n"), "{out}");
        assert!(!out.contains("steps:"), "{out}");
        assert!(out.contains("34 │       taskRef:"), "{out}");
    }

    #[test]
    fn lines_under_a_multi_line_label_stay() {
        let text = "# filler\n".repeat(20) + &lines(12);
        let at = |line: usize| text.find(&format!("line{line:02}")).unwrap_or(0);
        let out = render(&text, &[(at(2), at(9) + 6), (at(11), at(11) + 6)]);
        assert_eq!(out.matches("╭─[").count(), 1, "one snippet: {out}");
        for line in 2..=9 {
            assert!(out.contains(&format!("line{line:02}")), "{out}");
        }
        assert!(!out.contains('⋮'), "{out}");
    }
}
