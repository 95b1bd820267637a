//! The task graph of a Pipeline: edges from `runAfter` and result references, unknown
//! tasks, cycles (the whole cycle, one label per edge), `runAfter` in `finally`.
//!
//! Linear in the pipeline's size: the edges are collected in one pass and cycles found with
//! Tarjan's strongly connected components (pipeline#5420: Tekton's original exponential
//! cycle check timed out the webhook on pipelines with hundreds of tasks). The search keeps
//! its own stack instead of recursing (issue 17: petgraph's `tarjan_scc` recursed once per
//! task and overflowed the stack on a `runAfter` chain of about 87,000 tasks).

use super::{
    Checker, PipelineCx, Section, Text, param_value_texts, pipeline_specs, pipeline_tasks, refs,
};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::{PipelineSpec, PipelineTask};
use crate::resolve::World;
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::vars::RefKind;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{HashMap, HashSet, VecDeque};

declare_code! {
    /// # A dependency on a task that is not in the pipeline
    ///
    /// `runAfter` names, and `$(tasks.<name>.results...)` references, must name a task of the
    /// pipeline's `tasks` section. Tekton rejects the Pipeline (`couldn't add link between ...
    /// but ... wasn't present in Pipeline`). In a finally task's `params` and `when`, a result
    /// of a task that is in neither section is rejected too (`final task has task result
    /// reference from a task <t> which is not defined in the pipeline`,
    /// `validateResultsVariablesExpressionsInFinally` in `pipeline_validation.go`).
    pub static UNKNOWN_TASK = "tkc::dag::unknown-task", Error, reason = "PipelineInvalidGraph";
}

declare_code! {
    /// # The tasks depend on each other in a cycle
    ///
    /// A task cannot start until the tasks it depends on (`runAfter`, result references) are
    /// done, so a cycle never starts. The report shows every edge of one cycle; break it by
    /// removing one of them.
    ///
    /// ## Example
    /// ```yaml
    /// tasks:
    ///   - name: build
    ///     runAfter: [test]
    ///   - name: test
    ///     runAfter: [build]
    /// ```
    pub static CYCLE = "tkc::dag::cycle", Error, reason = "PipelineInvalidGraph";
}

declare_code! {
    /// # `runAfter` in a finally task
    ///
    /// Finally tasks run together once every DAG task is done; they cannot be ordered with
    /// `runAfter`. Tekton rejects the Pipeline.
    pub static FINALLY_RUN_AFTER = "tkc::dag::finally-run-after", Error, reason = "PipelineValidationFailed";
}

declare_code! {
    /// # A bracket-form result reference creates no dependency
    ///
    /// Tekton finds dependencies with a pattern that only matches the dot form
    /// `$(tasks.t.results.r)`, so `$(tasks.t.results["r"])` does not order the tasks: the
    /// consumer may start before the producer and fail to resolve the result. Add the producer
    /// to `runAfter`, or use the dot form.
    pub static BRACKET_RESULT_REF = "tkc::dag::bracket-result-ref", Warning;
}

declare_code! {
    /// # `finally` without `tasks`
    ///
    /// **Stage:** admission (`validateTasksAndFinallySection`,
    /// `pkg/apis/pipeline/v1/pipeline_validation.go`).
    ///
    /// Finally tasks run after the pipeline's `tasks`; a Pipeline with finally tasks and no
    /// tasks is rejected (`spec.tasks is empty but spec.finally has <n> tasks`).
    ///
    /// ## Example
    /// ```yaml
    /// spec:
    ///   finally:
    ///     - name: notify
    ///       taskRef: {name: send-message}
    /// ```
    /// Move the tasks to `tasks`.
    pub static FINALLY_WITHOUT_TASKS = "tkc::dag::finally-without-tasks", Error;
}

/// This family's codes.
pub const CODES: &[&Code] = &[
    &FINALLY_WITHOUT_TASKS,
    &UNKNOWN_TASK,
    &CYCLE,
    &FINALLY_RUN_AFTER,
    &BRACKET_RESULT_REF,
];

/// Why one task depends on another, and where it says so.
#[derive(Clone, Debug)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub span: Span,
    pub via: EdgeKind,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    RunAfter,
    ResultRef,
}

/// The texts of a pipeline task where result references create dependencies: params,
/// matrix params, when expressions, and the step and sidecar fields of an inline spec.
pub fn dependency_texts(task: &PipelineTask) -> Vec<Text<'_>> {
    let mut out = Vec::new();
    let params = task.params.iter().chain(task.matrix_params());
    for param in params {
        if let Some(value) = &param.value {
            out.extend(param_value_texts(value));
        }
    }
    for when in &task.when {
        out.extend(when.input.iter().map(Text::from));
        out.extend(when.values.iter().map(Text::from));
        out.extend(when.cel.iter().map(Text::from));
    }
    if let Some(embedded) = &task.task_spec {
        out.extend(
            super::task_strings(&embedded.task)
                .into_iter()
                .filter(|s| s.container != super::Container::Task)
                .map(|s| s.text),
        );
    }
    out
}

/// A dependency on a task that is not in the `tasks` section: (dependent task, name, span).
pub type UnknownDependency = (usize, String, Span, EdgeKind);

/// One dependency a pipeline task declares, as written: the task it names, where, how, and
/// through which result (for a result reference).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub task: String,
    pub span: Span,
    pub via: EdgeKind,
    pub result: Option<String>,
}

/// The dependencies of one pipeline task in source order: its `runAfter` names, then the
/// dot-form result references of its [`dependency_texts`] (Tekton's dependency pattern does
/// not match the bracket form: [`BRACKET_RESULT_REF`]). The task graph is drawn from these
/// too (`crate::graph`), so the drawing and the checks agree on what an edge is.
pub fn dependencies(world: &World, task: &PipelineTask) -> Vec<Dependency> {
    let mut out: Vec<Dependency> = task
        .run_after
        .iter()
        .map(|after| Dependency {
            task: after.value.clone(),
            span: after.span,
            via: EdgeKind::RunAfter,
            result: None,
        })
        .collect();
    for text in dependency_texts(task) {
        for (r, span) in &refs(world, text) {
            if let RefKind::TaskResult {
                task: producer,
                result,
                finally: false,
                bracket: false,
                ..
            } = &r.kind
            {
                out.push(Dependency {
                    task: producer.clone(),
                    span,
                    via: EdgeKind::ResultRef,
                    result: Some(result.clone()),
                });
            }
        }
    }
    out
}

/// The dependency edges of the `tasks` section (indices into `spec.tasks`); unknown targets
/// are returned separately, with their span.
pub fn edges(world: &World, spec: &PipelineSpec) -> (Vec<Edge>, Vec<UnknownDependency>) {
    let index: HashMap<&str, usize> = spec
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let mut edges = Vec::new();
    let mut unknown = Vec::new();
    for (i, task) in spec.tasks.iter().enumerate() {
        for dependency in dependencies(world, task) {
            match index.get(dependency.task.as_str()) {
                Some(&j) => edges.push(Edge {
                    from: j,
                    to: i,
                    span: dependency.span,
                    via: dependency.via,
                }),
                None => unknown.push((i, dependency.task, dependency.span, dependency.via)),
            }
        }
    }
    (edges, unknown)
}

pub fn run(cx: &mut Checker) {
    for pipeline in pipeline_specs(cx.world) {
        check_pipeline(cx, pipeline);
    }
}

fn check_pipeline(cx: &mut Checker, pipeline: PipelineCx) {
    let spec = pipeline.spec;
    let (edges, unknown) = edges(cx.world, spec);
    let finally: HashSet<&str> = spec.finally.iter().map(|t| t.name.as_str()).collect();
    for (_, name, span, via) in unknown {
        let names = spec.tasks.iter().map(|t| t.name.as_str());
        let mut d = Diagnostic::new(
            &UNKNOWN_TASK,
            format!("there is no task `{name}` in this pipeline"),
        )
        .with_label(
            span,
            match via {
                EdgeKind::RunAfter => "unknown task in runAfter",
                EdgeKind::ResultRef => "result of an unknown task",
            },
        );
        d = if finally.contains(name.as_str()) {
            d.with_help(format!(
                "`{name}` is a finally task; DAG tasks cannot depend on finally tasks"
            ))
        } else {
            d.with_optional_help(did_you_mean(&name, names).map(|s| format!("did you mean `{s}`?")))
        };
        cx.report(d);
    }
    report_cycles(cx, spec, &edges);
    if spec.tasks.is_empty()
        && let Some(first) = spec.finally.first()
    {
        cx.report(
            Diagnostic::new(
                &FINALLY_WITHOUT_TASKS,
                format!(
                    "spec.tasks is empty but spec.finally has {} task{}",
                    spec.finally.len(),
                    if spec.finally.len() == 1 { "" } else { "s" }
                ),
            )
            .with_label(first.name.span, "a finally task with no `tasks` to follow")
            .with_help("move these tasks to `tasks`"),
        );
    }
    unknown_in_finally(cx, spec);

    for (section, task) in pipeline_tasks(spec) {
        if section == Section::Finally
            && let Some(first) = task.run_after.first()
        {
            let span = task
                .run_after
                .iter()
                .map(|r| r.span)
                .fold(first.span, Span::to);
            cx.report(
                Diagnostic::new(
                    &FINALLY_RUN_AFTER,
                    format!("finally task `{}` has runAfter", task.name.value),
                )
                .with_label(span, "not allowed in finally")
                .with_help("finally tasks all start once every DAG task is done; remove runAfter"),
            );
        }
        for text in dependency_texts(task) {
            for (r, span) in &refs(cx.world, text) {
                if let RefKind::TaskResult {
                    task: producer,
                    result,
                    bracket: true,
                    finally: false,
                    ..
                } = &r.kind
                    && section == Section::Tasks
                    && !task.run_after.iter().any(|a| a.as_str() == producer)
                {
                    cx.report(
                        Diagnostic::new(
                            &BRACKET_RESULT_REF,
                            format!("`{r}` does not make `{}` wait for `{producer}`", task.name.value),
                        )
                        .with_label(span, "bracket form: no dependency edge in Tekton")
                        .with_help(format!(
                            "write `$(tasks.{producer}.results.{result})`, or add `{producer}` to runAfter"
                        )),
                    );
                }
            }
        }
    }
}

/// `validateResultsVariablesExpressionsInFinally`: a finally task's params and `when` use
/// results of tasks the pipeline has (finally results of finally tasks are the `results`
/// family's `finally-result-ref`).
fn unknown_in_finally(cx: &mut Checker, spec: &PipelineSpec) {
    let known = |name: &str| pipeline_tasks(spec).any(|(_, t)| t.name.as_str() == name);
    for task in &spec.finally {
        let mut texts: Vec<Text> = Vec::new();
        for param in &task.params {
            if let Some(value) = &param.value {
                texts.extend(param_value_texts(value));
            }
        }
        for when in &task.when {
            texts.extend(when.input.iter().map(Text::from));
            texts.extend(when.values.iter().map(Text::from));
            texts.extend(when.cel.iter().map(Text::from));
        }
        for text in texts {
            for (r, span) in &refs(cx.world, text) {
                let RefKind::TaskResult { task: producer, .. } = &r.kind else {
                    continue;
                };
                if known(producer) {
                    continue;
                }
                let names = spec.tasks.iter().map(|t| t.name.as_str());
                cx.report(
                    Diagnostic::new(
                        &UNKNOWN_TASK,
                        format!(
                            "invalid task result reference, final task has task result reference from a task `{producer}` which is not defined in the pipeline"
                        ),
                    )
                    .with_label(span, "result of an unknown task")
                    .with_optional_help(
                        did_you_mean(producer, names).map(|s| format!("did you mean `{s}`?")),
                    ),
                );
            }
        }
    }
}

/// Finds the strongly connected components; reports one cycle through each component that
/// has one, with a label per edge.
fn report_cycles(cx: &mut Checker, spec: &PipelineSpec, edges: &[Edge]) {
    let n = spec.tasks.len();
    let mut graph: DiGraph<usize, usize> = DiGraph::with_capacity(n, edges.len());
    let nodes: Vec<NodeIndex> = (0..n).map(|i| graph.add_node(i)).collect();
    for (e, edge) in edges.iter().enumerate() {
        graph.add_edge(nodes[edge.from], nodes[edge.to], e);
    }
    let mut successors = vec![Vec::new(); n];
    for edge in edges {
        successors[edge.from].push(edge.to);
    }
    let mut components: Vec<Vec<usize>> = strongly_connected(&successors)
        .into_iter()
        .filter(|c| c.len() > 1 || successors[c[0]].contains(&c[0]))
        .collect();
    // Deterministic order: by the first task of each component in source order.
    for component in &mut components {
        component.sort_unstable();
    }
    components.sort();
    for component in components {
        let members: HashSet<usize> = component.iter().copied().collect();
        let start = nodes[component[0]];
        let self_loop = graph.find_edge(start, start);
        if component.len() == 1 && self_loop.is_none() {
            continue;
        }
        let cycle = match self_loop {
            Some(e) if component.len() == 1 => vec![graph[e]],
            _ => cycle_through(&graph, start, &members),
        };
        let name = |i: usize| spec.tasks[i].name.as_str();
        let path: Vec<&str> = cycle
            .iter()
            .map(|&e| name(edges[e].from))
            .chain(cycle.first().map(|&e| name(edges[e].from)))
            .collect();
        let message = if cycle.len() == 1 {
            format!("task `{}` depends on itself", path[0])
        } else {
            format!(
                "the tasks depend on each other in a cycle: {}",
                path.join(" → ")
            )
        };
        let mut d = Diagnostic::new(&CYCLE, message);
        for &e in &cycle {
            let edge = &edges[e];
            let label = match edge.via {
                EdgeKind::RunAfter => {
                    format!("`{}` runs after `{}`", name(edge.to), name(edge.from))
                }
                EdgeKind::ResultRef => {
                    format!("`{}` uses a result of `{}`", name(edge.to), name(edge.from))
                }
            };
            d = d.with_label(edge.span, label);
        }
        cx.report(d.with_help("remove one of these dependencies to break the cycle"));
    }
}

/// The strongly connected components of the graph given by `successors` (node `i` has edges
/// to `successors[i]`), each a list of nodes: Tarjan's algorithm with an explicit stack, so
/// its depth is the heap's and not the thread's. Every node is in exactly one component.
pub fn strongly_connected(successors: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let n = successors.len();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next = 0;
    // The depth-first path: (node, position of the next successor to look at).
    let mut path: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != UNVISITED {
            continue;
        }
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        path.push((root, 0));
        while let Some(top) = path.last_mut() {
            let v = top.0;
            if let Some(&w) = successors[v].get(top.1) {
                top.1 += 1;
                if index[w] == UNVISITED {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    path.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            path.pop();
            if let Some(&(parent, _)) = path.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

/// A shortest cycle through `start` inside one component, as edge weights (indices into the
/// edge list): breadth-first search from `start` back to it.
fn cycle_through(
    graph: &DiGraph<usize, usize>,
    start: NodeIndex,
    members: &HashSet<usize>,
) -> Vec<usize> {
    use petgraph::visit::EdgeRef;
    let mut came_from: HashMap<NodeIndex, (NodeIndex, usize)> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        let mut out: Vec<_> = graph.edges(node).collect();
        out.sort_by_key(|e| (e.target(), *e.weight()));
        for edge in out {
            let target = edge.target();
            if !members.contains(&graph[target]) {
                continue;
            }
            if target == start {
                let mut path = vec![*edge.weight()];
                let mut at = node;
                while at != start {
                    let Some(&(prev, weight)) = came_from.get(&at) else {
                        break;
                    };
                    path.push(weight);
                    at = prev;
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = came_from.entry(target) {
                e.insert((node, *edge.weight()));
                queue.push_back(target);
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut components: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
        for c in &mut components {
            c.sort_unstable();
        }
        components.sort();
        components
    }

    #[test]
    fn components_of_a_small_graph() {
        // 0 → 1 → 2 → 0, 2 → 3, 3 → 3, 4 alone.
        let successors = vec![vec![1], vec![2], vec![0, 3], vec![3], vec![]];
        assert_eq!(
            sorted(strongly_connected(&successors)),
            vec![vec![0, 1, 2], vec![3], vec![4]]
        );
    }

    /// Issue 17: a `runAfter` chain of about 87,000 tasks overflowed the stack in petgraph's
    /// recursive `tarjan_scc`. A test thread's stack is 2 MiB, smaller than `tkc`'s.
    #[test]
    fn a_chain_of_200_000_tasks_does_not_recurse() {
        let n = 200_000;
        let mut successors: Vec<Vec<usize>> = (1..n).map(|i| vec![i]).collect();
        successors.push(vec![0]); // and back: one component of every task
        let components = strongly_connected(&successors);
        assert_eq!(components.len(), 1);
        assert_eq!(components[0].len(), n);
        successors[n - 1].clear();
        assert_eq!(strongly_connected(&successors).len(), n);
    }
}
