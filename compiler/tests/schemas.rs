//! The JSON Schemas in `schemas/` are the ones `tkc schema` generates (regenerate with
//! `cargo run -p tkc -- schema --out-dir schemas`), and every Tekton document we know to be
//! valid validates against them, as an editor would see it: the raw YAML (not the model),
//! each document against its kind's schema and against `tekton.schema.json`.
//!
//! Documents: the Tekton examples (`../shared/corpus/tekton-examples`, when beside the
//! project), the project's examples, and the YAML fixtures that `tkc check` accepts.

#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use tkc_compiler::source::SourceMap;
use tkc_compiler::syntax::{node_to_json, parse_file};

mod common;
use common::{corpus, files_below, workspace_root};

#[test]
fn schema_files_are_up_to_date() {
    let dir = workspace_root().join("schemas");
    let mut stale = Vec::new();
    for (name, schema) in tkc_compiler::schema::all() {
        let expected = tkc_compiler::schema::to_text(&schema);
        let found = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        if found != expected {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "stale schema files: {stale:?}; regenerate them with `cargo run -p tkc -- schema --out-dir schemas`"
    );
}

/// The compiled schemas, by the kind they are for (`*` for the combined one).
struct Validators {
    schemas: boon::Schemas,
    by_kind: BTreeMap<&'static str, boon::SchemaIndex>,
}

fn validators() -> Validators {
    let dir = workspace_root().join("schemas");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let mut by_kind = BTreeMap::new();
    for (kind, file) in [
        ("Task", "task.schema.json"),
        ("Pipeline", "pipeline.schema.json"),
        ("TaskRun", "taskrun.schema.json"),
        ("PipelineRun", "pipelinerun.schema.json"),
        ("StepAction", "stepaction.schema.json"),
        ("*", "tekton.schema.json"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let url = format!("file:///{file}");
        if let Err(e) = compiler.add_resource(&url, json) {
            panic!("{file}: {e}");
        }
        match compiler.compile(&url, &mut schemas) {
            Ok(index) => {
                by_kind.insert(kind, index);
            }
            Err(e) => panic!("{file}: {e:#}"),
        }
    }
    Validators { schemas, by_kind }
}

/// Validates each Tekton document of a file; the problems found.
fn validate_file(v: &Validators, path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut sources = SourceMap::new();
    let file = sources.add(path.display().to_string(), text);
    let parsed = parse_file(&sources, file);
    let mut problems = Vec::new();
    for doc in &parsed.documents {
        let json = node_to_json(doc);
        let is_tekton = json
            .get("apiVersion")
            .and_then(|a| a.as_str())
            .is_some_and(|a| a.starts_with("tekton.dev/"));
        let kind = json
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default();
        let Some(index) = v.by_kind.get(kind).filter(|_| is_tekton) else {
            continue;
        };
        for (schema, index) in [(kind, *index), ("tekton", v.by_kind["*"])] {
            if let Err(e) = v.schemas.validate(&json, index) {
                problems.push(format!(
                    "{} ({kind}, {schema} schema): {e:#}",
                    path.display()
                ));
            }
        }
    }
    problems
}

#[test]
fn tekton_examples_validate_against_the_schemas() {
    let Some(corpus) = corpus() else {
        return;
    };
    let v = validators();
    let mut files = Vec::new();
    files.extend(files_below(&corpus, &["yaml", "yml"]));
    assert!(files.len() >= 150);
    let problems: Vec<String> = files.iter().flat_map(|f| validate_file(&v, f)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn project_documents_validate_against_the_schemas() {
    let root = workspace_root();
    let v = validators();
    let mut files = Vec::new();
    for dir in [
        "examples",
        "testdata/check/valid",
        "testdata/kdl-equivalence",
        "testdata/compile",
    ] {
        files.extend(files_below(&root.join(dir), &["yaml", "yml"]));
    }
    assert!(!files.is_empty());
    let problems: Vec<String> = files.iter().flat_map(|f| validate_file(&v, f)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_schemas_reject_what_tkc_rejects() {
    let v = validators();
    let bad = serde_json::json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "Task",
        "metadata": { "name": "t" },
        "spec": { "steps": [{ "name": "s", "image": "alpine", "scirpt": "echo" }] },
    });
    assert!(v.schemas.validate(&bad, v.by_kind["Task"]).is_err());
    assert!(v.schemas.validate(&bad, v.by_kind["*"]).is_err());
    let other = serde_json::json!({ "apiVersion": "v1", "kind": "ConfigMap", "data": {} });
    assert!(v.schemas.validate(&other, v.by_kind["*"]).is_ok());
}

/// The plans of `testdata/compile` (the JSON after `--- stdout ---` in each snapshot) match
/// `schemas/plan.schema.json`.
#[test]
fn fixture_plans_validate_against_the_plan_schema() {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join("schemas/plan.schema.json")).unwrap_or_default();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    if let Err(e) = compiler.add_resource("file:///plan.schema.json", schema) {
        panic!("{e}");
    }
    let index = match compiler.compile("file:///plan.schema.json", &mut schemas) {
        Ok(index) => index,
        Err(e) => panic!("{e:#}"),
    };
    let mut dirs = vec![root.join("testdata/compile")];
    let (mut checked, mut problems) = (0, Vec::new());
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "snap") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let Some(json) = text.split("\n--- stdout ---\n").nth(1) else {
                continue;
            };
            let Ok(plan) = serde_json::from_str::<serde_json::Value>(json) else {
                continue;
            };
            if let Err(e) = schemas.validate(&plan, index) {
                problems.push(format!("{}: {e:#}", path.display()));
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} plans found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
