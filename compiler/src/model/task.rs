//! Task: steps, sidecars, the step template, workspaces, params and results.

use super::common::{
    EnvVar, Param, ParamSpec, StepResult, Str, TaskResult, Volume, VolumeMount, WhenExpression,
};
use super::decode::{ApiFields, Cx, Decode, Spanned, StringMap};
use super::duration::Duration;
use super::kube::{self, Kube};
use crate::diag::{Diagnostic, codes};
use crate::model;
use crate::source::{Span, Syntax};
use crate::syntax::kdl::is_kebab_of;
use crate::syntax::{Node, Value};

model! {
    /// What a Task does: its steps (run in order, in one pod), sidecars, params, results and
    /// workspaces.
    #[what = "task spec"]
    #[dropped_v1beta1 = ["resources"]]
    #[validate = validate_task_spec]
    pub struct TaskSpec {
        /// Inputs of the Task.
        pub params: Vec<ParamSpec> = "params" { kdl_item: Some("param") },
        pub display_name: Option<Str> = "displayName",
        pub description: Option<Str> = "description",
        /// The steps, run one after the other in the Task's pod. At least one.
        pub steps: Vec<Step> = "steps" { kdl_item: Some("step") },
        /// Pod volumes the steps may mount.
        pub volumes: Vec<Volume> = "volumes" { kdl_item: Some("volume"), schemaless: true },
        /// Defaults merged into every step.
        pub step_template: Option<StepTemplate> = "stepTemplate",
        /// Containers that run beside the steps (databases, daemons).
        pub sidecars: Vec<Sidecar> = "sidecars" { kdl_item: Some("sidecar") },
        /// Volumes the TaskRun must (or may) provide.
        pub workspaces: Vec<WorkspaceDeclaration> = "workspaces" { kdl_item: Some("workspace") },
        /// Values the Task emits.
        pub results: Vec<TaskResult> = "results" { kdl_item: Some("result") },
    }
}

model! {
    /// One container of a Task, run after the previous step has finished.
    #[what = "step"]
    #[dropped_v1beta1 = ["ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
        "terminationMessagePath", "terminationMessagePolicy", "stdin", "stdinOnce", "tty"]]
    pub struct Step {
        /// A DNS label, unique in the Task.
        pub name: Option<Str> = "name" { positional: true },
        pub display_name: Option<Str> = "displayName",
        /// The container image (required unless `ref` is set).
        pub image: Option<Str> = "image",
        /// The entrypoint; the image's own when empty. Not with `script`.
        pub command: Vec<Str> = "command",
        pub args: Vec<Str> = "args",
        pub working_dir: Option<Str> = "workingDir",
        pub env_from: Vec<Kube<kube::EnvFromSource>> = "envFrom",
        pub env: Vec<EnvVar> = "env" { kdl_item: Some("env") },
        pub compute_resources: Option<Kube<kube::ResourceRequirements>> = "computeResources" { v1beta1_key: Some("resources") },
        pub volume_mounts: Vec<VolumeMount> = "volumeMounts" { kdl_item: Some("volume-mount") },
        pub volume_devices: Vec<Kube<kube::VolumeDevice>> = "volumeDevices",
        pub image_pull_policy: Option<Str> = "imagePullPolicy" { values: &["Always", "IfNotPresent", "Never"] },
        pub security_context: Option<Kube<kube::SecurityContext>> = "securityContext",
        /// A script run instead of `command` (no shebang: `#!/bin/sh` with `set -e`).
        pub script: Option<Str> = "script",
        /// The most the step may run (a Go duration).
        pub timeout: Option<Spanned<Duration>> = "timeout",
        /// Workspaces mounted into this step only (isolated workspaces).
        pub workspaces: Vec<WorkspaceUsage> = "workspaces" { kdl_item: Some("workspace"), gate: ApiFields::Beta },
        /// `continue` or `stopAndFail` (the default).
        pub on_error: Option<Str> = "onError" { values: crate::model::ON_ERROR },
        /// Where to write the step's stdout (alpha).
        pub stdout_config: Option<StepOutputConfig> = "stdoutConfig" { gate: ApiFields::Alpha },
        /// Where to write the step's stderr (alpha).
        pub stderr_config: Option<StepOutputConfig> = "stderrConfig" { gate: ApiFields::Alpha },
        /// A StepAction this step runs.
        pub r#ref: Option<StepRef> = "ref",
        /// Params for the StepAction (only with `ref`).
        pub params: Vec<Param> = "params" { kdl_item: Some("param") },
        /// Results the step writes to `$(step.results.<name>.path)`.
        pub results: Vec<StepResult> = "results" { kdl_item: Some("result") },
        /// The step runs only if these are true (at every `enable-api-fields` level).
        pub when: Vec<WhenExpression> = "when" { kdl_item: Some("when") },
    }
}

model! {
    /// Container fields merged into every step (a step's own values win).
    #[what = "step template"]
    #[dropped_v1beta1 = ["name", "ports", "livenessProbe", "readinessProbe", "startupProbe",
        "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "stdin", "stdinOnce", "tty"]]
    pub struct StepTemplate {
        pub image: Option<Str> = "image",
        pub command: Vec<Str> = "command",
        pub args: Vec<Str> = "args",
        pub working_dir: Option<Str> = "workingDir",
        pub env_from: Vec<Kube<kube::EnvFromSource>> = "envFrom",
        pub env: Vec<EnvVar> = "env" { kdl_item: Some("env") },
        pub compute_resources: Option<Kube<kube::ResourceRequirements>> = "computeResources" { v1beta1_key: Some("resources") },
        pub volume_mounts: Vec<VolumeMount> = "volumeMounts" { kdl_item: Some("volume-mount") },
        pub volume_devices: Vec<Kube<kube::VolumeDevice>> = "volumeDevices",
        pub image_pull_policy: Option<Str> = "imagePullPolicy" { values: &["Always", "IfNotPresent", "Never"] },
        pub security_context: Option<Kube<kube::SecurityContext>> = "securityContext",
    }
}

model! {
    /// A container that runs beside the steps for the whole Task.
    #[what = "sidecar"]
    pub struct Sidecar {
        pub name: Option<Str> = "name" { positional: true },
        pub image: Option<Str> = "image",
        pub command: Vec<Str> = "command",
        pub args: Vec<Str> = "args",
        pub working_dir: Option<Str> = "workingDir",
        pub ports: Vec<Kube<kube::ContainerPort>> = "ports",
        pub env_from: Vec<Kube<kube::EnvFromSource>> = "envFrom",
        pub env: Vec<EnvVar> = "env" { kdl_item: Some("env") },
        pub compute_resources: Option<Kube<kube::ResourceRequirements>> = "computeResources" { v1beta1_key: Some("resources") },
        pub volume_mounts: Vec<VolumeMount> = "volumeMounts" { kdl_item: Some("volume-mount") },
        pub volume_devices: Vec<Kube<kube::VolumeDevice>> = "volumeDevices",
        pub liveness_probe: Option<Kube<kube::Probe>> = "livenessProbe",
        pub readiness_probe: Option<Kube<kube::Probe>> = "readinessProbe",
        pub startup_probe: Option<Kube<kube::Probe>> = "startupProbe",
        pub lifecycle: Option<Kube<kube::Lifecycle>> = "lifecycle",
        pub termination_message_path: Option<Str> = "terminationMessagePath",
        pub termination_message_policy: Option<Str> = "terminationMessagePolicy",
        pub image_pull_policy: Option<Str> = "imagePullPolicy" { values: &["Always", "IfNotPresent", "Never"] },
        pub security_context: Option<Kube<kube::SecurityContext>> = "securityContext",
        pub stdin: Option<Spanned<bool>> = "stdin",
        pub stdin_once: Option<Spanned<bool>> = "stdinOnce",
        pub tty: Option<Spanned<bool>> = "tty",
        pub script: Option<Str> = "script",
        pub workspaces: Vec<WorkspaceUsage> = "workspaces" { kdl_item: Some("workspace"), gate: ApiFields::Beta },
        pub restart_policy: Option<Str> = "restartPolicy",
    }
}

model! {
    /// A volume a Task needs from its run.
    #[what = "workspace declaration"]
    pub struct WorkspaceDeclaration {
        pub name: Str = "name" { required: true, positional: true },
        pub description: Option<Str> = "description",
        /// Where steps see it (default `/workspace/<name>`).
        pub mount_path: Option<Str> = "mountPath",
        pub read_only: Option<Spanned<bool>> = "readOnly",
        /// The run may leave it unbound.
        pub optional: Option<Spanned<bool>> = "optional",
    }
}

model! {
    /// A Task workspace a step or sidecar mounts (making it isolated to those containers).
    #[what = "step workspace"]
    pub struct WorkspaceUsage {
        pub name: Str = "name" { required: true, positional: true },
        pub mount_path: Option<Str> = "mountPath",
    }
}

model! {
    /// Where to write a step's output stream (alpha).
    #[what = "output config"]
    pub struct StepOutputConfig {
        pub path: Option<Str> = "path" { positional: true },
    }
}

model! {
    /// A reference to a StepAction, by name or through a resolver.
    #[what = "step ref"]
    pub struct StepRef {
        pub name: Option<Str> = "name" { positional: true },
        /// `git`, `hub`, `bundles`, `cluster`, `http`: fetched when the run starts.
        pub resolver: Option<Str> = "resolver",
        pub params: Vec<Param> = "params" { kdl_item: Some("param") },
    }
}

/// A Task written inline in a Pipeline (`taskSpec`): a [`TaskSpec`], or a custom task
/// (`apiVersion` + `kind` + `spec`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmbeddedTask {
    pub task: TaskSpec,
    pub api_version: Option<Str>,
    pub kind: Option<Str>,
    /// The custom task's own spec.
    pub custom_spec: Option<Node>,
    pub metadata: Option<EmbeddedMetadata>,
}

impl EmbeddedTask {
    /// A custom task (CustomRun), which tkc does not model: Tekton's `EmbeddedTask.IsCustomTask`
    /// (both `apiVersion` and `kind` set, `tekton.dev/v1beta1` `Task` included), or a custom
    /// task's own `spec`. `kind: Task` alone is an ordinary inline Task that runs.
    pub fn is_custom(&self) -> bool {
        let set = |v: &Option<Str>| v.as_ref().is_some_and(|v| !v.is_empty());
        (set(&self.api_version) && set(&self.kind)) || self.custom_spec.is_some()
    }
}

model! {
    /// Labels and annotations for the TaskRun of an inline task.
    #[what = "embedded metadata"]
    pub struct EmbeddedMetadata {
        pub labels: Option<StringMap> = "labels",
        pub annotations: Option<StringMap> = "annotations",
    }
}

impl Decode for EmbeddedTask {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        let span = node.span;
        let origin = node.origin;
        let Value::Map(mut map) = node.value else {
            cx.wrong_type(&node, "a mapping (task spec)");
            return None;
        };
        let mut take = |key: &str| -> Option<Node> {
            let at = map.entries.iter().position(|e| {
                e.key == key || (origin == Syntax::Kdl && is_kebab_of(&e.key, key))
            })?;
            let entry = map.entries.remove(at);
            (entry.value.value != Value::Null).then_some(entry.value)
        };
        let api_version = take("apiVersion").and_then(|n| Spanned::<String>::decode(n, cx));
        let kind = take("kind").and_then(|n| Spanned::<String>::decode(n, cx));
        let custom_spec = take("spec");
        let metadata = take("metadata").and_then(|n| EmbeddedMetadata::decode(n, cx));
        let custom = api_version.is_some() || kind.is_some() || custom_spec.is_some();
        let task = if custom && map.entries.is_empty() && map.args.is_empty() {
            TaskSpec::default()
        } else {
            TaskSpec::decode(Node::new(Value::Map(map), span, origin), cx)?
        };
        Some(EmbeddedTask {
            task,
            api_version,
            kind,
            custom_spec,
            metadata,
        })
    }
}

/// A Task needs at least one step; a step needs an image (its own, the step template's, or a
/// StepAction's).
fn validate_task_spec(spec: &TaskSpec, head: Span, cx: &mut Cx) {
    let template_image = spec
        .step_template
        .as_ref()
        .is_some_and(|t| t.image.is_some());
    if !template_image {
        for step in &spec.steps {
            validate_step(step, cx);
        }
    }
    if spec.steps.is_empty() && !cx.is_misspelt(head, "steps") {
        cx.push(
            Diagnostic::new(&codes::MISSING_FIELD, "missing field `steps` in task spec")
                .with_label(head, "this task spec has no steps")
                .with_help("a Task needs at least one step"),
        );
    }
}

fn validate_step(step: &Step, cx: &mut Cx) {
    if step.image.is_none() && step.r#ref.is_none() && !cx.is_misspelt(step.head, "image") {
        let what = match &step.name {
            Some(name) => format!("step `{}` has no image", name.value),
            None => "this step has no image".to_string(),
        };
        cx.push(
            Diagnostic::new(&codes::MISSING_FIELD, "missing field `image` in step")
                .with_label(step.head, what)
                .with_help("give the container image to run (or `ref` to a StepAction)"),
        );
    }
}
