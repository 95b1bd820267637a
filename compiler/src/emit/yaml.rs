//! A small deterministic YAML emitter (block style), for canonical Tekton YAML.
//!
//! serde_yaml is archived and the maintained serializers do not let us choose the layout, so
//! tkc writes YAML itself: block mappings and sequences (sequences indented under their key,
//! as `kubectl` writes them), keys in the order given, multi-line strings as `|` literal
//! blocks with the chomping indicator their trailing newlines call for (`|-`, `|`, `|+`), and
//! strings quoted whenever a plain scalar would read back as something else: `"true"`, `"on"`,
//! `"1"`, `""`, leading or trailing spaces, `: `, ` #`, indicator characters. Reading the
//! output back (with Kubernetes' YAML 1.1 rules, as tkc's own parser does) gives the value
//! that was written; a property test checks that.

use super::layout::{Layout, child};
use crate::syntax::yaml::resolve_plain;
use crate::syntax::{Node, ScalarKind};
use serde_json::Value;

/// A value to emit: JSON scalars, sequences, and maps with their keys in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Scalar(Value),
    Seq(Vec<Data>),
    Map(Vec<(String, Data)>),
}

impl From<&Value> for Data {
    /// Keys in the map's order.
    fn from(value: &Value) -> Data {
        match value {
            Value::Array(items) => Data::Seq(items.iter().map(Data::from).collect()),
            Value::Object(map) => Data::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Data::from(v)))
                    .collect(),
            ),
            scalar => Data::Scalar(scalar.clone()),
        }
    }
}

impl Data {
    /// The value as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Data::Scalar(v) => v.clone(),
            Data::Seq(items) => Value::Array(items.iter().map(Data::to_json).collect()),
            Data::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// One YAML document for `data` (no `---`), ending in a newline.
pub fn to_yaml(data: &Data) -> String {
    to_yaml_laid_out(data, None)
}

/// One YAML document, with the comments of its source's [`Layout`] (for `tkc convert`).
pub fn to_yaml_laid_out(data: &Data, layout: Option<&Layout>) -> String {
    let mut out = String::new();
    let cx = Cx {
        layout,
        path: String::new(),
    };
    for line in cx.before() {
        comment_line(&mut out, &line, 0);
    }
    match data {
        Data::Map(entries) if !entries.is_empty() => {
            write_map(&mut out, entries, 0, &cx, Vec::new())
        }
        Data::Seq(items) if !items.is_empty() => write_seq(&mut out, items, 0, &cx),
        other => {
            write_inline(&mut out, other, 0);
            out.push('\n');
        }
    }
    if let Some(layout) = layout {
        for line in layout.rest() {
            comment_line(&mut out, &line, 0);
        }
    }
    out
}

/// Where the writer is, for a [`Layout`]'s comments (no paths are built without one).
struct Cx<'a> {
    layout: Option<&'a Layout>,
    path: String,
}

impl Cx<'_> {
    fn child(&self, segment: &str) -> Cx<'_> {
        Cx {
            layout: self.layout,
            path: match self.layout {
                Some(_) => child(&self.path, segment),
                None => String::new(),
            },
        }
    }

    fn before(&self) -> Vec<String> {
        self.layout
            .map(|l| l.before(&self.path))
            .unwrap_or_default()
    }

    fn trailing(&self) -> Vec<String> {
        self.layout
            .map(|l| l.trailing(&self.path))
            .unwrap_or_default()
    }
}

/// A comment on a line of its own at column `at` (the line is indented after it).
fn comment_line(out: &mut String, text: &str, at: usize) {
    out.push('#');
    out.push_str(text);
    out.push('\n');
    indent(out, at);
}

/// Comments trailing a line (written before its line break).
fn trailing_comments(out: &mut String, lines: &[String]) {
    if !lines.is_empty() {
        out.push_str("  #");
        out.push_str(&lines.join(" "));
    }
}

/// Several documents separated by `---`.
pub fn to_yaml_stream(documents: &[Data]) -> String {
    let mut out = String::new();
    for (i, doc) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(doc));
    }
    out
}

/// Several documents with their sources' layouts, separated by `---`.
pub fn to_yaml_stream_laid_out(documents: &[(Data, Option<&Layout>)]) -> String {
    let mut out = String::new();
    for (i, (doc, layout)) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml_laid_out(doc, *layout));
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Is this value written as a `|` block (after which nothing may follow on its line)?
fn is_block(value: &Data) -> bool {
    matches!(value, Data::Scalar(Value::String(s)) if literal_block_fits(s))
}

/// Writes the entries of a non-empty map, each line at `at`; `first_trailing` are comments
/// for the end of the first entry's line (those of the list item the map is).
fn write_map(
    out: &mut String,
    entries: &[(String, Data)],
    at: usize,
    cx: &Cx,
    mut first_trailing: Vec<String>,
) {
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            indent(out, at);
        }
        let cx = cx.child(key);
        let mut trailing = std::mem::take(&mut first_trailing);
        trailing.extend(cx.trailing());
        let mut before = cx.before();
        if is_block(value) {
            before.append(&mut trailing);
        }
        for line in before {
            comment_line(out, &line, at);
        }
        write_key(out, key);
        out.push(':');
        write_value_after_key(out, value, at, &cx, &trailing);
    }
}

/// Writes the items of a non-empty sequence, each `- ` at `at`.
fn write_seq(out: &mut String, items: &[Data], at: usize, cx: &Cx) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            indent(out, at);
        }
        let cx = cx.child(&i.to_string());
        let mut before = cx.before();
        let mut trailing = cx.trailing();
        let map = matches!(item, Data::Map(e) if !e.is_empty());
        let seq = matches!(item, Data::Seq(s) if !s.is_empty());
        if seq || is_block(item) {
            before.append(&mut trailing);
        }
        for line in before {
            comment_line(out, &line, at);
        }
        out.push_str("- ");
        match item {
            Data::Map(entries) if map => write_map(out, entries, at + 2, &cx, trailing),
            Data::Seq(inner) if !inner.is_empty() => write_seq(out, inner, at + 2, &cx),
            other => {
                write_inline(out, other, at + 2);
                trailing_comments(out, &trailing);
                out.push('\n');
            }
        }
    }
}

/// The value of a map entry, after `key:`; the key is at `at`.
fn write_value_after_key(out: &mut String, value: &Data, at: usize, cx: &Cx, trailing: &[String]) {
    match value {
        Data::Map(entries) if !entries.is_empty() => {
            trailing_comments(out, trailing);
            out.push('\n');
            indent(out, at + 2);
            write_map(out, entries, at + 2, cx, Vec::new());
        }
        Data::Seq(items) if !items.is_empty() => {
            trailing_comments(out, trailing);
            out.push('\n');
            indent(out, at + 2);
            write_seq(out, items, at + 2, cx);
        }
        other => {
            out.push(' ');
            write_inline(out, other, at + 2);
            trailing_comments(out, trailing);
            out.push('\n');
        }
    }
}

/// A scalar or an empty collection; a literal block's lines are indented to `block_at`.
fn write_inline(out: &mut String, value: &Data, block_at: usize) {
    match value {
        Data::Map(_) => out.push_str("{}"),
        Data::Seq(_) => out.push_str("[]"),
        Data::Scalar(Value::String(s)) => write_string(out, s, block_at),
        Data::Scalar(Value::Null) => out.push_str("null"),
        Data::Scalar(Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        Data::Scalar(Value::Number(n)) => out.push_str(&n.to_string()),
        // Not produced by `From<&Value>`; written as their JSON text.
        Data::Scalar(other) => write_string(out, &other.to_string(), block_at),
    }
}

fn write_key(out: &mut String, key: &str) {
    if is_plain_safe(key) {
        out.push_str(key);
    } else {
        write_double_quoted(out, key);
    }
}

fn write_string(out: &mut String, s: &str, block_at: usize) {
    if literal_block_fits(s) {
        write_literal_block(out, s, block_at);
    } else if is_plain_safe(s) {
        out.push_str(s);
    } else {
        write_double_quoted(out, s);
    }
}

/// Can `s` be a `|` block? It must hold a line break and some text, only printable
/// characters (and tabs), and its first non-empty line must not start with white space (that
/// would need an indentation indicator).
fn literal_block_fits(s: &str) -> bool {
    let body = s.trim_end_matches('\n');
    let first_text = body.split('\n').find(|l| !l.is_empty());
    s.contains('\n')
        && first_text.is_some_and(|l| !l.starts_with([' ', '\t']))
        && s.chars().all(|c| c == '\n' || c == '\t' || !is_special(c))
}

fn write_literal_block(out: &mut String, s: &str, at: usize) {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    out.push('|');
    match trailing {
        0 => out.push('-'),
        1 => {}
        _ => out.push('+'),
    }
    for line in s
        .split('\n')
        .take(body.split('\n').count() + trailing.saturating_sub(1))
    {
        out.push('\n');
        if !line.is_empty() {
            indent(out, at);
            out.push_str(line);
        }
    }
}

/// Characters that a plain or literal scalar cannot hold as they are.
fn is_special(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// `s` as an item of a flow sequence (`[a, "true"]`) that reads back as the same string:
/// plain where that is safe, else double-quoted.
pub(crate) fn flow_item(s: &str) -> String {
    if is_plain_safe(s) && !s.contains([',', '[', ']', '{', '}']) {
        s.to_string()
    } else {
        let mut out = String::new();
        write_double_quoted(&mut out, s);
        out
    }
}

/// Can `s` be written unquoted, and read back as the same string?
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with(' ') || s.ends_with(' ') || s.chars().any(|c| c == '\t' || is_special(c)) {
        return false;
    }
    // Indicators that start something else; `-`, `?` and `:` are fine before a non-space.
    let indicator = matches!(
        first,
        ',' | '['
            | ']'
            | '{'
            | '}'
            | '#'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
    );
    let dash_like = matches!(first, '-' | '?' | ':')
        && s[first.len_utf8()..]
            .chars()
            .next()
            .is_none_or(|c| c == ' ');
    if indicator || dash_like || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    // Anything that could read as a number, date or time under YAML 1.1 or 1.2 (`1_000`,
    // `0o17`, `1:30`, `2024-01-01`, `1e3`) is quoted; `30m` or `1h0m0s` cannot.
    let numeric_start = first.is_ascii_digit()
        || (matches!(first, '-' | '+' | '.')
            && s[1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '.'));
    let number_like = s
        .chars()
        .all(|c| c.is_ascii_hexdigit() || "._:+-xXoO ".contains(c));
    if numeric_start && number_like {
        return false;
    }
    resolve_plain(s) == Some(ScalarKind::Str)
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_special(c) => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A syntax node as data (for tests that compare what was parsed).
pub fn node_data(node: &Node) -> Data {
    Data::from(&crate::syntax::node_to_json(node))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::source::SourceMap;
    use crate::syntax::node_to_json;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse_back(text: &str) -> Value {
        let mut map = SourceMap::new();
        let file = map.add("t.yaml", text);
        let parsed = crate::syntax::yaml::parse(file, text);
        assert!(
            parsed.diagnostics.is_empty(),
            "{text}\n{:?}",
            parsed.diagnostics
        );
        parsed
            .documents
            .first()
            .map(node_to_json)
            .unwrap_or(Value::Null)
    }

    fn round_trip(value: Value) {
        let text = to_yaml(&Data::from(&value));
        assert_eq!(parse_back(&text), value, "emitted:\n{text}");
    }

    #[test]
    fn layout() {
        let value = json!({
            "kind": "Task",
            "spec": {
                "steps": [
                    {"name": "a", "args": ["-o", "1", "true", "", " x", "a: b", "x #y"]},
                    {"name": "b", "script": "#!/bin/sh\necho hi\n"}
                ],
                "empty": {}, "none": []
            }
        });
        let text = to_yaml(&Data::from(&value));
        insta::assert_snapshot!(text, @r###"
        kind: Task
        spec:
          empty: {}
          none: []
          steps:
            - args:
                - -o
                - "1"
                - "true"
                - ""
                - " x"
                - "a: b"
                - "x #y"
              name: a
            - name: b
              script: |
                #!/bin/sh
                echo hi
        "###);
        round_trip(value);
    }

    #[test]
    fn chomping() {
        for s in [
            "a\nb",
            "a\nb\n",
            "a\nb\n\n",
            "a\n\nb\n",
            "x\n  indented\n",
            "\n\nlead",
        ] {
            round_trip(json!({ "s": s }));
            round_trip(json!([s]));
            round_trip(json!({"m": [{"k": s}]}));
        }
        assert!(to_yaml(&Data::from(&json!({"s": "a\nb"}))).contains("s: |-\n"));
        assert!(to_yaml(&Data::from(&json!({"s": "a\nb\n\n"}))).contains("s: |+\n"));
    }

    #[test]
    fn scalars_that_need_quotes() {
        for s in [
            "true",
            "on",
            "No",
            "null",
            "~",
            "1",
            "1.5",
            "0x1f",
            "1_000",
            ".inf",
            "-",
            "- x",
            "#x",
            "a #b",
            "x:",
            "@x",
            "`x",
            "%x",
            "!x",
            "&x",
            "*x",
            "|",
            ">",
            "'",
            "\"",
            "[a]",
            "{a}",
            "---",
            "...",
            "2024-01-01",
            "12:30",
            " lead",
            "trail ",
            "tab\tin",
            "cr\rin",
            "0o17",
            "1e3",
            "0xff",
            "1_0",
            "2001-12-14 21:59:43.10",
            "-.5",
            "+1",
            "30m",
            "1h0m0s",
            "\u{7}",
        ] {
            round_trip(json!({ s: s }));
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1.0e6f64..1.0e6).prop_map(|f| json!(f)),
            "[ -~\n\t]{0,12}".prop_map(Value::String),
            "(true|no|1|-|#|: |a|\n| )+".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z:# -]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn emitted_yaml_reads_back_as_the_same_value(value in arb_json()) {
            // A document must be a mapping or a sequence to be kept by the parser.
            let doc = json!({ "v": value });
            let text = to_yaml(&Data::from(&doc));
            prop_assert_eq!(parse_back(&text), doc, "emitted:\n{}", text);
        }
    }
}
