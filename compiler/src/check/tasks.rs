//! `onError` and `retries` of steps, pipeline tasks and TaskRuns.

use super::{Checker, TaskSite, pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::lower::codes::INVALID_ON_ERROR;
use crate::model::{
    Param, ParamSpec, ParamValue, PipelineSpec, PipelineTask, Resource, Spanned, Str, TaskSpec,
};
use crate::resolve::Resolved;
use crate::source::Span;
use crate::suggest::did_you_mean;

declare_code! {
    /// # An unknown `onError` value
    ///
    /// A step's or pipeline task's `onError` is `continue` (a failure does not stop the Task
    /// or Pipeline) or `stopAndFail` (the default). A value starting with `$(params` is
    /// checked after substitution. Tekton rejects anything else (`Task step onError must be
    /// either "continue" or "stopAndFail"`).
    pub static ON_ERROR = "tkc::tasks::on-error", Error;
}

declare_code! {
    /// # `onError: continue` with retries
    ///
    /// A pipeline task that ignores its failure (`onError: continue`) cannot also be retried:
    /// Tekton rejects the Pipeline (`PipelineTask OnError cannot be set to "continue" when
    /// Retries is greater than 0`). Choose one.
    pub static CONTINUE_WITH_RETRIES = "tkc::tasks::continue-with-retries", Error;
}

declare_code! {
    /// # Negative retries
    ///
    /// `retries` counts extra attempts after a failure; it cannot be negative.
    pub static NEGATIVE_RETRIES = "tkc::tasks::negative-retries", Error;
}

/// This family's codes.
pub const CODES: &[&Code] = &[&ON_ERROR, &CONTINUE_WITH_RETRIES, &NEGATIVE_RETRIES];

const ON_ERROR_VALUES: [&str; 2] = ["continue", "stopAndFail"];

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        for step in &task.spec.steps {
            if let Some(on_error) = &step.on_error {
                on_error_value(cx, on_error, "Task step");
            }
        }
    }
    for pipeline in pipeline_specs(world) {
        for (_, task) in pipeline_tasks(pipeline.spec) {
            if let Some(on_error) = &task.on_error {
                on_error_value(cx, on_error, "PipelineTask");
            }
            negative_retries(cx, task.retries.as_ref());
            if let (Some(on_error), Some(retries)) = (&task.on_error, &task.retries)
                && on_error.value == "continue"
                && retries.value > 0
            {
                cx.report(
                    Diagnostic::new(
                        &CONTINUE_WITH_RETRIES,
                        "PipelineTask OnError cannot be set to \"continue\" when Retries is greater than 0",
                    )
                    .with_label(on_error.span, "failures are ignored")
                    .with_secondary(retries.span, "but retried")
                    .with_help("remove `retries`, or `onError: continue`"),
                );
            }
        }
    }
    for (_, document) in world.checked() {
        if let Resource::TaskRun(run) = &document.resource {
            negative_retries(cx, run.retries.as_ref());
        }
    }
    after_substitution(cx);
}

/// `onError: $(params.x)` is checked by Tekton only after substitution: a pipeline task's
/// when the PipelineRun is reconciled (`validatePipelineSpecAfterApplyParameters` in
/// `pkg/reconciler/pipelinerun/pipelinerun.go` calls `PipelineTask.ValidateOnError`), a
/// step's when its pod is built (`orderContainers` in `pkg/pod/entrypoint.go`). Where tkc
/// knows the value — a run's param, a pipeline task's literal param, else the default — it
/// checks it with lowering's code, `tkc::lower::invalid-on-error`: an error at a run or
/// pipeline task that gives (or leaves) the value, a warning at a Task or Pipeline whose
/// default is invalid (a run may still give another value).
fn after_substitution(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        match task.site {
            TaskSite::Resource => step_on_errors(cx, task.spec, &[], None, Severity::Warning),
            TaskSite::InTaskRun { run } => {
                step_on_errors(cx, task.spec, &run.params, None, Severity::Error)
            }
            TaskSite::InPipeline { task: pt, .. } => {
                step_on_errors(cx, task.spec, &pt.params, None, Severity::Error)
            }
        }
    }
    for pipeline in pipeline_specs(world) {
        let given = pipeline.run.map_or(&[][..], |r| &r.params[..]);
        let severity = if pipeline.run.is_some() {
            Severity::Error
        } else {
            Severity::Warning
        };
        pipeline_on_errors(cx, pipeline.spec, given, None, severity);
        for (_, pt) in pipeline_tasks(pipeline.spec) {
            if pt.task_ref.is_none() {
                continue;
            }
            if let Resolved::Found { spec, .. } = world.resolve_pipeline_task(pt) {
                step_on_errors(cx, spec, &pt.params, Some(pt.name.span), Severity::Error);
            }
        }
    }
    for (_, document) in world.checked() {
        match &document.resource {
            Resource::TaskRun(run) => {
                if let (None, Some(r)) = (&run.task_spec, &run.task_ref)
                    && let Resolved::Found { spec, .. } = world.resolve_task_ref(r)
                {
                    let at = r.name.as_ref().map_or(document.name_span(), |n| n.span);
                    step_on_errors(cx, spec, &run.params, Some(at), Severity::Error);
                }
            }
            Resource::PipelineRun(run) => {
                if let (None, Some(r)) = (&run.pipeline_spec, &run.pipeline_ref)
                    && let Resolved::Found { spec, .. } = world.resolve_pipeline_ref(r)
                {
                    let at = r.name.as_ref().map_or(document.name_span(), |n| n.span);
                    pipeline_on_errors(cx, spec, &run.params, Some(at), Severity::Error);
                }
            }
            _ => {}
        }
    }
}

/// The param an `onError` is exactly a reference to (`$(params.mode)`).
fn param_of(on_error: &str) -> Option<&str> {
    let name = on_error.strip_prefix("$(params.")?.strip_suffix(')')?;
    (!name.is_empty() && !name.contains(['$', '(', ')', '[', ' '])).then_some(name)
}

/// The value a param has where `given` are the values passed: the given literal, else the
/// declared default; `None` when it is not a known literal string.
fn known_value<'a>(
    name: &str,
    given: &'a [Param],
    declared: &'a [ParamSpec],
) -> Option<(&'a str, Span, bool)> {
    let literal = |v: &'a Spanned<ParamValue>| match &v.value {
        ParamValue::String(s) if !s.contains("$(") => Some((s.as_str(), v.span)),
        _ => None,
    };
    if let Some(p) = given.iter().find(|p| p.name.value == name) {
        return p
            .value
            .as_ref()
            .and_then(literal)
            .map(|(v, s)| (v, s, true));
    }
    let decl = declared.iter().find(|d| d.name.value == name)?;
    decl.default
        .as_ref()
        .and_then(literal)
        .map(|(v, s)| (v, s, false))
}

fn step_on_errors(
    cx: &mut Checker,
    spec: &TaskSpec,
    given: &[Param],
    site: Option<Span>,
    severity: Severity,
) {
    for step in &spec.steps {
        let Some(on_error) = &step.on_error else {
            continue;
        };
        let Some(name) = param_of(on_error) else {
            continue;
        };
        let Some((value, from, was_given)) = known_value(name, given, &spec.params) else {
            continue;
        };
        // Tekton's default: an empty value is no onError.
        if ON_ERROR_VALUES.contains(&value) || value.is_empty() {
            continue;
        }
        // A Task's own default is reported once, where the Task is.
        if site.is_some() && !was_given {
            continue;
        }
        report_substituted(
            cx,
            on_error,
            value,
            from,
            site,
            severity,
            was_given,
            "Task step",
        );
    }
}

fn pipeline_on_errors(
    cx: &mut Checker,
    spec: &PipelineSpec,
    given: &[Param],
    site: Option<Span>,
    severity: Severity,
) {
    for (_, pt) in pipeline_tasks(spec) {
        let Some(on_error) = &pt.on_error else {
            continue;
        };
        let Some(name) = param_of(on_error) else {
            continue;
        };
        let Some((value, from, was_given)) = known_value(name, given, &spec.params) else {
            continue;
        };
        if site.is_some() && !was_given {
            continue;
        }
        // An empty value is no onError (`PipelineTask.ValidateOnError` checks a non-empty one).
        if value.is_empty() {
            continue;
        }
        if ON_ERROR_VALUES.contains(&value) {
            continue_with_retries_after(cx, pt, value, from, severity);
            continue;
        }
        report_substituted(
            cx,
            on_error,
            value,
            from,
            site,
            severity,
            was_given,
            "PipelineTask",
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn report_substituted(
    cx: &mut Checker,
    on_error: &Str,
    value: &str,
    from: Span,
    site: Option<Span>,
    severity: Severity,
    was_given: bool,
    what: &str,
) {
    let help = match did_you_mean(value, ON_ERROR_VALUES) {
        Some(s) => format!("give `{s}`: the value must be `continue` or `stopAndFail`"),
        None => "give `continue` or `stopAndFail`".to_string(),
    };
    let message = format!(
        "{what} onError is \"{value}\" after substitution; it must be either \"continue\" or \"stopAndFail\""
    );
    let d = Diagnostic::new(&INVALID_ON_ERROR, message).with_severity(severity);
    let mut d = if was_given {
        d.with_label(from, "the value given")
            .with_secondary(on_error.span, "becomes this onError")
    } else {
        d.with_label(on_error.span, "from a param")
            .with_secondary(from, "the default, used when a run gives none")
    };
    if let Some(site) = site.filter(|_| !was_given) {
        d = d.with_secondary(site, "the run that substitutes it");
    }
    cx.report(d.with_help(help));
}

/// `continue` from a param with `retries`: `ValidateOnError` after substitution.
fn continue_with_retries_after(
    cx: &mut Checker,
    pt: &PipelineTask,
    value: &str,
    from: Span,
    severity: Severity,
) {
    if let Some(retries) = &pt.retries
        && value == "continue"
        && retries.value > 0
    {
        cx.report(
            Diagnostic::new(
                &CONTINUE_WITH_RETRIES,
                "PipelineTask OnError cannot be set to \"continue\" when Retries is greater than 0",
            )
            .with_severity(severity)
            .with_label(from, "`continue` after substitution")
            .with_secondary(retries.span, "but retried")
            .with_help("remove `retries`, or give `stopAndFail`"),
        );
    }
}

fn on_error_value(cx: &mut Checker, value: &Str, what: &str) {
    if ON_ERROR_VALUES.contains(&value.as_str()) || value.starts_with("$(params") {
        return;
    }
    let help = match did_you_mean(value, ON_ERROR_VALUES) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "use `continue` or `stopAndFail`".to_string(),
    };
    cx.report(
        Diagnostic::new(
            &ON_ERROR,
            format!(
                "{what} onError must be either \"continue\" or \"stopAndFail\", not \"{}\"",
                value.value
            ),
        )
        .with_label(value.span, "unknown onError value")
        .with_help(help),
    );
}

fn negative_retries(cx: &mut Checker, retries: Option<&Spanned<i64>>) {
    if let Some(r) = retries
        && r.value < 0
    {
        cx.report(
            Diagnostic::new(
                &NEGATIVE_RETRIES,
                format!("retries is {}, it must be >= 0", r.value),
            )
            .with_label(r.span, "negative")
            .with_help("use 0 (no retry) or a positive count"),
        );
    }
}
