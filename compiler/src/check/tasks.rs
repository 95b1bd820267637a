//! `onError` and `retries` of steps, pipeline tasks and TaskRuns.

use super::{Checker, pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::{Resource, Spanned, Str};
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
