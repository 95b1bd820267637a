//! TaskRun and PipelineRun: one execution of a Task or Pipeline.

use super::common::{EnvVar, Param, ParamSpec, StepResult, Str, VolumeMount, WorkspaceBinding};
use super::decode::{ApiFields, Object, Spanned};
use super::duration::Duration;
use super::kube::{self, Kube, PodTemplate};
use super::pipeline::{PipelineRef, PipelineSpec, TaskRef};
use super::task::TaskSpec;
use crate::model;

model! {
    /// One run of a Task.
    #[what = "task run spec"]
    #[dropped_v1beta1 = ["resources"]]
    pub struct TaskRunSpec {
        pub params: Vec<Param> = "params" { kdl_item: Some("param") },
        pub service_account_name: Option<Str> = "serviceAccountName",
        /// The Task to run, by name or resolver.
        pub task_ref: Option<TaskRef> = "taskRef",
        /// The Task to run, written inline.
        pub task_spec: Option<TaskSpec> = "taskSpec" { schemaless: true },
        /// `TaskRunCancelled` to cancel, `TaskRunPending` to hold.
        pub status: Option<Str> = "status" { values: &["", "TaskRunCancelled", "TaskRunPending"] },
        pub status_message: Option<Str> = "statusMessage",
        pub retries: Option<Spanned<i64>> = "retries",
        /// The most the run may take (default 60m; `0`: no timeout).
        pub timeout: Option<Spanned<Duration>> = "timeout",
        pub pod_template: Option<Kube<PodTemplate>> = "podTemplate",
        pub workspaces: Vec<WorkspaceBinding> = "workspaces" { kdl_item: Some("workspace") },
        /// Resource requirements per step (beta).
        pub step_specs: Vec<TaskRunStepSpec> = "stepSpecs" { gate: ApiFields::Beta, v1beta1_key: Some("stepOverrides"), kdl_item: Some("step-spec") },
        /// Resource requirements per sidecar (beta).
        pub sidecar_specs: Vec<TaskRunStepSpec> = "sidecarSpecs" { gate: ApiFields::Beta, v1beta1_key: Some("sidecarOverrides"), kdl_item: Some("sidecar-spec") },
        /// Resources for the whole Task, split across steps (beta).
        pub compute_resources: Option<Kube<kube::ResourceRequirements>> = "computeResources" { gate: ApiFields::Beta },
        /// Breakpoints (alpha).
        pub debug: Option<Object> = "debug" { gate: ApiFields::Alpha },
        pub managed_by: Option<Str> = "managedBy",
    }
}

model! {
    /// Resource requirements for one step or sidecar of a run.
    #[what = "step spec"]
    pub struct TaskRunStepSpec {
        pub name: Str = "name" { required: true, positional: true },
        pub compute_resources: Option<Kube<kube::ResourceRequirements>> = "computeResources" { v1beta1_key: Some("resources") },
    }
}

model! {
    /// One run of a Pipeline.
    #[what = "pipeline run spec"]
    #[dropped_v1beta1 = ["resources"]]
    pub struct PipelineRunSpec {
        /// The Pipeline to run, by name or resolver.
        pub pipeline_ref: Option<PipelineRef> = "pipelineRef",
        /// The Pipeline to run, written inline.
        pub pipeline_spec: Option<PipelineSpec> = "pipelineSpec" { schemaless: true },
        pub params: Vec<Param> = "params" { kdl_item: Some("param") },
        /// `Cancelled`, `CancelledRunFinally`, `StoppedRunFinally` or `PipelineRunPending`.
        pub status: Option<Str> = "status" { values: &["", "Cancelled", "CancelledRunFinally", "StoppedRunFinally", "PipelineRunPending"] },
        /// Limits for the whole run, the DAG tasks and the finally tasks.
        pub timeouts: Option<Timeouts> = "timeouts",
        pub task_run_template: Option<TaskRunTemplate> = "taskRunTemplate",
        /// Bindings of the Pipeline's workspaces.
        pub workspaces: Vec<WorkspaceBinding> = "workspaces" { kdl_item: Some("workspace") },
        /// Settings for the TaskRun of one pipeline task.
        pub task_run_specs: Vec<PipelineTaskRunSpec> = "taskRunSpecs" { kdl_item: Some("task-run-spec") },
        pub managed_by: Option<Str> = "managedBy",
        /// v1beta1: the pipeline timeout (v1: `timeouts.pipeline`).
        pub timeout: Option<Spanned<Duration>> = "timeout" { v1beta1_only: true },
        /// v1beta1: (v1: `taskRunTemplate.serviceAccountName`).
        pub service_account_name: Option<Str> = "serviceAccountName" { v1beta1_only: true },
        /// v1beta1: (v1: `taskRunTemplate.podTemplate`).
        pub pod_template: Option<Kube<PodTemplate>> = "podTemplate" { v1beta1_only: true },
    }
}

model! {
    /// Timeouts of a PipelineRun (Go durations; `0` means none).
    #[what = "timeouts"]
    pub struct Timeouts {
        /// The whole run (default 60m).
        pub pipeline: Option<Spanned<Duration>> = "pipeline",
        /// The DAG tasks.
        pub tasks: Option<Spanned<Duration>> = "tasks",
        /// The finally tasks.
        pub finally: Option<Spanned<Duration>> = "finally",
    }
}

model! {
    /// Defaults for every TaskRun of a PipelineRun.
    #[what = "task run template"]
    pub struct TaskRunTemplate {
        pub pod_template: Option<Kube<PodTemplate>> = "podTemplate",
        pub service_account_name: Option<Str> = "serviceAccountName",
    }
}

model! {
    /// Settings for the TaskRun of one pipeline task.
    #[what = "task run spec"]
    pub struct PipelineTaskRunSpec {
        pub pipeline_task_name: Str = "pipelineTaskName" { required: true, positional: true },
        pub service_account_name: Option<Str> = "serviceAccountName" { v1beta1_key: Some("taskServiceAccountName") },
        pub pod_template: Option<Kube<PodTemplate>> = "podTemplate" { v1beta1_key: Some("taskPodTemplate") },
        pub step_specs: Vec<TaskRunStepSpec> = "stepSpecs" { v1beta1_key: Some("stepOverrides"), kdl_item: Some("step-spec") },
        pub sidecar_specs: Vec<TaskRunStepSpec> = "sidecarSpecs" { v1beta1_key: Some("sidecarOverrides"), kdl_item: Some("sidecar-spec") },
        pub metadata: Option<Object> = "metadata",
        pub compute_resources: Option<Kube<kube::ResourceRequirements>> = "computeResources",
        pub timeout: Option<Spanned<Duration>> = "timeout",
    }
}

model! {
    /// A reusable step: image, script and params, referenced from steps with `ref`.
    #[what = "step action spec"]
    pub struct StepActionSpec {
        pub description: Option<Str> = "description",
        pub image: Str = "image" { required: true },
        pub command: Vec<Str> = "command",
        pub args: Vec<Str> = "args",
        pub env: Vec<EnvVar> = "env" { kdl_item: Some("env") },
        pub script: Option<Str> = "script",
        pub working_dir: Option<Str> = "workingDir",
        pub params: Vec<ParamSpec> = "params" { kdl_item: Some("param") },
        pub results: Vec<StepResult> = "results" { kdl_item: Some("result") },
        pub security_context: Option<Kube<kube::SecurityContext>> = "securityContext",
        pub volume_mounts: Vec<VolumeMount> = "volumeMounts" { kdl_item: Some("volume-mount") },
    }
}
