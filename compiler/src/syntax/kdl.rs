//! KDL 2 → [`Node`], for tkc's KDL dialect (see `docs/kdl.md`).
//!
//! A top-level node is a resource: its name is the kind (`task`, `pipeline`, `task-run`,
//! `pipeline-run`, `step-action`, `config-map`, `secret`), its first argument the resource
//! name; a `metadata { }` child fills metadata and every other property and child fills `spec`.
//! Inside, a node becomes a value by shape:
//!
//! - only arguments: one argument is a scalar (marked `kdl_argument`), several a list;
//! - only `-` children: a list of their values;
//! - otherwise a map of its properties and children (keys in kebab-case as written), with
//!   its arguments kept in [`Map::args`].
//!
//! The decoder reads kebab-case keys for camelCase fields, gathers repeated child nodes such
//! as `step` into list fields, and puts a map's first argument into the item's name field.

use super::{Entry, Map, Node, ParsedFile, Scalar, ScalarKind, Value};
use crate::diag::{Diagnostic, codes};
use crate::source::{FileId, Span, Syntax};
use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

/// Parses a KDL document into one node per top-level resource node.
pub fn parse(file: FileId, text: &str) -> ParsedFile {
    let mut out = ParsedFile::default();
    match KdlDocument::parse_v2(text) {
        Ok(doc) => {
            for node in doc.nodes() {
                if let Some(resource) = resource(file, node, &mut out.diagnostics) {
                    out.documents.push(resource);
                }
            }
        }
        Err(error) => {
            for d in &error.diagnostics {
                let span = span_of(file, d.span);
                let message = d
                    .message
                    .clone()
                    .unwrap_or_else(|| "invalid KDL".to_string());
                let mut diagnostic =
                    Diagnostic::new(&codes::KDL, format!("invalid KDL: {message}"))
                        .with_label(span, d.label.clone().unwrap_or_default());
                if let Some(help) = &d.help {
                    diagnostic = diagnostic.with_help(help.clone());
                }
                out.diagnostics.push(diagnostic);
            }
            if error.diagnostics.is_empty() {
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

/// `PipelineRun` → `pipeline-run`; `workingDir` → `working-dir`.
pub fn kebab_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.char_indices() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
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
        let value = node_value(file, child);
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
        top.entries.extend(body.entries);
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
fn node_value(file: FileId, node: &KdlNode) -> Node {
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

    if props.is_empty() && children.is_empty() {
        return match args.as_slice() {
            [one] => {
                let mut value = entry_value(file, one);
                if let Value::Scalar(s) = &mut value.value {
                    s.kdl_argument = true;
                }
                value
            }
            [] => Node::new(Value::Map(Map::default()), span, Syntax::Kdl),
            many => Node::new(
                Value::Seq(many.iter().map(|e| entry_value(file, e)).collect()),
                span,
                Syntax::Kdl,
            ),
        };
    }
    if props.is_empty() && args.is_empty() && children.iter().all(|c| c.name().value() == "-") {
        return Node::new(
            Value::Seq(children.iter().map(|c| node_value(file, c)).collect()),
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
            value: node_value(file, c),
        });
    }
    Node::new(Value::Map(map), span, Syntax::Kdl)
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
    let value = match entry.value() {
        KdlValue::String(s) => Value::Scalar(Scalar {
            text: s.clone(),
            kind: ScalarKind::Str,
            kdl_argument: false,
        }),
        KdlValue::Integer(i) => Value::Scalar(Scalar {
            text: i.to_string(),
            kind: ScalarKind::Int,
            kdl_argument: false,
        }),
        KdlValue::Float(f) => Value::Scalar(Scalar {
            text: f.to_string(),
            kind: ScalarKind::Float,
            kdl_argument: false,
        }),
        KdlValue::Bool(b) => Value::Scalar(Scalar {
            text: b.to_string(),
            kind: ScalarKind::Bool(*b),
            kdl_argument: false,
        }),
        KdlValue::Null => Value::Null,
    };
    Node::new(value, span, Syntax::Kdl)
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
        assert_eq!(camel_case("generate-name"), "generateName");
    }
}
