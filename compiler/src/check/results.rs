//! Results: task results written through `$(results.R.path)`, step results, task result
//! references between pipeline tasks (declared, of a type that fits the use), finally rules,
//! and pipeline results.

use super::scope::{
    PipelineIndex, Shape, Slot, is_whole_selector, pipeline_task_strings, selector_problem,
    sole_reference, step_result_shape, task_result_shape,
};
use super::{
    Checker, Container, Field, Section, TaskCx, Text, param_value_texts, pipeline_specs,
    pipeline_tasks, refs, task_specs, task_strings,
};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::model::{
    ParamValue, PipelineSpec, Properties, Resource, Step, StepResult, Str, TaskSpec,
};
use crate::resolve::{Resolved, World};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::vars::{RefKind, Reference, Selector};
use std::collections::HashMap;

declare_code! {
    /// # A result path for a result that is not declared
    ///
    /// `$(results.<name>.path)` is the file a step writes a Task result to; the Task must
    /// declare the result under `results`. In a step's `script` Tekton's validating webhook
    /// rejects the Task (`non-existent variable`, `validateTaskResultsVariables` in
    /// `pkg/apis/pipeline/v1/task_validation.go`). Elsewhere (`args`, `env`, ...) no function
    /// checks it: the text stays as written and the step fails when it runs, so that is a
    /// **warning** of this code. `$(step.results.<name>.path)` likewise needs the step to
    /// declare the result under its own `results`.
    ///
    /// ## Example
    /// ```yaml
    /// results:
    ///   - name: digest
    /// steps:
    ///   - script: echo -n "$DIGEST" > $(results.digets.path)
    /// ```
    pub static UNDECLARED = "tkc::results::undeclared", Error;
}

declare_code! {
    /// # A Task result `value` that is not a step result reference
    ///
    /// A Task result may take its value from a step result: `value: $(steps.<step>.results.<result>)`,
    /// nothing else. Tekton rejects other values.
    ///
    /// ## Example
    /// ```yaml
    /// results:
    ///   - name: digest
    ///     value: $(steps.build.results.digest)
    /// ```
    pub static INVALID_VALUE = "tkc::results::invalid-value", Error;
}

declare_code! {
    /// # A step result reference where Tekton does not replace it
    ///
    /// `$(steps.<step>.results.<result>)` is replaced by the entrypoint when the step starts,
    /// only in `env`, `command` and `args` (and a step's `when` and StepAction `params`).
    /// Elsewhere Tekton rejects the Task: `stepResult substitutions are only allowed in env,
    /// command and args`. In a script, read it from an env var.
    ///
    /// ## Example
    /// ```yaml
    /// - name: push
    ///   env:
    ///     - name: DIGEST
    ///       value: $(steps.build.results.digest)
    ///   script: echo "$DIGEST"
    /// ```
    pub static STEP_RESULT_FIELD = "tkc::results::step-result-field", Error;
}

declare_code! {
    /// # A reference to a step result that no earlier step declares
    ///
    /// `$(steps.<step>.results.<result>)` needs a step of that name before the current one
    /// (steps run in order) that declares the result in its `results` (or whose StepAction
    /// does).
    ///
    /// A **warning**: no webhook or reconciler function resolves these references. The
    /// entrypoint replaces them when the step starts (stage: step run:
    /// `Entrypointer.applyStepResultSubstitutions` and `loadStepResult` in
    /// `pkg/entrypoint/entrypointer.go`), and only then does the step fail, reading a result
    /// file no earlier step wrote.
    pub static UNKNOWN_STEP_RESULT = "tkc::results::unknown-step-result", Warning;
}

declare_code! {
    /// # A reference to a result the task does not declare
    ///
    /// `$(tasks.<task>.results.<result>)` needs the Task that pipeline task runs to declare
    /// the result. Tekton fails the run before it starts the consumer
    /// (`InvalidTaskResultReference`: `"<result>" is not a named result returned by pipeline
    /// task "<task>"`).
    ///
    /// ## Example
    /// ```yaml
    /// - name: deploy
    ///   params:
    ///     - name: image
    ///       value: $(tasks.build.results.IMAGE_DIGEST)   # build's Task declares IMAGE-DIGEST
    /// ```
    pub static UNKNOWN_TASK_RESULT = "tkc::results::unknown-task-result", Error, reason = "InvalidTaskResultReference";
}

declare_code! {
    /// # A result used in a way its type does not allow
    ///
    /// `[N]` indexes an array result, `.key` reads a declared key of an object result, and a
    /// whole array or object (`$(tasks.t.results.r)`, `...[*]`) can only be the entire value
    /// of a param (Tekton retypes it), an item of its own in an array, or a `when` value;
    /// inside a longer string there is no text for it. A matrixed task's results are arrays
    /// (one item per run).
    ///
    /// An index or key that does not fit the result's type (`[0]` on a string result, `.key`
    /// on an array) is only a warning: Tekton's reconciler checks that the result exists
    /// (`validateResultRef`), not how it is selected, and its substitution
    /// (`ApplyTaskResults`) leaves such a reference in place as text (stage: step run).
    pub static WRONG_SELECTOR = "tkc::results::wrong-selector", Error, reason = "InvalidTaskResultReference";
}

declare_code! {
    /// # A finally task uses a result of another finally task
    ///
    /// Finally tasks run together, so one cannot wait for another's result. Tekton rejects
    /// the Pipeline (`invalid task result reference, final task has task result reference from
    /// a final task`). Finally tasks may use results of `tasks`.
    pub static FINALLY_RESULT_REF = "tkc::results::finally-result-ref", Error, reason = "PipelineValidationFailed";
}

declare_code! {
    /// # A result of a pipeline task that runs a Pipeline
    ///
    /// A pipeline task with `pipelineRef` or `pipelineSpec` (alpha) runs a child
    /// PipelineRun, whose results Tekton does not pass back: its validating webhook rejects
    /// any `$(tasks.<task>.results.<result>)` of such a task in `tasks` or `finally`
    /// (`validatePipelineRefResultReferencesDisallowed` in
    /// `pkg/apis/pipeline/v1/pipeline_validation.go`: `result reference to pipelineTask "<task>"
    /// is not supported`). The child's own pipeline results are in its run's summary
    /// (`tkc run`: the task's `pipelineRun`). Pass values into a child Pipeline through the
    /// pipeline task's `params`.
    ///
    /// ## Example
    /// ```yaml
    /// - name: scans
    ///   pipelineRef:
    ///     name: security-scans
    /// - name: report
    ///   params:
    ///     - name: score
    ///       value: $(tasks.scans.results.score)   # rejected
    /// ```
    pub static CHILD_PIPELINE_RESULT = "tkc::results::child-pipeline-result", Error;
}

declare_code! {
    /// # A pipeline result that cannot be computed
    ///
    /// A pipeline result's value is built from task results: it needs at least one
    /// `$(tasks.<task>.results.<result>)` (or `$(finally.<task>.results.<result>)` for a finally
    /// task), every reference must be a task result of a task in that section which declares
    /// it (a whole array or object result is `$(tasks.t.results.r[*])`, the entire value).
    /// Tekton rejects the Pipeline, or fails the run when the results are collected. The
    /// declared `type` is not compared with the value: no Tekton function does.
    pub static PIPELINE_RESULT = "tkc::results::pipeline-result", Error, reason = "InvalidPipelineResultReference";
}

declare_code! {
    /// # A result declaration Tekton rejects
    ///
    /// A result's `type` is `string`, `array` or `object`; an object result must declare its
    /// keys under `properties`, each of type `string`. (Result names are checked by
    /// `tkc::names::invalid-name`.)
    pub static INVALID_DECLARATION = "tkc::results::invalid-declaration", Error;
}

/// This family's codes.
pub const CODES: &[&crate::diag::Code] = &[
    &UNDECLARED,
    &INVALID_VALUE,
    &STEP_RESULT_FIELD,
    &UNKNOWN_STEP_RESULT,
    &UNKNOWN_TASK_RESULT,
    &WRONG_SELECTOR,
    &FINALLY_RESULT_REF,
    &CHILD_PIPELINE_RESULT,
    &PIPELINE_RESULT,
    &INVALID_DECLARATION,
];

const TYPES: [&str; 3] = ["string", "array", "object"];

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        task_declarations(cx, task.spec);
        task_uses(cx, &task);
    }
    for (_, document) in world.checked() {
        if let Resource::StepAction(spec) = &document.resource {
            for r in &spec.results {
                declaration(cx, &r.name, r.r#type.as_ref(), r.properties.as_ref(), true);
            }
        }
    }
    for pipeline in pipeline_specs(world) {
        pipeline_uses(cx, pipeline.spec);
        pipeline_results(cx, pipeline.spec);
    }
}

/// Is this a name Tekton's patterns can match? Text built by the shell
/// (`$(results.digest-${i}.path)`) is left alone by Tekton, and by tkc.
fn is_static_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A result declaration; `keyed` for task and step results, whose object type needs
/// `properties` (pipeline results have none).
fn declaration(
    cx: &mut Checker,
    name: &Str,
    ty: Option<&Str>,
    properties: Option<&Properties>,
    keyed: bool,
) {
    if let Some(t) = ty
        && !t.is_empty()
        && !TYPES.contains(&t.as_str())
    {
        let help = did_you_mean(t, TYPES)
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| "a result is a `string`, an `array` or an `object`".into());
        cx.report(
            Diagnostic::new(
                &INVALID_DECLARATION,
                format!("result `{}` has an unknown type `{}`", name.value, t.value),
            )
            .with_label(t.span, "not string, array or object")
            .with_help(help),
        );
        return;
    }
    if let Some(t) = ty
        && t.as_str() == "object"
        && keyed
        && properties.is_none()
    {
        cx.report(
            Diagnostic::new(
                &INVALID_DECLARATION,
                format!("object result `{}` does not declare its keys", name.value),
            )
            .with_label(t.span, "an object result needs `properties`")
            .with_help("declare the keys:\n  properties:\n    <key>: {type: string}"),
        );
    }
    for (key, spec) in properties.iter().flat_map(|p| &p.0) {
        if let Some(t) = &spec.r#type
            && t.as_str() != "string"
        {
            cx.report(
                Diagnostic::new(
                    &INVALID_DECLARATION,
                    format!(
                        "key `{}` of result `{}` has type `{}`",
                        key.value, name.value, t.value
                    ),
                )
                .with_label(t.span, "object keys hold strings")
                .with_help("write `type: string`, or leave `type` out"),
            );
        }
    }
}

fn task_declarations(cx: &mut Checker, spec: &TaskSpec) {
    for r in &spec.results {
        declaration(cx, &r.name, r.r#type.as_ref(), r.properties.as_ref(), true);
        if let Some(value) = &r.value {
            let ok = match &value.value {
                ParamValue::String(s) => sole_reference(s).is_some_and(|r| {
                    matches!(
                        r.kind,
                        RefKind::StepResult {
                            selector: Selector::Whole,
                            ..
                        }
                    )
                }),
                _ => false,
            };
            if !ok {
                cx.report(
                    Diagnostic::new(
                        &INVALID_VALUE,
                        format!("result `{}` has a value that is not a step result", r.name.value),
                    )
                    .with_label(value.span, "not `$(steps.<step>.results.<result>)`")
                    .with_help(format!(
                        "write `value: $(steps.<step>.results.{})`, or leave `value` out and write the result to `$(results.{}.path)`",
                        r.name.value, r.name.value
                    )),
                );
            }
        }
    }
    for step in &spec.steps {
        for r in &step.results {
            declaration(cx, &r.name, r.r#type.as_ref(), r.properties.as_ref(), true);
        }
    }
}

/// The results a step declares: its own, or its StepAction's. `None` when not known (a
/// StepAction fetched by a resolver or not found).
pub fn step_results<'w>(world: &'w World, step: &'w Step) -> Option<&'w [StepResult]> {
    match &step.r#ref {
        None => Some(&step.results),
        Some(r) => match world.resolve_step_ref(r) {
            Resolved::Found { spec, .. } => Some(&spec.results),
            _ => None,
        },
    }
}

fn task_uses(cx: &mut Checker, task: &TaskCx) {
    let world = cx.world;
    let spec = task.spec;
    let results: HashMap<&str, &crate::model::TaskResult> =
        spec.results.iter().map(|r| (r.name.as_str(), r)).collect();
    let steps: HashMap<&str, usize> = spec
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.name.as_ref().map(|n| (n.as_str(), i)))
        .collect();
    for s in task_strings(spec) {
        for (r, span) in &refs(world, s.text) {
            match &r.kind {
                RefKind::ResultPath { result }
                    if is_static_name(result) && !results.contains_key(result.as_str()) =>
                {
                    let d =
                        Diagnostic::new(&UNDECLARED, format!("result `{result}` is not declared"))
                            .with_label(span, "no such result in this Task");
                    let d = match did_you_mean(result, results.keys().copied()) {
                        Some(c) => d
                            .with_secondary(
                                results.get(c).map_or(span, |w| w.name.span),
                                format!("`{c}` is declared here"),
                            )
                            .with_help(format!("did you mean `$(results.{c}.path)`?")),
                        None => d.with_help(format!(
                            "declare it in the Task's results:\n  results:\n    - name: {result}"
                        )),
                    };
                    // `validateTaskResultsVariables` reads the steps' scripts only; elsewhere
                    // the unknown reference stays text.
                    let in_script =
                        matches!(s.container, Container::Step(_)) && s.field == Field::Script;
                    cx.report(if in_script {
                        d
                    } else {
                        d.with_severity(crate::diag::Severity::Warning)
                    });
                }
                RefKind::StepResultPath { result } => {
                    let Container::Step(i) = s.container else {
                        continue;
                    };
                    let Some(step) = spec.steps.get(i) else {
                        continue;
                    };
                    let Some(declared) = step_results(world, step) else {
                        continue;
                    };
                    if is_static_name(result) && !declared.iter().any(|d| d.name.as_str() == result)
                    {
                        let d = Diagnostic::new(
                            &UNDECLARED,
                            format!("this step declares no result `{result}`"),
                        )
                        .with_label(span, "not one of the step's results");
                        let d = match did_you_mean(result, declared.iter().map(|d| d.name.as_str())) {
                            Some(c) => d.with_help(format!("did you mean `$(step.results.{c}.path)`?")),
                            None => d.with_help(format!(
                                "declare it in the step's results:\n  results:\n    - name: {result}"
                            )),
                        };
                        cx.report(d);
                    }
                }
                RefKind::StepResult { step, result, .. }
                    if is_static_name(step) && is_static_name(result) =>
                {
                    let allowed = matches!(
                        s.field,
                        Field::EnvValue
                            | Field::Command
                            | Field::Args
                            | Field::When
                            | Field::StepParam
                            | Field::ResultValue
                    ) && matches!(s.container, Container::Step(_) | Container::Task);
                    if !allowed {
                        cx.report(
                            Diagnostic::new(
                                &STEP_RESULT_FIELD,
                                format!(
                                    "stepResult substitutions are only allowed in env, command and args; found in {}",
                                    s.field.as_str()
                                ),
                            )
                            .with_label(span, "not replaced here")
                            .with_help(format!(
                                "read it through an env var:\n  env:\n    - name: {}\n      value: $(steps.{step}.results.{result})\nand use \"${}\"",
                                env_name(result),
                                env_name(result)
                            )),
                        );
                        continue;
                    }
                    let before = match s.container {
                        Container::Step(i) => i,
                        _ => spec.steps.len(),
                    };
                    let Some(&j) = steps.get(step.as_str()).filter(|&&j| j < before) else {
                        let earlier = spec.steps[..before.min(spec.steps.len())]
                            .iter()
                            .filter_map(|s| s.name.as_ref().map(|n| n.as_str()));
                        let d = Diagnostic::new(
                            &UNKNOWN_STEP_RESULT,
                            format!("there is no step `{step}` before this one"),
                        )
                        .with_label(span, "unknown step");
                        let d = match (steps.get(step.as_str()), did_you_mean(step, earlier)) {
                            (Some(_), _) => d.with_help(format!(
                                "step `{step}` runs later; a step can only use results of the steps before it"
                            )),
                            (None, Some(c)) => d.with_help(format!("did you mean `{c}`?")),
                            (None, None) => d.with_help("name the step that writes the result"),
                        };
                        cx.report(d);
                        continue;
                    };
                    let Some(producer) = spec.steps.get(j) else {
                        continue;
                    };
                    let Some(declared) = step_results(world, producer) else {
                        continue;
                    };
                    match declared.iter().find(|d| d.name.as_str() == result) {
                        None => {
                            let mut d = Diagnostic::new(
                                &UNKNOWN_STEP_RESULT,
                                format!("step `{step}` declares no result `{result}`"),
                            )
                            .with_label(span, "not a result of that step");
                            if let Some(n) = &producer.name {
                                d = d.with_secondary(n.span, format!("step `{step}`"));
                            }
                            d = match did_you_mean(result, declared.iter().map(|d| d.name.as_str()))
                            {
                                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                                None => d.with_help(format!(
                                    "declare `{result}` in the results of step `{step}`"
                                )),
                            };
                            cx.report(d);
                        }
                        Some(decl) => {
                            let slot = match s.field {
                                Field::Command | Field::Args | Field::When => Slot::ArrayItem,
                                Field::StepParam | Field::ResultValue => Slot::Value,
                                _ => Slot::String,
                            };
                            check_selector(
                                cx,
                                r,
                                s.text,
                                span,
                                slot,
                                &step_result_shape(decl),
                                decl.name.span,
                                &format!("step `{step}`"),
                                result,
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn env_name(result: &str) -> String {
    result
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Checks the selector and whole-value use of a result reference against its shape.
#[allow(clippy::too_many_arguments)]
fn check_selector(
    cx: &mut Checker,
    r: &Reference,
    text: Text,
    span: Span,
    slot: Slot,
    shape: &Shape,
    decl: Span,
    producer: &str,
    result: &str,
) {
    let selector = match &r.kind {
        RefKind::TaskResult { selector, .. } | RefKind::StepResult { selector, .. } => selector,
        _ => return,
    };
    let ty = shape.type_name();
    // An index or key that does not fit the result's type is no error in Tekton: no
    // reconciler function compares them (`validateResultRef` only looks for the result's
    // name), and the substitution passes (`ApplyTaskResults`) replace only the forms of the
    // result's own type, leaving this text in place.
    let literal = selector_problem(shape, selector).is_some();
    let problem: Option<(String, String)> = if let Some(p) = selector_problem(shape, selector) {
        Some((
            p.to_string(),
            match shape {
                Shape::String => "use the result as a whole, without a selector".into(),
                Shape::Array(_) => "use `[N]` for one item or `[*]` for all".into(),
                _ => "use `.<key>` for one key".into(),
            },
        ))
    } else {
        match (shape, selector) {
            (Shape::Object(Some(keys)), Selector::Key(k)) if !keys.contains(&k.as_str()) => Some((
                format!("`{k}` is not a declared key"),
                match did_you_mean(k, keys.iter().copied()) {
                    Some(c) => format!("did you mean `.{c}`?"),
                    None => format!("declared keys: {}", keys.join(", ")),
                },
            )),
            (Shape::Array(_) | Shape::Object(_), s) if is_whole_selector(s) => {
                let whole = r.is_whole(text.text);
                match slot {
                    Slot::Value if whole => None,
                    Slot::ArrayItem if whole && matches!(shape, Shape::Array(_)) => None,
                    _ => Some((
                        format!("a whole {ty} inside a string"),
                        format!(
                            "make the reference the entire value, or use {}",
                            if matches!(shape, Shape::Array(_)) {
                                "one item, `[0]`"
                            } else {
                                "one key, `.<key>`"
                            }
                        ),
                    )),
                }
            }
            _ => None,
        }
    };
    if let Some((label, help)) = problem {
        let (message, severity) = if literal {
            (
                format!(
                    "`{r}` does not fit {ty} result `{result}` of {producer}; Tekton leaves it as text"
                ),
                crate::diag::Severity::Warning,
            )
        } else {
            (
                format!("`{r}` does not fit {ty} result `{result}` of {producer}"),
                crate::diag::Severity::Error,
            )
        };
        cx.report(
            Diagnostic::new(&WRONG_SELECTOR, message)
                .with_severity(severity)
                .with_label(span, label)
                .with_secondary(
                    decl,
                    format!(
                        "`{result}` is {} {ty}",
                        if ty.starts_with(['a', 'o']) {
                            "an"
                        } else {
                            "a"
                        }
                    ),
                )
                .with_help(help),
        );
    }
}

fn pipeline_uses(cx: &mut Checker, spec: &PipelineSpec) {
    let world = cx.world;
    let index = PipelineIndex::new(spec);
    for (section, pt) in pipeline_tasks(spec) {
        let mut texts: Vec<(Text, Slot)> = pipeline_task_strings(pt)
            .into_iter()
            .map(|s| {
                // A whole array in a `when` input is compared as its JSON text.
                let slot = match s.field {
                    super::scope::PtField::WhenInput => Slot::Value,
                    _ => s.slot,
                };
                (s.text, slot)
            })
            .collect();
        if let Some(embedded) = &pt.task_spec {
            texts.extend(task_strings(&embedded.task).into_iter().map(|s| {
                let slot = match s.field {
                    Field::Command | Field::Args | Field::When => Slot::ArrayItem,
                    Field::StepParam => Slot::Value,
                    _ => Slot::String,
                };
                (s.text, slot)
            }));
        }
        for (text, slot) in texts {
            for (r, span) in &refs(world, text) {
                let RefKind::TaskResult {
                    task: producer,
                    result,
                    finally: false,
                    ..
                } = &r.kind
                else {
                    continue;
                };
                if !is_static_name(result) {
                    continue;
                }
                // Unknown tasks and DAG tasks using finally results are the `dag` family's.
                let Some((producer_section, producer_task)) = index.get(producer) else {
                    continue;
                };
                if producer_section == Section::Tasks
                    && (producer_task.pipeline_ref.is_some()
                        || producer_task.pipeline_spec.is_some())
                {
                    cx.report(
                        Diagnostic::new(
                            &CHILD_PIPELINE_RESULT,
                            format!(
                                "result reference to pipelineTask \"{producer}\" is not supported: referenced task uses pipelineRef or pipelineSpec and result propagation from child Pipelines is not yet implemented"
                            ),
                        )
                        .with_label(span, "a result of a child pipeline")
                        .with_secondary(producer_task.name.span, format!("`{producer}` runs a Pipeline"))
                        .with_help("Tekton passes no results back from a child Pipeline; compute the value in a task of this Pipeline"),
                    );
                    continue;
                }
                if producer_section == Section::Finally {
                    if section == Section::Finally {
                        cx.report(
                            Diagnostic::new(
                                &FINALLY_RESULT_REF,
                                format!(
                                    "invalid task result reference, final task has task result reference from a final task `{producer}`"
                                ),
                            )
                            .with_label(span, "a result of a finally task")
                            .with_secondary(producer_task.name.span, format!("`{producer}` is a finally task"))
                            .with_help("finally tasks run together; use results of tasks in `tasks`"),
                        );
                    }
                    continue;
                }
                let Resolved::Found {
                    spec: producer_spec,
                    doc,
                } = world.resolve_pipeline_task(producer_task)
                else {
                    continue;
                };
                let Some(decl) = producer_spec
                    .results
                    .iter()
                    .find(|d| d.name.as_str() == result)
                else {
                    let what = match doc {
                        Some(doc) => super::describe(world.doc(doc)),
                        None => "its inline task".to_string(),
                    };
                    let names = producer_spec.results.iter().map(|d| d.name.as_str());
                    let d = Diagnostic::new(
                        &UNKNOWN_TASK_RESULT,
                        format!("\"{result}\" is not a named result returned by pipeline task \"{producer}\""),
                    )
                    .with_label(span, "undeclared result")
                    .with_secondary(producer_task.name.span, format!("`{producer}` runs {what}"));
                    let d = if producer_spec.results.is_empty() {
                        d.with_help(format!(
                            "{what} declares no results; declare `{result}` in its `results`"
                        ))
                    } else {
                        match did_you_mean(result, names) {
                            Some(c) => d.with_help(format!("did you mean `{c}`?")),
                            None => d.with_help(format!(
                                "{what} declares {}",
                                producer_spec
                                    .results
                                    .iter()
                                    .map(|d| format!("`{}`", d.name.value))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )),
                        }
                    };
                    cx.report(d);
                    continue;
                };
                let shape = if producer_task.is_matrixed() {
                    Shape::Array(None)
                } else {
                    task_result_shape(decl)
                };
                check_selector(
                    cx,
                    r,
                    text,
                    span,
                    slot,
                    &shape,
                    decl.name.span,
                    &format!("pipeline task `{producer}`"),
                    result,
                );
            }
        }
    }
}

/// Tekton's `taskContainsResult` (pipeline_validation.go), the part that does not look at
/// task names: the value is split at every `$`, and each non-empty piece, with `$(` and `)`
/// trimmed, must parse as `tasks|finally.<task>.results.<result>[.<key>]`
/// (`resultref.ParseTaskExpression`). So text before the first reference is refused, and
/// text after one only if it has dots. The first piece that does not parse.
fn unparsable_piece(value: &str) -> Option<String> {
    value
        .split('$')
        .filter(|p| !p.is_empty())
        .find_map(|piece| {
            let expr = format!("${piece}");
            let inner = expr.strip_prefix("$(").unwrap_or(&expr);
            let inner = inner.strip_suffix(')').unwrap_or(inner);
            let parts: Vec<&str> = inner.split('.').collect();
            let parses = matches!(parts.len(), 4 | 5)
                && matches!(parts[0], "tasks" | "finally")
                && parts[2] == "results";
            (!parses).then(|| expr.clone())
        })
}

fn pipeline_results(cx: &mut Checker, spec: &PipelineSpec) {
    let world = cx.world;
    let index = PipelineIndex::new(spec);
    for pr in &spec.results {
        declaration(cx, &pr.name, pr.r#type.as_ref(), None, false);
        let Some(value) = &pr.value else { continue };
        let texts = param_value_texts(value);
        let mut found = 0;
        let mut others = 0;
        for text in &texts {
            for (r, span) in &refs(world, *text) {
                if r.kind == RefKind::Unknown {
                    continue;
                }
                let RefKind::TaskResult {
                    task: producer,
                    result,
                    finally,
                    ..
                } = &r.kind
                else {
                    others += 1;
                    cx.report(
                        Diagnostic::new(
                            &PIPELINE_RESULT,
                            format!("pipeline result `{}` uses `{r}`", pr.name.value),
                        )
                        .with_label(span, "not a task result")
                        .with_help("a pipeline result is built from task results only; pass other values through a task result"),
                    );
                    continue;
                };
                found += 1;
                let want = if *finally {
                    Section::Finally
                } else {
                    Section::Tasks
                };
                let Some((_, producer_task)) = index.get(producer).filter(|(s, _)| *s == want)
                else {
                    let names = pipeline_tasks(spec)
                        .filter(|(s, _)| *s == want)
                        .map(|(_, t)| t.name.as_str());
                    let help = match (index.get(producer), did_you_mean(producer, names)) {
                        (Some((Section::Finally, _)), _) => format!(
                            "`{producer}` is a finally task: write `$(finally.{producer}.results.{result})`"
                        ),
                        (Some((Section::Tasks, _)), _) => format!(
                            "`{producer}` is in `tasks`: write `$(tasks.{producer}.results.{result})`"
                        ),
                        (None, Some(c)) => format!("did you mean `{c}`?"),
                        (None, None) => "name a task of the pipeline".to_string(),
                    };
                    cx.report(
                        Diagnostic::new(
                            &PIPELINE_RESULT,
                            format!(
                                "pipeline result `{}` references a nonexistent task `{producer}` in `{}`",
                                pr.name.value,
                                want.as_str()
                            ),
                        )
                        .with_label(span, "no such task in that section")
                        .with_help(help),
                    );
                    continue;
                };
                let Resolved::Found {
                    spec: producer_spec,
                    ..
                } = world.resolve_pipeline_task(producer_task)
                else {
                    continue;
                };
                let Some(decl) = producer_spec
                    .results
                    .iter()
                    .find(|d| d.name.as_str() == result)
                else {
                    let help = match did_you_mean(
                        result,
                        producer_spec.results.iter().map(|d| d.name.as_str()),
                    ) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => format!(
                            "declare `{result}` in the results of the Task `{producer}` runs"
                        ),
                    };
                    cx.report(
                        Diagnostic::new(
                            &PIPELINE_RESULT,
                            format!("\"{result}\" is not a named result returned by pipeline task \"{producer}\""),
                        )
                        .with_label(span, "undeclared result")
                        .with_secondary(producer_task.name.span, format!("`{producer}` is here"))
                        .with_help(help),
                    );
                    continue;
                };
                let shape = if producer_task.is_matrixed() {
                    Shape::Array(None)
                } else {
                    task_result_shape(decl)
                };
                let slot = match value.value {
                    ParamValue::String(_) => Slot::Value,
                    ParamValue::Array(_) => Slot::ArrayItem,
                    ParamValue::Object(_) => Slot::String,
                };
                check_selector(
                    cx,
                    r,
                    *text,
                    span,
                    slot,
                    &shape,
                    decl.name.span,
                    &format!("pipeline task `{producer}`"),
                    result,
                );
            }
        }
        if found == 0 {
            if others > 0 {
                continue;
            }
            cx.report(
                Diagnostic::new(
                    &PIPELINE_RESULT,
                    format!("pipeline result `{}` uses no task result", pr.name.value),
                )
                .with_label(value.span, "no `$(tasks.<task>.results.<result>)` here")
                .with_help("expected pipeline results to be task result expressions; write `value: $(tasks.<task>.results.<result>)`"),
            );
            continue;
        }
        if let ParamValue::String(text) = &value.value
            && let Some(piece) = unparsable_piece(text)
        {
            cx.report(
                Diagnostic::new(
                    &PIPELINE_RESULT,
                    format!(
                        "pipeline result `{}`: invalid value: referencing a nonexistent task",
                        pr.name.value
                    ),
                )
                .with_label(value.span, format!("Tekton cannot read `{piece}` as a task result reference"))
                .with_help("Tekton splits the value at each `$` and reads every piece as a result reference: text may follow a reference (without dots), but not come before the first one; build the text in a task result instead"),
            );
        }
        // The declared `type` is not compared with the value: Tekton validates neither
        // (`validatePipelineResults`) and emits the value's own type when the run ends.
    }
}
