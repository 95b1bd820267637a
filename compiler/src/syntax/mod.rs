//! One span-carrying syntax tree for both surface syntaxes.
//!
//! YAML ([`yaml`]) and KDL ([`kdl`]) both produce [`Node`]s: maps with ordered keys,
//! sequences, scalars and null, every key and value with its [`Span`]. The tree knows nothing
//! of Tekton: the KDL dialect's few structural conventions (positional arguments, repeated
//! child nodes) are kept as data and interpreted by the model decoder.

pub mod kdl;
pub mod kdl_escapes;
pub mod yaml;
pub mod yaml_fast;

use crate::diag::Diagnostic;
use crate::source::{FileId, SourceMap, Span, Syntax};

/// A value in the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    pub origin: Syntax,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Map),
}

/// A scalar with its resolved type. `text` is the value after unescaping (for YAML block
/// scalars: after indentation and chomping).
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub kind: ScalarKind,
    /// The scalar is a KDL node's only argument (`args "a"`): it may stand for a one-item list
    /// or for a struct given only its positional argument.
    pub kdl_argument: bool,
}

/// What a scalar resolved to. Kubernetes reads YAML with YAML 1.1 resolution rules
/// (`yes`/`on` are booleans), so an unquoted `true` is not a string.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ScalarKind {
    /// Quoted, block, or a plain scalar that is no other type.
    Str,
    Bool(bool),
    Int,
    Float,
}

impl ScalarKind {
    /// How a type error names it.
    pub fn describe(self) -> &'static str {
        match self {
            ScalarKind::Str => "a string",
            ScalarKind::Bool(_) => "a boolean",
            ScalarKind::Int => "an integer",
            ScalarKind::Float => "a number",
        }
    }
}

/// A mapping with its keys in source order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Map {
    pub entries: Vec<Entry>,
    /// KDL only: the node's positional arguments, when it also has properties or children.
    pub args: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    pub fn new(value: Value, span: Span, origin: Syntax) -> Node {
        Node {
            value,
            span,
            origin,
        }
    }

    /// How a type error names this value ("a string", "a list", ...).
    pub fn describe(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar(s) => s.kind.describe(),
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// Looks up a key of a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }
}

/// The value as JSON (scalars keep their resolved type).
pub fn node_to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Null => J::Null,
        Value::Scalar(s) => match s.kind {
            ScalarKind::Str => J::String(s.text.clone()),
            ScalarKind::Bool(b) => J::Bool(b),
            ScalarKind::Int => crate::model::decode::parse_int(&s.text)
                .map_or_else(|| J::String(s.text.clone()), J::from),
            ScalarKind::Float => s
                .text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| J::String(s.text.clone()), J::Number),
        },
        Value::Seq(items) => J::Array(items.iter().map(node_to_json).collect()),
        Value::Map(map) => J::Object(
            map.entries
                .iter()
                .map(|e| (e.key.clone(), node_to_json(&e.value)))
                .collect(),
        ),
    }
}

/// The documents of one file: each top-level YAML document (or KDL top-level node) is a node.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub documents: Vec<Node>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one file of the map with the parser its syntax calls for.
pub fn parse_file(sources: &SourceMap, file: FileId) -> ParsedFile {
    let source = sources.get(file);
    match source.syntax() {
        Syntax::Yaml => yaml::parse(file, source.text()),
        Syntax::Kdl => kdl::parse(file, source.text()),
    }
}

/// The first Go template action (`{{ ... }}`, Helm's syntax) of `text` where YAML expects
/// structure, as a byte range: a Helm chart's template is YAML only once Helm has rendered
/// it. Structure is the start of a line (`{{- if .Values.x }}`, `{{ end }}`), a mapping
/// value (`name: {{ .Values.name }}`) or a sequence item (`- {{ .Values.arg }}`). An action
/// anywhere else (inside quotes, in the middle of a script line: `docker inspect -f
/// {{.Id}}`) is text to YAML, and a YAML error near it is a YAML error.
pub fn helm_template_action(text: &str) -> Option<std::ops::Range<usize>> {
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let start = line_start;
        line_start += line.len();
        let Some(open) = structural_action(line) else {
            continue;
        };
        if let Some(close) = line[open..].find("}}") {
            return Some(start + open..start + open + close + 2);
        }
    }
    None
}

/// Where a template action starts on `line`, if it stands where YAML expects structure.
fn structural_action(line: &str) -> Option<usize> {
    let indent = line.len() - line.trim_start().len();
    let mut rest = &line[indent..];
    let mut at = indent;
    // A sequence item: `- `.
    if let Some(item) = rest.strip_prefix("- ") {
        let skipped = rest.len() - item.trim_start().len();
        at += skipped;
        rest = &rest[skipped..];
    }
    if rest.starts_with("{{") {
        return Some(at);
    }
    // A mapping value: `key: {{`, with a plain key.
    let colon = rest.find(": ")?;
    let key = &rest[..colon];
    let plain_key = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    let value = &rest[colon + 1..];
    let value_at = at + colon + 1 + (value.len() - value.trim_start().len());
    (plain_key && value.trim_start().starts_with("{{")).then_some(value_at)
}

/// Maps a byte range of a scalar's *value* to the source span that produced it.
///
/// For plain one-line scalars the value is the source text itself; for quoted, block and
/// multi-line scalars (indentation removed, lines folded, escapes decoded) the value's
/// characters are matched against the source in order, so a `$(params.x)` reference inside a
/// script points at the reference on its own line.
pub fn value_subspan(
    sources: &SourceMap,
    node_span: Span,
    value: &str,
    range: (usize, usize),
) -> Span {
    value_subspans(sources, node_span, value, &[range])
        .pop()
        .unwrap_or(node_span)
}

/// [`value_subspan`] for several ranges of one value, aligning the value with the source once:
/// linear in the value's length plus a logarithm per range, where one [`value_subspan`] per
/// range was quadratic (issue 17: 5,000 references in one script took minutes).
///
/// The alignment is greedy: every value character is matched at its first occurrence at or
/// after the current source position (whitespace, quotes, escapes and indentation in the
/// source are skipped over). It works on runs of equal bytes rather than character by
/// character, so a block scalar costs one comparison per byte and one search per line.
pub fn value_subspans(
    sources: &SourceMap,
    node_span: Span,
    value: &str,
    ranges: &[(usize, usize)],
) -> Vec<Span> {
    if ranges.is_empty() {
        return Vec::new();
    }
    let src = sources.text(node_span);
    // The value written as it is (a plain scalar), or after an opening quote (`"`, `'`, KDL's
    // `#"`): no alignment needed.
    if !value.is_empty() {
        let written_at =
            (0..=3.min(src.len())).find(|&at| src.get(at..at + value.len()) == Some(value));
        if let Some(at) = written_at {
            return ranges
                .iter()
                .map(|&(start, end)| node_span.slice(at + start, at + end))
                .collect();
        }
    }
    let segments = align(
        src,
        value,
        ranges.iter().map(|&(_, end)| end).max().unwrap_or(0),
    );
    ranges
        .iter()
        .map(|&(start, end)| {
            segments
                .source_range(value, start, end)
                .map_or(node_span, |(s, e)| node_span.slice(s, e))
        })
        .collect()
}

/// Runs of a value aligned with its source: `(value offset, source offset, length in bytes)`,
/// in increasing order of both offsets; each run holds whole characters, equal in both.
struct Aligned(Vec<(usize, usize, usize)>);

/// Aligns the characters of `value` before `until` with `src` (see [`value_subspans`]), up to
/// the first character that cannot be found. A block scalar's header line (`|-`,
/// `>+2 # comment`) holds no content.
fn align(src: &str, value: &str, until: usize) -> Aligned {
    let src_bytes = src.as_bytes();
    let value_bytes = value.as_bytes();
    let mut si = if src.starts_with(['|', '>']) {
        src.find('\n').map_or(0, |n| n + 1)
    } else {
        0
    };
    let mut vi = 0;
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    // Up to the end of the character that holds `until`.
    let mut until = until.min(value.len());
    while !value.is_char_boundary(until) {
        until += 1;
    }
    while vi < until {
        let mut n = value_bytes[vi..until]
            .iter()
            .zip(&src_bytes[si..])
            .take_while(|(a, b)| a == b)
            .count();
        // Both sides agree on whole characters only.
        while n > 0 && !value.is_char_boundary(vi + n) {
            n -= 1;
        }
        if n == 0 {
            let Some(ch) = value[vi..].chars().next() else {
                break;
            };
            let Some(found) = src[si..].find(ch) else {
                break;
            };
            si += found;
            n = ch.len_utf8();
        }
        runs.push((vi, si, n));
        vi += n;
        si += n;
    }
    Aligned(runs)
}

impl Aligned {
    /// Where the value's bytes `start..end` came from in the source, if their first and last
    /// characters were aligned.
    fn source_range(&self, value: &str, start: usize, end: usize) -> Option<(usize, usize)> {
        let s = self.source_start(value, start)?;
        let e = self.source_end(value, end)?;
        (e >= s).then_some((s, e))
    }

    /// Where the character starting at value offset `at` starts in the source.
    fn source_start(&self, value: &str, at: usize) -> Option<usize> {
        if !value.is_char_boundary(at) {
            return None;
        }
        let i = self
            .0
            .partition_point(|&(v, _, _)| v <= at)
            .checked_sub(1)?;
        let (v, s, len) = self.0[i];
        (at < v + len).then_some(s + (at - v))
    }

    /// Where the last aligned character starting before value offset `end` ends in the source.
    fn source_end(&self, value: &str, end: usize) -> Option<usize> {
        let i = self
            .0
            .partition_point(|&(v, _, _)| v < end)
            .checked_sub(1)?;
        let (v, s, len) = self.0[i];
        if end >= v + len {
            return Some(s + len);
        }
        let mut e = end;
        while !value.is_char_boundary(e) {
            e += 1;
        }
        Some(s + (e - v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_actions_where_yaml_expects_structure() {
        let found = |text: &str| helm_template_action(text).map(|r| text[r].to_string());
        assert_eq!(
            found("{{- if .Values.x }}\n"),
            Some("{{- if .Values.x }}".into())
        );
        assert_eq!(
            found("  name: {{ .Values.name }}\n"),
            Some("{{ .Values.name }}".into())
        );
        assert_eq!(
            found("  - {{ .Values.arg }}\n"),
            Some("{{ .Values.arg }}".into())
        );
        assert_eq!(
            found("    {{- include \"x\" . | nindent 4 }}\n"),
            Some("{{- include \"x\" . | nindent 4 }}".into())
        );
        // Text to YAML: quoted, or inside a line of a script.
        assert_eq!(found("  name: \"{{ .Values.name }}\"\n"), None);
        assert_eq!(found("    docker inspect -f {{.Id}} app\n"), None);
        assert_eq!(found("# {{ .Values.note }}\n"), None);
        assert_eq!(found("  args: [\"{{x}}\"]\n"), None);
    }

    #[test]
    fn subspan_inside_block_scalar_points_at_the_reference() {
        let text = "script: |\n  echo hi\n  echo $(params.x)\n";
        let mut map = SourceMap::new();
        let file = map.add("t.yaml", text);
        let span = Span::new(file, 8, text.len());
        let value = "echo hi\necho $(params.x)\n";
        let at = value.find("$(").unwrap_or(0);
        let sub = value_subspan(&map, span, value, (at, at + 11));
        assert_eq!(map.text(sub), "$(params.x)");
    }

    /// The character-by-character alignment [`value_subspans`] used before it worked on runs
    /// of bytes: both must map every range alike.
    fn subspans_char_by_char(
        src: &str,
        value: &str,
        ranges: &[(usize, usize)],
    ) -> Vec<Option<(usize, usize)>> {
        let mut src_pos = if src.starts_with(['|', '>']) {
            src.find('\n').map_or(0, |n| n + 1)
        } else {
            0
        };
        let last_end = ranges.iter().map(|&(_, end)| end).max().unwrap_or(0);
        let mut aligned: Vec<(usize, usize, usize)> = Vec::new();
        for (vi, ch) in value.char_indices() {
            if vi >= last_end {
                break;
            }
            let Some(found) = src[src_pos..].find(ch) else {
                break;
            };
            let at = src_pos + found;
            src_pos = at + ch.len_utf8();
            aligned.push((vi, at, src_pos));
        }
        ranges
            .iter()
            .map(|&(start, end)| {
                let s = aligned
                    .binary_search_by_key(&start, |&(vi, _, _)| vi)
                    .ok()
                    .map(|i| aligned[i].1);
                let before_end = aligned.partition_point(|&(vi, _, _)| vi < end);
                let e = before_end.checked_sub(1).map(|i| aligned[i].2);
                match (s, e) {
                    (Some(s), Some(e)) if e >= s => Some((s, e)),
                    _ => None,
                }
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn runs_of_bytes_align_as_characters_did(
            value in "[ab$() \n\"'é\\\\]{0,40}",
            noise in proptest::collection::vec(0usize..6, 0..40),
            ranges in proptest::collection::vec((0usize..45, 0usize..8), 1..4),
        ) {
            // A source the value could have come from: a block header, then the value with
            // indentation, quotes and escapes inserted.
            let mut src = String::from("|-\n  ");
            for (i, ch) in value.chars().enumerate() {
                match noise.get(i).copied().unwrap_or(0) {
                    1 => src.push_str("  "),
                    2 => src.push('\\'),
                    3 => src.push('"'),
                    4 => src.push('é'),
                    _ => {}
                }
                src.push(ch);
            }
            let ranges: Vec<(usize, usize)> = ranges
                .iter()
                .map(|&(start, len)| (start.min(value.len()), (start + len).min(value.len())))
                .collect();
            let until = ranges.iter().map(|&(_, end)| end).max().unwrap_or(0);
            let runs = align(&src, &value, until);
            let mapped: Vec<Option<(usize, usize)>> = ranges
                .iter()
                .map(|&(start, end)| runs.source_range(&value, start, end))
                .collect();
            proptest::prop_assert_eq!(mapped, subspans_char_by_char(&src, &value, &ranges));
        }
    }

    #[test]
    fn subspans_of_several_references_in_one_pass() {
        let text = "script: |\n  echo $(params.a)\n  echo \"$(params.b)\" $(params.a)\n";
        let mut map = SourceMap::new();
        let file = map.add("t.yaml", text);
        let span = Span::new(file, 8, text.len());
        let value = "echo $(params.a)\necho \"$(params.b)\" $(params.a)\n";
        let ranges: Vec<(usize, usize)> = crate::vars::parse(value)
            .iter()
            .map(|r| (r.start, r.end))
            .collect();
        let spans = value_subspans(&map, span, value, &ranges);
        let texts: Vec<&str> = spans.iter().map(|s| map.text(*s)).collect();
        assert_eq!(texts, ["$(params.a)", "$(params.b)", "$(params.a)"]);
        for (range, sub) in ranges.iter().zip(&spans) {
            assert_eq!(value_subspan(&map, span, value, *range), *sub);
        }
    }
}
