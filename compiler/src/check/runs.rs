//! TaskRuns and PipelineRuns: `status`, and the names in `stepSpecs`, `sidecarSpecs` and
//! `taskRunSpecs`.

use super::{Checker, pipeline_tasks};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::{
    PipelineRunSpec, PipelineSpec, PipelineTask, Resource, Str, TaskRunStepSpec, TaskSpec,
};
use crate::resolve::Resolved;
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

/// This family's codes.
pub const CODES: &[&Code] = &[&INVALID_STATUS, &UNKNOWN_STEP_SPEC, &UNKNOWN_PIPELINE_TASK];

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
