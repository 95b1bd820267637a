//! The Kubernetes view of a plan's pod: a task attempt of a [`tkc_compiler::plan::Plan`] lowered
//! to the typed objects Tekton's controller would create for it.
//!
//! [`build`] is a pure function (no I/O, no clock, deterministic): from a task attempt of the
//! plan, the values the run knows and the run's identity, it makes the [`Pod`] (as Tekton's
//! `pod.Builder.Build` in `pkg/pod/pod.go` does), the ConfigMap with its scripts and the
//! PersistentVolumeClaims its `volumeClaimTemplate` workspaces need. The plan's pod is the one
//! description of the steps, volumes and workspaces; this crate only spells it as Kubernetes
//! objects. What differs from Tekton, and why:
//!
//! - **No image of ours.** The entrypoint comes from a content-addressed ConfigMap
//!   ([`entrypoint_config_map`]) mounted executable at `/tekton/bin`, instead of being copied
//!   out of Tekton's entrypoint image; the `prepare` init container (which makes the
//!   `/tekton/steps` links) runs that binary in the first step's image, which the node pulls
//!   for the step anyway.
//! - **Scripts in a ConfigMap** of the attempt (`<pod>-scripts`, mounted executable at
//!   `/tekton/scripts`), instead of Tekton's `place-scripts` init container, which needs a
//!   shell image.
//! - **Architecture.** The pod's `kubernetes.io/arch` node selector matches the binary it
//!   mounts (see [`entrypoint`]).
//! - The `working-dir-initializer` is left out: the container runtime creates a missing
//!   `workingDir` itself.

#![forbid(unsafe_code)]

mod containers;
pub mod entrypoint;
pub mod names;
mod volumes;
pub mod yaml;

pub use entrypoint::{Arch, BinaryError, EntrypointBinary, entrypoint_config_map};

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::fmt;
use tkc_compiler::model::Duration;
use tkc_compiler::plan::{ParamValue, Plan, RunKind, RunValue, Section, TaskPlan, Template};

/// `app.kubernetes.io/managed-by` on everything tkc creates.
pub const MANAGED_BY: &str = "tkc";

/// Tekton's paths in the pod (`pkg/pod/entrypoint.go`, `pkg/apis/pipeline/paths.go`).
pub mod paths {
    pub const BIN_DIR: &str = "/tekton/bin";
    pub const ENTRYPOINT: &str = "/tekton/bin/entrypoint";
    pub const SCRIPTS_DIR: &str = "/tekton/scripts";
    pub const RUN_DIR: &str = "/tekton/run";
    pub const DOWNWARD_DIR: &str = "/tekton/downward";
    pub const READY_FILE: &str = "/tekton/downward/ready";
    pub const TERMINATION: &str = "/tekton/termination";
    pub const STEPS_DIR: &str = "/tekton/steps";
    pub const CREDS_DIR: &str = "/tekton/creds";
}

/// The annotation the controller sets to `READY` once the sidecars are; the first step waits
/// for it through the downward API (`pkg/pod/entrypoint.go`).
pub const READY_ANNOTATION: &str = "tekton.dev/ready";

/// Values only the run knows, as the backend (or `tkc compile --emit pods`) has them.
pub trait Resolve {
    /// The value of a reference, or `None` to leave it visible as `$(...)`. Paths are never
    /// asked for: a pod on Kubernetes uses Tekton's own paths.
    fn value(&self, value: &RunValue) -> Option<ParamValue>;

    /// The `Entrypoint` and `Cmd` of an image's config, for steps that set neither `command`
    /// nor `script` (Tekton reads them from the registry: `resolveEntrypoints` in
    /// `pkg/pod/entrypoint_lookup.go`).
    /// `None` (the default): unknown, and such a step is a [`BuildError::ImageEntrypoint`].
    fn image_config(&self, image: &str) -> Option<ImageConfig> {
        let _ = image;
        None
    }
}

/// What an image runs by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
}

/// Who the attempt is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The run's name (PipelineRun or TaskRun).
    pub run: String,
    /// The run's unique id, for the `tkc.dev/run` label and claim names.
    pub run_uid: String,
    pub namespace: String,
    /// The TaskRun's name (`<run>-<task>`, `<run>-<task>-<i>` for a matrix combination).
    pub task_run: String,
    /// 0 for the first attempt.
    pub retry: u32,
}

/// Tekton's feature flags that change the pod (`pkg/apis/config/feature_flags.go`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `await-sidecar-readiness` (default true).
    pub await_sidecar_readiness: bool,
    /// `running-in-environment-with-injected-sidecars` (default true).
    pub injected_sidecars: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            await_sidecar_readiness: true,
            injected_sidecars: true,
        }
    }
}

/// One task attempt to build.
pub struct AttemptInput<'a> {
    pub plan: &'a Plan,
    pub task: &'a TaskPlan,
    pub identity: &'a Identity,
    pub values: &'a dyn Resolve,
    /// The entrypoint binaries available, in order of preference.
    pub entrypoints: &'a [EntrypointBinary],
    pub options: &'a Options,
}

/// What an attempt needs created, in this order: claims and ConfigMaps before the pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodObjects {
    pub pod: Pod,
    /// The scripts of the attempt (none without scripts).
    pub config_maps: Vec<ConfigMap>,
    /// Claims of `volumeClaimTemplate` workspaces: one per run workspace, shared by its
    /// tasks (create if absent).
    pub claims: Vec<PersistentVolumeClaim>,
    /// The entrypoint ConfigMap the pod mounts (created once per namespace).
    pub entrypoint_config_map: String,
}

/// Why an attempt has no pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// No entrypoint binary was given.
    NoEntrypoint,
    /// The pod template pins an architecture no entrypoint binary is built for.
    NoEntrypointForArch { wanted: String, have: Vec<Arch> },
    /// A step without `command` or `script` whose image config the [`Resolve`] does not
    /// know (Tekton reads it from the registry, which a pure build cannot).
    ImageEntrypoint { step: String, image: String },
    /// A workspace bound to a host directory (`--workspace name=dir:PATH`).
    HostDirectory { workspace: String, path: String },
    /// Two volumes with one name (Tekton's `ValidateVolumes`).
    DuplicateVolume(String),
    /// A value that does not decode as the Kubernetes type it stands for.
    Invalid { what: String, error: String },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoEntrypoint => f.write_str("no entrypoint binary to mount"),
            BuildError::NoEntrypointForArch { wanted, have } => {
                let have: Vec<&str> = have.iter().map(|a| a.label()).collect();
                write!(
                    f,
                    "the pod template selects nodes with kubernetes.io/arch={wanted}, but the \
                     entrypoint is built only for {}",
                    have.join(", ")
                )
            }
            BuildError::ImageEntrypoint { step, image } => write!(
                f,
                "step `{step}` has no `command` or `script`: tkc does not read the entrypoint of \
                 image `{image}` from its registry; give the step a `command`"
            ),
            BuildError::HostDirectory { workspace, path } => write!(
                f,
                "workspace `{workspace}` is bound to the host directory `{path}`, which a \
                 cluster does not have; bind a volume instead"
            ),
            BuildError::DuplicateVolume(name) => {
                write!(f, "multiple volumes with same name \"{name}\"")
            }
            BuildError::Invalid { what, error } => write!(f, "invalid {what}: {error}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Decodes JSON as a Kubernetes type, naming what it was on failure.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    what: impl fmt::Display,
    json: &serde_json::Value,
) -> Result<T, BuildError> {
    serde_json::from_value(json.clone()).map_err(|e| BuildError::Invalid {
        what: what.to_string(),
        error: e.to_string(),
    })
}

/// Fills templates: paths with Tekton's, other references with the run's values.
pub(crate) struct Render<'a> {
    pub values: &'a dyn Resolve,
}

impl Render<'_> {
    pub fn text(&self, t: &Template) -> String {
        t.render(|v| match v {
            RunValue::Path { tekton, .. } => Some(tekton.clone()),
            other => self.values.value(other).map(|v| value_text(&v)),
        })
    }

    /// A list: an item that is exactly one reference to an array becomes its elements.
    pub fn list(&self, items: &[Template]) -> Vec<String> {
        let mut out = Vec::with_capacity(items.len());
        for t in items {
            let single = t
                .as_single_ref()
                .filter(|r| !matches!(r, RunValue::Path { .. }));
            match single.and_then(|r| self.values.value(r)) {
                Some(ParamValue::Array(values)) => out.extend(values),
                _ => out.push(self.text(t)),
            }
        }
        out
    }
}

/// Strings as they are, arrays and objects as JSON.
fn value_text(value: &ParamValue) -> String {
    match value {
        ParamValue::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Tekton's `deadlineFactor`: the pod's `activeDeadlineSeconds` is 1.5 × the TaskRun's
/// timeout, so that the TaskRun times out (and is reported as such) before the kubelet kills
/// the pod.
const DEADLINE_FACTOR: f64 = 1.5;

/// `activeDeadlineSeconds` as `pod.Builder.Build` computes it: 1.5 × the timeout (default
/// 60m), MaxInt32 for no timeout (`0s`).
fn active_deadline(timeout: Option<&str>) -> i64 {
    let nanos = timeout
        .and_then(Duration::parse)
        .map_or(3_600_000_000_000, |d| d.nanos);
    if nanos <= 0 {
        return i64::from(i32::MAX);
    }
    let secs = nanos as f64 / 1e9 * DEADLINE_FACTOR;
    (secs as i64).clamp(1, i64::from(i32::MAX))
}

/// The pod's name: `ChildName(<taskRun>, "-pod")`, `-pod-retry<k>` for retry k.
pub fn pod_name(task_run: &str, retry: u32) -> String {
    let suffix = if retry == 0 {
        "-pod".to_string()
    } else {
        format!("-pod-retry{retry}")
    };
    names::child_name(task_run, &suffix)
}

/// A pipeline task's TaskRun name: combination `i` of `count` (`None` for a task without a
/// matrix), as Tekton's `getNewRunNames` names it (`tkc_compiler::names::task_run_names`, which
/// the scheduler names its TaskRuns with too).
pub fn task_run_name(run: &str, task: &str, combination: Option<(usize, usize)>) -> String {
    let (index, count) = combination.unwrap_or((0, 1));
    tkc_compiler::names::task_run_name(run, task, index, count)
}

/// Tekton's labels for the TaskRun's pod (`makeLabels` in `pkg/pod/pod.go`; the pipeline
/// ones from `createChildResourceLabels` in `pkg/reconciler/pipelinerun/pipelinerun.go`,
/// `tekton.dev/task` from `storeTaskSpecAndMergeMeta` in `pkg/reconciler/taskrun/taskrun.go`)
/// plus tkc's. The uid labels are left out: tkc's runs are not Kubernetes objects.
fn labels(input: &AttemptInput) -> BTreeMap<String, String> {
    let (plan, task, id) = (input.plan, input.task, input.identity);
    let mut labels = task.labels.clone();
    let mut put = |k: &str, v: &str| {
        labels.insert(k.to_string(), names::label_value(v));
    };
    if plan.run.kind == RunKind::PipelineRun {
        if !plan.run.pipeline.is_empty() {
            put("tekton.dev/pipeline", &plan.run.pipeline);
        }
        put("tekton.dev/pipelineRun", &id.run);
        put("tekton.dev/pipelineTask", &task.name);
        put(
            "tekton.dev/memberOf",
            match task.section {
                Section::Tasks => "tasks",
                Section::Finally => "finally",
            },
        );
    }
    if !task.task_ref.is_empty() {
        put("tekton.dev/task", &task.task_ref);
    }
    put("tekton.dev/taskRun", &id.task_run);
    put("app.kubernetes.io/managed-by", MANAGED_BY);
    put("tkc.dev/run", &id.run_uid);
    put("tkc.dev/attempt", &id.retry.to_string());
    labels
}

/// The labels of everything made for the run (for deleting it with the run).
pub(crate) fn run_labels(id: &Identity) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGED_BY.to_string(),
        ),
        ("tkc.dev/run".to_string(), names::label_value(&id.run_uid)),
    ])
}

/// Builds the objects of one task attempt (Tekton: `pod.Builder.Build`).
pub fn build(input: &AttemptInput) -> Result<PodObjects, BuildError> {
    let render = Render {
        values: input.values,
    };
    let pod_name = pod_name(&input.identity.task_run, input.identity.retry);
    let template = volumes::PodTemplate::of(input, &render)?;
    let binary = choose_entrypoint(input.entrypoints, &template)?;

    let workspaces = volumes::workspaces(input, &render)?;
    let gated = !ready_immediately(input.options, !input.task.pod.sidecars.is_empty());
    let built = containers::build(
        input,
        &render,
        &containers::Context {
            workspaces: &workspaces.mounts,
            template_env: &template.env,
            gated,
        },
    )?;

    let scripts_name = format!("{pod_name}-scripts");
    let mut volumes = volumes::implicit(
        gated,
        &binary.config_map,
        built.scripts.is_some().then_some(scripts_name.as_str()),
        input.task.pod.steps.len(),
    );
    volumes.extend(volumes::task_volumes(input)?);
    volumes.extend(workspaces.volumes);
    volumes.extend(template.volumes.clone());
    let mut seen = std::collections::BTreeSet::new();
    for v in &volumes {
        if !seen.insert(v.name.as_str()) {
            return Err(BuildError::DuplicateVolume(v.name.clone()));
        }
    }

    let mut annotations = BTreeMap::new();
    if !gated {
        annotations.insert(READY_ANNOTATION.to_string(), "READY".to_string());
    }
    let mut spec = template.spec;
    let mut node_selector = spec.node_selector.take().unwrap_or_default();
    node_selector.insert(
        "kubernetes.io/arch".to_string(),
        binary.arch.label().to_string(),
    );
    spec.node_selector = Some(node_selector);
    spec.restart_policy = Some("Never".to_string());
    spec.service_account_name =
        Some(input.task.service_account_name.clone()).filter(|s| !s.is_empty());
    spec.init_containers = Some(built.init);
    spec.containers = built.containers;
    spec.volumes = Some(volumes);
    spec.active_deadline_seconds = Some(active_deadline(input.task.timeout.as_deref()));

    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name.clone()),
            namespace: Some(input.identity.namespace.clone()),
            labels: Some(labels(input)),
            annotations: Some(annotations).filter(|a| !a.is_empty()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    };
    let mut config_maps = Vec::new();
    if let Some(data) = built.scripts {
        let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > entrypoint::CONFIG_MAP_LIMIT {
            return Err(BuildError::Invalid {
                what: "scripts".to_string(),
                error: format!("{size} bytes together, over the 1 MiB their ConfigMap may hold"),
            });
        }
        let mut labels = run_labels(input.identity);
        labels.insert(
            "tekton.dev/taskRun".to_string(),
            names::label_value(&input.identity.task_run),
        );
        config_maps.push(ConfigMap {
            metadata: ObjectMeta {
                name: Some(scripts_name),
                namespace: Some(input.identity.namespace.clone()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            data: Some(data),
            immutable: Some(true),
            ..ConfigMap::default()
        });
    }
    Ok(PodObjects {
        pod,
        config_maps,
        claims: workspaces.claims,
        entrypoint_config_map: binary.config_map.clone(),
    })
}

/// Tekton's `isPodReadyImmediately`: the first step need not wait for the ready annotation
/// only when no sidecar may be there to wait for, or waiting is turned off.
fn ready_immediately(options: &Options, has_sidecars: bool) -> bool {
    !((has_sidecars || options.injected_sidecars) && options.await_sidecar_readiness)
}

/// The binary for the pod: the one for the architecture the pod template pins, else the
/// first (and the pod is pinned to its architecture).
fn choose_entrypoint<'a>(
    binaries: &'a [EntrypointBinary],
    template: &volumes::PodTemplate,
) -> Result<&'a EntrypointBinary, BuildError> {
    let pinned = template
        .spec
        .node_selector
        .as_ref()
        .and_then(|s| s.get("kubernetes.io/arch"));
    match pinned {
        Some(wanted) => binaries
            .iter()
            .find(|b| b.arch.label() == wanted)
            .ok_or_else(|| BuildError::NoEntrypointForArch {
                wanted: wanted.clone(),
                have: binaries.iter().map(|b| b.arch).collect(),
            }),
        None => binaries.first().ok_or(BuildError::NoEntrypoint),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_tekton() {
        assert_eq!(active_deadline(Some("1h0m0s")), 5400);
        assert_eq!(active_deadline(None), 5400);
        assert_eq!(active_deadline(Some("10s")), 15);
        assert_eq!(active_deadline(Some("0s")), i64::from(i32::MAX));
    }

    #[test]
    fn pods_are_named_like_tekton() {
        assert_eq!(pod_name("run-build", 0), "run-build-pod");
        assert_eq!(pod_name("run-build", 2), "run-build-pod-retry2");
    }

    #[test]
    fn the_gate_follows_the_feature_flags() {
        let default = Options::default();
        assert!(!ready_immediately(&default, false));
        let no_injected = Options {
            injected_sidecars: false,
            ..Options::default()
        };
        assert!(ready_immediately(&no_injected, false));
        assert!(!ready_immediately(&no_injected, true));
        let no_wait = Options {
            await_sidecar_readiness: false,
            ..Options::default()
        };
        assert!(ready_immediately(&no_wait, true));
    }
}
