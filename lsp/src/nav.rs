//! What is at a position, and where it is declared and used: hover, go to definition and find
//! references. Everything is read from the decoded model (spans travel with it); only the
//! `$(...)` under the cursor is read from the text, with the compiler's own `vars` grammar.

use tkc_compiler::model::{
    Document, ParamSpec, PipelineSpec, PipelineTask, Resource, TaskResult, TaskSpec,
};
use tkc_compiler::resolve::{Resolved, World};
use tkc_compiler::source::{FileId, Span};
use tkc_compiler::vars::{self, RefKind};

/// Something with a declaration: what hover shows, where definition goes, what references
/// collect.
pub struct Symbol {
    /// Markdown for hover.
    pub hover: String,
    /// Where it is declared (`None`: built in, such as `$(context.taskRun.name)`).
    pub declaration: Option<Span>,
    /// The span under the cursor (hover's range).
    pub at: Span,
    what: What,
}

/// What a symbol is, for finding its uses.
enum What {
    Param {
        doc: usize,
        name: String,
    },
    PipelineTask {
        doc: usize,
        name: String,
    },
    /// A result of the Task document `doc`, or (`inline`: the pipeline task) of an inline
    /// task spec in the Pipeline document `doc`.
    Result {
        doc: usize,
        inline: Option<String>,
        name: String,
    },
    Resource {
        doc: usize,
    },
    Other,
}

/// What a rename may change.
pub enum Renamable {
    Param,
    Result,
    PipelineTask,
}

impl Symbol {
    /// Whether renaming the symbol is supported, and what it is.
    pub fn renamable(&self) -> Option<Renamable> {
        match self.what {
            What::Param { .. } => Some(Renamable::Param),
            What::Result { .. } => Some(Renamable::Result),
            What::PipelineTask { .. } => Some(Renamable::PipelineTask),
            What::Resource { .. } | What::Other => None,
        }
    }

    /// The name as written in its declaration.
    pub fn name(&self) -> Option<&str> {
        match &self.what {
            What::Param { name, .. }
            | What::PipelineTask { name, .. }
            | What::Result { name, .. } => Some(name),
            What::Resource { .. } | What::Other => None,
        }
    }
}

fn contains(span: Span, file: FileId, offset: usize) -> bool {
    span.file == file && span.start as usize <= offset && offset <= span.end as usize
}

/// The symbol at byte `offset` of `file`.
pub fn symbol_at(world: &World, file: FileId, offset: usize) -> Option<Symbol> {
    let (index, doc) = world
        .documents
        .iter()
        .enumerate()
        .find(|(_, d)| contains(d.span, file, offset))?;
    if let Some(symbol) = reference_at(world, index, doc, file, offset) {
        return Some(symbol);
    }
    name_at(world, index, doc, file, offset)
}

/// A `$(...)` reference under the cursor.
fn reference_at(
    world: &World,
    index: usize,
    doc: &Document,
    file: FileId,
    offset: usize,
) -> Option<Symbol> {
    let text = world.sources.get(file).text();
    let line_start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let reference = vars::parse(line)
        .into_iter()
        .find(|r| line_start + r.start <= offset && offset < line_start + r.end)?;
    let at = Span::new(
        file,
        line_start + reference.start,
        line_start + reference.end,
    );
    match &reference.kind {
        RefKind::Param { name, .. } => {
            let spec = param_scopes(doc, offset)
                .into_iter()
                .flatten()
                .find(|p| p.name.value == *name)?;
            Some(Symbol {
                hover: param_hover(world, spec),
                declaration: Some(spec.name.span),
                at,
                what: What::Param {
                    doc: index,
                    name: name.clone(),
                },
            })
        }
        RefKind::TaskResult { task, result, .. } => {
            let pipeline = pipeline_at(doc, offset)?;
            let ptask = pipeline_task(pipeline, task)?;
            let resolved = world.resolve_pipeline_task(ptask);
            let declaring = match &resolved {
                Resolved::Found { doc: Some(id), .. } => Some(id.0),
                _ => None,
            };
            let spec = resolved.spec()?;
            let declared = spec.results.iter().find(|r| r.name.value == *result)?;
            Some(Symbol {
                hover: result_hover(world, &ptask.name.value, declared),
                declaration: Some(declared.name.span),
                at,
                what: What::Result {
                    doc: declaring.unwrap_or(index),
                    inline: declaring.is_none().then(|| ptask.name.value.clone()),
                    name: result.clone(),
                },
            })
        }
        RefKind::Workspace { name, attr } => {
            let (declaration, description) = workspace_decl(doc, offset, name)?;
            let mut hover = format!("**workspace** `{name}` (`.{}`)", attr.as_str());
            if let Some(d) = description {
                hover.push_str(&format!("\n\n{d}"));
            }
            Some(Symbol {
                hover,
                declaration: Some(declaration),
                at,
                what: What::Other,
            })
        }
        RefKind::ResultPath { result } => {
            let Resource::Task(spec) = &doc.resource else {
                return None;
            };
            let declared = spec.results.iter().find(|r| r.name.value == *result)?;
            Some(Symbol {
                hover: result_hover(world, doc.name(), declared),
                declaration: Some(declared.name.span),
                at,
                what: What::Result {
                    doc: index,
                    inline: None,
                    name: result.clone(),
                },
            })
        }
        RefKind::Context(var) => Some(Symbol {
            hover: format!(
                "**context** `$(context.{})`: set by Tekton when the run starts",
                var.as_str()
            ),
            declaration: None,
            at,
            what: What::Other,
        }),
        _ => None,
    }
}

/// A name under the cursor: a pipeline task's name, a `runAfter` entry, a `taskRef`, a
/// param's declaration or binding, the resource's own name.
fn name_at(
    world: &World,
    index: usize,
    doc: &Document,
    file: FileId,
    offset: usize,
) -> Option<Symbol> {
    let here = |span: Span| contains(span, file, offset);
    if doc.metadata.name.as_ref().is_some_and(|n| here(n.span)) {
        return Some(Symbol {
            hover: resource_hover(world, doc),
            declaration: Some(doc.name_span()),
            at: doc.name_span(),
            what: What::Resource { doc: index },
        });
    }
    for scope in param_scopes(doc, offset) {
        if let Some(spec) = scope.iter().find(|p| here(p.name.span)) {
            return Some(Symbol {
                hover: param_hover(world, spec),
                declaration: Some(spec.name.span),
                at: spec.name.span,
                what: What::Param {
                    doc: index,
                    name: spec.name.value.clone(),
                },
            });
        }
    }
    if let Resource::Task(spec) = &doc.resource
        && let Some(declared) = spec.results.iter().find(|r| here(r.name.span))
    {
        return Some(Symbol {
            hover: result_hover(world, doc.name(), declared),
            declaration: Some(declared.name.span),
            at: declared.name.span,
            what: What::Result {
                doc: index,
                inline: None,
                name: declared.name.value.clone(),
            },
        });
    }
    let pipeline = pipeline_at(doc, offset)?;
    for task in pipeline.tasks.iter().chain(&pipeline.finally) {
        let pipeline_task = |at: Span| Symbol {
            hover: format!("**pipeline task** `{}`", task.name.value),
            declaration: Some(task.name.span),
            at,
            what: What::PipelineTask {
                doc: index,
                name: task.name.value.clone(),
            },
        };
        if here(task.name.span) {
            return Some(pipeline_task(task.name.span));
        }
        if let Some(after) = task.run_after.iter().find(|a| here(a.span)) {
            let task = pipeline_task_named(pipeline, &after.value)?;
            return Some(Symbol {
                hover: format!("**pipeline task** `{}`", task.name.value),
                declaration: Some(task.name.span),
                at: after.span,
                what: What::PipelineTask {
                    doc: index,
                    name: task.name.value.clone(),
                },
            });
        }
        if let Some(name) = task.task_ref.as_ref().and_then(|r| r.name.as_ref())
            && here(name.span)
        {
            let reference = task.task_ref.as_ref()?;
            if let Resolved::Found { doc: Some(id), .. } = world.resolve_task_ref(reference) {
                let target = world.doc(id);
                return Some(Symbol {
                    hover: resource_hover(world, target),
                    declaration: Some(target.name_span()),
                    at: name.span,
                    what: What::Resource { doc: id.0 },
                });
            }
            return None;
        }
        if let Some(binding) = task.params.iter().find(|p| here(p.name.span)) {
            let resolved = world.resolve_pipeline_task(task);
            let declaring = match &resolved {
                Resolved::Found { doc: Some(id), .. } => Some(id.0),
                _ => None,
            };
            let spec = resolved.spec()?;
            let declared = spec
                .params
                .iter()
                .find(|p| p.name.value == binding.name.value)?;
            return Some(Symbol {
                hover: param_hover(world, declared),
                declaration: Some(declared.name.span),
                at: binding.name.span,
                what: match declaring {
                    Some(doc) => What::Param {
                        doc,
                        name: declared.name.value.clone(),
                    },
                    None => What::Other,
                },
            });
        }
    }
    None
}

/// Every use of `symbol` (its declaration included), across the world.
pub fn references(world: &World, symbol: &Symbol) -> Vec<Span> {
    let mut out: Vec<Span> = symbol.declaration.into_iter().collect();
    match &symbol.what {
        What::Param { doc, name } => {
            let Some(document) = world.documents.get(*doc) else {
                return out;
            };
            out.extend(text_references(world, document, |kind| {
                matches!(kind, RefKind::Param { name: n, .. } if n == name)
                    .then_some((name.as_str(), false))
            }));
            // Bindings by the runs of this Task or Pipeline.
            for other in &world.documents {
                let run_params = match &other.resource {
                    Resource::TaskRun(run) => run
                        .task_ref
                        .as_ref()
                        .filter(|r| {
                            matches!(world.resolve_task_ref(r),
                            Resolved::Found { doc: Some(id), .. } if id.0 == *doc)
                        })
                        .map(|_| &run.params),
                    Resource::PipelineRun(run) => run
                        .pipeline_ref
                        .as_ref()
                        .filter(|r| {
                            matches!(world.resolve_pipeline_ref(r),
                            Resolved::Found { doc: Some(id), .. } if id.0 == *doc)
                        })
                        .map(|_| &run.params),
                    _ => None,
                };
                out.extend(
                    run_params
                        .into_iter()
                        .flatten()
                        .filter(|p| p.name.value == *name)
                        .map(|p| p.name.span),
                );
            }
            // Bindings of this param by pipeline tasks that run this Task.
            for other in &world.documents {
                let Resource::Pipeline(pipeline) = &other.resource else {
                    continue;
                };
                for task in pipeline.tasks.iter().chain(&pipeline.finally) {
                    let runs_it = matches!(world.resolve_pipeline_task(task),
                        Resolved::Found { doc: Some(id), .. } if id.0 == *doc);
                    if runs_it {
                        out.extend(
                            task.params
                                .iter()
                                .filter(|p| p.name.value == *name)
                                .map(|p| p.name.span),
                        );
                    }
                }
            }
        }
        What::PipelineTask { doc, name } => {
            let Some(document) = world.documents.get(*doc) else {
                return out;
            };
            if let Resource::Pipeline(pipeline) = &document.resource {
                for task in pipeline.tasks.iter().chain(&pipeline.finally) {
                    out.extend(
                        task.run_after
                            .iter()
                            .filter(|a| a.value == *name)
                            .map(|a| a.span),
                    );
                }
            }
            out.extend(text_references(world, document, |kind| match kind {
                RefKind::TaskResult { task, .. }
                | RefKind::TaskStatus { task }
                | RefKind::TaskReason { task }
                | RefKind::MatrixLength { task, .. }
                    if task == name =>
                {
                    Some((name.as_str(), false))
                }
                _ => None,
            }));
        }
        What::Result { doc, inline, name } => {
            if let (Some(document), None) = (world.documents.get(*doc), inline) {
                out.extend(text_references(world, document, |kind| {
                    matches!(kind, RefKind::ResultPath { result } if result == name)
                        .then_some((name.as_str(), false))
                }));
            }
            for (index, other) in world.documents.iter().enumerate() {
                let Some(pipeline) = pipeline_at(other, 0) else {
                    continue;
                };
                for task in pipeline.tasks.iter().chain(&pipeline.finally) {
                    let runs_it = match inline {
                        Some(ptask) => index == *doc && task.name.value == *ptask,
                        None => matches!(world.resolve_pipeline_task(task),
                            Resolved::Found { doc: Some(id), .. } if id.0 == *doc),
                    };
                    if !runs_it {
                        continue;
                    }
                    let ptask = task.name.value.as_str();
                    out.extend(text_references(world, other, |kind| match kind {
                        RefKind::TaskResult { task, result, .. }
                            if task == ptask && result == name =>
                        {
                            Some((name.as_str(), true))
                        }
                        _ => None,
                    }));
                }
            }
        }
        What::Resource { doc } => {
            for other in &world.documents {
                let Resource::Pipeline(pipeline) = &other.resource else {
                    continue;
                };
                for task in pipeline.tasks.iter().chain(&pipeline.finally) {
                    let Some(reference) = &task.task_ref else {
                        continue;
                    };
                    if let (Resolved::Found { doc: Some(id), .. }, Some(name)) =
                        (world.resolve_task_ref(reference), &reference.name)
                        && id.0 == *doc
                    {
                        out.push(name.span);
                    }
                }
            }
        }
        What::Other => {}
    }
    out.sort_by_key(|s| (s.file, s.start));
    out.dedup();
    out
}

/// Why renaming `symbol` would miss uses tkc cannot tell apart (`None`: it would not): a
/// Pipeline's param whose name an inline task spec declares too (`$(params.x)` inside that
/// spec means the inline task's param).
pub fn incomplete_rename(world: &World, symbol: &Symbol) -> Option<String> {
    let What::Param { doc, name } = &symbol.what else {
        return None;
    };
    let pipeline = pipeline_at(world.documents.get(*doc)?, 0)?;
    let shadowing = pipeline.tasks.iter().chain(&pipeline.finally).find(|t| {
        t.task_spec
            .as_ref()
            .is_some_and(|e| e.task.params.iter().any(|p| p.name.value == *name))
    })?;
    Some(format!(
        "the inline task of `{}` declares a param `{name}` too: its `$(params.{name})` \
         references cannot be told apart from the Pipeline's; rename that one first",
        shadowing.name.value
    ))
}

/// The `$(...)` references in a document's text whose kind `names` picks, narrowed to the
/// name they mention (`true`: a pipeline task's result name, found after `results`).
fn text_references<'a>(
    world: &World,
    doc: &Document,
    names: impl Fn(&RefKind) -> Option<(&'a str, bool)>,
) -> Vec<Span> {
    let text = world.sources.text(doc.span);
    let base = doc.span.start as usize;
    vars::parse(text)
        .into_iter()
        .filter_map(|r| {
            let (name, result) = names(&r.kind)?;
            let in_expr = segment(&r.expr, name, result)?;
            let start = base + r.start + 2 + in_expr;
            Some(Span::new(doc.span.file, start, start + name.len()))
        })
        .collect()
}

/// Where `name` is in a reference's text as a segment of its own (`params.a`: not the `a` of
/// `params`): after a `.`, `[` or quote, and followed by none of a name's characters. A result
/// of a pipeline task (`result`) is the one after `results` (`tasks.build.results.build`).
fn segment(expr: &str, name: &str, result: bool) -> Option<usize> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let from = match result {
        true => expr.find("results").map_or(0, |i| i + "results".len()),
        false => 0,
    };
    expr.match_indices(name).map(|(i, _)| i).find(|&i| {
        let before = expr[..i].chars().next_back();
        let after = expr[i + name.len()..].chars().next();
        i >= from && matches!(before, Some('.' | '[' | '"' | '\'')) && !after.is_some_and(is_name)
    })
}

/// The params a reference at `offset` may see, innermost first: an inline `taskSpec`'s, then
/// the Pipeline's (or the Task's).
fn param_scopes(doc: &Document, offset: usize) -> Vec<&[ParamSpec]> {
    match &doc.resource {
        Resource::Task(spec) => vec![spec.params.as_slice()],
        Resource::StepAction(spec) => vec![spec.params.as_slice()],
        Resource::Pipeline(spec) => pipeline_scopes(spec, offset),
        Resource::TaskRun(run) => run.task_spec.iter().map(|s| s.params.as_slice()).collect(),
        Resource::PipelineRun(run) => run
            .pipeline_spec
            .as_ref()
            .map(|s| pipeline_scopes(s, offset))
            .unwrap_or_default(),
        Resource::ConfigMap(_) | Resource::Secret(_) => Vec::new(),
    }
}

fn pipeline_scopes(spec: &PipelineSpec, offset: usize) -> Vec<&[ParamSpec]> {
    let mut scopes = Vec::new();
    if let Some(embedded) = task_at(spec, offset).and_then(|t| t.task_spec.as_ref()) {
        scopes.push(embedded.task.params.as_slice());
    }
    scopes.push(spec.params.as_slice());
    scopes
}

/// The pipeline task whose text holds `offset`: the last one whose name starts before it (the
/// model keeps spans on values, not on whole list items).
fn task_at(spec: &PipelineSpec, offset: usize) -> Option<&PipelineTask> {
    spec.tasks
        .iter()
        .chain(&spec.finally)
        .filter(|t| t.name.span.start as usize <= offset)
        .max_by_key(|t| t.name.span.start)
}

fn pipeline_at(doc: &Document, _offset: usize) -> Option<&PipelineSpec> {
    match &doc.resource {
        Resource::Pipeline(spec) => Some(spec),
        Resource::PipelineRun(run) => run.pipeline_spec.as_ref(),
        _ => None,
    }
}

fn pipeline_task<'p>(spec: &'p PipelineSpec, name: &str) -> Option<&'p PipelineTask> {
    pipeline_task_named(spec, name)
}

fn pipeline_task_named<'p>(spec: &'p PipelineSpec, name: &str) -> Option<&'p PipelineTask> {
    spec.tasks
        .iter()
        .chain(&spec.finally)
        .find(|t| t.name.value == name)
}

/// The declaration of workspace `name` a reference at `offset` sees, with its description.
fn workspace_decl(doc: &Document, offset: usize, name: &str) -> Option<(Span, Option<String>)> {
    let in_task = |spec: &TaskSpec| {
        spec.workspaces
            .iter()
            .find(|w| w.name.value == name)
            .map(|w| (w.name.span, w.description.as_ref().map(|d| d.value.clone())))
    };
    match &doc.resource {
        Resource::Task(spec) => in_task(spec),
        Resource::TaskRun(run) => run.task_spec.as_ref().and_then(in_task),
        Resource::Pipeline(spec) => task_at(spec, offset)
            .and_then(|t| t.task_spec.as_ref())
            .and_then(|e| in_task(&e.task)),
        _ => None,
    }
}

fn param_hover(world: &World, spec: &ParamSpec) -> String {
    let ty = spec.r#type.as_ref().map_or("string", |t| t.value.as_str());
    let mut out = format!("**param** `{}`: `{ty}`", spec.name.value);
    match &spec.default {
        Some(default) => {
            let text = world.sources.text(default.span).trim();
            out.push_str(&format!("\n\ndefault: `{text}`"));
        }
        None => out.push_str("\n\nrequired (no default)"),
    }
    if let Some(description) = &spec.description {
        out.push_str(&format!("\n\n{}", description.value.trim()));
    }
    out
}

fn result_hover(_world: &World, task: &str, result: &TaskResult) -> String {
    let ty = result
        .r#type
        .as_ref()
        .map_or("string", |t| t.value.as_str());
    let mut out = format!(
        "**result** `{}` of pipeline task `{task}`: `{ty}`",
        result.name.value
    );
    if let Some(description) = &result.description {
        out.push_str(&format!("\n\n{}", description.value.trim()));
    }
    out
}

fn resource_hover(world: &World, doc: &Document) -> String {
    let name = world.sources.get(doc.file()).name();
    let file = std::path::Path::new(name)
        .file_name()
        .map_or(name.into(), |f| f.to_string_lossy());
    let mut out = format!("**{}** `{}` ({file})", doc.kind.as_str(), doc.name());
    let (description, params) = match &doc.resource {
        Resource::Task(spec) => (spec.description.as_ref(), spec.params.as_slice()),
        Resource::Pipeline(spec) => (spec.description.as_ref(), spec.params.as_slice()),
        _ => (None, &[][..]),
    };
    if let Some(description) = description {
        out.push_str(&format!("\n\n{}", description.value.trim()));
    }
    if !params.is_empty() {
        out.push_str("\n\nparams:");
        for p in params {
            let ty = p.r#type.as_ref().map_or("string", |t| t.value.as_str());
            let required = if p.default.is_none() {
                " (required)"
            } else {
                ""
            };
            out.push_str(&format!("\n- `{}`: `{ty}`{required}", p.name.value));
        }
    }
    out
}

/// One completion: the text to insert, a short detail and its documentation.
pub struct Completion {
    pub label: String,
    pub detail: String,
    pub documentation: Option<String>,
}

fn completion(label: &str, detail: &str, documentation: Option<String>) -> Completion {
    Completion {
        label: label.to_string(),
        detail: detail.to_string(),
        documentation,
    }
}

/// What may be written at byte `offset` of `file`: the next segment of a `$(...)` reference
/// being typed (`params.`, `tasks.<t>.results.`, `workspaces.`, `context.`), or a pipeline
/// task's name in `runAfter`.
pub fn complete(world: &World, file: FileId, offset: usize) -> Vec<Completion> {
    let Some((_, doc)) = world
        .documents
        .iter()
        .enumerate()
        .find(|(_, d)| contains(d.span, file, offset))
    else {
        return Vec::new();
    };
    let text = world.sources.get(file).text();
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    if let Some(open) = before.rfind("$(")
        && !before[open..].contains(')')
    {
        return complete_reference(doc, world, offset, &before[open + 2..]);
    }
    if in_run_after(text, line_start, before)
        && let Some(pipeline) = pipeline_at(doc, offset)
    {
        let here = task_at(pipeline, offset).map(|t| t.name.value.as_str());
        return pipeline
            .tasks
            .iter()
            .filter(|t| Some(t.name.value.as_str()) != here)
            .map(|t| completion(&t.name.value, "pipeline task", None))
            .collect();
    }
    Vec::new()
}

/// Is the cursor in a `runAfter` list (`runAfter: [a, |` or a `- |` item below it)?
fn in_run_after(text: &str, line_start: usize, before: &str) -> bool {
    if before.trim_start().starts_with("runAfter:") {
        return true;
    }
    if !before.trim_start().starts_with('-') {
        return false;
    }
    text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.starts_with('-') && !l.is_empty())
        .is_some_and(|l| l.starts_with("runAfter:"))
}

fn complete_reference(
    doc: &Document,
    world: &World,
    offset: usize,
    typed: &str,
) -> Vec<Completion> {
    let segments: Vec<&str> = typed.split('.').collect();
    match segments.as_slice() {
        [_] => ["params", "tasks", "workspaces", "context", "results"]
            .iter()
            .map(|p| completion(p, "reference", None))
            .collect(),
        ["params", _] => param_scopes(doc, offset)
            .into_iter()
            .flatten()
            .map(|p| {
                let ty = p.r#type.as_ref().map_or("string", |t| t.value.as_str());
                completion(
                    &p.name.value,
                    &format!("param: {ty}"),
                    Some(param_hover(world, p)),
                )
            })
            .collect(),
        // Not the task the cursor is in: a task using its own results is a cycle Tekton
        // rejects (`dag.Build`), as in `runAfter`.
        ["tasks", _] => pipeline_at(doc, offset)
            .map(|p| {
                let here = task_at(p, offset).map(|t| t.name.value.as_str());
                p.tasks
                    .iter()
                    .filter(|t| Some(t.name.value.as_str()) != here)
                    .map(|t| completion(&t.name.value, "pipeline task", None))
                    .collect()
            })
            .unwrap_or_default(),
        ["tasks", _, _] => vec![completion("results", "the task's results", None)],
        ["tasks", task, "results", _] => pipeline_at(doc, offset)
            .and_then(|p| pipeline_task_named(p, task))
            .and_then(|t| Some((t, world.resolve_pipeline_task(t).spec()?)))
            .map(|(t, spec)| {
                spec.results
                    .iter()
                    .map(|r| {
                        let ty = r.r#type.as_ref().map_or("string", |t| t.value.as_str());
                        let doc = result_hover(world, &t.name.value, r);
                        completion(&r.name.value, &format!("result: {ty}"), Some(doc))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ["workspaces", _] => workspace_names(doc, offset)
            .into_iter()
            .map(|w| completion(&w, "workspace", None))
            .collect(),
        ["workspaces", _, _] => ["path", "bound", "claim", "volume"]
            .iter()
            .map(|a| completion(a, "workspace attribute", None))
            .collect(),
        ["context", ..] => vars::ContextVar::ALL
            .iter()
            .map(|v| completion(v.as_str(), "context", None))
            .collect(),
        _ => Vec::new(),
    }
}

fn workspace_names(doc: &Document, offset: usize) -> Vec<String> {
    let in_task = |spec: &TaskSpec| {
        spec.workspaces
            .iter()
            .map(|w| w.name.value.clone())
            .collect()
    };
    match &doc.resource {
        Resource::Task(spec) => in_task(spec),
        Resource::TaskRun(run) => run.task_spec.as_ref().map(in_task).unwrap_or_default(),
        Resource::Pipeline(spec) => task_at(spec, offset)
            .and_then(|t| t.task_spec.as_ref())
            .map(|e| in_task(&e.task))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// An outline entry: a resource, its pipeline tasks or steps.
pub struct Outline {
    pub name: String,
    pub detail: String,
    /// The whole entry (a resource's document; a task's or step's name).
    pub span: Span,
    pub name_span: Span,
    pub children: Vec<Outline>,
}

/// The outline of a file: each resource with its pipeline tasks (and `finally` tasks) or its
/// steps.
pub fn outline(world: &World, file: FileId) -> Vec<Outline> {
    let leaf = |name: &tkc_compiler::model::Str, detail: &str| Outline {
        name: name.value.clone(),
        detail: detail.to_string(),
        span: name.span,
        name_span: name.span,
        children: Vec::new(),
    };
    let steps = |spec: &TaskSpec| -> Vec<Outline> {
        spec.steps
            .iter()
            .filter_map(|s| s.name.as_ref().map(|n| leaf(n, "step")))
            .collect()
    };
    world
        .documents
        .iter()
        .filter(|d| d.file() == file)
        .map(|doc| {
            let children = match &doc.resource {
                Resource::Task(spec) => steps(spec),
                Resource::Pipeline(spec) => spec
                    .tasks
                    .iter()
                    .map(|t| leaf(&t.name, "task"))
                    .chain(spec.finally.iter().map(|t| leaf(&t.name, "finally")))
                    .collect(),
                _ => Vec::new(),
            };
            Outline {
                name: doc.name().to_string(),
                detail: doc.kind.as_str().to_string(),
                span: doc.span,
                name_span: doc.name_span(),
                children,
            }
        })
        .collect()
}
