//! Lowering and the emitters never panic: real inputs mutated line by line (deleted,
//! duplicated, a value swapped for a tricky one) go through `compile` (every run of the
//! file, and its Pipelines and Tasks with made-up params), the KDL and YAML emitters and
//! `--emit tekton`.
//!
//! Inputs: the project's fixtures and examples, and Tekton's own examples when
//! `../shared/corpus/tekton-examples` exists. Raise the number of cases with
//! `PROPTEST_CASES`.

use proptest::prelude::*;
use std::sync::OnceLock;
use tkc_compiler::lower::RunRequest;
use tkc_compiler::model::{ApiFields, Kind};
use tkc_compiler::plan::{Binding, ParamValue};
use tkc_compiler::source::SourceMap;
use tkc_compiler::{Options, compile, decode_files, emit};

mod common;
use common::{files_below, workspace_root};

fn seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = workspace_root();
        let mut out = Vec::new();
        for dir in [
            "testdata/compile",
            "examples",
            "../shared/corpus/tekton-examples",
        ] {
            out.extend(
                files_below(&root.join(dir), &["yaml"])
                    .iter()
                    .filter_map(|path| std::fs::read_to_string(path).ok()),
            );
        }
        out
    })
}

/// Values that stress substitution and typing.
const TRICKY: &[&str] = &[
    "$(params.x[*])",
    "\"$(params.flags[*])\"",
    "$(tasks.a.results.b[99])",
    "$(tasks.missing.results.r.key)",
    "\"$(context.pipelineRun.name)$(context.taskRun.uid)\"",
    "$(workspaces.nope.path)",
    "$(steps.step-x.exitCode.path)",
    "$(params.a.b.c)",
    "$($($(",
    "[]",
    "{}",
    "[a, [b]]",
    "{k: [v]}",
    "0",
    "-1",
    "99999999999999999999",
    "~",
    "''",
    "|\n  #!/bin/sh\n  $(params.x)",
];

/// Compiles every run, Pipeline and Task of a text; emits it.
fn run_everything(text: &str) {
    let mut sources = SourceMap::new();
    let file = sources.add("input.yaml", text.to_string());
    let options = Options {
        api_fields: ApiFields::Alpha,
        ..Options::default()
    };
    let (documents, _) = decode_files(&sources, &[file], &options);
    let _ = emit::kdl::to_kdl(&documents);
    let _ = emit::tekton_yaml(&documents);
    let names: Vec<String> = documents
        .iter()
        .filter(|d| {
            matches!(
                d.kind,
                Kind::PipelineRun | Kind::TaskRun | Kind::Pipeline | Kind::Task
            )
        })
        .map(|d| d.name().to_string())
        .collect();
    let mut requests = vec![RunRequest::default()];
    for name in names {
        requests.push(RunRequest {
            run: Some(name.clone()),
            ..RunRequest::default()
        });
        requests.push(RunRequest {
            run: Some(name),
            params: vec![
                ("x".into(), ParamValue::Array(vec!["1".into()])),
                ("flags".into(), ParamValue::String("$(params.x)".into())),
            ],
            workspaces: vec![("source".into(), Binding::EmptyDir {})],
        });
    }
    for request in requests {
        let compiled = compile(&sources, &[file], &[], &request, &options);
        if let Some(plan) = compiled.plan {
            let _ = plan.to_json();
        }
    }
}

fn mutate(text: &str, line: usize, how: usize, tricky: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let at = line % lines.len();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match how % 3 {
        0 => {
            out.remove(at);
        }
        1 => out.insert(at, lines[at].to_string()),
        _ => {
            if let Some((key, _)) = lines[at].split_once(": ") {
                out[at] = format!("{key}: {}", TRICKY[tricky % TRICKY.len()]);
            } else if let Some(item) = lines[at].split_once("- ") {
                out[at] = format!("{}- {}", item.0, TRICKY[tricky % TRICKY.len()]);
            }
        }
    }
    out.join("\n")
}

#[test]
fn unmutated_inputs_lower_without_panic() {
    for seed in seeds() {
        run_everything(seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_inputs_lower_without_panic(
        seed in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<usize>()), 1..4),
    ) {
        let seeds = seeds();
        prop_assume!(!seeds.is_empty());
        let mut text = seeds[seed.index(seeds.len())].clone();
        for (line, how, tricky) in edits {
            text = mutate(&text, line, how, tricky);
        }
        run_everything(&text);
    }
}
