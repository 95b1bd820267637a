//! JSON Schemas: of the Tekton resources (for editors: yaml-language-server), generated from
//! the model's [`Shape`]s with the field docs as descriptions, and of the [`Plan`].
//!
//! The resource schemas are JSON Schema **draft-07**: it is the draft yaml-language-server
//! (VS Code's YAML extension) and most editors support best, and the subset used here
//! (`$ref` to `definitions`, `properties`, `required`, `additionalProperties`, `enum`,
//! `anyOf`, `if`/`then`) means the same in every draft. Each file is self-contained. Structs
//! are closed (`additionalProperties: false`) as tkc reports unknown fields; Kubernetes
//! objects tkc passes through (`securityContext`, `podTemplate`, ...) are open objects. A
//! field may be `null` (Kubernetes reads it as absent). `tekton.schema.json` accepts any
//! document and checks each Tekton kind against its schema, for files that mix kinds.
//!
//! The plan schema is what `schemars` derives from the plan types (draft 2020-12).
//!
//! [`Plan`]: crate::plan::Plan

use crate::model::decode::FieldMeta;
use crate::model::shape::{Described, Shape, StructShape};
use crate::model::{
    ObjectMeta, PipelineRunSpec, PipelineSpec, StepActionSpec, TaskRunSpec, TaskSpec,
};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// A Tekton kind with its schema file.
struct KindSchema {
    kind: &'static str,
    file: &'static str,
    api_versions: &'static [&'static str],
    spec: fn() -> Shape,
    has_status: bool,
    description: &'static str,
}

const KINDS: &[KindSchema] = &[
    KindSchema {
        kind: "Task",
        file: "task.schema.json",
        api_versions: &["tekton.dev/v1", "tekton.dev/v1beta1"],
        spec: TaskSpec::shape,
        has_status: false,
        description: "A Tekton Task: steps run in order in one pod.",
    },
    KindSchema {
        kind: "Pipeline",
        file: "pipeline.schema.json",
        api_versions: &["tekton.dev/v1", "tekton.dev/v1beta1"],
        spec: PipelineSpec::shape,
        has_status: false,
        description: "A Tekton Pipeline: a graph of tasks.",
    },
    KindSchema {
        kind: "TaskRun",
        file: "taskrun.schema.json",
        api_versions: &["tekton.dev/v1", "tekton.dev/v1beta1"],
        spec: TaskRunSpec::shape,
        has_status: true,
        description: "A Tekton TaskRun: one run of a Task.",
    },
    KindSchema {
        kind: "PipelineRun",
        file: "pipelinerun.schema.json",
        api_versions: &["tekton.dev/v1", "tekton.dev/v1beta1"],
        spec: PipelineRunSpec::shape,
        has_status: true,
        description: "A Tekton PipelineRun: one run of a Pipeline.",
    },
    KindSchema {
        kind: "StepAction",
        file: "stepaction.schema.json",
        api_versions: &["tekton.dev/v1beta1", "tekton.dev/v1alpha1"],
        spec: StepActionSpec::shape,
        has_status: false,
        description: "A Tekton StepAction: a reusable step.",
    },
];

/// Every schema file tkc generates: `(file name, schema)`, in a stable order.
pub fn all() -> Vec<(&'static str, Value)> {
    let mut out = vec![("plan.schema.json", crate::plan::Plan::json_schema())];
    for k in KINDS {
        out.push((k.file, resource_schema(k)));
    }
    out.push(("tekton.schema.json", combined_schema()));
    out
}

/// A schema file's text: pretty JSON with a final newline.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

fn resource_schema(k: &KindSchema) -> Value {
    let mut defs = Definitions::default();
    let body = resource_body(k, &mut defs);
    let mut schema = Map::new();
    schema.insert("$schema".into(), Value::from(DRAFT_07));
    schema.insert("title".into(), Value::from(format!("Tekton {}", k.kind)));
    if let Value::Object(b) = body {
        schema.extend(b);
    }
    schema.insert("definitions".into(), defs.into_value());
    Value::Object(schema)
}

/// `apiVersion`, `kind`, `metadata`, `spec` (and `status`) of one kind.
fn resource_body(k: &KindSchema, defs: &mut Definitions) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "apiVersion".into(),
        json!({ "description": "The API group and version.", "enum": k.api_versions }),
    );
    properties.insert(
        "kind".into(),
        json!({ "description": "The kind of resource.", "const": k.kind }),
    );
    properties.insert(
        "metadata".into(),
        with_description(
            shape_schema(ObjectMeta::shape(), defs),
            "Standard Kubernetes object metadata.",
        ),
    );
    properties.insert("spec".into(), shape_schema((k.spec)(), defs));
    if k.has_status {
        properties.insert(
            "status".into(),
            json!({ "description": "Written by Tekton; ignored by tkc.", "type": ["object", "null"] }),
        );
    }
    json!({
        "description": k.description,
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": properties,
        "additionalProperties": false,
    })
}

/// One schema for files that hold several kinds: each document with a Tekton kind is checked
/// against that kind's schema; other documents (ConfigMaps, RBAC, ...) pass.
fn combined_schema() -> Value {
    let mut defs = Definitions::default();
    let mut rules = Vec::new();
    for k in KINDS {
        let name = format!("{}Resource", k.kind);
        let body = resource_body(k, &mut defs);
        defs.insert(&name, body);
        rules.push(json!({
            "if": {
                "properties": { "kind": { "const": k.kind }, "apiVersion": { "enum": k.api_versions } },
                "required": ["kind", "apiVersion"],
            },
            "then": { "$ref": format!("#/definitions/{name}") },
        }));
    }
    json!({
        "$schema": DRAFT_07,
        "title": "Tekton resources",
        "description": "Any Kubernetes document; Tasks, Pipelines, TaskRuns, PipelineRuns and StepActions are checked against their schemas.",
        "type": "object",
        "allOf": rules,
        "definitions": defs.into_value(),
    })
}

#[derive(Default)]
struct Definitions {
    defs: BTreeMap<String, Value>,
}

impl Definitions {
    fn insert(&mut self, name: &str, schema: Value) {
        self.defs.insert(name.to_string(), schema);
    }

    fn into_value(self) -> Value {
        Value::Object(self.defs.into_iter().collect())
    }
}

fn with_description(mut schema: Value, description: &str) -> Value {
    let description = description.trim();
    if !description.is_empty()
        && let Value::Object(map) = &mut schema
    {
        map.insert("description".into(), Value::from(description));
    }
    schema
}

fn nullable(types: &[&str]) -> Value {
    let mut all: Vec<&str> = types.to_vec();
    all.push("null");
    json!(all)
}

/// The schema of a value of `shape` (a `$ref` for structs, defined once).
fn shape_schema(shape: Shape, defs: &mut Definitions) -> Value {
    match shape {
        Shape::String => json!({ "type": nullable(&["string"]) }),
        Shape::Duration => json!({
            "type": nullable(&["string"]),
            "description": "A Go duration: `90s`, `10m`, `1h30m`, or `0` for none.",
        }),
        Shape::Bool => json!({ "type": nullable(&["boolean"]) }),
        Shape::Int => json!({ "type": nullable(&["integer"]) }),
        Shape::Object => json!({ "type": nullable(&["object"]) }),
        Shape::Any => json!({}),
        // Tekton reads any JSON here (a list of strings is an array, a map of strings an
        // object, anything else its JSON text as a string).
        Shape::ParamValue => json!({
            "description": "A string, an array of strings, or an object of strings.",
        }),
        Shape::StringMap => json!({
            "type": nullable(&["object"]),
            "additionalProperties": { "type": ["string", "null"] },
        }),
        Shape::Properties => {
            let property = shape_schema(crate::model::PropertySpec::shape(), defs);
            json!({
                "type": nullable(&["object"]),
                "additionalProperties": { "anyOf": [property, { "type": "null" }] },
            })
        }
        Shape::List(item) => json!({
            "type": nullable(&["array"]),
            "items": shape_schema(item(), defs),
        }),
        Shape::Struct(s) => struct_ref(s, defs),
        Shape::EmbeddedTask => embedded_task(defs),
    }
}

fn struct_ref(s: &'static StructShape, defs: &mut Definitions) -> Value {
    if !defs.defs.contains_key(s.name) {
        // Reserve the name first: structs may contain themselves (pipelines in pipelines).
        defs.insert(s.name, Value::Bool(true));
        let schema = struct_schema(s, defs, &[]);
        defs.insert(s.name, schema);
    }
    json!({ "$ref": format!("#/definitions/{}", s.name) })
}

/// A struct's properties (every key it accepts, v1beta1 spellings included).
fn struct_schema(
    s: &'static StructShape,
    defs: &mut Definitions,
    extra: &[(&str, Value)],
) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (meta, shape) in s.iter() {
        let mut schema = field_enum(meta).unwrap_or_else(|| shape_schema(shape, defs));
        let mut doc = meta.doc.trim().to_string();
        if meta.v1beta1_only {
            doc = format!("{doc}\n(v1beta1 only)").trim().to_string();
        }
        schema = with_description(schema, &doc);
        if let Some(old) = meta.v1beta1_key {
            properties.insert(
                old.into(),
                with_description(
                    schema.clone(),
                    &format!("v1beta1 spelling of `{}`.", meta.key),
                ),
            );
        }
        if meta.required {
            required.push(meta.key);
        }
        properties.insert(meta.key.into(), schema);
    }
    for (key, schema) in extra {
        properties.insert((*key).into(), schema.clone());
    }
    let mut keys: Vec<&str> = properties.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let case_variants = json!({
        any_case_pattern(&keys): {
            "description": "A field in another case: rejected where the CRD schema is closed, accepted inside embedded specs and volumes (tkc::schema::field-case).",
        },
    });
    let mut out = Map::new();
    let doc = s.doc.trim();
    if !doc.is_empty() {
        out.insert("description".into(), Value::from(doc));
    }
    out.insert("type".into(), Value::from("object"));
    if !required.is_empty() {
        out.insert("required".into(), json!(required));
    }
    out.insert("properties".into(), Value::Object(properties));
    out.insert("patternProperties".into(), case_variants);
    out.insert("additionalProperties".into(), Value::Bool(false));
    Value::Object(out)
}

/// A pattern matching the keys in any case (`mountpath` for `mountPath`): Go's JSON decoder,
/// and so Tekton, accepts those.
fn any_case_pattern(keys: &[&str]) -> String {
    let alternatives: Vec<String> = keys
        .iter()
        .map(|k| {
            k.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    } else if c.is_ascii_alphanumeric() {
                        c.to_string()
                    } else {
                        format!("\\{c}")
                    }
                })
                .collect()
        })
        .collect();
    format!("^({})$", alternatives.join("|"))
}

/// A pipeline task's `taskSpec`: a Task spec, or a custom task's `apiVersion`/`kind`/`spec`.
fn embedded_task(defs: &mut Definitions) -> Value {
    const NAME: &str = "EmbeddedTask";
    if !defs.defs.contains_key(NAME) {
        defs.insert(NAME, Value::Bool(true));
        let metadata = shape_schema(crate::model::EmbeddedMetadata::shape(), defs);
        let schema = match TaskSpec::shape() {
            Shape::Struct(task) => struct_schema(
                task,
                defs,
                &[
                    (
                        "apiVersion",
                        json!({ "type": "string", "description": "A custom task's API version." }),
                    ),
                    (
                        "kind",
                        json!({ "type": "string", "description": "A custom task's kind." }),
                    ),
                    (
                        "spec",
                        json!({ "type": "object", "description": "A custom task's spec." }),
                    ),
                    (
                        "metadata",
                        with_description(metadata, "Labels and annotations of the TaskRun."),
                    ),
                ],
            ),
            _ => json!({ "type": "object" }),
        };
        defs.insert(
            NAME,
            with_description(schema, "A Task written inline (or a custom task)."),
        );
    }
    json!({ "$ref": format!("#/definitions/{NAME}") })
}

/// Fields whose values the model fixes (`FieldMeta::values`). `onError` may also be a
/// reference, resolved at run time.
fn field_enum(meta: &FieldMeta) -> Option<Value> {
    if meta.values.is_empty() {
        return None;
    }
    if meta.values == crate::model::ON_ERROR {
        return Some(json!({
            "anyOf": [
                { "enum": meta.values },
                { "type": "string", "pattern": "^\\$\\(" },
            ],
        }));
    }
    Some(json!({ "enum": meta.values }))
}

/// The shape of a kind's `spec` (`Task` → the Task spec), for editors walking a document.
pub fn spec_shape(kind: &str) -> Option<Shape> {
    KINDS.iter().find(|k| k.kind == kind).map(|k| (k.spec)())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn schemas_describe_fields() {
        let all = all();
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "plan.schema.json",
                "task.schema.json",
                "pipeline.schema.json",
                "taskrun.schema.json",
                "pipelinerun.schema.json",
                "stepaction.schema.json",
                "tekton.schema.json"
            ]
        );
        let task = &all[1].1;
        let step = &task["definitions"]["Step"];
        assert_eq!(step["additionalProperties"], json!(false));
        assert!(
            step["properties"]["script"]["description"]
                .as_str()
                .unwrap()
                .contains("shebang")
        );
        // The v1beta1 spelling is accepted.
        assert!(step["properties"].get("resources").is_some());
    }
}
