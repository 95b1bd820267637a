//! The task graph of a Pipeline, for drawing (`tkc graph`): its tasks, the edges the checks
//! see between them (`runAfter`, result references: [`check::dag::dependencies`]), the
//! finally tasks apart, and what each task runs. Rendered as Graphviz `dot` or Mermaid.
//!
//! Output is deterministic: tasks in source order (`tasks`, then `finally`), edges in the
//! order of their consumer, then of their producer.

use crate::check::dag::{self, EdgeKind};
use crate::model::{PipelineSpec, PipelineTask, Resource};
use crate::plan::Section;
use crate::resolve::World;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

/// The task graph of one Pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskGraph {
    /// The Pipeline's name, or the PipelineRun's for a run's pipeline.
    pub name: String,
    /// For a PipelineRun that references a Pipeline of the inputs: that Pipeline's name (its
    /// graph is the Pipeline's, listed under the run's name too).
    pub references: Option<String>,
    pub tasks: Vec<Task>,
    pub edges: Vec<Edge>,
}

/// One pipeline task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub name: String,
    pub section: Section,
    pub runs: Runs,
    /// Has `when` expressions: it may be skipped.
    pub guarded: bool,
    /// Fans out over a matrix.
    pub matrixed: bool,
}

/// What a pipeline task runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Runs {
    /// A Task by name (`taskRef.name`).
    TaskRef(String),
    /// A Task or Pipeline fetched by a resolver (`taskRef.resolver`, `pipelineRef.resolver`).
    Resolver(String),
    /// A Task written inline (`taskSpec`).
    TaskSpec,
    /// A Pipeline by name (alpha: pipelines in pipelines).
    PipelineRef(String),
    /// A Pipeline written inline (alpha).
    PipelineSpec,
    /// Nothing valid (a schema error the checks report).
    Unknown,
}

impl Runs {
    fn of(task: &PipelineTask) -> Runs {
        if let Some(r) = &task.pipeline_ref {
            return match (&r.resolver, &r.name) {
                (Some(resolver), _) => Runs::Resolver(resolver.value.clone()),
                (None, Some(name)) => Runs::PipelineRef(name.value.clone()),
                (None, None) => Runs::Unknown,
            };
        }
        if task.pipeline_spec.is_some() {
            return Runs::PipelineSpec;
        }
        if let Some(r) = &task.task_ref {
            return match (&r.resolver, &r.name) {
                (Some(resolver), _) => Runs::Resolver(resolver.value.clone()),
                (None, Some(name)) => Runs::TaskRef(name.value.clone()),
                (None, None) => Runs::Unknown,
            };
        }
        if task.task_spec.is_some() {
            return Runs::TaskSpec;
        }
        Runs::Unknown
    }

    /// Is the task a pipeline in the pipeline?
    pub fn is_pipeline(&self) -> bool {
        matches!(self, Runs::PipelineRef(_) | Runs::PipelineSpec)
    }

    /// The second line of the task's box.
    fn describe(&self) -> String {
        match self {
            Runs::TaskRef(name) => format!("task: {name}"),
            Runs::Resolver(resolver) => format!("resolver: {resolver}"),
            Runs::TaskSpec => "taskSpec".to_string(),
            Runs::PipelineRef(name) => format!("pipeline: {name}"),
            Runs::PipelineSpec => "pipelineSpec".to_string(),
            Runs::Unknown => "?".to_string(),
        }
    }
}

/// A dependency between two tasks (indices into [`TaskGraph::tasks`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// The producer's results the consumer uses, sorted; empty for a `runAfter` edge alone.
    pub results: Vec<String>,
}

/// A pipeline that can be drawn, under the name it is asked for by.
pub struct Drawable<'w> {
    /// The Pipeline's name, or the PipelineRun's.
    pub name: &'w str,
    pub spec: &'w PipelineSpec,
    /// For a PipelineRun's `pipelineRef`: the Pipeline it names.
    pub references: Option<&'w str>,
}

/// Every pipeline of the checked documents that can be drawn, in document order: each
/// Pipeline, and each PipelineRun's pipeline (written inline, or referenced and found among
/// the inputs and search paths).
pub fn pipelines<'w>(world: &'w World) -> Vec<Drawable<'w>> {
    let mut out = Vec::new();
    for (_, document) in world.checked() {
        let name = document.name();
        match &document.resource {
            Resource::Pipeline(spec) => out.push(Drawable {
                name,
                spec,
                references: None,
            }),
            Resource::PipelineRun(run) => {
                if let Some(spec) = &run.pipeline_spec {
                    out.push(Drawable {
                        name,
                        spec,
                        references: None,
                    });
                } else if let Some(r) = &run.pipeline_ref
                    && let Some(spec) = world.resolve_pipeline_ref(r).spec()
                {
                    out.push(Drawable {
                        name,
                        spec,
                        references: r.name.as_ref().map(|n| n.as_str()),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The task graph of `spec`. Dependencies on tasks that are not in the pipeline (reported
/// by the checks) are left out.
pub fn build(world: &World, drawable: &Drawable) -> TaskGraph {
    let spec = drawable.spec;
    let sections = spec
        .tasks
        .iter()
        .map(|t| (Section::Tasks, t))
        .chain(spec.finally.iter().map(|t| (Section::Finally, t)));
    let tasks: Vec<Task> = sections
        .clone()
        .map(|(section, task)| Task {
            name: task.name.value.clone(),
            section,
            runs: Runs::of(task),
            guarded: !task.when.is_empty(),
            matrixed: task.is_matrixed(),
        })
        .collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        index.entry(task.name.as_str()).or_insert(i);
    }
    let mut edges = Vec::new();
    for (to, (_, task)) in sections.enumerate() {
        // Producer → the results used; one edge per producer, in task order.
        let mut producers: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        for dependency in dag::dependencies(world, task) {
            let Some(&from) = index.get(dependency.task.as_str()) else {
                continue;
            };
            if from == to {
                continue;
            }
            let results = producers.entry(from).or_default();
            if let (EdgeKind::ResultRef, Some(result)) = (dependency.via, dependency.result) {
                results.insert(result);
            }
        }
        edges.extend(producers.into_iter().map(|(from, results)| Edge {
            from,
            to,
            results: results.into_iter().collect(),
        }));
    }
    TaskGraph {
        name: drawable.name.to_string(),
        references: drawable.references.map(str::to_string),
        tasks,
        edges,
    }
}

/// The markers shown under a task's name: what it runs, `when`, `matrix`.
fn task_lines(task: &Task) -> Vec<String> {
    let mut lines = vec![task.name.clone(), task.runs.describe()];
    let mut marks = Vec::new();
    if task.guarded {
        marks.push("when");
    }
    if task.matrixed {
        marks.push("matrix");
    }
    if !marks.is_empty() {
        lines.push(format!("[{}]", marks.join(", ")));
    }
    lines
}

/// A Graphviz string literal.
fn dot_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The graph in Graphviz's `dot` language: a box per task (`box3d` for a pipeline in the
/// pipeline, dashed when `when` may skip it), finally tasks in a cluster, `runAfter` edges
/// dashed and result edges solid, labelled with the results.
pub fn dot(graph: &TaskGraph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_quote(&graph.name));
    out.push_str("  rankdir=LR;\n");
    out.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    let node = |out: &mut String, i: usize, task: &Task, indent: &str| {
        let shape = if task.runs.is_pipeline() {
            ", shape=box3d"
        } else {
            ""
        };
        let style = if task.guarded {
            ", style=\"rounded,dashed\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{indent}t{i} [label={}{shape}{style}];",
            dot_quote(&task_lines(task).join("\n"))
        );
    };
    for (i, task) in graph.tasks.iter().enumerate() {
        if task.section == Section::Tasks {
            node(&mut out, i, task, "  ");
        }
    }
    if graph.tasks.iter().any(|t| t.section == Section::Finally) {
        out.push_str("  subgraph cluster_finally {\n");
        out.push_str("    label=\"finally (after all tasks)\";\n");
        out.push_str("    style=dashed;\n");
        for (i, task) in graph.tasks.iter().enumerate() {
            if task.section == Section::Finally {
                node(&mut out, i, task, "    ");
            }
        }
        out.push_str("  }\n");
    }
    for edge in &graph.edges {
        let attrs = if edge.results.is_empty() {
            " [style=dashed]".to_string()
        } else {
            format!(" [label={}]", dot_quote(&edge.results.join(", ")))
        };
        let _ = writeln!(out, "  t{} -> t{}{attrs};", edge.from, edge.to);
    }
    out.push_str("}\n");
    out
}

/// A Mermaid label: quoted, with `"` written as an entity (Mermaid has no escape).
fn mermaid_quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "#quot;"))
}

/// The graph as a Mermaid flowchart, with the same conventions as [`dot`]: a subroutine box
/// for a pipeline in the pipeline, dashed borders for `when`, finally tasks in a subgraph,
/// `runAfter` edges dotted and result edges labelled.
pub fn mermaid(graph: &TaskGraph) -> String {
    let mut out = String::new();
    out.push_str("flowchart LR\n");
    let node = |out: &mut String, i: usize, task: &Task, indent: &str| {
        let label = mermaid_quote(&task_lines(task).join("<br/>"));
        let (open, close) = if task.runs.is_pipeline() {
            ("[[", "]]")
        } else {
            ("(", ")")
        };
        let _ = writeln!(out, "{indent}t{i}{open}{label}{close}");
    };
    for (i, task) in graph.tasks.iter().enumerate() {
        if task.section == Section::Tasks {
            node(&mut out, i, task, "  ");
        }
    }
    if graph.tasks.iter().any(|t| t.section == Section::Finally) {
        out.push_str("  subgraph finally_tasks [\"finally (after all tasks)\"]\n");
        for (i, task) in graph.tasks.iter().enumerate() {
            if task.section == Section::Finally {
                node(&mut out, i, task, "    ");
            }
        }
        out.push_str("  end\n");
    }
    for edge in &graph.edges {
        if edge.results.is_empty() {
            let _ = writeln!(out, "  t{} -.-> t{}", edge.from, edge.to);
        } else {
            let _ = writeln!(
                out,
                "  t{} -->|{}| t{}",
                edge.from,
                mermaid_quote(&edge.results.join(", ")),
                edge.to
            );
        }
    }
    let guarded: Vec<String> = graph
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.guarded)
        .map(|(i, _)| format!("t{i}"))
        .collect();
    if !guarded.is_empty() {
        out.push_str("  classDef guarded stroke-dasharray: 5 5\n");
        let _ = writeln!(out, "  class {} guarded", guarded.join(","));
    }
    out
}
