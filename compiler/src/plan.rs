//! The pod-plan IR: one run (a PipelineRun or a TaskRun), with every task's pod spelled out.
//!
//! A plan is versioned (`apiVersion: tkc.dev/v1alpha1`, `kind: Plan`), deterministic (same
//! input ⇒ byte-identical JSON: maps are ordered, lists keep source order) and described by
//! `schemas/plan.schema.json`. Everything known at compile time is substituted; what only the
//! run knows stays in [`Template`]s as structured references ([`RunValue`]) that the runtime
//! fills in without reparsing:
//!
//! - task results, task status and reason (finally), `tasks.status`;
//! - the run's own identity: `context.pipelineRun.name`/`uid`, `context.taskRun.name`/`uid`,
//!   `context.task.retry-count`;
//! - matrix params (one value per combination);
//! - paths (`$(workspaces.W.path)`, `$(results.R.path)`, ...): each carries its Tekton path
//!   (`/workspace/W`, `/tekton/results/R`), which a pod on Kubernetes uses; the local backend
//!   substitutes the directories it made instead.
//!
//! `$(steps.S.results.R)` is left in the text: the entrypoint replaces it when the step starts.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The plan's `apiVersion`.
pub const API_VERSION: &str = "tkc.dev/v1alpha1";

/// One run, ready to execute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Always `tkc.dev/v1alpha1`.
    pub api_version: String,
    /// Always `Plan`.
    pub kind: String,
    pub run: RunInfo,
    /// The run's params after defaulting (pipeline params, or the Task's for a TaskRun).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, ParamValue>,
    /// The run's workspace bindings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<WorkspaceBinding>,
    /// DAG tasks, then finally tasks, in source order.
    pub tasks: Vec<TaskPlan>,
    /// Pipeline results, computed when the run ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<PipelineResult>,
    /// Data of the ConfigMaps and Secrets that workspaces and volumes use, from the inputs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
    /// The Secrets that workspaces, volumes and env use, by name. Their values are never in
    /// a plan (`tkc compile` writes plans out for review): the runtime is handed them when
    /// the run starts (`Compiled::secrets`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub secrets: BTreeSet<String>,
    /// The `volumeClaimTemplate` (`metadata`, `spec`) of each run workspace bound to one, by
    /// the binding's name: what a cluster backend creates the run's claim from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claim_templates: BTreeMap<String, serde_json::Value>,
}

/// PipelineRun or TaskRun.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RunKind {
    PipelineRun,
    TaskRun,
}

/// What is run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunInfo {
    pub kind: RunKind,
    /// The run's name; with `generateName` the prefix, to which the runtime appends a suffix.
    pub name: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generate_name: bool,
    pub namespace: String,
    /// The Pipeline's name (PipelineRun) or the Task's (TaskRun; empty for inline specs).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pipeline: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub task: String,
    pub service_account_name: String,
    /// `Cancelled`, `PipelineRunPending`, ... as written in the run's `spec.status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub timeouts: Timeouts,
    /// Labels of the run (copied to its tasks, as Tekton does).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Timeouts as Go durations (`1h0m0s`); `0s` means none; absent means unset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timeouts {
    /// The whole run (default 60m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// All DAG tasks together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<String>,
    /// All finally tasks together, from when they start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finally: Option<String>,
}

/// `tasks` or `finally`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Section {
    Tasks,
    Finally,
}

/// What a failure does.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OnError {
    #[default]
    StopAndFail,
    Continue,
}

/// One pipeline task (or the TaskRun's task).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskPlan {
    pub name: String,
    pub section: Section,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Template>,
    /// The Task's name (`context.task.name`); for an inline spec, empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub task_ref: String,
    /// Tasks that must be done first (`runAfter` and result references), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// The timeout of one attempt (Go duration; `0s` none), after Tekton's defaulting rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub on_error: OnError,
    /// All must hold for the task to run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<When>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Matrix>,
    /// The params the Task receives (after defaulting), for display; their values are already
    /// substituted into the pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, ValueTemplate>,
    pub service_account_name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// What one attempt runs; empty for a child pipeline.
    pub pod: Pod,
    /// A pipeline in the pipeline (alpha `pipelineRef`/`pipelineSpec`): the child
    /// PipelineRun Tekton creates for this task (`createChildPipelineRun`), lowered with the
    /// params and workspaces the task passes. Its `run.name` is the pipeline task's name;
    /// the runtime names the child `<run>-<task>` (kmeta `ChildName`). References to the
    /// parent run's values are [`RunValue::Parent`]. Its workspace bindings name the
    /// top-level run's bindings, whose `configMaps`, `secrets` and `claimTemplates` it
    /// uses (its own are empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<Box<Plan>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A when expression: `input` `in`/`notin` `values`, or CEL (not evaluated by tkc).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct When {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<WhenOperator>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cel: Option<Template>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WhenOperator {
    In,
    Notin,
}

/// Fan-out of a task. Matrix params appear in the pod as [`RunValue::MatrixParam`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Matrix {
    /// The array params to combine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<NamedValue>,
    /// Extra combinations or params (Tekton's `include`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<MatrixInclude>,
    /// The combinations, when every matrix value is known at compile time (otherwise the
    /// runtime computes them once the results they use exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combinations: Option<Vec<BTreeMap<String, String>>>,
}

/// One matrix combination: param name → value.
pub type Combination = BTreeMap<String, String>;

/// Matrix combinations as Tekton's `Matrix.FanOut` builds them (spec section 4): the cartesian
/// product param by param, the first param varying fastest; then each `include` entry
/// overwrites the combinations it agrees with (every name they share has the same value),
/// and is appended as a combination of its own unless some combination already has one of
/// its values. With no matrix params, the include entries are the combinations.
pub fn fan_out(params: &[(String, Vec<String>)], include: &[Combination]) -> Vec<Combination> {
    if params.is_empty() {
        return include.to_vec();
    }
    let mut combinations: Vec<Combination> = vec![Combination::new()];
    for (name, values) in params {
        let mut next = Vec::with_capacity(combinations.len() * values.len());
        for value in values {
            for c in &combinations {
                let mut c = c.clone();
                c.insert(name.clone(), value.clone());
                next.push(c);
            }
        }
        combinations = next;
    }
    for combination in &mut combinations {
        for entry in include {
            let agrees = entry
                .iter()
                .all(|(k, v)| combination.get(k).is_none_or(|have| have == v));
            if agrees {
                combination.extend(entry.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }
    for entry in include {
        // Tekton's shouldAddNewCombination: any shared value means "already covered".
        let covered = entry.is_empty()
            || combinations
                .iter()
                .any(|c| entry.iter().any(|(k, v)| c.get(k) == Some(v)));
        if !covered {
            combinations.push(entry.clone());
        }
    }
    combinations
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatrixInclude {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub params: Vec<NamedValue>,
}

/// A name and a value template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NamedValue {
    pub name: String,
    pub value: ValueTemplate,
}

/// What a task attempt runs: one pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    pub steps: Vec<Step>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Sidecar>,
    /// The Task's own `volumes` (Kubernetes volume sources, as written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<TaskWorkspace>,
    /// The results the Task declares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ResultDecl>,
    /// Extra pod settings from the run (`podTemplate`, a task's `taskRunSpecs` one merged
    /// over the run's), with string params substituted; a matrix param stays
    /// `$(params.<name>)` text, which the runtime fills per combination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<serde_json::Value>,
}

/// One step container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// The step's name (`unnamed-<i>` if it has none).
    pub name: String,
    /// The container's name: `step-<name>`.
    pub container: String,
    pub image: Template,
    /// The entrypoint; empty for the image's own. For a script step: empty (the script is run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<Template>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Template>,
    /// The script, with Tekton's default shebang (`#!/bin/sh` + `set -e`) when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Template>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub on_error: OnError,
    /// Step results (`$(step.results.R.path)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ResultDecl>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Workspaces mounted only into this step (isolated), with their paths here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<StepWorkspace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_path: Option<Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_path: Option<Template>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<When>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_resources: Option<serde_json::Value>,
}

/// A sidecar container (runs beside the steps, not through the entrypoint).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sidecar {
    pub name: String,
    /// `sidecar-<name>`.
    pub container: String,
    pub image: Template,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<Template>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<Template>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<Template>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<StepWorkspace>,
    /// Other container fields (ports, probes, securityContext, ...), as written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Template>,
    /// `valueFrom`, as written (secretKeyRef, configMapKeyRef, fieldRef, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: Template,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<Template>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// A pod volume (`volumes` of the Task), as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Volume {
    pub name: String,
    /// The volume source (`emptyDir`, `configMap`, `secret`, `hostPath`, ...), as written.
    pub source: serde_json::Value,
}

/// A declared result (task or step).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultDecl {
    pub name: String,
    #[serde(rename = "type")]
    pub result_type: ValueType,
    /// Keys of an object result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    /// A task result copied from a step result (`value: $(steps.S.results.R)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_step: Option<StepResultRef>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepResultRef {
    pub step: String,
    pub result: String,
}

/// `string`, `array` or `object`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ValueType {
    #[default]
    String,
    Array,
    Object,
}

/// A Task workspace and what backs it in this run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskWorkspace {
    /// The Task's workspace name.
    pub name: String,
    /// Where steps see it (Tekton: `/workspace/<name>` unless declared otherwise).
    pub mount_path: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// The binding: the pipeline workspace it comes from (PipelineRun) or the run's own
    /// binding (TaskRun); absent when an optional workspace is left unbound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<WorkspaceSource>,
    /// The directory inside the bound volume that is mounted: the run binding's `subPath`
    /// and the pipeline task's joined (so the runtime needs no other subPath).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<Template>,
    /// Mounted only into these containers (isolated workspace); empty: every step (and,
    /// as Tekton does, every sidecar that does not mount that path itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_in: Vec<String>,
    /// The pod volume's name (`ws-<name>`), which `$(workspaces.<name>.volume)` gave.
    #[serde(default)]
    pub volume: String,
}

/// Where a task's workspace comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WorkspaceSource {
    /// A workspace of the run (by its name in `Plan.workspaces`).
    Run(String),
    /// A binding of its own (TaskRun bindings).
    Binding(Binding),
}

/// A workspace binding of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceBinding {
    pub name: String,
    pub binding: Binding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// What backs a workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Binding {
    /// A fresh empty directory per task attempt (as Tekton: not shared between tasks).
    EmptyDir {},
    /// A claim created for the run and shared by its tasks.
    VolumeClaimTemplate {},
    /// An existing claim (locally: a directory named after it that outlives the run).
    PersistentVolumeClaim {
        claim_name: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        read_only: bool,
    },
    ConfigMap {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<serde_json::Value>,
    },
    Secret {
        secret_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<serde_json::Value>,
    },
    /// A directory of the user's (`tkc run --workspace name=dir:PATH`; not a Tekton source).
    Dir { path: String },
    /// A directory tkc makes for the run and shares between its tasks: what a workspace gets
    /// when a Pipeline or Task is run without a run document (`tkc compile pipeline.yaml`)
    /// and nothing binds it. Not a Tekton source; `tkc run` says when it uses one.
    RunShared {},
    /// Sources the local runtime cannot provide (`projected`, `csi`), as written.
    Other { source: serde_json::Value },
}

/// A workspace mounted into one step or sidecar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepWorkspace {
    pub name: String,
    pub mount_path: String,
}

/// A pipeline result: a value template over task results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineResult {
    pub name: String,
    #[serde(rename = "type")]
    pub result_type: ValueType,
    pub value: ValueTemplate,
}

/// A param value with its templates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ValueTemplate {
    String(Template),
    Array(Vec<Template>),
    Object(BTreeMap<String, Template>),
}

/// A param value as known at compile time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ParamValue {
    String(String),
    Array(Vec<String>),
    Object(BTreeMap<String, String>),
}

/// A string, possibly holding values only the run knows.
///
/// Serialized as a plain string when it is fully known, else as
/// `{"template": "...", "refs": [{"start", "end", <value>}]}`, where each ref is the byte range
/// of a `$(...)` in `template` and what the runtime puts there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Template {
    Text(String),
    Refs {
        template: String,
        refs: Vec<TemplateRef>,
    },
}

impl Default for Template {
    fn default() -> Self {
        Template::Text(String::new())
    }
}

impl Template {
    /// The text, with references in their `$(...)` form.
    pub fn text(&self) -> &str {
        match self {
            Template::Text(t) => t,
            Template::Refs { template, .. } => template,
        }
    }

    pub fn refs(&self) -> &[TemplateRef] {
        match self {
            Template::Text(_) => &[],
            Template::Refs { refs, .. } => refs,
        }
    }

    /// Fills in every reference; `value` returns the text for one (`None` keeps it as is).
    pub fn render(&self, mut value: impl FnMut(&RunValue) -> Option<String>) -> String {
        match self {
            Template::Text(t) => t.clone(),
            Template::Refs { template, refs } => {
                let mut out = String::with_capacity(template.len());
                let mut at = 0;
                for r in refs {
                    let (Some(before), Some(original)) =
                        (template.get(at..r.start), template.get(r.start..r.end))
                    else {
                        continue;
                    };
                    out.push_str(before);
                    match value(&r.value) {
                        Some(v) => out.push_str(&v),
                        None => out.push_str(original),
                    }
                    at = r.end;
                }
                out.push_str(template.get(at..).unwrap_or_default());
                out
            }
        }
    }

    /// The single reference this template consists of, if it is exactly one (`"$(x)"`).
    pub fn as_single_ref(&self) -> Option<&RunValue> {
        match self {
            Template::Refs { template, refs } if refs.len() == 1 => {
                let r = &refs[0];
                (r.start == 0 && r.end == template.len()).then_some(&r.value)
            }
            _ => None,
        }
    }
}

/// One reference in a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateRef {
    /// Byte range of the `$(...)` in the template.
    pub start: usize,
    pub end: usize,
    #[serde(flatten)]
    pub value: RunValue,
}

/// A value only the run knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunValue {
    /// `$(tasks.T.results.R)`, with `[N]`, `[*]` or `.key`.
    TaskResult {
        task: String,
        result: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        star: bool,
    },
    /// `$(tasks.T.status)`: `Succeeded`, `Failed` or `None`.
    TaskStatus { task: String },
    /// `$(tasks.T.reason)`.
    TaskReason { task: String },
    /// `$(tasks.status)`: `Succeeded`, `Failed`, `Completed` or `None`.
    TasksStatus {},
    /// `$(tasks.T.matrix.length)` / `$(tasks.T.matrix.R.length)`.
    MatrixLength {
        task: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<String>,
    },
    /// A `context.*` variable of the run: `pipelineRun.name`, `pipelineRun.uid`,
    /// `taskRun.name`, `taskRun.uid`, `task.retry-count`.
    Context { variable: String },
    /// A matrix param, filled per combination (`$(params.p)`). A combination without this
    /// name (an `include` param that only some combinations have) uses the task's own value,
    /// `TaskPlan.params[name]`.
    MatrixParam {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
    },
    /// A path in the pod; `tekton` is where Tekton puts it.
    Path { path: PathRef, tekton: String },
    /// A value of the parent run, in a child pipeline's plan: a param the pipeline task
    /// passes that holds a reference (a parent task's result, the parent's context). Tekton
    /// substitutes it when it creates the child PipelineRun.
    Parent(Box<RunValue>),
}

/// Which path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PathRef {
    /// `$(workspaces.W.path)`.
    Workspace { name: String },
    /// `$(results.R.path)`.
    Result { name: String },
    /// `$(step.results.R.path)` of a step.
    StepResult { step: String, name: String },
    /// `$(steps.step-S.exitCode.path)`.
    StepExitCode { step: String },
    /// `$(credentials.path)`.
    Credentials {},
}

impl Plan {
    /// Every task of the run, those of child pipelines included (depth first, in order).
    pub fn every_task(&self) -> Vec<&TaskPlan> {
        let mut out = vec![];
        let mut stack: Vec<&TaskPlan> = self.tasks.iter().rev().collect();
        while let Some(task) = stack.pop() {
            out.push(task);
            if let Some(child) = &task.pipeline {
                stack.extend(child.tasks.iter().rev());
            }
        }
        out
    }

    /// Deterministic JSON (two-space indented, trailing newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The JSON Schema of plans (`schemas/plan.schema.json`).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Plan)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_round_trip_and_render() {
        let t = Template::Refs {
            template: "digest=$(tasks.build.results.digest)".into(),
            refs: vec![TemplateRef {
                start: 7,
                end: 36,
                value: RunValue::TaskResult {
                    task: "build".into(),
                    result: "digest".into(),
                    index: None,
                    key: None,
                    star: false,
                },
            }],
        };
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"template":"digest=$(tasks.build.results.digest)","refs":[{"start":7,"end":36,"taskResult":{"task":"build","result":"digest"}}]}"#
        );
        let back: Template = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, t);
        assert_eq!(back.render(|_| Some("sha256:1".into())), "digest=sha256:1");
        let plain: Template = serde_json::from_str("\"x\"").unwrap_or_default();
        assert_eq!(plain, Template::Text("x".into()));
    }

    fn combo(pairs: &[(&str, &str)]) -> Combination {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fan_out_follows_tekton() {
        let params = vec![
            ("a".to_string(), vec!["1".to_string(), "2".to_string()]),
            ("b".to_string(), vec!["x".to_string(), "y".to_string()]),
        ];
        let flat = |cs: &[Combination]| -> Vec<String> {
            cs.iter()
                .map(|c| c.values().cloned().collect::<Vec<_>>().join(""))
                .collect()
        };
        // The first param varies fastest.
        assert_eq!(flat(&fan_out(&params, &[])), ["1x", "2x", "1y", "2y"]);
        // An entry agreeing with combinations extends them; one with no value in common is
        // appended; one sharing a value with any combination (a=1) but agreeing with none
        // is neither (Tekton's shouldAddNewCombination).
        let include = [
            combo(&[("a", "1"), ("extra", "e")]),
            combo(&[("a", "3"), ("b", "z")]),
            combo(&[("a", "1"), ("b", "z")]),
        ];
        let out = fan_out(&params, &include);
        assert_eq!(out.len(), 5);
        assert_eq!(out[0].get("extra").map(String::as_str), Some("e"));
        assert_eq!(out[1].get("extra"), None);
        assert_eq!(out[4], combo(&[("a", "3"), ("b", "z")]));
        // Include only: the entries are the combinations.
        assert_eq!(fan_out(&[], &include[..2]).len(), 2);
    }

    #[test]
    fn schema_is_generated() {
        let schema = Plan::json_schema();
        assert!(schema.get("$defs").is_some());
    }
}
