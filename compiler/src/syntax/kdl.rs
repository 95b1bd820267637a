//! KDL 2 → [`Node`], for tkc's KDL dialect (see `docs/kdl.md`).
//!
//! A top-level node is a resource: its name is the kind (`task`, `pipeline`, `task-run`,
//! `pipeline-run`, `step-action`, `config-map`, `secret`), its first argument the resource
//! name; a `metadata { }` child fills metadata and every other property and child fills `spec`.
//! Inside, a node becomes a value by shape:
//!
//! - only arguments: one argument is a scalar (marked `kdl_argument`), several a list;
//! - only `-` children: a list of their values;
//! - `(array)`: a list of its arguments and `-` children, whatever their number (`(array)args`
//!   is an empty list, `(array)args "x"` a one-item list); `(object)`: a map, even when empty;
//! - otherwise a map of its properties and children (keys in kebab-case as written), with
//!   its arguments kept in [`Map::args`].
//!
//! Every KDL scalar (argument or property value) is marked `kdl_argument`: where the model
//! expects a list it is a one-item list, where it expects a struct it is the struct's
//! positional field (`task-ref="build"` as well as `task-ref "build"`).
//!
//! The `kdl` crate's parser recurses once per nesting level with large frames, and once per
//! piece of a block comment, and backtracks over chains of `/-` in worse than quadratic time:
//! text nested deeper than [`MAX_DEPTH`], block comments of more than [`MAX_COMMENT_PIECES`]
//! pieces and chains of more than [`MAX_SLASHDASH_CHAIN`] `/-` are refused by a linear scan
//! before parsing, and parsing runs on a thread with a stack big enough for those limits
//! whatever the caller's stack.
//!
//! The decoder reads kebab-case keys for camelCase fields, gathers repeated child nodes such
//! as `step` into list fields, and puts a map's first argument into the item's name field.

use super::{Entry, Map, Node, ParsedFile, Scalar, ScalarKind, Value};
use crate::diag::{Diagnostic, codes};
use crate::source::{FileId, Span, Syntax};
use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

/// Nesting deeper than this is refused, as in YAML.
pub const MAX_DEPTH: usize = super::yaml::MAX_DEPTH;

/// The parsing thread's stack: room for [`MAX_DEPTH`] levels of the `kdl` parser's recursion
/// (about 32 KiB a level in a debug build). Only the pages used are committed.
const PARSE_STACK: usize = 64 << 20;

/// Parses a KDL document into one node per top-level resource node.
pub fn parse(file: FileId, text: &str) -> ParsedFile {
    if let Some((start, end, message)) = beyond_limits(text) {
        let mut out = ParsedFile::default();
        out.diagnostics.push(
            Diagnostic::new(&codes::LIMIT, message)
                .with_label(Span::new(file, start, end), "refused before parsing")
                .with_help("the file is not parsed; simplify it here"),
        );
        return out;
    }
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("tkc-kdl".to_string())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_here(file, text));
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload)),
            // No thread to be had: parse on this one (the depth limit still holds).
            Err(_) => parse_here(file, text),
        }
    })
}

/// Block comments may hold at most this many pieces (each `*`, each `/`, each run of other
/// text, each nested comment): the `kdl` parser recurses once per piece (`commented_block`),
/// about 3 KiB a piece in a debug build, so 4,096 stays far inside [`PARSE_STACK`].
pub const MAX_COMMENT_PIECES: usize = 4096;

/// At most this many `/-` in a row (with only whitespace and comments between them): the
/// `kdl` parser backtracks over a chain in worse than quadratic time (128 in a row took a
/// second, 500 took 20). Real files have one.
pub const MAX_SLASHDASH_CHAIN: usize = 8;

/// Where and why the text goes beyond what the `kdl` parser can take, found by one linear
/// scan before parsing (issue 17: nested `/*` comments overflowed the stack, chains of `/-`
/// went quadratic): the span to report and the message.
fn beyond_limits(text: &str) -> Option<(usize, usize, String)> {
    let bytes = text.as_bytes();
    let find = |from: usize, needle: &[u8]| -> usize {
        bytes
            .get(from..)
            .and_then(|rest| rest.windows(needle.len()).position(|w| w == needle))
            .map_or(bytes.len(), |at| from + at + needle.len())
    };
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = find(i, b"\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let (end, too_big) = block_comment(bytes, i);
                if too_big {
                    return Some((
                        i,
                        i + 2,
                        format!(
                            "a block comment nested or split into more than {MAX_COMMENT_PIECES} pieces"
                        ),
                    ));
                }
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'-') => {
                let mut chain = 1;
                let mut at = skip_space(bytes, i + 2);
                while bytes[at..].starts_with(b"/-") {
                    chain += 1;
                    if chain > MAX_SLASHDASH_CHAIN {
                        return Some((
                            i,
                            at + 2,
                            format!("more than {MAX_SLASHDASH_CHAIN} `/-` in a row"),
                        ));
                    }
                    at = skip_space(bytes, at + 2);
                }
                i += 2;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 3;
            }
            b'"' => {
                // A single-line string ends at its quote or, unterminated, at the line's end.
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'#' => i = skip_hashes(bytes, i),
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some((i, i + 1, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                i += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The end of the block comment that opens at `start` (block comments nest), and whether it
/// has more than [`MAX_COMMENT_PIECES`] pieces, counted as the parser's `commented_block`
/// recurses: a nested `/*`, a `*`, a `/`, or a run of other bytes.
fn block_comment(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut open = 1;
    let mut pieces = 0usize;
    let mut i = start + 2;
    while i < bytes.len() && open > 0 {
        pieces += 1;
        if pieces > MAX_COMMENT_PIECES {
            return (i, true);
        }
        if bytes[i..].starts_with(b"/*") {
            open += 1;
            i += 2;
        } else if bytes[i..].starts_with(b"*/") {
            open -= 1;
            i += 2;
        } else if matches!(bytes[i], b'*' | b'/') {
            i += 1;
        } else {
            i += bytes[i..]
                .iter()
                .take_while(|b| !matches!(b, b'*' | b'/'))
                .count();
        }
    }
    (i, false)
}

/// Skips whitespace, newlines, line continuations and comments (what may separate a `/-`
/// from what it comments out).
fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() || bytes[i] == b'\\' {
            i += 1;
        } else if bytes[i..].starts_with(b"//") {
            i += bytes[i..].iter().take_while(|&&b| b != b'\n').count();
        } else if bytes[i..].starts_with(b"/*") {
            i = block_comment(bytes, i).0;
        } else {
            break;
        }
    }
    i
}

fn parse_here(file: FileId, text: &str) -> ParsedFile {
    let mut out = ParsedFile::default();
    match KdlDocument::parse_v2(text) {
        Ok(doc) => {
            for node in doc.nodes() {
                if let Some(resource) = resource(file, node, &mut out.diagnostics) {
                    out.documents.push(resource);
                }
            }
            out.diagnostics
                .extend(super::kdl_escapes::script_escapes(file, &doc));
        }
        Err(error) => {
            // An unknown escape (`\.`) makes the parser report the rest of its string as
            // several unrelated errors: one report instead, and only the errors before it.
            let escape = super::kdl_escapes::invalid_escape(file, text);
            let cascade_from = escape.as_ref().map_or(usize::MAX, |(_, at)| *at);
            let mut previous: Option<&str> = None;
            for d in error
                .diagnostics
                .iter()
                .filter(|d| d.span.offset() < cascade_from)
            {
                let message = d.message.as_deref();
                // The parser follows an unclosed block with a second report spanning the
                // block's nodes: one problem, one report.
                if previous == Some("No closing '}' for child block")
                    && message == Some("Closing '}' was not found after nodes")
                {
                    continue;
                }
                previous = message;
                let span = span_of(file, d.span);
                let mut message = d
                    .message
                    .clone()
                    .unwrap_or_else(|| "invalid KDL".to_string());
                if let Some(first) = message.get(..1) {
                    message = first.to_lowercase() + &message[1..];
                }
                let mut diagnostic =
                    Diagnostic::new(&codes::KDL, format!("invalid KDL: {message}"))
                        .with_label(span, d.label.clone().unwrap_or_default());
                let found = text.get(span.start as usize..span.end as usize);
                if let Some(word @ ("true" | "false" | "null" | "inf" | "-inf" | "nan")) = found {
                    diagnostic = diagnostic.with_help(format!(
                        "KDL 2 writes this keyword `#{word}` (or quote it for a string: \"{word}\")"
                    ));
                } else if let Some(help) = &d.help {
                    diagnostic = diagnostic.with_help(help.clone());
                }
                out.diagnostics.push(diagnostic);
            }
            if let Some((report, _)) = escape {
                out.diagnostics.push(report);
            }
            if out.diagnostics.is_empty() {
                out.diagnostics.push(
                    Diagnostic::new(&codes::KDL, "invalid KDL")
                        .with_label(Span::point(file, 0), "in this file"),
                );
            }
        }
    }
    out
}

fn span_of(file: FileId, span: SourceSpan) -> Span {
    Span::new(file, span.offset(), span.offset() + span.len())
}

/// Tekton kinds and the apiVersion a KDL resource node gets unless it says otherwise.
fn default_api_version(kind: &str) -> &'static str {
    match kind {
        "Task" | "Pipeline" | "TaskRun" | "PipelineRun" => "tekton.dev/v1",
        "StepAction" => "tekton.dev/v1beta1",
        _ if is_tekton_like(kind) => "tekton.dev/v1",
        _ => "v1",
    }
}

/// Kinds whose body goes under `spec` (Tekton resources, and near-misses of them so that a
/// typo such as `taks` is reported as an unknown Tekton kind).
fn is_tekton_like(kind: &str) -> bool {
    !matches!(
        kind,
        "ConfigMap" | "Secret" | "PersistentVolumeClaim" | "ServiceAccount" | "Namespace"
    )
}

/// `pipeline-run` → `PipelineRun`.
pub fn pascal_case(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(c) => c.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// `PipelineRun` → `pipeline-run`; `workingDir` → `working-dir`; a run of capitals is one
/// word (`downwardAPI` → `downward-api`, `scaleIO` → `scale-io`).
pub fn kebab_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    kebab_chars(camel, |c| out.push(c));
    out
}

/// Is `kebab` the kebab-case form of `camel`? (No allocation: the decoder asks this for
/// every key against every field.)
pub fn is_kebab_of(kebab: &str, camel: &str) -> bool {
    let mut rest = kebab.chars();
    let mut equal = true;
    kebab_chars(camel, |c| equal &= rest.next() == Some(c));
    equal && rest.next().is_none()
}

fn kebab_chars(camel: &str, mut emit: impl FnMut(char)) {
    let bytes = camel.as_bytes();
    for (i, c) in camel.char_indices() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).and_then(|p| bytes.get(p));
            let next = bytes.get(i + 1);
            let word_start = match prev {
                None => false,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(u8::is_ascii_lowercase),
                Some(_) => true,
            };
            if word_start {
                emit('-');
            }
            emit(c.to_ascii_lowercase());
        } else {
            emit(c);
        }
    }
}

fn resource(file: FileId, node: &KdlNode, diagnostics: &mut Vec<Diagnostic>) -> Option<Node> {
    let name_span = span_of(file, node.name().span());
    let node_span = span_of(file, node.span());
    let kind = pascal_case(node.name().value());
    let scalar = |text: &str, span: Span| {
        Node::new(
            Value::Scalar(Scalar {
                text: text.to_string(),
                kind: ScalarKind::Str,
                kdl_argument: false,
            }),
            span,
            Syntax::Kdl,
        )
    };
    let entry = |key: &str, key_span: Span, value: Node| Entry {
        key: key.to_string(),
        key_span,
        value,
    };

    let mut api_version = scalar(default_api_version(&kind), name_span);
    let mut metadata = Map::default();
    let mut body = Map::default();
    let mut args = 0;
    for e in node.entries() {
        let value = entry_value(file, e);
        match e.name() {
            None => {
                args += 1;
                if args == 1 {
                    metadata.entries.push(entry("name", value.span, value));
                } else {
                    diagnostics.push(
                        Diagnostic::new(
                            &codes::UNEXPECTED_ARGUMENT,
                            format!(
                                "unexpected argument: a `{}` node takes one argument, its name",
                                node.name().value()
                            ),
                        )
                        .with_label(value.span, "extra argument"),
                    );
                }
            }
            Some(key) => {
                let key_span = span_of(file, key.span());
                match key.value() {
                    "api-version" => api_version = value,
                    "namespace" | "generate-name" => {
                        metadata
                            .entries
                            .push(entry(&camel_case(key.value()), key_span, value))
                    }
                    other => body.entries.push(entry(other, key_span, value)),
                }
            }
        }
    }
    for child in node.iter_children() {
        let key_span = span_of(file, child.name().span());
        let value = node_value(file, child, diagnostics);
        if child.name().value() == "metadata"
            && let Value::Map(map) = value.value
        {
            metadata.entries.extend(map.entries);
            continue;
        }
        body.entries
            .push(entry(child.name().value(), key_span, value));
    }

    let mut top = Map::default();
    top.entries
        .push(entry("apiVersion", name_span, api_version));
    top.entries
        .push(entry("kind", name_span, scalar(&kind, name_span)));
    top.entries.push(entry(
        "metadata",
        name_span,
        Node::new(Value::Map(metadata), name_span, Syntax::Kdl),
    ));
    if is_tekton_like(&kind) {
        top.entries.push(entry(
            "spec",
            name_span,
            Node::new(Value::Map(body), node_span, Syntax::Kdl),
        ));
    } else {
        // Other Kubernetes objects keep their fields at the top (`data`, `string-data`).
        top.entries.extend(body.entries.into_iter().map(|e| Entry {
            key: camel_case(&e.key),
            ..e
        }));
    }
    Some(Node::new(Value::Map(top), node_span, Syntax::Kdl))
}

/// `generate-name` → `generateName`.
fn camel_case(kebab: &str) -> String {
    let mut out = String::with_capacity(kebab.len());
    let mut upper = false;
    for c in kebab.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The value a (non-resource) node stands for.
fn node_value(file: FileId, node: &KdlNode, diagnostics: &mut Vec<Diagnostic>) -> Node {
    let span = span_of(file, node.span());
    let args: Vec<&KdlEntry> = node
        .entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect();
    let props: Vec<&KdlEntry> = node
        .entries()
        .iter()
        .filter(|e| e.name().is_some())
        .collect();
    let children: Vec<&KdlNode> = node.iter_children().collect();
    let dash_children = children.iter().all(|c| c.name().value() == "-");

    let annotation = node.ty().map(|t| (t.value(), span_of(file, t.span())));
    let forced = match annotation {
        None => None,
        Some(("array", _)) if props.is_empty() && dash_children => Some(Shape::Array),
        Some(("array", at)) => {
            // Reported here, and read as the list of its arguments (and children) anyway, so
            // that the schema does not report the same node again.
            diagnostics.push(
                Diagnostic::new(
                    &codes::KDL,
                    "an `(array)` node takes arguments and `-` children only",
                )
                .with_label(at, "this node is a list")
                .with_help("move the properties and named children into `- { ... }` items"),
            );
            Some(Shape::Array)
        }
        Some(("object", _)) => Some(Shape::Object),
        Some((other, at)) => {
            diagnostics.push(
                Diagnostic::new(&codes::KDL, format!("unknown type annotation `({other})`"))
                    .with_label(at, "not a tkc annotation")
                    .with_help(
                        "tkc knows `(array)` (a list, even of one or no items) and `(object)`",
                    ),
            );
            None
        }
    };

    if forced == Some(Shape::Array) {
        let mut items: Vec<Node> = args.iter().map(|e| entry_value(file, e)).collect();
        items.extend(children.iter().map(|c| node_value(file, c, diagnostics)));
        return Node::new(Value::Seq(items), span, Syntax::Kdl);
    }
    if forced.is_none() && props.is_empty() && children.is_empty() {
        match args.as_slice() {
            [one] => return entry_value(file, one),
            [] => {}
            many => {
                return Node::new(
                    Value::Seq(many.iter().map(|e| entry_value(file, e)).collect()),
                    span,
                    Syntax::Kdl,
                );
            }
        }
    }
    if forced.is_none() && props.is_empty() && args.is_empty() && dash_children {
        if children.is_empty() {
            return Node::new(Value::Map(Map::default()), span, Syntax::Kdl);
        }
        return Node::new(
            Value::Seq(
                children
                    .iter()
                    .map(|c| node_value(file, c, diagnostics))
                    .collect(),
            ),
            span,
            Syntax::Kdl,
        );
    }
    let mut map = Map {
        entries: Vec::with_capacity(props.len() + children.len()),
        args: args.iter().map(|e| entry_value(file, e)).collect(),
    };
    for p in props {
        if let Some(key) = p.name() {
            map.entries.push(Entry {
                key: key.value().to_string(),
                key_span: span_of(file, key.span()),
                value: entry_value(file, p),
            });
        }
    }
    for c in children {
        map.entries.push(Entry {
            key: c.name().value().to_string(),
            key_span: span_of(file, c.name().span()),
            value: node_value(file, c, diagnostics),
        });
    }
    Node::new(Value::Map(map), span, Syntax::Kdl)
}

/// The shape a type annotation asks for.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Shape {
    Array,
    Object,
}

/// A KDL argument or property value as a scalar node; for a property the span covers the
/// value only (not `key=`).
fn entry_value(file: FileId, entry: &KdlEntry) -> Node {
    let full = span_of(file, entry.span());
    let span = match entry.name() {
        Some(name) => {
            let name_end = name.span().offset() + name.span().len();
            let end = full.end as usize;
            // Skip `=` (and any space around it) after the key.
            let start = (name_end + 1).min(end);
            Span::new(file, start, end)
        }
        None => full,
    };
    let repr = entry.format().map(|f| f.value_repr.as_str());
    let value = match entry.value() {
        // A multi-line string is a block of lines, each ending in a newline, like YAML's `|`
        // (KDL itself leaves out the last newline).
        KdlValue::String(s)
            if !s.is_empty()
                && repr.is_some_and(|r| r.trim_start_matches('#').starts_with("\"\"\"")) =>
        {
            Value::Scalar(Scalar {
                text: format!("{s}\n"),
                kind: ScalarKind::Str,
                kdl_argument: true,
            })
        }
        KdlValue::String(s) => Value::Scalar(Scalar {
            text: s.clone(),
            kind: ScalarKind::Str,
            kdl_argument: true,
        }),
        KdlValue::Integer(i) => Value::Scalar(Scalar {
            text: i.to_string(),
            kind: ScalarKind::Int,
            kdl_argument: true,
        }),
        // As written (`1.0`, not `1`), as YAML keeps it.
        KdlValue::Float(f) => Value::Scalar(Scalar {
            text: repr
                .filter(|r| r.parse::<f64>().is_ok())
                .map_or_else(|| f.to_string(), str::to_string),
            kind: ScalarKind::Float,
            kdl_argument: true,
        }),
        KdlValue::Bool(b) => Value::Scalar(Scalar {
            text: b.to_string(),
            kind: ScalarKind::Bool(*b),
            kdl_argument: true,
        }),
        KdlValue::Null => Value::Null,
    };
    Node::new(value, span, Syntax::Kdl)
}

/// Where the text after the `#` at `i` resumes: past a raw string (`#"…"#`, `#"""…"""#`,
/// with as many `#` as it opened with; no escapes inside, so nothing in it is a token), or
/// past the run of `#` when no string follows. The KDL scanners that run before or beside
/// the parser (limits, escapes, comments) share it.
pub(crate) fn skip_hashes(bytes: &[u8], i: usize) -> usize {
    let hashes = bytes[i..].iter().take_while(|&&b| b == b'#').count();
    let at = i + hashes;
    if bytes.get(at) != Some(&b'"') {
        return at;
    }
    let quotes = if bytes[at..].starts_with(b"\"\"\"") {
        3
    } else {
        1
    };
    let mut close = vec![b'"'; quotes];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let from = at + quotes;
    bytes
        .get(from..)
        .and_then(|rest| rest.windows(close.len()).position(|w| w == close))
        .map_or(bytes.len(), |n| from + n + close.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    fn parse_str(text: &str) -> (SourceMap, ParsedFile) {
        let mut map = SourceMap::new();
        let file = map.add("t.kdl", text);
        let parsed = parse(file, text);
        (map, parsed)
    }

    #[test]
    fn resource_nodes_become_documents() {
        let (map, parsed) = parse_str(
            "task \"build\" {\n    step \"compile\" image=\"golang:1.22\" {\n        args \"build\" \"./...\"\n    }\n}\n",
        );
        assert!(parsed.diagnostics.is_empty());
        let doc = &parsed.documents[0];
        assert_eq!(doc.get("kind").and_then(Node::as_str), Some("Task"));
        assert_eq!(
            doc.get("apiVersion").and_then(Node::as_str),
            Some("tekton.dev/v1")
        );
        let name = doc.get("metadata").and_then(|m| m.get("name"));
        assert_eq!(name.map(|n| map.text(n.span)), Some("\"build\""));
        let step = doc.get("spec").and_then(|s| s.get("step"));
        let image = step.and_then(|s| s.get("image"));
        assert_eq!(image.map(|n| map.text(n.span)), Some("\"golang:1.22\""));
        let args = step.and_then(|s| s.get("args"));
        assert!(matches!(args.map(|a| &a.value), Some(Value::Seq(items)) if items.len() == 2));
    }

    #[test]
    fn dash_children_make_a_list() {
        let (_, parsed) = parse_str("task \"t\" {\n  default {\n    - \"only\"\n  }\n}\n");
        let default = parsed.documents[0]
            .get("spec")
            .and_then(|s| s.get("default"));
        assert!(matches!(default.map(|a| &a.value), Some(Value::Seq(items)) if items.len() == 1));
    }

    #[test]
    fn syntax_errors_are_diagnostics() {
        let (_, parsed) = parse_str("task \"t\" {\n  step \"x\"\n");
        assert!(!parsed.diagnostics.is_empty());
        assert!(
            parsed
                .diagnostics
                .iter()
                .all(|d| d.code.name == "tkc::syntax::kdl")
        );
    }

    #[test]
    fn case_conversions() {
        assert_eq!(pascal_case("pipeline-run"), "PipelineRun");
        assert_eq!(kebab_case("workingDir"), "working-dir");
        assert_eq!(kebab_case("downwardAPI"), "downward-api");
        assert_eq!(kebab_case("scaleIO"), "scale-io");
        assert!(is_kebab_of("working-dir", "workingDir"));
        assert!(is_kebab_of("downward-api", "downwardAPI"));
        assert!(!is_kebab_of("working-di", "workingDir"));
        assert!(!is_kebab_of("working-dirx", "workingDir"));
        assert_eq!(camel_case("generate-name"), "generateName");
    }
}
