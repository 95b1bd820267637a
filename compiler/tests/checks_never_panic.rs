//! The semantic checks never panic, whatever the input: Tekton documents assembled from
//! random pieces (names with dots, empty names, every reference form, malformed ones, values
//! of every type, tasks referring to each other and to themselves) go through `check`.

use proptest::prelude::*;
use tkc_compiler::model::ApiFields;
use tkc_compiler::source::SourceMap;
use tkc_compiler::{Options, check};

const NAMES: &[&str] = &["a", "b", "a.b", "obj", "arr", "t1", "t2", "x-y", "_", "ünï"];

const REFS: &[&str] = &[
    "$(params.a)",
    "$(params.a.b)",
    "$(params.obj.k)",
    "$(params.obj.k.z)",
    "$(params.arr)",
    "$(params.arr[*])",
    "$(params.arr[0])",
    "$(params.arr[99999999999999999999])",
    "$(params[\"a.b\"])",
    "$(params['arr'][1])",
    "$(params.)",
    "$(params)",
    "$(tasks.t1.results.r)",
    "$(tasks.t1.results.r[2])",
    "$(tasks.t1.results.r.k)",
    "$(tasks.t1.results.r[*])",
    "$(tasks.t2.results[\"r\"])",
    "$(tasks.t1.status)",
    "$(tasks.status)",
    "$(tasks.t1.reason)",
    "$(tasks.t1.matrix.length)",
    "$(tasks.t1.results)",
    "$(finally.t2.results.r)",
    "$(results.r.path)",
    "$(results[\"r\"].path)",
    "$(step.results.r.path)",
    "$(steps.s.results.r)",
    "$(steps.s.results.r[0])",
    "$(steps.step-s.exitCode.path)",
    "$(steps.s.exitCode.path)",
    "$(workspaces.w.path)",
    "$(workspaces.w.bound)",
    "$(workspaces.w.nope)",
    "$(context.taskRun.name)",
    "$(context.pipelineRun.uid)",
    "$(context.task.nope)",
    "$(context.t1.status)",
    "$(credentials.path)",
    "$(artifacts.path)",
    "$(date)",
    "$(ls -la)",
    "$(echo $(params.a))",
    "$(",
    ")",
    "$()",
    "plain",
    "ünïcödé $(params.ünï)",
];

fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(NAMES)
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(REFS), 0..4).prop_map(|parts| parts.join(" "))
}

/// A YAML value: a string, a list or a mapping of strings.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        text().prop_map(|t| format!("{t:?}")),
        prop::collection::vec(text(), 0..3).prop_map(|items| format!("{items:?}")),
        (name(), text()).prop_map(|(k, v)| format!("{{{k:?}: {v:?}}}")),
        Just("false".to_string()),
        Just("3".to_string()),
        Just("".to_string()),
    ]
}

fn param_spec() -> impl Strategy<Value = String> {
    (
        name(),
        prop::sample::select(&["", "string", "array", "object", "list"][..]),
        prop::option::of(value()),
        any::<bool>(),
    )
        .prop_map(|(n, ty, default, props)| {
            let mut s = format!("    - name: {n:?}\n");
            if !ty.is_empty() {
                s.push_str(&format!("      type: {ty}\n"));
            }
            if props {
                s.push_str("      properties:\n        k: {}\n        z: {type: number}\n");
            }
            if let Some(d) = default {
                s.push_str(&format!("      default: {d}\n"));
            }
            s
        })
}

fn param() -> impl Strategy<Value = String> {
    (name(), value()).prop_map(|(n, v)| format!("        - name: {n:?}\n          value: {v}\n"))
}

fn task() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(param_spec(), 0..4),
        prop::collection::vec(text(), 0..4),
        text(),
        prop::sample::select(&["", "array", "object", "bogus"][..]),
    )
        .prop_map(|(params, args, script, result_type)| {
            format!(
                "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  params:\n{}  results:\n    - name: r\n      type: {result_type:?}\n      value: {script:?}\n  workspaces:\n    - name: w\n      mountPath: {script:?}\n  steps:\n    - name: s\n      image: alpine\n      results:\n        - name: r\n      workspaces:\n        - name: w\n      args: {args:?}\n      env:\n        - name: E\n          value: {script:?}\n      script: {script:?}\n",
                params.concat()
            )
        })
}

fn pipeline_task(index: usize) -> impl Strategy<Value = String> {
    (
        prop::collection::vec(param(), 0..3),
        any::<bool>(),
        text(),
        prop::sample::select(&["tasks", "finally"][..]),
    )
        .prop_map(move |(params, inline, when, _)| {
            let body = if inline {
                format!(
                    "      taskSpec:\n        results:\n          - name: r\n        steps:\n          - image: alpine\n            script: {when:?}\n"
                )
            } else {
                "      taskRef:\n        name: t\n".to_string()
            };
            format!(
                "    - name: t{index}\n{body}      params:\n{}      when:\n        - input: {when:?}\n          operator: in\n          values: [{when:?}]\n      matrix:\n        params:\n          - name: a\n            value: [{when:?}]\n      workspaces:\n        - name: w\n          workspace: w\n          subPath: {when:?}\n",
                params.concat()
            )
        })
}

fn pipeline() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(param_spec(), 0..4),
        pipeline_task(1),
        pipeline_task(2),
        pipeline_task(3),
        value(),
        any::<bool>(),
    )
        .prop_map(|(params, t1, t2, t3, result, optional)| {
            format!(
                "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  params:\n{}  workspaces:\n    - name: w\n      optional: {optional}\n  results:\n    - name: out\n      type: array\n      value: {result}\n  tasks:\n{t1}{t2}  finally:\n{t3}",
                params.concat()
            )
        })
}

fn runs() -> impl Strategy<Value = String> {
    (prop::collection::vec(param(), 0..3), text(), any::<bool>()).prop_map(
        |(params, sub, inline)| {
            let params = params.concat().replace("        ", "    ");
            let pipeline = if inline {
                "  pipelineSpec:\n    tasks:\n      - name: t1\n        taskSpec:\n          steps:\n            - image: alpine\n              args: [\"$(params.a)\"]\n".to_string()
            } else {
                "  pipelineRef:\n    name: p\n".to_string()
            };
            format!(
                "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: pr\nspec:\n{pipeline}  params:\n{params}  workspaces:\n    - name: w\n      subPath: {sub:?}\n---\napiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: tr\nspec:\n  taskRef:\n    name: t\n  params:\n{params}  workspaces:\n    - name: w\n      emptyDir: {{}}\n      secret: {{secretName: s}}\n"
            )
        },
    )
}

fn run_check(text: &str) {
    for api_fields in [ApiFields::Beta, ApiFields::Alpha] {
        let mut sources = SourceMap::new();
        let file = sources.add("fuzz.yaml", text);
        let options = Options {
            api_fields,
            ..Options::default()
        };
        let _ = check(&sources, &[file], &[], &options);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn checks_never_panic(task in task(), pipeline in pipeline(), runs in runs()) {
        run_check(&format!("{task}---\n{pipeline}---\n{runs}"));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(\\PC|\\$\\(|\\)|\\[|\\]|\\.|\n|: |- ){0,200}") {
        run_check(&text);
    }
}
