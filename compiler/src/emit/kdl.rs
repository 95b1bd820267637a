//! The model as idiomatic KDL in tkc's dialect (`docs/kdl.md`), for `tkc convert`.
//!
//! The emitter walks a document's canonical JSON together with the model's [`Shape`]s, so it
//! knows for every field its kebab-case name, whether list items are repeated nodes (`step`,
//! `param`), which field is the node's argument (`step "build"`), and where a value is a
//! Kubernetes object whose keys are kept as written. Short scalar fields become properties
//! on the node's line, the rest children; multi-line strings become raw `#"""` blocks.
//! Decoding the output gives the same model (round-trip tests over the fixtures and the
//! Tekton examples).

use super::layout::{Layout, child};
use super::yaml::Data;
use crate::model::decode::FieldMeta;
use crate::model::encode::document_to_json;
use crate::model::shape::{Described, Shape, StructShape};
use crate::model::{Document, Kind, ObjectMeta, Resource};
use crate::syntax::kdl::kebab_case;
use serde_json::{Map, Value};

/// Properties go on a node's line while it stays this narrow.
const LINE_WIDTH: usize = 80;
const INDENT: &str = "    ";

/// Documents as one KDL text.
pub fn to_kdl(documents: &[Document]) -> String {
    let laid_out: Vec<(&Document, Option<&Layout>)> = documents.iter().map(|d| (d, None)).collect();
    to_kdl_laid_out(&laid_out)
}

/// Documents as one KDL text, each with its source's [`Layout`] when there is one: fields
/// in the source's order, and its comments.
pub fn to_kdl_laid_out(documents: &[(&Document, Option<&Layout>)]) -> String {
    let mut out = String::new();
    for (i, (document, layout)) in documents.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let cx = Cx {
            layout: *layout,
            path: String::new(),
        };
        write_document(&mut out, document, &cx);
        if let Some(layout) = layout {
            for line in layout.rest() {
                out.push_str(&format!("//{line}\n"));
            }
        }
    }
    out
}

/// Where the emitter is, for a [`Layout`] (no paths are built without one).
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

    fn position(&self, key: &str) -> usize {
        self.layout
            .and_then(|l| l.position(&child(&self.path, key)))
            .unwrap_or(usize::MAX)
    }

    /// The comments of a value written inside another node's line (a property, an
    /// argument): those before it and those trailing it, for that node.
    fn inline_comments(&self) -> Inline {
        let Some(layout) = self.layout else {
            return Inline::default();
        };
        Inline {
            before: layout.before(&self.path),
            trailing: layout.trailing(&self.path),
        }
    }

    /// A node's text with its comments: those before it on lines of their own, those
    /// trailing it at the end of its first line (or before it, when that line opens a
    /// multi-line string); `hoisted` are those of values written inside its line.
    fn decorate(&self, text: String, hoisted: Inline, depth: usize) -> String {
        let Some(layout) = self.layout else {
            return text;
        };
        let mut before = layout.before(&self.path);
        before.extend(hoisted.before);
        let mut trailing = layout.trailing(&self.path);
        trailing.extend(hoisted.trailing);
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        if first.ends_with("\"\"\"") {
            before.append(&mut trailing);
        }
        if before.is_empty() && trailing.is_empty() {
            return text;
        }
        let pad = INDENT.repeat(depth);
        let mut out = String::new();
        for line in before {
            out.push_str(&format!("{pad}//{line}\n"));
        }
        out.push_str(first);
        if !trailing.is_empty() {
            out.push_str(&format!(" //{}", trailing.join(" ")));
        }
        out.push('\n');
        out.push_str(rest);
        out
    }
}

/// Comments of values written inside a node's line, for that node.
#[derive(Default)]
struct Inline {
    before: Vec<String>,
    trailing: Vec<String>,
}

impl Inline {
    fn extend(&mut self, other: Inline) {
        self.before.extend(other.before);
        self.trailing.extend(other.trailing);
    }
}

/// The fields of a struct in the order they were written (the model's where unknown).
fn in_source_order(shape: &StructShape, cx: &Cx) -> Vec<(&'static FieldMeta, Shape)> {
    let mut fields: Vec<(&'static FieldMeta, Shape)> = shape.iter().collect();
    if cx.layout.is_some() {
        fields.sort_by_key(|(meta, _)| cx.position(meta.key));
    }
    fields
}

fn write_document(out: &mut String, document: &Document, cx: &Cx) {
    let json = document_to_json(document);
    let kind = match document.kind {
        Kind::ClusterTask => "task".to_string(),
        k => kebab_case(k.as_str()),
    };
    let empty = Map::new();
    let metadata = json
        .get("metadata")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut head = kind;
    let meta_cx = cx.child("metadata");
    let mut hoisted = Inline::default();
    if let Some(name) = metadata.get("name").and_then(Value::as_str) {
        head.push(' ');
        head.push_str(&string(name, 0));
        hoisted.extend(meta_cx.child("name").inline_comments());
    }
    for (key, prop) in [
        ("generateName", "generate-name"),
        ("namespace", "namespace"),
    ] {
        if let Some(value) = metadata.get(key).and_then(Value::as_str) {
            head.push_str(&format!(" {prop}={}", string(value, 0)));
            hoisted.extend(meta_cx.child(key).inline_comments());
        }
    }
    // `apiVersion` and `kind` are the node's name.
    for key in ["apiVersion", "kind"] {
        hoisted.extend(cx.child(key).inline_comments());
    }
    let mut children = Vec::new();
    let rest: Map<String, Value> = metadata
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "name" | "generateName" | "namespace"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !rest.is_empty()
        && let Shape::Struct(meta) = ObjectMeta::shape()
    {
        children.push(struct_node("metadata", meta, &rest, 1, &meta_cx));
    }
    match &document.resource {
        Resource::ConfigMap(_) | Resource::Secret(_) => {
            for key in ["data", "stringData", "binaryData"] {
                if let Some(value) = json.get(key) {
                    children.push(field_node(
                        &kebab_case(key),
                        Shape::StringMap,
                        None,
                        value,
                        1,
                        &cx.child(key),
                    ));
                }
            }
        }
        _ => {
            let spec = json
                .get("spec")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let spec_cx = cx.child("spec");
            hoisted.extend(spec_cx.inline_comments());
            if let Some(shape) = spec_shape(&document.resource) {
                children.extend(struct_children(shape, spec, 1, &[], &spec_cx));
            }
        }
    }
    out.push_str(&cx.decorate(node_text(&head, &children, 0), hoisted, 0));
}

/// The shape of a resource's spec.
fn spec_shape(resource: &Resource) -> Option<&'static StructShape> {
    let kind = match resource {
        Resource::Task(_) => Kind::Task,
        Resource::Pipeline(_) => Kind::Pipeline,
        Resource::TaskRun(_) => Kind::TaskRun,
        Resource::PipelineRun(_) => Kind::PipelineRun,
        Resource::StepAction(_) => Kind::StepAction,
        Resource::ConfigMap(_) | Resource::Secret(_) => return None,
    };
    kind_spec_shape(kind)
}

/// The shape of the spec of a kind.
pub fn kind_spec_shape(kind: Kind) -> Option<&'static StructShape> {
    let shape = match kind {
        Kind::Task | Kind::ClusterTask => crate::model::TaskSpec::shape(),
        Kind::Pipeline => crate::model::PipelineSpec::shape(),
        Kind::TaskRun => crate::model::TaskRunSpec::shape(),
        Kind::PipelineRun => crate::model::PipelineRunSpec::shape(),
        Kind::StepAction => crate::model::StepActionSpec::shape(),
        Kind::ConfigMap | Kind::Secret => return None,
    };
    match shape {
        Shape::Struct(s) => Some(s),
        _ => None,
    }
}

/// A node: its head line, then its children in braces.
fn node_text(head: &str, children: &[String], depth: usize) -> String {
    let pad = INDENT.repeat(depth);
    if children.is_empty() {
        return format!("{pad}{head}\n");
    }
    let mut out = format!("{pad}{head} {{\n");
    for child in children {
        out.push_str(child);
    }
    out.push_str(&pad);
    out.push_str("}\n");
    out
}

/// A struct as a node named `name`: its positional field as the argument, short scalar
/// fields as properties, the rest as children.
fn struct_node(
    name: &str,
    shape: &StructShape,
    obj: &Map<String, Value>,
    depth: usize,
    cx: &Cx,
) -> String {
    let mut head = node_name(name);
    let mut hoisted = Inline::default();
    let positional = shape.positional();
    let mut used: Vec<&str> = Vec::new();
    if let Some(p) = positional
        && let Some(Value::String(s)) = obj.get(p.key)
        && is_single_line(s)
    {
        head.push(' ');
        head.push_str(&string(s, depth));
        used.push(p.key);
        hoisted.extend(cx.child(p.key).inline_comments());
    }
    let width = INDENT.len() * depth;
    for (meta, field_shape) in in_source_order(shape, cx) {
        if used.contains(&meta.key) {
            continue;
        }
        let Some(value) = obj.get(meta.key) else {
            continue;
        };
        let scalar = match (field_shape, value) {
            (Shape::String | Shape::Duration | Shape::ParamValue, Value::String(s))
                if is_single_line(s) =>
            {
                Some(string(s, depth))
            }
            (Shape::Bool, Value::Bool(b)) => Some(format!("#{b}")),
            (Shape::Int, Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let Some(text) = scalar else {
            continue;
        };
        let prop = format!(" {}={text}", node_name(&kebab_case(meta.key)));
        // Fields stay in their order: once one does not fit, the rest are children.
        if width + head.len() + prop.len() > LINE_WIDTH {
            break;
        }
        head.push_str(&prop);
        used.push(meta.key);
        hoisted.extend(cx.child(meta.key).inline_comments());
    }
    let children = struct_children(shape, obj, depth + 1, &used, cx);
    cx.decorate(node_text(&head, &children, depth), hoisted, depth)
}

/// The fields of a struct (but `skip`) as child nodes, in declaration order. Keys the shape
/// does not know (none, for documents the model encoded) follow as they are.
fn struct_children(
    shape: &StructShape,
    obj: &Map<String, Value>,
    depth: usize,
    skip: &[&str],
    cx: &Cx,
) -> Vec<String> {
    let mut out = Vec::new();
    for (meta, field_shape) in in_source_order(shape, cx) {
        if skip.contains(&meta.key) {
            continue;
        }
        if let Some(value) = obj.get(meta.key) {
            out.push(field_node(
                &kebab_case(meta.key),
                field_shape,
                meta.kdl_item,
                value,
                depth,
                &cx.child(meta.key),
            ));
        }
    }
    for (key, value) in obj {
        if shape.field(key).is_none() && !skip.contains(&key.as_str()) {
            out.push(json_node(key, value, depth, &cx.child(key)));
        }
    }
    out
}

/// One field as a node (or, for a list with an item name, as repeated nodes).
fn field_node(
    name: &str,
    shape: Shape,
    kdl_item: Option<&str>,
    value: &Value,
    depth: usize,
    cx: &Cx,
) -> String {
    let pad = INDENT.repeat(depth);
    match (shape, value) {
        (Shape::String | Shape::Duration, Value::String(s)) => cx.decorate(
            format!("{pad}{} {}\n", node_name(name), string(s, depth)),
            Inline::default(),
            depth,
        ),
        (Shape::Bool | Shape::Int, Value::Bool(_) | Value::Number(_)) => cx.decorate(
            format!("{pad}{} {}\n", node_name(name), scalar(value, depth)),
            Inline::default(),
            depth,
        ),
        (Shape::Struct(s), Value::Object(obj)) => struct_node(name, s, obj, depth, cx),
        (Shape::EmbeddedTask, Value::Object(obj)) => embedded_task(name, obj, depth, cx),
        (Shape::List(item), Value::Array(items)) => {
            list_node(name, item(), kdl_item, items, depth, cx)
        }
        (Shape::ParamValue, _) => param_value(name, value, depth, cx),
        (Shape::StringMap | Shape::Properties, Value::Object(obj)) => {
            let children: Vec<String> = sorted_entries(obj, cx)
                .into_iter()
                .map(|(k, v)| match (shape, v) {
                    (Shape::Properties, Value::Object(spec)) => {
                        match crate::model::PropertySpec::shape() {
                            Shape::Struct(s) => struct_node(k, s, spec, depth + 1, &cx.child(k)),
                            _ => json_node(k, v, depth + 1, &cx.child(k)),
                        }
                    }
                    _ => json_node(k, v, depth + 1, &cx.child(k)),
                })
                .collect();
            let head = if obj.contains_key("-") {
                format!("(object){}", node_name(name))
            } else {
                node_name(name)
            };
            cx.decorate(node_text(&head, &children, depth), Inline::default(), depth)
        }
        // Kubernetes objects, `Any`, and values of a shape the model did not produce.
        _ => json_node(name, value, depth, cx),
    }
}

/// A map's entries in the order they were written (as the JSON keeps them where unknown).
fn sorted_entries<'v>(obj: &'v Map<String, Value>, cx: &Cx) -> Vec<(&'v String, &'v Value)> {
    let mut entries: Vec<(&String, &Value)> = obj.iter().collect();
    if cx.layout.is_some() {
        entries.sort_by_key(|(k, _)| cx.position(k));
    }
    entries
}

/// The comments of a list's items, for a list written on one line.
fn item_comments(len: usize, cx: &Cx) -> Inline {
    let mut all = Inline::default();
    for i in 0..len {
        all.extend(cx.child(&i.to_string()).inline_comments());
    }
    all
}

/// A list field: repeated item nodes, the node's arguments (strings), or `-` children.
fn list_node(
    name: &str,
    item: Shape,
    kdl_item: Option<&str>,
    items: &[Value],
    depth: usize,
    cx: &Cx,
) -> String {
    if let Some(item_name) = kdl_item {
        // The field's own comments go before its first item.
        let field_comments = cx.inline_comments();
        let field_comments = field_comments
            .before
            .into_iter()
            .chain(field_comments.trailing);
        let nodes: String = items
            .iter()
            .enumerate()
            .map(|(i, v)| field_node(item_name, item, None, v, depth, &cx.child(&i.to_string())))
            .collect();
        let pad = INDENT.repeat(depth);
        let lead: String = field_comments.map(|l| format!("{pad}//{l}\n")).collect();
        return lead + &nodes;
    }
    let all_scalar = items.iter().all(|v| !v.is_array() && !v.is_object());
    let pad = INDENT.repeat(depth);
    if all_scalar
        && matches!(
            item,
            Shape::String | Shape::Duration | Shape::Int | Shape::Bool
        )
    {
        let args: Vec<String> = items.iter().map(|v| scalar(v, depth)).collect();
        // One argument is a one-item list where the model expects a list.
        return cx.decorate(
            format!("{pad}{} {}\n", node_name(name), args.join(" ")),
            item_comments(items.len(), cx),
            depth,
        );
    }
    if matches!(item, Shape::Struct(_)) {
        let children: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, v)| field_node("-", item, None, v, depth + 1, &cx.child(&i.to_string())))
            .collect();
        return cx.decorate(
            node_text(&node_name(name), &children, depth),
            Inline::default(),
            depth,
        );
    }
    json_node(name, &Value::Array(items.to_vec()), depth, cx)
}

/// A param value: a string, the arguments of an array, or the children of an object.
fn param_value(name: &str, value: &Value, depth: usize, cx: &Cx) -> String {
    let pad = INDENT.repeat(depth);
    let text = match value {
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let args: Vec<String> = items.iter().map(|v| scalar(v, depth)).collect();
            let head = if items.len() >= 2 {
                node_name(name)
            } else {
                format!("(array){}", node_name(name))
            };
            let text = if args.is_empty() {
                format!("{pad}{head}\n")
            } else {
                format!("{pad}{head} {}\n", args.join(" "))
            };
            return cx.decorate(text, item_comments(items.len(), cx), depth);
        }
        Value::Object(obj) if obj.values().all(Value::is_string) => {
            let children: Vec<String> = sorted_entries(obj, cx)
                .into_iter()
                .map(|(k, v)| json_node(k, v, depth + 1, &cx.child(k)))
                .collect();
            let head = if obj.is_empty() || obj.contains_key("-") {
                format!("(object){}", node_name(name))
            } else {
                node_name(name)
            };
            node_text(&head, &children, depth)
        }
        Value::String(s) => format!("{pad}{} {}\n", node_name(name), string(s, depth)),
        other => return json_node(name, other, depth, cx),
    };
    cx.decorate(text, Inline::default(), depth)
}

/// A pipeline task's `taskSpec`: the Task spec's fields, and a custom task's.
fn embedded_task(name: &str, obj: &Map<String, Value>, depth: usize, cx: &Cx) -> String {
    let mut children = Vec::new();
    if let Shape::Struct(task) = crate::model::TaskSpec::shape() {
        children.extend(struct_children(
            task,
            obj,
            depth + 1,
            &["apiVersion", "kind", "spec", "metadata"],
            cx,
        ));
    }
    for key in ["apiVersion", "kind"] {
        if let Some(Value::String(s)) = obj.get(key) {
            children.push(format!(
                "{}{} {}\n",
                INDENT.repeat(depth + 1),
                kebab_case(key),
                string(s, depth + 1)
            ));
        }
    }
    if let Some(spec) = obj.get("spec") {
        children.push(json_node("spec", spec, depth + 1, &cx.child("spec")));
    }
    if let Some(Value::Object(meta)) = obj.get("metadata")
        && let Shape::Struct(s) = crate::model::EmbeddedMetadata::shape()
    {
        children.push(struct_node(
            "metadata",
            s,
            meta,
            depth + 1,
            &cx.child("metadata"),
        ));
    }
    cx.decorate(
        node_text(&node_name(name), &children, depth),
        Inline::default(),
        depth,
    )
}

/// Any JSON value as a node, keys as written (Kubernetes objects, rule 8 of the dialect).
fn json_node(name: &str, value: &Value, depth: usize, cx: &Cx) -> String {
    let pad = INDENT.repeat(depth);
    let name_text = node_name(name);
    let mut hoisted = Inline::default();
    let text = match value {
        Value::Array(items) if items.iter().all(|v| !v.is_array() && !v.is_object()) => {
            let args: Vec<String> = items.iter().map(|v| scalar(v, depth)).collect();
            let head = if items.len() >= 2 {
                name_text
            } else {
                format!("(array){name_text}")
            };
            hoisted = item_comments(items.len(), cx);
            if args.is_empty() {
                format!("{pad}{head}\n")
            } else {
                format!("{pad}{head} {}\n", args.join(" "))
            }
        }
        Value::Array(items) => {
            let children: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(i, v)| json_node("-", v, depth + 1, &cx.child(&i.to_string())))
                .collect();
            node_text(&name_text, &children, depth)
        }
        Value::Object(obj) => {
            let children: Vec<String> = sorted_entries(obj, cx)
                .into_iter()
                .map(|(k, v)| json_node(k, v, depth + 1, &cx.child(k)))
                .collect();
            // A node with nothing in it is an empty map.
            let head = if obj.contains_key("-") {
                format!("(object){name_text}")
            } else {
                name_text
            };
            node_text(&head, &children, depth)
        }
        scalar_value => format!("{pad}{name_text} {}\n", scalar(scalar_value, depth)),
    };
    cx.decorate(text, hoisted, depth)
}

fn scalar(value: &Value, depth: usize) -> String {
    match value {
        Value::Null => "#null".to_string(),
        Value::Bool(b) => format!("#{b}"),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s, depth),
        other => string(&other.to_string(), depth),
    }
}

/// A node name: bare if it is a KDL identifier, else quoted.
fn node_name(name: &str) -> String {
    if is_identifier(name) {
        name.to_string()
    } else {
        quoted(name)
    }
}

fn is_identifier(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if matches!(s, "true" | "false" | "null" | "inf" | "-inf" | "nan") {
        return false;
    }
    let second = s.chars().nth(1);
    let numberish = first.is_ascii_digit()
        || (matches!(first, '-' | '+' | '.') && second.is_some_and(|c| c.is_ascii_digit()))
        || (matches!(first, '-' | '+') && second == Some('.'));
    !numberish
        && s.chars()
            .all(|c| !c.is_whitespace() && !is_disallowed(c) && !"\\/(){};[]=\"#".contains(c))
}

/// Code points KDL 2 forbids in a document (they must be escaped in a quoted string), and
/// those it reads as line breaks.
fn is_disallowed(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}' | '\u{2028}' | '\u{2029}')
}

fn is_single_line(s: &str) -> bool {
    !s.contains('\n')
}

/// A string value: a raw multi-line block for text ending in a newline (as the dialect reads
/// `"""` strings), else a quoted (or raw) string on one line.
fn string(s: &str, depth: usize) -> String {
    if let Some(block) = multi_line(s, depth) {
        return block;
    }
    if !s.chars().any(is_disallowed) && (s.contains('\\') || s.contains('"')) {
        let hashes = hashes_for(s, "\"");
        return format!("{hashes}\"{s}\"{hashes}");
    }
    quoted(s)
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_disallowed(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `#"""` ... `"""#` with the lines indented one level deeper than the node, if `s` can be
/// one: it ends in a newline, holds other text, and has no line of only white space (KDL
/// empties those) and no character KDL forbids.
fn multi_line(s: &str, depth: usize) -> Option<String> {
    let body = s.strip_suffix('\n')?;
    if body.is_empty()
        || body
            .chars()
            .any(|c| c != '\n' && c != '\t' && is_disallowed(c))
        || body
            .split('\n')
            .any(|l| !l.is_empty() && l.trim().is_empty())
    {
        return None;
    }
    let hashes = hashes_for(body, "\"\"\"");
    let pad = INDENT.repeat(depth + 1);
    let mut out = format!("{hashes}\"\"\"\n");
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(&pad);
    out.push_str(&format!("\"\"\"{hashes}"));
    Some(out)
}

/// Enough `#` that `quote` followed by them does not occur in `s` (a raw string's end).
fn hashes_for(s: &str, quote: &str) -> String {
    let mut hashes = "#".to_string();
    while s.contains(&format!("{quote}{hashes}")) {
        hashes.push('#');
    }
    hashes
}

/// A document's canonical JSON, keys in the model's order (for YAML output).
pub fn ordered(document: &Document) -> Data {
    ordered_json(&document_to_json(document), document.kind)
}

/// A document's JSON (of a document of `kind`), keys in the model's order.
pub fn ordered_json(json: &Value, kind: Kind) -> Data {
    let Value::Object(top) = json else {
        return Data::from(json);
    };
    let mut entries = Vec::new();
    for key in [
        "apiVersion",
        "kind",
        "metadata",
        "spec",
        "data",
        "stringData",
        "binaryData",
    ] {
        let Some(value) = top.get(key) else {
            continue;
        };
        let data = match key {
            "metadata" => order(value, ObjectMeta::shape()),
            "spec" => kind_spec_shape(kind)
                .map_or_else(|| Data::from(value), |s| order(value, Shape::Struct(s))),
            _ => Data::from(value),
        };
        entries.push((key.to_string(), data));
    }
    Data::Map(entries)
}

/// A value with its struct keys in declaration order.
fn order(value: &Value, shape: Shape) -> Data {
    match (shape, value) {
        (Shape::Struct(s), Value::Object(obj)) => {
            let mut entries = Vec::new();
            for (meta, field_shape) in s.iter() {
                if let Some(v) = obj.get(meta.key) {
                    entries.push((meta.key.to_string(), order(v, field_shape)));
                }
            }
            for (k, v) in obj {
                if s.field(k).is_none() {
                    entries.push((k.clone(), Data::from(v)));
                }
            }
            Data::Map(entries)
        }
        (Shape::List(item), Value::Array(items)) => {
            Data::Seq(items.iter().map(|v| order(v, item())).collect())
        }
        (Shape::EmbeddedTask, Value::Object(obj)) => {
            let mut data = match crate::model::TaskSpec::shape() {
                Shape::Struct(_) => order(value, crate::model::TaskSpec::shape()),
                _ => Data::from(value),
            };
            if let Data::Map(entries) = &mut data {
                for key in ["apiVersion", "kind", "spec", "metadata"] {
                    if let Some(v) = obj.get(key) {
                        let shape = if key == "metadata" {
                            crate::model::EmbeddedMetadata::shape()
                        } else {
                            Shape::Any
                        };
                        entries.retain(|(k, _)| k != key);
                        entries.push((key.to_string(), order(v, shape)));
                    }
                }
            }
            data
        }
        (Shape::Properties, Value::Object(obj)) => Data::Map(
            obj.iter()
                .map(|(k, v)| (k.clone(), order(v, crate::model::PropertySpec::shape())))
                .collect(),
        ),
        _ => Data::from(value),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    fn convert(yaml: &str) -> String {
        let mut sources = SourceMap::new();
        let file = sources.add("t.yaml", yaml);
        let (docs, diagnostics) =
            crate::decode_files(&sources, &[file], &crate::Options::default());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        to_kdl(&docs)
    }

    #[test]
    fn idiomatic_kdl() {
        let kdl = convert(
            r#"apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: build
  labels:
    app.kubernetes.io/name: build
spec:
  params:
    - name: flags
      type: array
      default: [-v]
    - name: mode
      default: fast
  volumes:
    - name: cache
      emptyDir: {}
  steps:
    - name: build
      image: golang:1.23
      args: ["$(params.flags[*])"]
      env:
        - name: A
          value: "1"
        - name: TOKEN
          valueFrom:
            secretKeyRef: {name: creds, key: token}
      securityContext:
        capabilities:
          drop: [ALL]
      script: |
        #!/bin/sh
        echo "building \o/"
      timeout: 5m
      onError: continue
"#,
        );
        insta::assert_snapshot!(kdl, @r###"
        task "build" {
            metadata {
                labels {
                    "app.kubernetes.io/name" "build"
                }
            }
            param "flags" type="array" {
                (array)default "-v"
            }
            param "mode" default="fast"
            step "build" image="golang:1.23" timeout="5m" on-error="continue" {
                args "$(params.flags[*])"
                env "A" value="1"
                env "TOKEN" {
                    value-from {
                        secretKeyRef {
                            key "token"
                            name "creds"
                        }
                    }
                }
                security-context {
                    capabilities {
                        (array)drop "ALL"
                    }
                }
                script #"""
                    #!/bin/sh
                    echo "building \o/"
                    """#
            }
            volume "cache" {
                empty-dir
            }
        }
        "###);
    }
}
