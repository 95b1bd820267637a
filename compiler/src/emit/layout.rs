//! What `tkc convert` keeps of a source besides its model: the order of its fields and its
//! comments.
//!
//! The emitters walk a document's canonical JSON. A [`Layout`] maps each value of that JSON,
//! by its path (`spec`, `steps`, `0`, `image`), to where it was written: the source offset
//! of its key or node. The emitters write fields in that order (the model's order where the
//! source says nothing), and put each comment before the value that follows it in the source
//! (a comment on a line of its own) or at the end of the line of the value it trails.
//!
//! Comments are found in the text: in YAML a `#` at the start of a line or after white space,
//! outside every scalar and key (so not in a block scalar or a quoted string); in KDL `//`
//! and `/* */` outside strings. Paths come from walking the document's syntax tree with the
//! model's shapes, so a KDL `step "build"` node is the value at `spec/steps/0` and its
//! argument the one at `spec/steps/0/name`, as in the JSON.

use super::yaml::Data;
use crate::model::shape::{Described, Shape, StructShape};
use crate::model::{ApiVersion, Document, ObjectMeta};
use crate::source::{FileId, SourceMap, Syntax};
use crate::syntax::kdl::is_kebab_of;
use crate::syntax::{Node, Value};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

/// A comment of the source: its text without the marker (`#`, `//`), and whether it stands
/// on a line of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub start: usize,
    pub end: usize,
    /// The lines of the comment, each without its marker (a `/* */` comment may have several).
    pub lines: Vec<String>,
    pub own_line: bool,
}

/// The comments of a text.
pub fn comments(text: &str, syntax: Syntax, documents: &[Node]) -> Vec<Comment> {
    match syntax {
        Syntax::Yaml => yaml_comments(text, documents),
        Syntax::Kdl => kdl_comments(text),
    }
}

fn own_line(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    text[line_start..at].trim().is_empty()
}

fn yaml_comments(text: &str, documents: &[Node]) -> Vec<Comment> {
    // Where scalars and keys are: a `#` there is text.
    let mut taken: Vec<(usize, usize)> = Vec::new();
    fn collect(node: &Node, out: &mut Vec<(usize, usize)>) {
        match &node.value {
            Value::Scalar(_) => out.push((node.span.start as usize, node.span.end as usize)),
            Value::Seq(items) => items.iter().for_each(|n| collect(n, out)),
            Value::Map(map) => {
                for e in &map.entries {
                    out.push((e.key_span.start as usize, e.key_span.end as usize));
                    collect(&e.value, out);
                }
            }
            Value::Null => {}
        }
    }
    for d in documents {
        collect(d, &mut taken);
    }
    taken.sort_unstable();
    let inside = |at: usize| {
        let i = taken.partition_point(|(start, _)| *start <= at);
        i > 0 && taken[i - 1].1 > at
    };
    let mut out = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let mut from = 0;
        while let Some(n) = body[from..].find('#') {
            let at = line_start + from + n;
            let after_space = from + n == 0 || body[..from + n].ends_with([' ', '\t']);
            if after_space && !inside(at) {
                out.push(Comment {
                    start: at,
                    end: line_start + body.len(),
                    lines: vec![body[from + n + 1..].to_string()],
                    own_line: own_line(text, at),
                });
                break;
            }
            from += n + 1;
        }
        line_start += line.len();
    }
    out
}

fn kdl_comments(text: &str) -> Vec<Comment> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                out.push(Comment {
                    start: i,
                    end,
                    lines: vec![text[i + 2..end].trim_end_matches('\r').to_string()],
                    own_line: own_line(text, i),
                });
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start = i;
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
                let inner = text
                    .get(start + 2..i.saturating_sub(2).max(start + 2))
                    .unwrap_or_default();
                out.push(Comment {
                    start,
                    end: i,
                    lines: inner
                        .lines()
                        .map(|l| format!(" {}", l.trim()).trim_end().to_string())
                        .collect(),
                    own_line: own_line(text, start),
                });
            }
            // A raw string has no escapes: skip to its end.
            b'#' => i = crate::syntax::kdl::skip_hashes(bytes, i),
            b'"' => {
                let multi_line = bytes[i..].starts_with(b"\"\"\"");
                let mut j = i + if multi_line { 3 } else { 1 };
                while j < bytes.len() {
                    if multi_line && bytes[j..].starts_with(b"\"\"\"") {
                        j += 3;
                        break;
                    }
                    if !multi_line && bytes[j] == b'"' {
                        j += 1;
                        break;
                    }
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// The layouts of the `documents` of one file (in the file's order), `None` for those whose
/// source does not map onto their JSON: v1beta1 documents, converted to v1 on the way.
/// Each document gets the comments from the end of the previous one to its own end; the
/// last one also those after it.
pub fn file_layouts(
    sources: &SourceMap,
    file: FileId,
    documents: &[&Document],
) -> Vec<Option<Layout>> {
    let source = sources.get(file);
    let parsed = crate::syntax::parse_file(sources, file);
    let all = comments(source.text(), source.syntax(), &parsed.documents);
    let mut out = Vec::with_capacity(documents.len());
    let mut from = 0;
    for (i, document) in documents.iter().enumerate() {
        let until = if i + 1 == documents.len() {
            usize::MAX
        } else {
            document.span.end as usize
        };
        let mine: Vec<Comment> = all
            .iter()
            .filter(|c| c.start >= from && c.start < until)
            .cloned()
            .collect();
        from = until;
        let node = parsed.documents.iter().find(|n| n.span == document.span);
        out.push(match node {
            Some(node) if document.version != ApiVersion::V1beta1 => {
                Some(Layout::new(document, node, mine, source.text()))
            }
            _ => None,
        });
    }
    out
}

/// Joins a path and one more segment (keys may hold `/`, so the separator is NUL).
pub fn child(path: &str, segment: &str) -> String {
    if path.is_empty() {
        return segment.to_string();
    }
    let mut out = String::with_capacity(path.len() + segment.len() + 1);
    out.push_str(path);
    out.push('\0');
    out.push_str(segment);
    out
}

/// Where each value of a document was written, and the comments around them.
#[derive(Debug, Default)]
pub struct Layout {
    positions: HashMap<String, usize>,
    before: HashMap<String, Vec<usize>>,
    trailing: HashMap<String, Vec<usize>>,
    comments: Vec<Comment>,
    written: RefCell<BTreeSet<usize>>,
}

impl Layout {
    /// The layout of `document`, written as `node` (its syntax tree), with the `comments`
    /// of the text that belong to it (those after the previous document).
    pub fn new(document: &Document, node: &Node, comments: Vec<Comment>, text: &str) -> Layout {
        let mut positions = HashMap::new();
        positions.insert(String::new(), node.span.start as usize);
        walk_document(document, node, &mut positions);
        let mut layout = Layout {
            positions,
            comments,
            ..Layout::default()
        };
        layout.place_comments(text);
        // A comment trailing a KDL resource's first line (`task "build" { // ...`) trails its
        // name: the line holds the kind, the name, and the start of the spec.
        if node.origin == Syntax::Kdl {
            let name = child("metadata", "name");
            let to = if layout.positions.contains_key(&name) {
                name
            } else {
                "kind".to_string()
            };
            for from in ["", "apiVersion", "kind", "metadata", "spec"] {
                if from != to
                    && let Some(moved) = layout.trailing.remove(from)
                {
                    layout.trailing.entry(to.clone()).or_default().extend(moved);
                }
            }
        }
        layout
    }

    fn place_comments(&mut self, text: &str) {
        // By position; at one position the outermost value first.
        let mut by_position: Vec<(usize, &String)> =
            self.positions.iter().map(|(p, at)| (*at, p)).collect();
        by_position.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.len().cmp(&b.1.len())));
        for (i, comment) in self.comments.iter().enumerate() {
            if comment.own_line {
                // Before the next value (the outermost that starts there).
                let next = by_position
                    .iter()
                    .find(|(at, _)| *at >= comment.end)
                    .map(|(_, p)| (*p).clone());
                if let Some(path) = next {
                    self.before.entry(path).or_default().push(i);
                }
            } else {
                // After the first value of its line (the innermost that starts there), or
                // the last before it.
                let line_start = text
                    .get(..comment.start)
                    .and_then(|t| t.rfind('\n'))
                    .map_or(0, |n| n + 1);
                let k = by_position.partition_point(|(at, _)| *at <= comment.start);
                let on_line = by_position[..k]
                    .iter()
                    .find(|(at, _)| *at >= line_start)
                    .map(|(at, _)| *at);
                let at = on_line.or_else(|| k.checked_sub(1).map(|k| by_position[k].0));
                let path = at.and_then(|at| {
                    by_position[..k]
                        .iter()
                        .filter(|(a, _)| *a == at)
                        .max_by_key(|(_, p)| p.len())
                        .map(|(_, p)| (*p).clone())
                });
                if let Some(path) = path {
                    self.trailing.entry(path).or_default().push(i);
                }
            }
        }
    }

    /// Puts the entries of every map of `data` (a document's, as [`child`] paths name them) in
    /// the order they were written; entries the source does not place keep their order, after
    /// the others.
    pub fn reorder(&self, data: &mut Data) {
        self.reorder_at(data, "");
    }

    fn reorder_at(&self, data: &mut Data, path: &str) {
        match data {
            Data::Map(entries) => {
                entries.sort_by_key(|(k, _)| self.position(&child(path, k)).unwrap_or(usize::MAX));
                for (k, v) in entries {
                    self.reorder_at(v, &child(path, k));
                }
            }
            Data::Seq(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    self.reorder_at(v, &child(path, &i.to_string()));
                }
            }
            Data::Scalar(_) => {}
        }
    }

    /// Where the value at `path` was written.
    pub fn position(&self, path: &str) -> Option<usize> {
        self.positions.get(path).copied()
    }

    /// The comments to write before the value at `path`, each a line without its marker;
    /// each comment is given once.
    pub fn before(&self, path: &str) -> Vec<String> {
        self.take(self.before.get(path))
    }

    /// The comments trailing the value at `path`.
    pub fn trailing(&self, path: &str) -> Vec<String> {
        self.take(self.trailing.get(path))
    }

    /// Every comment not given yet (written at the end of the document, so that none is lost).
    pub fn rest(&self) -> Vec<String> {
        let all: Vec<usize> = (0..self.comments.len()).collect();
        self.take(Some(&all))
    }

    fn take(&self, ids: Option<&Vec<usize>>) -> Vec<String> {
        let mut written = self.written.borrow_mut();
        ids.into_iter()
            .flatten()
            .filter(|&&i| written.insert(i))
            .flat_map(|&i| self.comments[i].lines.iter().cloned())
            .collect()
    }
}

/// The offsets of a document's values by path.
fn walk_document(document: &Document, node: &Node, out: &mut HashMap<String, usize>) {
    let Value::Map(map) = &node.value else {
        return;
    };
    for entry in &map.entries {
        let path = entry.key.clone();
        out.entry(path.clone())
            .or_insert(entry.key_span.start as usize);
        let shape = match entry.key.as_str() {
            "metadata" => ObjectMeta::shape(),
            "spec" => match crate::emit::kdl::kind_spec_shape(document.kind) {
                Some(s) => Shape::Struct(s),
                None => Shape::Any,
            },
            _ => Shape::Any,
        };
        walk(&entry.value, shape, &path, out);
    }
}

fn walk(node: &Node, shape: Shape, path: &str, out: &mut HashMap<String, usize>) {
    let kdl = node.origin == Syntax::Kdl;
    match (shape, &node.value) {
        (Shape::Struct(s), Value::Map(map)) => walk_struct(s, map, kdl, path, out),
        (Shape::EmbeddedTask, Value::Map(map)) => {
            if let Shape::Struct(s) = crate::model::TaskSpec::shape() {
                walk_struct(s, map, kdl, path, out);
            }
        }
        // `task-ref "build"`: a struct given its positional field only.
        (Shape::Struct(s), Value::Scalar(_)) => {
            if let Some(p) = s.positional() {
                out.entry(child(path, p.key))
                    .or_insert(node.span.start as usize);
            }
        }
        (Shape::List(item), Value::Seq(items)) => {
            for (i, n) in items.iter().enumerate() {
                let p = child(path, &i.to_string());
                out.entry(p.clone()).or_insert(n.span.start as usize);
                walk(n, item(), &p, out);
            }
        }
        (_, Value::Map(map)) => {
            let inner = match shape {
                Shape::Properties => crate::model::PropertySpec::shape(),
                _ => Shape::Any,
            };
            for e in &map.entries {
                let p = child(path, &e.key);
                out.entry(p.clone()).or_insert(e.key_span.start as usize);
                walk(&e.value, inner, &p, out);
            }
        }
        (_, Value::Seq(items)) => {
            for (i, n) in items.iter().enumerate() {
                let p = child(path, &i.to_string());
                out.entry(p.clone()).or_insert(n.span.start as usize);
                walk(n, Shape::Any, &p, out);
            }
        }
        _ => {}
    }
}

fn walk_struct(
    shape: &'static StructShape,
    map: &crate::syntax::Map,
    kdl: bool,
    path: &str,
    out: &mut HashMap<String, usize>,
) {
    if let (Some(p), Some(arg)) = (shape.positional(), map.args.first()) {
        out.entry(child(path, p.key))
            .or_insert(arg.span.start as usize);
    }
    let mut items: HashMap<&'static str, usize> = HashMap::new();
    for entry in &map.entries {
        let found = shape.iter().find_map(|(meta, field_shape)| {
            if kdl && meta.kdl_item == Some(entry.key.as_str()) {
                return Some((meta, field_shape, true));
            }
            let same = entry.key == meta.key
                || (kdl && is_kebab_of(&entry.key, meta.key))
                || meta.key.eq_ignore_ascii_case(&entry.key);
            same.then_some((meta, field_shape, false))
        });
        let Some((meta, field_shape, repeated)) = found else {
            let p = child(path, &entry.key);
            out.entry(p.clone())
                .or_insert(entry.key_span.start as usize);
            walk(&entry.value, Shape::Any, &p, out);
            continue;
        };
        let field = child(path, meta.key);
        out.entry(field.clone())
            .or_insert(entry.key_span.start as usize);
        if repeated {
            // One item node (or `- ` children of one) per occurrence, counted.
            let Shape::List(item) = field_shape else {
                continue;
            };
            let values: Vec<&Node> = match &entry.value.value {
                Value::Seq(list) => list.iter().collect(),
                _ => vec![&entry.value],
            };
            for value in values {
                let n = items.entry(meta.key).or_default();
                let p = child(&field, &n.to_string());
                *n += 1;
                let at = if std::ptr::eq(value, &entry.value) {
                    entry.key_span.start
                } else {
                    value.span.start
                };
                out.entry(p.clone()).or_insert(at as usize);
                walk(value, item(), &p, out);
            }
            continue;
        }
        walk(&entry.value, field_shape, &field, out);
    }
}
