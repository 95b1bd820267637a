//! Every PipelineRun and TaskRun among Tekton's own examples compiles to a plan that
//! validates against `schemas/plan.schema.json`, except those that need a cluster (a
//! resolver) or that tkc does not run (pipelines in pipelines), which must be reported as
//! such. The examples are read from `../shared/corpus/tekton-examples` beside the project;
//! the test says so and passes when that folder is absent.

#![allow(clippy::panic)]

use tkc_compiler::lower::RunRequest;
use tkc_compiler::model::{ApiFields, Kind};
use tkc_compiler::source::SourceMap;
use tkc_compiler::{Options, compile, decode_files};

mod common;
use common::{corpus, files_below, workspace_root};

/// The plan schema, compiled.
fn plan_validator() -> (boon::Schemas, boon::SchemaIndex) {
    let path = workspace_root().join("schemas/plan.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let url = "file:///plan.schema.json";
    let added = compiler.add_resource(url, schema);
    assert!(added.is_ok(), "{}: {added:?}", path.display());
    let index = compiler.compile(url, &mut schemas);
    let Ok(index) = index else {
        panic!("{}: {index:?}", path.display());
    };
    (schemas, index)
}

/// Runs that need what tkc cannot give offline, and the code that says so.
const NOT_COMPILED: &[(&str, &str)] = &[
    (
        "pipelineruns/beta/git-resolver.yaml",
        "tkc::lower::unresolved-ref",
    ),
    (
        "pipelineruns/beta/http-resolver-credentials.yaml",
        "tkc::lower::unresolved-ref",
    ),
    (
        "pipelineruns/beta/http-resolver.yaml",
        "tkc::lower::unresolved-ref",
    ),
    (
        "pipelineruns/no-ci/cluster-resolver.yaml",
        "tkc::lower::unresolved-pipeline",
    ),
    (
        "pipelineruns/no-ci/git-resolver-custom-apiurl.yaml",
        "tkc::lower::unresolved-ref",
    ),
    (
        "pipelineruns/no-ci/git-resolver-custom-secret.yaml",
        "tkc::lower::unresolved-ref",
    ),
    (
        "pipelineruns/no-ci/git-resolver.yaml",
        "tkc::lower::unresolved-pipeline",
    ),
    (
        "pipelineruns/no-ci/hub-resolver.yaml",
        "tkc::lower::unresolved-pipeline",
    ),
    (
        "taskruns/beta/bundles-resolver.yaml",
        "tkc::lower::unresolved-ref",
    ),
    (
        "taskruns/beta/git-resolver.yaml",
        "tkc::lower::unresolved-ref",
    ),
    (
        "taskruns/beta/hub-resolver.yaml",
        "tkc::lower::unresolved-ref",
    ),
    (
        "taskruns/beta/stepaction-git-resolver.yaml",
        "tkc::lower::unresolved-ref",
    ),
    (
        "taskruns/no-ci/cluster-resolver.yaml",
        "tkc::lower::unresolved-ref",
    ),
];

#[test]
fn every_tekton_example_run_compiles() {
    let Some(corpus) = corpus() else {
        return;
    };
    let (schemas, plan_schema) = plan_validator();
    let mut files = Vec::new();
    files.extend(files_below(&corpus, &["yaml"]));
    let mut problems = Vec::new();
    let (mut compiled, mut not_compiled) = (0, 0);
    for path in &files {
        let relative = path
            .strip_prefix(&corpus)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut sources = SourceMap::new();
        let file = sources.add(relative.clone(), text);
        // The alpha examples run with Tekton's alpha flags (`test/e2e-tests-kind-alpha.env`).
        let alpha = relative.contains("alpha/");
        let options = Options {
            api_fields: if alpha {
                ApiFields::Alpha
            } else {
                ApiFields::Beta
            },
            enable_artifacts: alpha,
            enable_concise_resolver_syntax: alpha,
            ..Options::default()
        };
        let (documents, _) = decode_files(&sources, &[file], &options);
        let runs: Vec<String> = documents
            .iter()
            .filter(|d| matches!(d.kind, Kind::PipelineRun | Kind::TaskRun))
            .map(|d| d.name().to_string())
            .collect();
        let expected = NOT_COMPILED
            .iter()
            .find(|(f, _)| *f == relative)
            .map(|(_, code)| *code);
        for run in runs {
            let request = RunRequest {
                run: Some(run.clone()),
                ..RunRequest::default()
            };
            let result = compile(&sources, &[file], &[], &request, &options);
            let codes: Vec<&str> = result
                .diagnostics
                .iter()
                .filter(|d| d.severity == tkc_compiler::diag::Severity::Error)
                .map(|d| d.code.name)
                .collect();
            match (&result.plan, expected) {
                (Some(plan), None) => {
                    compiled += 1;
                    let json = serde_json::to_value(plan).unwrap_or_default();
                    if let Err(e) = schemas.validate(&json, plan_schema) {
                        problems.push(format!(
                            "{relative} ({run}): the plan does not match plan.schema.json: {e:#}"
                        ));
                    }
                    // Deterministic: the same input gives the same bytes.
                    let again = compile(&sources, &[file], &[], &request, &options);
                    if again.plan.map(|p| p.to_json()) != Some(plan.to_json()) {
                        problems.push(format!("{relative} ({run}): two compilations differ"));
                    }
                }
                (None, Some(code)) if codes.contains(&code) => not_compiled += 1,
                (_, Some(code)) => problems.push(format!(
                    "{relative} ({run}): expected {code}, got {codes:?}"
                )),
                (None, None) => problems.push(format!(
                    "{relative} ({run}) does not compile: {:?}",
                    result
                        .diagnostics
                        .iter()
                        .map(|d| format!("{}: {}", d.code.name, d.message))
                        .collect::<Vec<_>>()
                )),
            }
        }
    }
    eprintln!("{compiled} runs compiled, {not_compiled} need a cluster or are not run by tkc");
    assert!(compiled >= 145, "only {compiled} runs compiled");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
