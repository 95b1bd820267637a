//! TaskRuns and PipelineRuns: `status` and `statusMessage`, `computeResources` beside
//! `stepSpecs`, the names in `stepSpecs`, `sidecarSpecs` and `taskRunSpecs`, and v1beta1's
//! `timeout` beside `timeouts`.

use super::{Checker, pipeline_tasks};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::{
    Object, PipelineRunSpec, PipelineSpec, PipelineTask, Resource, Str, TaskRunStepSpec, TaskSpec,
};
use crate::resolve::Resolved;
use crate::source::Span;
use crate::suggest::did_you_mean;
use std::collections::HashMap;

declare_code! {
    /// # An unknown run status
    ///
    /// A TaskRun's `spec.status` is empty, `TaskRunCancelled` or `TaskRunPending`; a
    /// PipelineRun's is empty, `Cancelled`, `CancelledRunFinally`, `StoppedRunFinally` or
    /// `PipelineRunPending`. Tekton rejects anything else.
    pub static INVALID_STATUS = "tkc::runs::invalid-status", Error;
}

declare_code! {
    /// # `stepSpecs` or `sidecarSpecs` naming no step or sidecar
    ///
    /// Each entry overrides the resources of the step (or sidecar) of that name in the Task
    /// being run. Tekton fails the run if the Task has no such step
    /// (`invalid StepOverride: No Step named <n>`).
    pub static UNKNOWN_STEP_SPEC = "tkc::runs::unknown-step-spec", Error, reason = "TaskRunValidationFailed";
}

declare_code! {
    /// # `taskRunSpecs` naming no pipeline task
    ///
    /// Each `taskRunSpecs` entry configures the TaskRun of the pipeline task named by
    /// `pipelineTaskName`. Tekton fails the PipelineRun if the Pipeline has no such task.
    pub static UNKNOWN_PIPELINE_TASK = "tkc::runs::unknown-pipeline-task", Error, reason = "InvalidTaskRunSpecs";
}

declare_code! {
    /// # `statusMessage` without `status`
    ///
    /// **Stage:** admission (`TaskRunSpec.Validate`, `pkg/apis/pipeline/v1/taskrun_validation.go`).
    ///
    /// A TaskRun's `statusMessage` explains its `status` (`TaskRunCancelled`,
    /// `TaskRunPending`); without a status Tekton rejects it (`statusMessage should not be set
    /// if status is not set`).
    ///
    /// ## Example
    /// ```yaml
    /// spec:
    ///   statusMessage: waiting for approval
    /// ```
    /// Add `status: TaskRunPending`, or remove the message.
    pub static STATUS_MESSAGE = "tkc::runs::status-message", Error;
}

declare_code! {
    /// # `computeResources` together with per-step resources
    ///
    /// **Stage:** admission (`validateTaskRunComputeResources`, called by
    /// `TaskRunSpec.Validate` and, for each `taskRunSpecs` entry of a PipelineRun, by
    /// `validateTaskRunSpec`).
    ///
    /// A run's `computeResources` are the Task's, split across its steps; `stepSpecs` set one
    /// step's. Tekton rejects a run that has both `computeResources` and a `stepSpecs` entry
    /// with `computeResources` (`expected exactly one, got both: computeResources,
    /// stepSpecs.resources`).
    ///
    /// ## Example
    /// ```yaml
    /// spec:
    ///   computeResources:
    ///     requests: {memory: 1Gi}
    ///   stepSpecs:
    ///     - name: build
    ///       computeResources:
    ///         requests: {memory: 512Mi}
    /// ```
    /// Keep one of them.
    pub static COMPUTE_RESOURCES = "tkc::runs::compute-resources", Error;
}

declare_code! {
    /// # v1beta1 `timeout` together with `timeouts`
    ///
    /// **Stage:** admission (`PipelineRunSpec.Validate`,
    /// `pkg/apis/pipeline/v1beta1/pipelinerun_validation.go`).
    ///
    /// A v1beta1 PipelineRun's deprecated `timeout` is the `timeouts.pipeline` of v1. Tekton
    /// rejects a PipelineRun that sets both (`must not set the field(s): timeout, timeouts`).
    ///
    /// ## Example
    /// ```yaml
    /// apiVersion: tekton.dev/v1beta1
    /// kind: PipelineRun
    /// spec:
    ///   timeout: 1h
    ///   timeouts:
    ///     tasks: 30m
    /// ```
    /// Move the value to `timeouts.pipeline`.
    pub static TIMEOUT_AND_TIMEOUTS = "tkc::runs::timeout-and-timeouts", Error;
}

/// This family's codes.
pub const CODES: &[&Code] = &[
    &INVALID_STATUS,
    &UNKNOWN_STEP_SPEC,
    &UNKNOWN_PIPELINE_TASK,
    &STATUS_MESSAGE,
    &COMPUTE_RESOURCES,
    &TIMEOUT_AND_TIMEOUTS,
];

const TASK_RUN_STATUSES: [&str; 2] = ["TaskRunCancelled", "TaskRunPending"];
const PIPELINE_RUN_STATUSES: [&str; 4] = [
    "Cancelled",
    "CancelledRunFinally",
    "StoppedRunFinally",
    "PipelineRunPending",
];

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for (_, document) in world.checked() {
        match &document.resource {
            Resource::TaskRun(run) => {
                status(cx, run.status.as_ref(), &TASK_RUN_STATUSES, "TaskRun");
                status_message(cx, run.status.as_ref(), run.status_message.as_ref());
                compute_resources(cx, run.compute_resources.as_deref(), &run.step_specs);
                let spec: Option<&TaskSpec> = match (&run.task_spec, &run.task_ref) {
                    (Some(spec), _) => Some(spec),
                    (None, Some(r)) => world.resolve_task_ref(r).spec(),
                    _ => None,
                };
                if let Some(spec) = spec {
                    step_specs(cx, spec, &run.step_specs, &run.sidecar_specs);
                }
            }
            Resource::PipelineRun(run) => {
                status(
                    cx,
                    run.status.as_ref(),
                    &PIPELINE_RUN_STATUSES,
                    "PipelineRun",
                );
                task_run_specs(cx, run);
                for entry in &run.task_run_specs {
                    compute_resources(cx, entry.compute_resources.as_deref(), &entry.step_specs);
                }
            }
            _ => {}
        }
    }
}

fn status(cx: &mut Checker, status: Option<&Str>, valid: &[&str], kind: &str) {
    let Some(status) = status else {
        return;
    };
    if status.is_empty() || valid.contains(&status.as_str()) {
        return;
    }
    let list: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
    let by_suffix = valid
        .iter()
        .find(|v| v.to_lowercase().ends_with(&status.to_lowercase()))
        .copied();
    let help = match by_suffix.or_else(|| did_you_mean(status, valid.iter().copied())) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("use {} (or leave it empty)", list.join(", ")),
    };
    cx.report(
        Diagnostic::new(
            &INVALID_STATUS,
            format!("{kind} status `{}` is not recognized", status.value),
        )
        .with_label(status.span, "unknown status")
        .with_help(help),
    );
}

/// `TaskRunSpec.Validate`: a `statusMessage` needs a `status`.
fn status_message(cx: &mut Checker, status: Option<&Str>, message: Option<&Str>) {
    let Some(message) = message.filter(|m| !m.is_empty()) else {
        return;
    };
    if status.is_some_and(|s| !s.is_empty()) {
        return;
    }
    cx.report(
        Diagnostic::new(
            &STATUS_MESSAGE,
            format!(
                "statusMessage should not be set if status is not set, but it is currently set to {}",
                message.value
            ),
        )
        .with_label(message.span, "a message without a `status`")
        .with_help("add `status: TaskRunPending` (or `TaskRunCancelled`), or remove `statusMessage`"),
    );
}

/// Where a mapping's first key is (the whole value if it has none).
fn object_span(object: &Object) -> Option<Span> {
    let node = object.0.as_ref()?;
    Some(
        node.as_map()
            .and_then(|m| m.entries.first())
            .map_or(node.span, |e| e.key_span),
    )
}

fn is_set(object: Option<&Object>) -> bool {
    object
        .and_then(|o| o.0.as_ref())
        .and_then(|n| n.as_map())
        .is_some_and(|m| !m.entries.is_empty())
}

/// `validateTaskRunComputeResources`: the run's `computeResources`, or per-step ones.
fn compute_resources(cx: &mut Checker, resources: Option<&Object>, steps: &[TaskRunStepSpec]) {
    let Some(resources) = resources else {
        return;
    };
    let Some(step) = steps
        .iter()
        .find(|s| is_set(s.compute_resources.as_deref()))
    else {
        return;
    };
    let Some(step_span) = step.compute_resources.as_deref().and_then(object_span) else {
        return;
    };
    let mut d = Diagnostic::new(
        &COMPUTE_RESOURCES,
        "expected exactly one, got both: computeResources, stepSpecs.resources",
    )
    .with_label(
        step_span,
        format!("resources of step `{}`", step.name.value),
    )
    .with_help(
        "set the Task's resources in `computeResources` or each step's in `stepSpecs`, not both",
    );
    if let Some(span) = object_span(resources) {
        d = d.with_secondary(span, "and of the whole Task");
    }
    cx.report(d);
}

fn step_specs(
    cx: &mut Checker,
    spec: &TaskSpec,
    steps: &[TaskRunStepSpec],
    sidecars: &[TaskRunStepSpec],
) {
    for (list, names, what) in [
        (
            steps,
            spec.steps
                .iter()
                .filter_map(|s| s.name.as_ref().map(|n| n.as_str()))
                .collect::<Vec<_>>(),
            "step",
        ),
        (
            sidecars,
            spec.sidecars
                .iter()
                .filter_map(|s| s.name.as_ref().map(|n| n.as_str()))
                .collect(),
            "sidecar",
        ),
    ] {
        for entry in list {
            if names.contains(&entry.name.as_str()) {
                continue;
            }
            let help = match did_you_mean(&entry.name, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if names.is_empty() => format!("the Task has no named {what}s"),
                None => format!(
                    "the Task's {what}s are {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            cx.report(
                Diagnostic::new(
                    &UNKNOWN_STEP_SPEC,
                    format!("the Task has no {what} named `{}`", entry.name.value),
                )
                .with_label(entry.name.span, format!("no such {what}"))
                .with_help(help),
            );
        }
    }
}

fn task_run_specs(cx: &mut Checker, run: &PipelineRunSpec) {
    if run.task_run_specs.is_empty() {
        return;
    }
    let world = cx.world;
    let spec: &PipelineSpec = match (&run.pipeline_spec, &run.pipeline_ref) {
        (Some(spec), _) => spec,
        (None, Some(r)) => match world.resolve_pipeline_ref(r) {
            Resolved::Found { spec, .. } => spec,
            _ => return,
        },
        _ => return,
    };
    let names: Vec<&str> = pipeline_tasks(spec).map(|(_, t)| t.name.as_str()).collect();
    let mut by_name: HashMap<&str, &PipelineTask> = HashMap::new();
    for (_, task) in pipeline_tasks(spec) {
        by_name.entry(task.name.as_str()).or_insert(task);
    }
    for entry in &run.task_run_specs {
        let name = &entry.pipeline_task_name;
        let Some(task) = by_name.get(name.as_str()).copied() else {
            let help = match did_you_mean(name, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "name a task of the pipeline's `tasks` or `finally`".to_string(),
            };
            cx.report(
                Diagnostic::new(
                    &UNKNOWN_PIPELINE_TASK,
                    format!("the pipeline has no task named `{}`", name.value),
                )
                .with_label(name.span, "no such pipeline task")
                .with_help(help),
            );
            continue;
        };
        if let Some(task_spec) = world.resolve_pipeline_task(task).spec() {
            step_specs(cx, task_spec, &entry.step_specs, &entry.sidecar_specs);
        }
    }
}
