//! `tkc describe`: a compiled run as a person reads it: the waves of tasks that can start
//! together, the params and where each value comes from, the workspaces and what backs
//! them, the results.

use crate::compile::{parse_param, parse_workspace, report, write_output};
use crate::project::{Project, SourceArgs};
use crate::{ColorChoice, exit};
use clap::Args;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::path::PathBuf;
use tkc_compiler::diag::Severity;
use tkc_compiler::lower::RunRequest;
use tkc_compiler::model::{Document, Resource};
use tkc_compiler::plan::{
    Binding, ParamValue, Plan, RunKind, Section, TaskPlan, Template, ValueTemplate,
};

#[derive(Args)]
pub struct DescribeArgs {
    /// Files or directories (walked for *.yaml, *.yml, *.kdl); `-` reads stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The run to describe: a PipelineRun or TaskRun of the inputs, or a Pipeline or Task run
    /// with `--param` and `--workspace`. Needed when the inputs hold several.
    #[arg(long, visible_alias = "pipeline", value_name = "NAME")]
    run: Option<String>,
    /// A param value: `name=value`; arrays and objects as JSON (`flags=["-v","-x"]`).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, ParamValue)>,
    /// A workspace binding: `name=emptyDir`, `name=dir:PATH`, `name=pvc:CLAIM`,
    /// `name=configMap:NAME`, `name=secret:NAME` or `name=volumeClaimTemplate`.
    #[arg(long = "workspace", short = 'w', value_name = "NAME=BINDING", value_parser = parse_workspace)]
    workspaces: Vec<(String, Binding)>,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// When to colour the diagnostics (written to stderr).
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
    #[command(flatten)]
    source: SourceArgs,
}

pub fn run(args: DescribeArgs) -> u8 {
    let mut project = match Project::load(&args.paths, &args.source, args.color) {
        Ok(project) => project,
        Err(code) => return code,
    };
    // A described run is a compiled one: it fetches what it references, as `tkc compile` does.
    project.resolve_references();
    let Project {
        sources,
        inputs,
        options,
        ..
    } = project;
    let request = RunRequest {
        run: args.run,
        params: args.params,
        workspaces: args.workspaces,
    };
    let compiled =
        tkc_compiler::compile(&sources, &inputs.files, &inputs.library, &request, &options);
    let diagnostics =
        crate::project::with_input_findings(compiled.diagnostics, inputs.diagnostics, &options)
            .into_vec();
    report(&sources, &diagnostics, args.color);
    let errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    match compiled.plan {
        Some(plan) if !errors => {
            let given = Given::of(&plan, &compiled.documents, &request);
            write_output(args.output.as_deref(), &describe(&plan, &given))
        }
        _ => exit::FAILED,
    }
}

/// Which params and workspaces the run document and the command line set: the rest come
/// from defaults (params) or from tkc (workspaces nothing binds).
struct Given {
    /// `PipelineRun` or `TaskRun` when the run is a document of the inputs.
    run_kind: Option<&'static str>,
    run_params: BTreeSet<String>,
    run_workspaces: BTreeSet<String>,
    flag_params: BTreeSet<String>,
    flag_workspaces: BTreeSet<String>,
}

impl Given {
    fn of(plan: &Plan, documents: &[Document], request: &RunRequest) -> Given {
        let wanted = match plan.run.kind {
            RunKind::PipelineRun => tkc_compiler::model::Kind::PipelineRun,
            RunKind::TaskRun => tkc_compiler::model::Kind::TaskRun,
        };
        let document = documents
            .iter()
            .find(|d| d.kind == wanted && d.name() == plan.run.name);
        let (run_kind, params, workspaces) = match document.map(|d| &d.resource) {
            Some(Resource::PipelineRun(run)) => (
                Some("pipelineRun"),
                run.params.iter().map(|p| p.name.value.clone()).collect(),
                run.workspaces
                    .iter()
                    .map(|w| w.name.value.clone())
                    .collect(),
            ),
            Some(Resource::TaskRun(run)) => (
                Some("taskRun"),
                run.params.iter().map(|p| p.name.value.clone()).collect(),
                run.workspaces
                    .iter()
                    .map(|w| w.name.value.clone())
                    .collect(),
            ),
            _ => (None, BTreeSet::new(), BTreeSet::new()),
        };
        Given {
            run_kind,
            run_params: params,
            run_workspaces: workspaces,
            flag_params: request.params.iter().map(|(n, _)| n.clone()).collect(),
            flag_workspaces: request.workspaces.iter().map(|(n, _)| n.clone()).collect(),
        }
    }

    fn param_source(&self, name: &str) -> &'static str {
        if self.flag_params.contains(name) {
            "--param"
        } else if self.run_params.contains(name) {
            self.run_kind.unwrap_or("run")
        } else {
            "default"
        }
    }

    fn workspace_source(&self, name: &str) -> &'static str {
        if self.flag_workspaces.contains(name) {
            "--workspace"
        } else if self.run_workspaces.contains(name) {
            self.run_kind.unwrap_or("run")
        } else {
            "tkc"
        }
    }
}

/// The tasks of the `tasks` section in waves: a task is in the wave after the last of the
/// tasks it waits for (`TaskPlan::after`), so each wave's tasks can start together once the
/// waves before it are done. Source order within a wave. Kahn's algorithm, linear in the
/// tasks and edges (a `runAfter` chain of many thousands of tasks is fine). The plan was
/// checked, so it has no cycle; a task a cycle would leave unplaced goes in a last wave.
fn waves(tasks: &[&TaskPlan]) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let mut waiting_for = vec![0usize; tasks.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, task) in tasks.iter().enumerate() {
        let deps: BTreeSet<usize> = task
            .after
            .iter()
            .filter_map(|a| index.get(a.as_str()).copied())
            .filter(|&d| d != i)
            .collect();
        waiting_for[i] = deps.len();
        for d in deps {
            dependents[d].push(i);
        }
    }
    let mut wave = vec![usize::MAX; tasks.len()];
    let mut ready: Vec<usize> = (0..tasks.len()).filter(|&i| waiting_for[i] == 0).collect();
    let mut level = 0;
    while !ready.is_empty() {
        let mut next = Vec::new();
        for &i in &ready {
            wave[i] = level;
            for &j in &dependents[i] {
                waiting_for[j] -= 1;
                if waiting_for[j] == 0 {
                    next.push(j);
                }
            }
        }
        ready = next;
        level += 1;
    }
    let unplaced = wave.contains(&usize::MAX);
    let mut out = vec![Vec::new(); level + usize::from(unplaced)];
    for (i, w) in wave.into_iter().enumerate() {
        out[w.min(level)].push(i);
    }
    out
}

/// The markers after a task: what may skip it, fan it out, or make it a pipeline.
fn marks(task: &TaskPlan) -> String {
    let mut marks = Vec::new();
    if !task.when.is_empty() {
        marks.push("when".to_string());
    }
    if let Some(matrix) = &task.matrix {
        marks.push(match &matrix.combinations {
            Some(c) => format!("matrix: {} runs", c.len()),
            None => "matrix".to_string(),
        });
    }
    if let Some(child) = &task.pipeline {
        marks.push(format!("pipeline: {} tasks", child.tasks.len()));
    }
    if marks.is_empty() {
        String::new()
    } else {
        format!("[{}]", marks.join(", "))
    }
}

/// A string as a JSON literal, so that spaces and empty values show.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Strings, arrays and objects as JSON (keys sorted).
fn value_text<'a>(value: Shape<'a>) -> String {
    match value {
        Shape::String(s) => quoted(s),
        Shape::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|s| quoted(s))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Shape::Object(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{}:{}", quoted(k), quoted(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// A param or result value, with templates as their text.
enum Shape<'a> {
    String(&'a str),
    Array(Vec<&'a str>),
    Object(Vec<(&'a str, &'a str)>),
}

fn param_text(value: &ParamValue) -> String {
    value_text(match value {
        ParamValue::String(s) => Shape::String(s),
        ParamValue::Array(items) => Shape::Array(items.iter().map(String::as_str).collect()),
        ParamValue::Object(map) => {
            Shape::Object(map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
        }
    })
}

fn template_text(value: &ValueTemplate) -> String {
    value_text(match value {
        ValueTemplate::String(t) => Shape::String(t.text()),
        ValueTemplate::Array(items) => Shape::Array(items.iter().map(Template::text).collect()),
        ValueTemplate::Object(map) => {
            Shape::Object(map.iter().map(|(k, v)| (k.as_str(), v.text())).collect())
        }
    })
}

/// A workspace binding in a few words (`dir /src`, `persistentVolumeClaim cache`): for
/// `tkc describe` and for `--rerun-failed`'s record of how a run's workspaces were bound.
pub(crate) fn binding_text(binding: &Binding) -> String {
    match binding {
        Binding::EmptyDir {} => "emptyDir".to_string(),
        Binding::VolumeClaimTemplate {} => "volumeClaimTemplate".to_string(),
        Binding::PersistentVolumeClaim {
            claim_name,
            read_only,
        } => format!(
            "persistentVolumeClaim {claim_name}{}",
            if *read_only { " (read-only)" } else { "" }
        ),
        Binding::ConfigMap { name, .. } => format!("configMap {name}"),
        Binding::Secret { secret_name, .. } => format!("secret {secret_name}"),
        Binding::Dir { path } => format!("dir {path}"),
        Binding::RunShared {} => "a directory of the run, shared by its tasks".to_string(),
        Binding::Other { .. } => "a volume source the local runtime cannot provide".to_string(),
    }
}

/// Rows of columns, the first columns padded to their widest cell.
fn table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::from("  ");
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[c].saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// The human view of `plan`.
fn describe(plan: &Plan, given: &Given) -> String {
    let mut out = String::new();
    let (kind, runs) = match plan.run.kind {
        RunKind::PipelineRun => ("PipelineRun", ("pipeline", &plan.run.pipeline)),
        RunKind::TaskRun => ("TaskRun", ("task", &plan.run.task)),
    };
    let _ = write!(out, "{kind} {}", plan.run.name);
    if !runs.1.is_empty() {
        let _ = write!(out, " ({} {})", runs.0, runs.1);
    }
    if given.run_kind.is_none() {
        out.push_str(", run without a run document");
    }
    out.push('\n');

    let dag: Vec<&TaskPlan> = plan
        .tasks
        .iter()
        .filter(|t| t.section == Section::Tasks)
        .collect();
    let finally: Vec<&TaskPlan> = plan
        .tasks
        .iter()
        .filter(|t| t.section == Section::Finally)
        .collect();
    out.push_str("\nWaves (the tasks of a wave can start together):\n");
    let mut rows = Vec::new();
    for (w, wave) in waves(&dag).iter().enumerate() {
        for (k, &i) in wave.iter().enumerate() {
            let task = dag[i];
            let label = if k == 0 {
                (w + 1).to_string()
            } else {
                String::new()
            };
            let after =
                (!task.after.is_empty()).then(|| format!("after {}", task.after.join(", ")));
            let notes: Vec<String> = after.into_iter().chain(Some(marks(task))).collect();
            rows.push(vec![
                label,
                task.name.clone(),
                notes.join("  ").trim().to_string(),
            ]);
        }
    }
    for (k, task) in finally.iter().enumerate() {
        let label = if k == 0 { "finally" } else { "" };
        rows.push(vec![label.to_string(), task.name.clone(), marks(task)]);
    }
    table(&mut out, &rows);

    if !plan.params.is_empty() {
        out.push_str("\nParams:\n");
        let rows: Vec<Vec<String>> = plan
            .params
            .iter()
            .map(|(name, value)| {
                vec![
                    name.clone(),
                    given.param_source(name).to_string(),
                    param_text(value),
                ]
            })
            .collect();
        table(&mut out, &rows);
    }
    if !plan.workspaces.is_empty() {
        out.push_str("\nWorkspaces:\n");
        let rows: Vec<Vec<String>> = plan
            .workspaces
            .iter()
            .map(|w| {
                let mut binding = binding_text(&w.binding);
                if let Some(sub) = &w.sub_path {
                    let _ = write!(binding, ", subPath {sub}");
                }
                vec![
                    w.name.clone(),
                    given.workspace_source(&w.name).to_string(),
                    binding,
                ]
            })
            .collect();
        table(&mut out, &rows);
    }
    if !plan.results.is_empty() {
        out.push_str("\nResults:\n");
        let rows: Vec<Vec<String>> = plan
            .results
            .iter()
            .map(|r| vec![r.name.clone(), template_text(&r.value)])
            .collect();
        table(&mut out, &rows);
    }
    out
}
