//! YAML → [`Node`], through `granit-parser`'s event stream (byte spans on every event).
//!
//! [`parse`] first tries the fast path ([`super::yaml_fast`]), which answers exactly as this
//! module would for the YAML people usually write, or declines; [`parse_granit`] is the
//! reference it is held to and the only source of YAML error diagnostics.
//!
//! Multi-document streams give one node per non-empty document; anchors and aliases are
//! expanded (an alias node keeps the anchor's spans); merge keys (`<<`) are applied; duplicate
//! keys are reported. Plain scalars are resolved the way Kubernetes' YAML reader (go-yaml v2,
//! YAML 1.1) resolves them, so `on`, `yes` and `true` are booleans, `1_000` an integer.

use super::{Entry, Map, Node, ParsedFile, Scalar, ScalarKind, Value};
use crate::diag::{Diagnostic, codes};
use crate::source::{FileId, Span, Syntax};
use granit_parser::{Event, Options, Parser, ScalarStyle, ScanError};
use std::collections::{HashMap, HashSet};

/// Nesting deeper than this is refused (it protects the recursive stages after parsing).
pub const MAX_DEPTH: usize = 256;

/// What alias expansion may add to a document, in bytes ([`expanded_size`]), on top of four
/// times the input's size: far above what anchors in real manifests expand to, far below what
/// takes a machine down ("billion laughs", or one large scalar aliased many times).
pub const ALIAS_BUDGET: usize = 16 << 20;

/// The bytes a node costs besides its strings (about what the tree spends on it).
const NODE_COST: usize = 64;

/// Where a block scalar starts: at its `|` or `>` header. The parser starts its span at the
/// first content line, after any leading blank lines, which would put every location
/// inside the value on the wrong line; the header is found by walking back over the blank
/// lines, the header's indicators (`+`, `-`, a digit) and a trailing comment.
fn block_scalar_start(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    if matches!(bytes.get(start), Some(b'|' | b'>')) {
        return start;
    }
    let mut at = start.min(bytes.len());
    // Blank lines (and the indentation of the first content line) before the content.
    while at > 0 && matches!(bytes[at - 1], b' ' | b'\t' | b'\n' | b'\r') {
        at -= 1;
    }
    // The header line: `|`, `>`, indicators, then maybe `# comment`.
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let line = &text[line_start..at];
    let header = line.rfind(['|', '>']).map(|i| line_start + i);
    match header {
        Some(h)
            if text[h + 1..at].split('#').next().is_some_and(|ind| {
                ind.trim()
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'+' || b == b'-')
            }) =>
        {
            h
        }
        _ => start,
    }
}

/// Parses a YAML stream: through the fast path ([`super::yaml_fast`]) when the file is
/// within its subset, else through granit.
pub fn parse(file: FileId, text: &str) -> ParsedFile {
    super::yaml_fast::parse(file, text).unwrap_or_else(|| parse_granit(file, text))
}

/// Parses a YAML stream through granit's event parser: the reference the fast path is held
/// to, and the only source of YAML error diagnostics.
pub fn parse_granit(file: FileId, text: &str) -> ParsedFile {
    let mut options = Options::default();
    options.emit_comments = false;
    options.flow_nesting_limit = MAX_DEPTH;
    options.block_nesting_limit = MAX_DEPTH;
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut builder = Builder::new(text.len());
    let mut out = ParsedFile::default();
    loop {
        match parser.next_event() {
            None => break,
            Some(Ok((event, span))) => {
                let mut start = span.start.byte_offset().unwrap_or(0);
                let end = span.end.byte_offset().unwrap_or(start);
                if let Event::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded, ..) = &event {
                    start = block_scalar_start(text, start);
                }
                let span = Span::new(file, start, end);
                if let Err(diagnostic) = builder.event(event, span, &mut out) {
                    out.diagnostics.push(*diagnostic);
                    // The document is abandoned; the rest of the stream may still parse.
                    builder.reset();
                    if !recover(&mut parser) {
                        break;
                    }
                }
            }
            Some(Err(error)) => {
                out.diagnostics.push(scan_error(file, text, &error));
                builder.reset();
                if !recover(&mut parser) {
                    break;
                }
            }
        }
    }
    out.diagnostics.append(&mut builder.diagnostics);
    out
}

/// Skips to the next document after an error; false at the end of the stream.
fn recover<'a>(parser: &mut Parser<'a, granit_parser::StrInput<'a>>) -> bool {
    parser.proceed_next_document().unwrap_or(false)
}

fn scan_error(file: FileId, text: &str, error: &ScanError) -> Diagnostic {
    let at = error
        .marker()
        .byte_offset()
        .unwrap_or(text.len())
        .min(text.len());
    // Underline the character the parser stopped at (or the end of the file).
    let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
    if matches!(
        error.kind(),
        granit_parser::ErrorKind::RecursionLimitExceeded
    ) {
        return Diagnostic::new(
            &codes::LIMIT,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        )
        .with_label(Span::new(file, at, end), "too deep");
    }
    let mut message = error.info();
    if let Some(first) = message.get(..1) {
        message = first.to_lowercase() + &message[1..];
    }
    if message.contains("tab")
        && let Some(tab) = tab_near(text, at)
    {
        // The parser stops at the token before the tab (`found a tab` while scanning it);
        // the tab is what to fix.
        return Diagnostic::new(&codes::YAML, format!("invalid YAML: {message}"))
            .with_label(Span::new(file, tab, tab + 1), "a tab")
            .with_help("YAML indents with spaces only: replace the tab with spaces");
    }
    Diagnostic::new(&codes::YAML, format!("invalid YAML: {message}"))
        .with_label(Span::new(file, at, end), "the YAML parser stopped here")
}

/// The tab a tab error is about: the first after `at` on its line or the next, else the
/// last before it on its line.
fn tab_near(text: &str, at: usize) -> Option<usize> {
    let after = text.get(at..)?;
    let two_lines = after
        .match_indices('\n')
        .nth(1)
        .map_or(after.len(), |(n, _)| n);
    if let Some(n) = after[..two_lines].find('\t') {
        return Some(at + n);
    }
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    text[line_start..at].rfind('\t').map(|n| line_start + n)
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: Span,
        anchor: usize,
    },
    Map {
        entries: Vec<Entry>,
        pending_key: Option<(String, Span, bool)>,
        keys: Option<HashSet<String>>,
        merges: Vec<Node>,
        start: Span,
        anchor: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    /// Bytes created by alias expansion so far ([`expanded_size`]), and the most allowed.
    alias_bytes: usize,
    alias_budget: usize,
    root: Option<Node>,
    /// Findings that do not stop the document (duplicate keys).
    diagnostics: Vec<Diagnostic>,
}

impl Builder {
    fn new(input_len: usize) -> Builder {
        Builder {
            stack: Vec::new(),
            anchors: HashMap::new(),
            alias_bytes: 0,
            alias_budget: ALIAS_BUDGET.saturating_add(input_len.saturating_mul(4)),
            root: None,
            diagnostics: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.stack.clear();
        self.anchors.clear();
        self.root = None;
    }

    fn event(
        &mut self,
        event: Event<'_>,
        span: Span,
        out: &mut ParsedFile,
    ) -> Result<(), Box<Diagnostic>> {
        match event {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(..) => {
                self.reset();
            }
            Event::DocumentEnd => {
                if let Some(root) = self.root.take()
                    && root.value != Value::Null
                {
                    out.documents.push(root);
                }
                self.anchors.clear();
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(Box::new(
                        Diagnostic::new(&codes::YAML, "invalid YAML: unknown alias")
                            .with_label(span, "this alias has no anchor before it"),
                    ));
                };
                self.alias_bytes = self.alias_bytes.saturating_add(*size);
                if self.alias_bytes > self.alias_budget {
                    return Err(Box::new(
                        Diagnostic::new(
                            &codes::LIMIT,
                            format!(
                                "aliases expand to more than {} MiB (an alias bomb?)",
                                self.alias_budget >> 20
                            ),
                        )
                        .with_label(span, "expansion limit reached here"),
                    ));
                }
                let mut node = node.clone();
                node.span = span;
                self.push_value(node, false)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let node = self.scalar(text.into_owned(), style, tag.as_deref(), span);
                if anchor != 0 {
                    self.anchors
                        .insert(anchor, (node.clone(), expanded_size(&node)));
                }
                self.push_value(node, style == ScalarStyle::Plain)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.check_depth(span)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    start: span,
                    anchor,
                });
            }
            Event::MappingStart(_, anchor, _) => {
                self.check_depth(span)?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    pending_key: None,
                    keys: None,
                    merges: Vec::new(),
                    start: span,
                    anchor,
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    items,
                    start,
                    anchor,
                }) = self.stack.pop()
                {
                    let node = Node::new(Value::Seq(items), start.to(span), Syntax::Yaml);
                    self.finish_collection(node, anchor)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    mut entries,
                    merges,
                    start,
                    anchor,
                    keys,
                    ..
                }) = self.stack.pop()
                {
                    apply_merges(&mut entries, merges, keys);
                    let map = Map {
                        entries,
                        args: Vec::new(),
                    };
                    let node = Node::new(Value::Map(map), start.to(span), Syntax::Yaml);
                    self.finish_collection(node, anchor)?;
                }
            }
            // Anchor metadata, unresolved aliases and comments are not requested.
            _ => {}
        }
        Ok(())
    }

    fn check_depth(&self, span: Span) -> Result<(), Box<Diagnostic>> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Box::new(
                Diagnostic::new(
                    &codes::LIMIT,
                    format!("nesting deeper than {MAX_DEPTH} levels"),
                )
                .with_label(span, "too deep"),
            ));
        }
        Ok(())
    }

    fn finish_collection(&mut self, node: Node, anchor: usize) -> Result<(), Box<Diagnostic>> {
        if anchor != 0 {
            let size = expanded_size(&node);
            self.anchors.insert(anchor, (node.clone(), size));
        }
        self.push_value(node, false)
    }

    fn scalar(
        &self,
        text: String,
        style: ScalarStyle,
        tag: Option<&granit_parser::Tag>,
        span: Span,
    ) -> Node {
        let is_str_tag = tag.is_some_and(|t| t.suffix() == "str" || t.suffix().ends_with(":str"));
        let value = if style != ScalarStyle::Plain || is_str_tag {
            Value::Scalar(Scalar {
                text,
                kind: ScalarKind::Str,
                kdl_argument: false,
            })
        } else {
            match resolve_plain(&text) {
                None => Value::Null,
                Some(kind) => Value::Scalar(Scalar {
                    text,
                    kind,
                    kdl_argument: false,
                }),
            }
        };
        Node::new(value, span, Syntax::Yaml)
    }

    fn push_value(&mut self, node: Node, plain: bool) -> Result<(), Box<Diagnostic>> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries,
                pending_key,
                keys,
                merges,
                ..
            }) => match pending_key.take() {
                None => {
                    let (key, merge) = match &node.value {
                        Value::Scalar(s) => (s.text.clone(), plain && s.text == "<<"),
                        Value::Null => (String::new(), false),
                        _ => {
                            return Err(Box::new(
                                Diagnostic::new(
                                    &codes::YAML,
                                    "a mapping key must be a scalar in Kubernetes YAML",
                                )
                                .with_label(node.span, "complex key"),
                            ));
                        }
                    };
                    *pending_key = Some((key, node.span, merge));
                    Ok(())
                }
                Some((key, key_span, merge)) => {
                    if merge {
                        merges.push(node);
                        return Ok(());
                    }
                    let entry = Entry {
                        key,
                        key_span,
                        value: node,
                    };
                    add_entry(entries, keys, entry, &mut self.diagnostics);
                    Ok(())
                }
            },
        }
    }
}

/// Adds `entry` to a mapping's entries, or, when its key is already there, keeps the first
/// value and reports the duplicate: the rest of the document is still worth checking.
/// `keys` indexes the keys once the mapping is large enough for a linear search to cost.
pub(super) fn add_entry(
    entries: &mut Vec<Entry>,
    keys: &mut Option<HashSet<String>>,
    entry: Entry,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let duplicate = if entries.len() < 16 {
        entries
            .iter()
            .find(|e| e.key == entry.key)
            .map(|e| e.key_span)
    } else {
        let set = keys.get_or_insert_with(|| entries.iter().map(|e| e.key.clone()).collect());
        if set.insert(entry.key.clone()) {
            None
        } else {
            entries
                .iter()
                .find(|e| e.key == entry.key)
                .map(|e| e.key_span)
        }
    };
    if let Some(first) = duplicate {
        diagnostics.push(
            Diagnostic::new(
                &codes::DUPLICATE_KEY,
                format!("duplicate key `{}`", entry.key),
            )
            .with_label(entry.key_span, "given again here")
            .with_secondary(first, "first given here")
            .with_help("remove one of them; Kubernetes rejects duplicate fields"),
        );
        return;
    }
    entries.push(entry);
}

/// Applies `<<: *anchor` (or a list of anchors): keys not already present are added, earlier
/// merge sources winning, as YAML 1.1 specifies.
fn apply_merges(entries: &mut Vec<Entry>, merges: Vec<Node>, _keys: Option<HashSet<String>>) {
    if merges.is_empty() {
        return;
    }
    let mut present: HashSet<String> = entries.iter().map(|e| e.key.clone()).collect();
    for merge in merges {
        let sources: Vec<Node> = match merge.value {
            Value::Seq(items) => items,
            _ => vec![merge],
        };
        for source in sources {
            if let Value::Map(map) = source.value {
                for entry in map.entries {
                    if present.insert(entry.key.clone()) {
                        entries.push(entry);
                    }
                }
            }
        }
    }
}

/// What one copy of a node costs, in bytes: its strings (scalars and keys) and a fixed
/// [`NODE_COST`] per node. Counting nodes alone let one anchored 1 MB scalar, aliased a
/// million times, pass as a million nodes (issue 17).
fn expanded_size(node: &Node) -> usize {
    let own = match &node.value {
        Value::Null => 0,
        Value::Scalar(s) => s.text.len(),
        Value::Seq(items) => items.iter().map(expanded_size).sum::<usize>(),
        Value::Map(map) => map
            .entries
            .iter()
            .map(|e| e.key.len().saturating_add(expanded_size(&e.value)))
            .sum::<usize>(),
    };
    own.saturating_add(NODE_COST)
}

/// YAML 1.1 resolution of a plain scalar, as go-yaml v2 (used by Kubernetes) does it.
/// `None` is null.
pub fn resolve_plain(text: &str) -> Option<ScalarKind> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return None,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Some(ScalarKind::Bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Some(ScalarKind::Bool(false));
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Some(ScalarKind::Float),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Some(ScalarKind::Str);
    }
    if is_int(text) {
        Some(ScalarKind::Int)
    } else if is_float(text) {
        Some(ScalarKind::Float)
    } else {
        Some(ScalarKind::Str)
    }
}

fn is_int(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if let Some(hex) = digits.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit() || b == b'_');
    }
    if let Some(bin) = digits.strip_prefix("0b") {
        return !bin.is_empty() && bin.bytes().all(|b| matches!(b, b'0' | b'1' | b'_'));
    }
    !digits.is_empty()
        && digits.as_bytes()[0].is_ascii_digit()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

fn is_float(text: &str) -> bool {
    // [-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = if let Some(frac) = mantissa.strip_prefix('.') {
        !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit())
    } else {
        let (int, frac) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
            None => (mantissa, None),
        };
        !int.is_empty()
            && int.as_bytes()[0].is_ascii_digit()
            && int.bytes().all(|b| b.is_ascii_digit() || b == b'_')
            && frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    fn parse_str(text: &str) -> (SourceMap, ParsedFile) {
        let mut map = SourceMap::new();
        let file = map.add("t.yaml", text);
        let parsed = parse(file, text);
        (map, parsed)
    }

    #[test]
    fn block_scalar_after_blank_lines_starts_at_its_header() {
        for (text, header) in [
            ("s: |\n\n  echo hi\n", "|"),
            ("s: >-  # folded\n\n\n  echo hi\n", ">-"),
            ("s: |2+\n\n  echo hi\n", "|2+"),
        ] {
            let (map, parsed) = parse_str(text);
            let s = parsed.documents[0]
                .get("s")
                .map(|n| n.span)
                .unwrap_or_default();
            assert!(
                map.text(s).starts_with(header),
                "{text:?}: {:?}",
                map.text(s)
            );
        }
    }

    #[test]
    fn spans_are_bytes_after_non_ascii() {
        let (map, parsed) = parse_str("a: \"Bäu ✓\"\nb: [x, fetch]\n");
        assert!(parsed.diagnostics.is_empty());
        let b = parsed.documents[0].get("b").and_then(|n| match &n.value {
            Value::Seq(items) => items.get(1).cloned(),
            _ => None,
        });
        let b = b.unwrap_or_else(|| Node::new(Value::Null, Span::default(), Syntax::Yaml));
        assert_eq!(map.text(b.span), "fetch");
    }

    #[test]
    fn multi_document_streams_skip_empty_documents() {
        let (_, parsed) = parse_str("---\na: 1\n---\n---\nb: 2\n...\n");
        assert_eq!(parsed.documents.len(), 2);
    }

    #[test]
    fn aliases_and_merge_keys() {
        let (_, parsed) = parse_str("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\ncopy: *b\n");
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let doc = &parsed.documents[0];
        let other = doc.get("other");
        assert_eq!(
            other.and_then(|o| o.get("x")).and_then(Node::as_str),
            Some("1")
        );
        assert_eq!(
            other.and_then(|o| o.get("y")).and_then(Node::as_str),
            Some("3")
        );
        assert_eq!(
            doc.get("copy")
                .and_then(|o| o.get("y"))
                .and_then(Node::as_str),
            Some("2")
        );
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let (_, parsed) = parse_str("a: 1\nb: 2\na: 3\n");
        assert_eq!(parsed.diagnostics.len(), 1);
        assert_eq!(
            parsed.diagnostics[0].code.name,
            "tkc::syntax::duplicate-key"
        );
    }

    #[test]
    fn syntax_errors_have_a_span_and_later_documents_survive() {
        let (_, parsed) = parse_str("a: [1, 2\n---\nb: 1\n");
        assert_eq!(parsed.diagnostics.len(), 1);
        assert!(parsed.diagnostics[0].primary_span().is_some());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
            text.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        let (_, parsed) = parse_str(&text);
        assert!(
            parsed
                .diagnostics
                .iter()
                .any(|d| d.code.name == "tkc::syntax::limit")
        );
    }

    /// Issue 17: the budget counted nodes, so one large anchored scalar aliased many times
    /// expanded to gigabytes within it.
    #[test]
    fn aliases_of_a_large_scalar_count_its_bytes() {
        let mut text = format!("a: &a \"{}\"\nb: [", "x".repeat(1 << 20));
        text.push_str(&"*a, ".repeat(2_000));
        text.push_str("*a]\n");
        let (_, parsed) = parse_str(&text);
        assert!(
            parsed
                .diagnostics
                .iter()
                .any(|d| d.code.name == "tkc::syntax::limit"),
            "{:?}",
            parsed.diagnostics
        );
        // A few copies of a small anchor are fine.
        let (_, parsed) = parse_str("a: &a {x: 1}\nb: [*a, *a, *a]\n");
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    }

    #[test]
    fn plain_scalars_resolve_like_kubernetes() {
        assert_eq!(resolve_plain("true"), Some(ScalarKind::Bool(true)));
        assert_eq!(resolve_plain("on"), Some(ScalarKind::Bool(true)));
        assert_eq!(resolve_plain("1_000"), Some(ScalarKind::Int));
        assert_eq!(resolve_plain("0x1F"), Some(ScalarKind::Int));
        assert_eq!(resolve_plain("1.5e3"), Some(ScalarKind::Float));
        assert_eq!(resolve_plain("1.2.3"), Some(ScalarKind::Str));
        assert_eq!(resolve_plain("v1"), Some(ScalarKind::Str));
        assert_eq!(resolve_plain("~"), None);
        assert_eq!(resolve_plain("-"), Some(ScalarKind::Str));
    }
}
