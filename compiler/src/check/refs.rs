//! Every `$(...)` resolves in its context: the prefixes a pipeline task may use, known
//! variables under a known prefix, context variables where they are replaced, execution
//! status only in finally, step exit-code paths of real steps, artifacts behind their gate.
//!
//! Params, results and workspaces are checked by their own families; this one looks at the
//! shape of the reference and where it is.

use super::scope::{PtField, matches_generic_pattern, pipeline_task_strings};
use super::{
    Checker, Container, Field, Section, TaskSite, Text, param_value_texts, pipeline_specs,
    pipeline_tasks, refs, task_specs, task_strings,
};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::vars::{ContextVar, RefKind, Reference};
use std::collections::HashSet;

declare_code! {
    /// # A pipeline task reference with an unknown prefix
    ///
    /// In a pipeline task's `params`, `matrix` and `when`, every `$(...)` must start with
    /// `params`, `tasks`, `finally`, `context`, `workspaces` or `results`. Tekton rejects the
    /// Pipeline (`invalid variable reference "$(x)", must start with a valid prefix`). In a
    /// Task's script, by contrast, `$(date)` is fine: Tekton leaves text it does not know
    /// alone and the shell runs it. To pass a shell command substitution through a param, use
    /// `${VAR}` or `` `cmd` `` instead.
    ///
    /// ## Example
    /// ```yaml
    /// params:
    ///   - name: tag
    ///     value: build-$(date)
    /// ```
    pub static INVALID_PREFIX = "tkc::refs::invalid-prefix", Error;
}

declare_code! {
    /// # A malformed reference under a known prefix
    ///
    /// `$(params.a.b.c)`, `$(tasks.t.results)`, `$(context.task.uid)`,
    /// `$(steps.build.exitCode.path)` (the exit code path needs `step-`): the reference starts
    /// like one Tekton replaces but is not one. The message says what the form should be.
    ///
    /// Under `params` and `context` it is an **error**: the validating webhook reads every
    /// `$(params...)` and `$(context.task...)` of a step (`validateStepVariables`,
    /// `validateTaskContextVariables` in `pkg/apis/pipeline/v1/task_validation.go`) and
    /// rejects the Task. Under `tasks`, `steps`, `step`, `results`, `workspaces` and
    /// `credentials` no Tekton function parses a reference that does not match its pattern
    /// (`NewResultRefs` needs `tasks.<t>.results.<r>`; `ApplyStepExitCodePath` replaces only
    /// `steps.step-<s>.exitCode.path`): the text is left as written and fails, if at all, when
    /// the step runs, so it is a **warning**.
    pub static MALFORMED = "tkc::refs::malformed", Error;
}

declare_code! {
    /// # A context variable that is not replaced here
    ///
    /// A Task sees `context.taskRun.{name,namespace,uid}` and `context.task.{name,retry-count}`;
    /// a Pipeline's tasks see `context.pipelineRun.{name,namespace,uid}`,
    /// `context.pipeline.name` and `context.pipelineTask.retries`. A Pipeline variable in a
    /// Task (not an inline one) is never replaced and stays as text. (A Task variable in a
    /// pipeline task param is fine: it is passed on and replaced in the TaskRun.) Also
    /// reported: `$(context....)` with an unknown object, which Tekton leaves as text.
    pub static CONTEXT = "tkc::refs::context", Warning;
}

declare_code! {
    /// # Execution status outside finally
    ///
    /// `$(tasks.<task>.status)`, `$(tasks.<task>.reason)` and `$(tasks.status)` are known only
    /// once the DAG tasks are done, so only finally tasks may use them, and `<task>` must be a
    /// task of `tasks`. Tekton's validating webhook rejects the Pipeline (`pipeline tasks can
    /// not refer to execution status of any other pipeline task or aggregate status of tasks`,
    /// `validateExecutionStatusVariables`) when the reference is in a pipeline task's params or
    /// `when`. In the inline `taskSpec` of a DAG task no function checks it and it stays text:
    /// that is a **warning** of this code.
    pub static EXECUTION_STATUS = "tkc::refs::execution-status", Error;
}

declare_code! {
    /// # An exit code path of a step that does not exist
    ///
    /// `$(steps.step-<name>.exitCode.path)` is the file with the exit code of step `<name>`
    /// of the same Task (the `step-` prefix is part of the reference).
    pub static UNKNOWN_STEP = "tkc::refs::unknown-step", Error;
}

declare_code! {
    /// # An artifact reference without the artifacts feature
    ///
    /// `$(step.artifacts.path)`, `$(artifacts.path)`, `$(steps.<s>.outputs.<n>)`,
    /// `$(tasks.<t>.outputs.<n>)` and the `inputs` forms are replaced only when the cluster
    /// sets the feature flag `enable-artifacts: "true"`. It is a flag of its own, off by
    /// default, that `enable-api-fields: alpha` does not turn on; check with
    /// `--enable-artifacts` (or `enable-artifacts = true` in tkc.toml) if the cluster sets it.
    ///
    /// **Stage:** admission, where Tekton looks: in a step's `script`, `command`, `args` and
    /// env values (`validateArtifactsReferencesInStep`,
    /// `pkg/apis/pipeline/v1/container_validation.go`) and in a pipeline task's params
    /// (`validateArtifactReference`, `pipeline_validation.go`) the resource is rejected
    /// (`feature flag enable-artifacts should be set to true to use artifacts feature.`), an
    /// **error**. Elsewhere the text is left as is when the step runs: a **warning**.
    pub static ARTIFACTS = "tkc::refs::artifacts", Error;
}

declare_code! {
    /// # A `$(` reference that is not closed
    ///
    /// **Stage:** step run. A reference is `$(`, a known prefix (`params`, `tasks`,
    /// `context`, `workspaces`, `results`, `steps`, ...), a name, and `)` right after the
    /// name. Written without it (`$(params.url`, `$(params.url}`, and no `)` later on the
    /// line), Tekton does not replace it: the step sees the text as written, and a shell reads
    /// `$(` as a command substitution. (Where a later `)` on the line closes it, the webhook's
    /// pattern in `pkg/substitution` (`ExtractVariablesFromString`), `.*?\)`, takes everything up to that `)` as the name;
    /// tkc leaves that case alone, as shells build names that way: `$(results.part-${i}.path)`.)
    ///
    /// ## Example
    /// ```yaml
    /// script: git clone $(params.url
    /// ```
    /// Close the reference: `$(params.url)`.
    pub static UNTERMINATED = "tkc::refs::unterminated", Warning;
}

declare_code! {
    /// # A `$(inputs.…)` or `$(outputs.…)` reference
    ///
    /// These are the v1alpha1 forms, from before PipelineResources were removed.
    /// `$(inputs.params.<name>)` is still replaced in a TaskRun by a compatibility pattern
    /// (`paramPatterns`, used by `ApplyParameters` in `pkg/reconciler/taskrun/resources/apply.go`) but no webhook check
    /// looks at it: write `$(params.<name>)`. Every other `$(inputs.…)` / `$(outputs.…)`
    /// (`$(inputs.resources.source.path)`, `$(outputs.resources.image.url)`) named a
    /// PipelineResource: nothing replaces it, and the step sees the text as written
    /// (stage: step run).
    ///
    /// ## Example
    /// ```yaml
    /// script: cd $(inputs.resources.source.path)
    /// ```
    /// Bind a workspace and use `$(workspaces.source.path)`.
    pub static LEGACY_PREFIX = "tkc::refs::legacy-prefix", Warning;
}

/// This family's codes.
pub const CODES: &[&Code] = &[
    &UNTERMINATED,
    &LEGACY_PREFIX,
    &INVALID_PREFIX,
    &MALFORMED,
    &CONTEXT,
    &EXECUTION_STATUS,
    &UNKNOWN_STEP,
    &ARTIFACTS,
];

/// The prefixes a pipeline task's params, matrix and when may use.
const PIPELINE_PREFIXES: [&str; 6] = [
    "params",
    "tasks",
    "finally",
    "context",
    "workspaces",
    "results",
];

/// Context objects; a `$(context.<other>...)` is left alone by Tekton.
const CONTEXT_OBJECTS: [&str; 5] = ["taskRun", "task", "pipelineRun", "pipeline", "pipelineTask"];

/// Where a string is, for the checks that depend on it.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Where {
    /// A Task document or a TaskRun's inline task.
    Task,
    /// The inline task of a pipeline task (pipeline variables propagate into it).
    InlineTask,
    /// A pipeline task's own fields; `validated` if Tekton checks prefixes there.
    PipelineTask { section: Section, validated: bool },
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        let at = match task.site {
            TaskSite::InPipeline { .. } => Where::InlineTask,
            _ => Where::Task,
        };
        let steps: HashSet<&str> = task
            .spec
            .steps
            .iter()
            .filter_map(|s| s.name.as_ref().map(|n| n.as_str()))
            .collect();
        // With each string: does the webhook reject artifact references in it?
        let mut texts: Vec<(Text, bool)> = task_strings(task.spec)
            .into_iter()
            .map(|s| {
                let rejected = matches!(s.container, Container::Step(_))
                    && matches!(
                        s.field,
                        Field::Script | Field::Command | Field::Args | Field::EnvValue
                    );
                (s.text, rejected)
            })
            .collect();
        texts.extend(
            task.spec
                .workspaces
                .iter()
                .filter_map(|w| w.mount_path.as_ref())
                .map(|m| (Text::from(m), false)),
        );
        texts.extend(
            task.spec
                .params
                .iter()
                .filter_map(|p| p.default.as_ref())
                .flat_map(param_value_texts)
                .map(|t| (t, false)),
        );
        for (text, artifacts_rejected) in texts {
            unterminated(cx, text);
            for (r, span) in &refs(world, text) {
                legacy_prefix(cx, r, span);
                check(cx, r, span, at, None);
                if r.kind == RefKind::Artifact {
                    artifact(cx, r, span, artifacts_rejected);
                }
                if let RefKind::StepExitCodePath { step } = &r.kind
                    && !steps.contains(step.as_str())
                {
                    let help = match did_you_mean(step, steps.iter().copied()) {
                        Some(c) => format!("did you mean `$(steps.step-{c}.exitCode.path)`?"),
                        None => "name a step of this Task (after `step-`)".to_string(),
                    };
                    cx.report(
                        Diagnostic::new(
                            &UNKNOWN_STEP,
                            format!("there is no step `{step}` in this Task"),
                        )
                        .with_label(span, "unknown step")
                        .with_help(help),
                    );
                }
            }
        }
    }
    for pipeline in pipeline_specs(world) {
        let dag: HashSet<&str> = pipeline
            .spec
            .tasks
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        for (section, pt) in pipeline_tasks(pipeline.spec) {
            for s in pipeline_task_strings(pt) {
                let at = Where::PipelineTask {
                    section,
                    validated: s.field.is_validated(),
                };
                unterminated(cx, s.text);
                for (r, span) in &refs(world, s.text) {
                    check(cx, r, span, at, Some(&dag));
                    if r.kind == RefKind::Artifact {
                        artifact(cx, r, span, s.field == PtField::Param);
                    }
                }
            }
            // Tekton validates execution status only in a pipeline task's params and `when`
            // (`validateExecutionStatusVariables`, pkg/apis/pipeline/v1/pipeline_validation.go);
            // in the inline task of a DAG task the reference is never replaced and stays text.
            if let (Section::Tasks, Some(embedded)) = (section, &pt.task_spec) {
                for s in task_strings(&embedded.task) {
                    for (r, span) in &refs(world, s.text) {
                        if matches!(
                            r.kind,
                            RefKind::TaskStatus { .. }
                                | RefKind::TaskReason { .. }
                                | RefKind::TasksStatus
                        ) {
                            cx.report(
                                Diagnostic::new(
                                    &EXECUTION_STATUS,
                                    format!("`{r}` is not replaced in the inline task of a DAG task"),
                                )
                                .with_label(span, "Tekton leaves this as text")
                                .with_help("move this task to `finally`, or pass the status in a param of a finally task")
                                .with_severity(crate::diag::Severity::Warning),
                            );
                        }
                    }
                }
            }
        }
    }
}

fn check(cx: &mut Checker, r: &Reference, span: Span, at: Where, dag: Option<&HashSet<&str>>) {
    match &r.kind {
        RefKind::Unknown => {
            if let Where::PipelineTask {
                validated: true, ..
            } = at
                && matches_generic_pattern(&r.expr)
            {
                cx.report(
                    Diagnostic::new(
                        &INVALID_PREFIX,
                        format!("invalid variable reference `{r}`, must start with a valid prefix"),
                    )
                    .with_label(span, "not a Tekton variable")
                    .with_help(format!(
                        "variables start with {}; for shell text use `${{VAR}}` or backquotes",
                        PIPELINE_PREFIXES.map(|p| format!("`{p}`")).join(", ")
                    )),
                );
            }
        }
        RefKind::Malformed { prefix, reason } => {
            let unknown_context = *prefix == "context"
                && !CONTEXT_OBJECTS.iter().any(|o| {
                    r.expr
                        .strip_prefix("context.")
                        .and_then(|e| e.strip_prefix(o))
                        .is_some_and(|rest| rest.starts_with('.'))
                });
            if unknown_context {
                // `$(context.build.status)` for `$(tasks.build.status)` is a known slip.
                let status = r
                    .expr
                    .strip_prefix("context.")
                    .filter(|e| e.ends_with(".status") || e.ends_with(".reason"));
                let help = match status {
                    Some(e) => format!("did you mean `$(tasks.{e})`?"),
                    None => format!(
                        "context variables are {}",
                        ContextVar::ALL
                            .map(|c| format!("`context.{}`", c.as_str()))
                            .join(", ")
                    ),
                };
                cx.report(
                    Diagnostic::new(&CONTEXT, format!("`{r}` is not a context variable"))
                        .with_label(span, "Tekton leaves this as text")
                        .with_help(help),
                );
                return;
            }
            let help = match *prefix {
                "context" => {
                    let names = ContextVar::ALL.map(|c| c.as_str());
                    match r
                        .expr
                        .strip_prefix("context.")
                        .and_then(|e| did_you_mean(e, names))
                    {
                        Some(c) => format!("did you mean `$(context.{c})`?"),
                        None => format!(
                            "context variables are {}",
                            ContextVar::ALL
                                .map(|c| format!("`context.{}`", c.as_str()))
                                .join(", ")
                        ),
                    }
                }
                _ => reason.clone(),
            };
            if let Where::PipelineTask {
                validated: true, ..
            } = at
                && !PIPELINE_PREFIXES.contains(prefix)
            {
                cx.report(
                    Diagnostic::new(
                        &INVALID_PREFIX,
                        format!("invalid variable reference `{r}`, must start with a valid prefix"),
                    )
                    .with_label(
                        span,
                        format!("`{prefix}` variables belong to a Task's steps"),
                    )
                    .with_help(format!(
                        "variables here start with {}",
                        PIPELINE_PREFIXES.map(|p| format!("`{p}`")).join(", ")
                    )),
                );
                return;
            }
            let checked = matches!(*prefix, "params" | "context");
            let d =
                Diagnostic::new(&MALFORMED, format!("malformed reference `{r}`")).with_help(help);
            cx.report(if checked {
                d.with_label(span, format!("not a valid `{prefix}` reference"))
            } else {
                d.with_label(
                    span,
                    format!("not a valid `{prefix}` reference; Tekton leaves it as text"),
                )
                .with_severity(crate::diag::Severity::Warning)
            });
        }
        RefKind::Context(var) => match at {
            Where::Task if !var.is_task_scope() => {
                cx.report(
                    Diagnostic::new(
                        &CONTEXT,
                        format!("`{r}` is not replaced in a Task"),
                    )
                    .with_label(span, "a Pipeline variable; stays as text here")
                    .with_help(format!(
                        "pass it in through a param: declare a param and give it `value: {r}` in the pipeline task"
                    )),
                );
            }
            _ => {}
        },
        RefKind::TaskStatus { .. } | RefKind::TaskReason { .. } | RefKind::TasksStatus => {
            if let (Where::PipelineTask { section, .. }, Some(dag)) = (at, dag) {
                status_in_pipeline(cx, r, span, section, dag);
            }
        }
        RefKind::StepResult { .. }
        | RefKind::StepResultPath { .. }
        | RefKind::StepExitCodePath { .. }
        | RefKind::CredentialsPath => {
            if let Where::PipelineTask {
                validated: true, ..
            } = at
            {
                cx.report(
                    Diagnostic::new(
                        &INVALID_PREFIX,
                        format!("invalid variable reference `{r}`, must start with a valid prefix"),
                    )
                    .with_label(
                        span,
                        format!("`{}` variables belong to a Task's steps", r.prefix()),
                    )
                    .with_help(format!(
                        "variables here start with {}",
                        PIPELINE_PREFIXES.map(|p| format!("`{p}`")).join(", ")
                    )),
                );
            }
        }
        _ => {}
    }
}

/// The prefixes after which a reference's name follows (`$(params.`, `$(tasks[`, ...).
const REFERENCE_PREFIXES: [&str; 12] = [
    "params",
    "tasks",
    "finally",
    "context",
    "workspaces",
    "results",
    "steps",
    "step",
    "credentials",
    "artifacts",
    "inputs",
    "outputs",
];

/// Can this byte be part of a reference's name (`a.b`, `x-1`, `["k"]`, `[*]`, `[0]`)?
fn is_reference_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b'"' | b'\'' | b'*')
}

/// The longest quoted name `$(params["…"])` looked for.
const MAX_QUOTED_NAME: usize = 512;

/// The byte ranges of `$(<prefix>.name` / `$(<prefix>[` that no `)` closes: none right after
/// the name, and none later on the line.
fn unterminated_ranges(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    // Where the current line's next line starts, and the current line's last `)`.
    let mut line: (usize, Option<usize>) = (0, None);
    while let Some(found) = text[from..].find("$(") {
        let start = from + found;
        from = start + 2;
        let rest = &text[start + 2..];
        let Some(prefix) = REFERENCE_PREFIXES.iter().find(|p| {
            rest.strip_prefix(**p)
                .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
        }) else {
            continue;
        };
        let mut end = start + 2 + prefix.len();
        while end < bytes.len() && is_reference_byte(bytes[end]) {
            // A quoted name in brackets may hold any character but its quote.
            if matches!(bytes[end], b'"' | b'\'') {
                let quote = bytes[end];
                // Names are short: looking further would make many unclosed quotes on one
                // line quadratic.
                let window = &bytes[end + 1..bytes.len().min(end + 1 + MAX_QUOTED_NAME)];
                match window.iter().position(|&b| b == quote) {
                    Some(n) => end += n + 2,
                    None => break,
                }
                continue;
            }
            end += 1;
        }
        // A `)` later on the line may close a name the shell builds
        // (`$(results.part-${i}.path)`), which Tekton leaves alone too: only a reference that
        // nothing on its line closes is reported.
        // Each line's last `)` is looked up once, so many references on one long line stay
        // linear.
        if end >= line.0 {
            let line_end = text[end..].find('\n').map_or(bytes.len(), |n| end + n);
            let last_paren = text[end..line_end].rfind(')').map(|n| end + n);
            line = (line_end + 1, last_paren);
        }
        if bytes.get(end) != Some(&b')') && line.1.is_none_or(|p| p < end) {
            out.push((start, end));
        }
    }
    out
}

/// `$(params.x` without its `)`: Tekton leaves it as text.
fn unterminated(cx: &mut Checker, text: Text) {
    if !text.text.contains("$(") {
        return;
    }
    let ranges = unterminated_ranges(text.text);
    if ranges.is_empty() {
        return;
    }
    let spans = crate::syntax::value_subspans(cx.world.sources, text.span, text.text, &ranges);
    for ((start, end), span) in ranges.into_iter().zip(spans) {
        let written = &text.text[start..end];
        cx.report(
            Diagnostic::new(&UNTERMINATED, format!("`{written}` is not closed"))
                .with_label(span, "no `)` after the name: Tekton leaves this as text")
                .with_help(format!("write `{written})`")),
        );
    }
}

/// `$(inputs.…)`, `$(outputs.…)` in a Task: v1alpha1 forms.
fn legacy_prefix(cx: &mut Checker, r: &Reference, span: Span) {
    let d = if let Some(name) = r.expr.strip_prefix("inputs.params.") {
        Diagnostic::new(
            &LEGACY_PREFIX,
            format!("`{r}` is the v1alpha1 form of `$(params.{name})`"),
        )
        .with_label(
            span,
            "replaced only by a compatibility pattern of the TaskRun reconciler",
        )
        .with_help(format!("write `$(params.{name})`"))
    } else if r.expr.starts_with("inputs.") || r.expr.starts_with("outputs.") {
        Diagnostic::new(&LEGACY_PREFIX, format!("`{r}` refers to a PipelineResource"))
            .with_label(span, "PipelineResources were removed: Tekton leaves this as text")
            .with_help("bind a workspace for files (`$(workspaces.<name>.path)`) and pass values as params or results")
    } else {
        return;
    };
    cx.report(d);
}

/// An artifact reference without `enable-artifacts`: an error where the webhook looks
/// (`rejected`), else a warning (the text stays).
fn artifact(cx: &mut Checker, r: &Reference, span: Span, rejected: bool) {
    if cx.options.enable_artifacts {
        return;
    }
    let help = "check with `--enable-artifacts` if the cluster sets `enable-artifacts: \"true\"` (`--enable-api-fields alpha` does not)";
    let d = if rejected {
        Diagnostic::new(
            &ARTIFACTS,
            format!("`{r}`: feature flag enable-artifacts should be set to true to use artifacts feature."),
        )
        .with_label(span, "rejected without `enable-artifacts`")
    } else {
        Diagnostic::new(&ARTIFACTS, format!("`{r}` needs the artifacts feature"))
            .with_label(
                span,
                "without `enable-artifacts`, Tekton leaves this as text",
            )
            .with_severity(crate::diag::Severity::Warning)
    };
    cx.report(d.with_help(help));
}

fn status_in_pipeline(
    cx: &mut Checker,
    r: &Reference,
    span: Span,
    section: Section,
    dag: &HashSet<&str>,
) {
    match section {
        Section::Tasks => {
            cx.report(
                Diagnostic::new(
                    &EXECUTION_STATUS,
                    "pipeline tasks can not refer to execution status of any other pipeline task or aggregate status of tasks",
                )
                .with_label(span, "only known once the DAG tasks are done")
                .with_help("move this task to `finally`, or depend on a result instead"),
            );
        }
        Section::Finally => {
            let task = match &r.kind {
                RefKind::TaskStatus { task } | RefKind::TaskReason { task } => task,
                _ => return,
            };
            if !dag.contains(task.as_str()) {
                let help = match did_you_mean(task, dag.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => "name a task of `tasks`".to_string(),
                };
                cx.report(
                    Diagnostic::new(
                        &EXECUTION_STATUS,
                        format!("pipeline task `{task}` is not defined in the pipeline's `tasks`"),
                    )
                    .with_label(span, "not a DAG task")
                    .with_help(help),
                );
            }
        }
    }
}
