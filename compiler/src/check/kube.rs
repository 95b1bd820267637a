//! Kubernetes' own rules for the values Tekton hands to the API server: compute requests
//! against limits, env vars, the enumerations of container and pod fields, and labels and
//! annotations. The types of these values are checked when they are decoded
//! (`model::kube`); these are the rules of Kubernetes' validation on top of the types
//! (`k8s.io/kubernetes/pkg/apis/core/validation/validation.go`,
//! `k8s.io/apimachinery/pkg/util/validation`), each cited where it is applied.

use super::{Checker, pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::kube::{PodTemplate, ResourceRequirements};
use crate::model::quantity::Quantity;
use crate::model::{
    EnvVar, Kube, Resource, Spanned, Str, StringMap, TaskSpec, VolumeMount, WorkspaceBinding,
};
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::syntax::{Node, Value};
use std::cmp::Ordering;

declare_code! {
    /// # A compute request above its limit
    ///
    /// A container may not request more of a resource than its limit. Tekton checks each
    /// step's `computeResources.requests` against the step's limit, or the `stepTemplate`'s
    /// limit when the step sets none (`validateTaskSpecRequestResources` in
    /// `pkg/reconciler/taskrun/validate_taskrun.go`: `invalid request resource value`, stage:
    /// reconciling the TaskRun). Kubernetes checks every container of the pod, with the
    /// step template merged into each step as Tekton's `MergeStepsWithStepTemplate` does, and
    /// each sidecar (`ValidateResourceRequirements`: `must be less than or equal to <r>
    /// limit`, stage: pod creation). Quantities are compared by value: `1Gi` is
    /// `1073741824`, `500m` is `0.5`.
    ///
    /// ## Example
    /// ```yaml
    /// stepTemplate:
    ///   computeResources:
    ///     limits: {memory: 1Gi}
    /// steps:
    ///   - name: build
    ///     computeResources:
    ///       requests: {memory: 2Gi}   # above the template's limit
    /// ```
    pub static REQUEST_ABOVE_LIMIT = "tkc::kube::request-above-limit", Error, reason = "TaskRunValidationFailed";
}

declare_code! {
    /// # An env var with both `value` and `valueFrom`
    ///
    /// An environment variable takes its value from `value` or from `valueFrom`, not both:
    /// Kubernetes rejects the pod (`validateEnv` in `pkg/apis/core/validation/validation.go`:
    /// `may not be specified when value is not empty`; stage: pod creation), in steps, the
    /// step template, sidecars and a run's `podTemplate.env`.
    pub static ENV_VALUE_AND_VALUE_FROM = "tkc::kube::env-value-and-value-from", Error, reason = "PodCreationFailed";
}

declare_code! {
    /// # A value Kubernetes does not support for the field
    ///
    /// Fields whose values Kubernetes enumerates in its Pod validation
    /// (`pkg/apis/core/validation/validation.go`; stage: pod creation): `imagePullPolicy`
    /// (`Always`, `IfNotPresent`, `Never`: `supportedPullPolicies`), a volume mount's
    /// `mountPropagation` (`None`, `HostToContainer`, `Bidirectional`:
    /// `validateMountPropagation`) and `recursiveReadOnly` (`Disabled`, `IfPossible`,
    /// `Enabled`), a sidecar's `terminationMessagePolicy` (`File`, `FallbackToLogsOnError`),
    /// a port's `protocol` (`TCP`, `UDP`, `SCTP`: `supportedPortProtocols`), a sidecar's
    /// `restartPolicy` (only `Always`, which makes it a native sidecar: Kubernetes allows no
    /// other value on containers) and a `podTemplate`'s `dnsPolicy` (`ClusterFirstWithHostNet`,
    /// `ClusterFirst`, `Default`, `None`: `validateDNSPolicy`), and a configMap or secret
    /// volume's `defaultMode` outside 0 to 0777 (octal) (`ValidateVolumes`). Values are
    /// case-sensitive.
    /// A value from a `$(params...)` reference is left to run time.
    pub static UNSUPPORTED_VALUE = "tkc::kube::unsupported-value", Error, reason = "PodCreationFailed";
}

declare_code! {
    /// # A label or annotation Kubernetes rejects
    ///
    /// Label and annotation keys are qualified names: an optional DNS subdomain prefix and
    /// `/`, then at most 63 characters of `[-A-Za-z0-9_.]` starting and ending with a letter
    /// or digit (`IsQualifiedName`). Label values are empty or at most 63 such characters
    /// (`IsValidLabelValue`); annotations together hold at most 256 KiB
    /// (`ValidateAnnotations`). The API server checks the resource's own `metadata`
    /// (`ValidateObjectMeta`, stage: decoding); the labels and annotations of an inline task's
    /// `metadata` are checked when its TaskRun and pod are created.
    ///
    /// ## Example
    /// ```yaml
    /// metadata:
    ///   labels:
    ///     app.kubernetes.io/version: 1.0 beta   # a space is not allowed in a value
    /// ```
    pub static INVALID_LABEL = "tkc::kube::invalid-label", Error;
}

/// This family's codes.
pub const CODES: &[&Code] = &[
    &REQUEST_ABOVE_LIMIT,
    &ENV_VALUE_AND_VALUE_FROM,
    &UNSUPPORTED_VALUE,
    &INVALID_LABEL,
];

/// `supportedPullPolicies`.
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
/// `validateMountPropagation`.
const MOUNT_PROPAGATIONS: &[&str] = &["None", "HostToContainer", "Bidirectional"];
/// `validateMountRecursiveReadOnly`.
const RECURSIVE_READ_ONLY: &[&str] = &["Disabled", "IfPossible", "Enabled"];
/// `validateTerminationMessagePolicy` (`supportedTerminationMessagePolicies`).
const TERMINATION_MESSAGE_POLICIES: &[&str] = &["File", "FallbackToLogsOnError"];
/// `supportedPortProtocols`.
const PORT_PROTOCOLS: &[&str] = &["TCP", "UDP", "SCTP"];
/// `validateInitContainerRestartPolicy`: a container's own restart policy may only be
/// `Always` (Tekton then runs the sidecar as a native sidecar, an init container).
const CONTAINER_RESTART_POLICIES: &[&str] = &["Always"];
/// `validateDNSPolicy`.
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];

/// `ValidateAnnotations`: `TotalAnnotationSizeLimitB`.
const MAX_ANNOTATIONS_SIZE: usize = 256 * 1024;

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        task_spec(cx, task.spec);
    }
    for (_, document) in world.checked() {
        labels(cx, document.metadata.labels.as_ref(), Written::Resource);
        annotations(
            cx,
            document.metadata.annotations.as_ref(),
            Written::Resource,
        );
        match &document.resource {
            Resource::TaskRun(run) => {
                pod_template(cx, run.pod_template.as_ref());
                binding_modes(cx, &run.workspaces);
            }
            Resource::PipelineRun(run) => {
                binding_modes(cx, &run.workspaces);
                if let Some(template) = &run.task_run_template {
                    pod_template(cx, template.pod_template.as_ref());
                }
                pod_template(cx, run.pod_template.as_ref());
                for spec in &run.task_run_specs {
                    pod_template(cx, spec.pod_template.as_ref());
                }
            }
            _ => {}
        }
    }
    for pipeline in pipeline_specs(world) {
        for (_, task) in pipeline_tasks(pipeline.spec) {
            if let Some(metadata) = task.task_spec.as_ref().and_then(|t| t.metadata.as_ref()) {
                labels(cx, metadata.labels.as_ref(), Written::InlineTask);
                annotations(cx, metadata.annotations.as_ref(), Written::InlineTask);
            }
        }
    }
}

fn task_spec(cx: &mut Checker, spec: &TaskSpec) {
    for volume in &spec.volumes {
        let config_map = volume
            .config_map
            .as_ref()
            .and_then(|c| c.default_mode.as_ref());
        let secret = volume.secret.as_ref().and_then(|s| s.default_mode.as_ref());
        for mode in config_map.into_iter().chain(secret) {
            file_mode(cx, mode);
        }
    }
    let template = spec.step_template.as_ref();
    let template_resources = template.and_then(|t| t.compute_resources.as_ref());
    for step in &spec.steps {
        requests_within_limits(cx, step.compute_resources.as_ref(), template_resources);
        container(
            cx,
            &step.env,
            &step.volume_mounts,
            step.image_pull_policy.as_ref(),
        );
    }
    if let Some(t) = template {
        requests_within_limits(cx, t.compute_resources.as_ref(), None);
        container(cx, &t.env, &t.volume_mounts, t.image_pull_policy.as_ref());
    }
    for sidecar in &spec.sidecars {
        requests_within_limits(cx, sidecar.compute_resources.as_ref(), None);
        container(
            cx,
            &sidecar.env,
            &sidecar.volume_mounts,
            sidecar.image_pull_policy.as_ref(),
        );
        one_of(
            cx,
            sidecar.termination_message_policy.as_ref(),
            "terminationMessagePolicy",
            TERMINATION_MESSAGE_POLICIES,
        );
        one_of(
            cx,
            sidecar.restart_policy.as_ref(),
            "restartPolicy",
            CONTAINER_RESTART_POLICIES,
        );
        for port in &sidecar.ports {
            if let Some(protocol) = port
                .0
                .as_ref()
                .and_then(|p| crate::model::string_field(p, "protocol"))
            {
                one_of(cx, Some(&protocol), "protocol", PORT_PROTOCOLS);
            }
        }
    }
}

fn container(cx: &mut Checker, env: &[EnvVar], mounts: &[VolumeMount], pull_policy: Option<&Str>) {
    one_of(cx, pull_policy, "imagePullPolicy", PULL_POLICIES);
    for mount in mounts {
        one_of(
            cx,
            mount.mount_propagation.as_ref(),
            "mountPropagation",
            MOUNT_PROPAGATIONS,
        );
        one_of(
            cx,
            mount.recursive_read_only.as_ref(),
            "recursiveReadOnly",
            RECURSIVE_READ_ONLY,
        );
    }
    for var in env {
        if let (Some(value), Some(from)) = (&var.value, &var.value_from)
            && !value.is_empty()
        {
            env_value_and_value_from(cx, &var.name, value.span, from.0.as_ref());
        }
    }
}

fn env_value_and_value_from(cx: &mut Checker, name: &Str, value: Span, from: Option<&Node>) {
    let mut d = Diagnostic::new(
        &ENV_VALUE_AND_VALUE_FROM,
        format!(
            "env var `{}`: `valueFrom` may not be specified when `value` is not empty",
            name.value
        ),
    )
    .with_label(value, "a value");
    // The source's first key: the whole mapping's span runs on to the next field.
    if let Some(first) = from.and_then(Node::as_map).and_then(|m| m.entries.first()) {
        d = d.with_secondary(first.key_span, "and a source");
    }
    cx.report(d.with_help("keep one of them: `value` for a literal, `valueFrom` for a reference"));
}

/// Reports `value` unless it is one of `allowed` (or a reference substituted at run time).
fn one_of(cx: &mut Checker, value: Option<&Str>, field: &str, allowed: &[&str]) {
    let Some(value) = value else {
        return;
    };
    if allowed.contains(&value.as_str()) || value.contains("$(") {
        return;
    }
    let listed: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
    let help = match allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .copied()
        .or_else(|| did_you_mean(value, allowed.iter().copied()))
    {
        Some(s) => format!("did you mean `{s}`? (supported: {})", listed.join(", ")),
        None => format!("supported values: {}", listed.join(", ")),
    };
    cx.report(
        Diagnostic::new(
            &UNSUPPORTED_VALUE,
            format!("`{field}`: unsupported value `{}`", value.value),
        )
        .with_label(value.span, "not a supported value")
        .with_help(help),
    );
}

/// The requests of a container against its limits, the step template's merged in key by key
/// (a step's own entry wins), as Tekton's `MergeStepsWithStepTemplate` merges them.
fn requests_within_limits(
    cx: &mut Checker,
    own: Option<&Kube<ResourceRequirements>>,
    template: Option<&Kube<ResourceRequirements>>,
) {
    fn section<'a>(
        r: Option<&'a Kube<ResourceRequirements>>,
        key: &str,
    ) -> Vec<(&'a str, &'a Node)> {
        r.and_then(|r| r.0.as_ref())
            .and_then(|n| n.get(key))
            .and_then(Node::as_map)
            .map(|m| {
                m.entries
                    .iter()
                    .map(|e| (e.key.as_str(), &e.value))
                    .collect()
            })
            .unwrap_or_default()
    }
    let own_limits = section(own, "limits");
    let mut limits = own_limits.clone();
    for (name, node) in section(template, "limits") {
        if !limits.iter().any(|(n, _)| *n == name) {
            limits.push((name, node));
        }
    }
    let mut requests = section(own, "requests");
    // A request the template sets is checked where the template is against the template's
    // limit; here only against a limit of the step's own.
    for (name, node) in section(template, "requests") {
        if !requests.iter().any(|(n, _)| *n == name) && own_limits.iter().any(|(n, _)| *n == name) {
            requests.push((name, node));
        }
    }
    for (name, request) in &requests {
        let Some((_, limit)) = limits.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let (Some(r), Some(l)) = (quantity(request), quantity(limit)) else {
            continue;
        };
        if r.compare(&l) != Some(Ordering::Greater) {
            continue;
        }
        let text = |n: &Node| n.as_str().unwrap_or_default().to_string();
        cx.report(
            Diagnostic::new(
                &REQUEST_ABOVE_LIMIT,
                format!(
                    "invalid request resource value: {} must be less or equal to limit {} ({name})",
                    text(request),
                    text(limit)
                ),
            )
            .with_label(request.span, "requested")
            .with_secondary(limit.span, "the limit")
            .with_help(format!(
                "lower the `{name}` request, or raise the limit; a container may not request more than it may use"
            )),
        );
    }
}

/// `ValidateVolumes` (configMap and secret `defaultMode`): a file mode between 0 and 0777
/// (octal), both inclusive.
fn file_mode(cx: &mut Checker, mode: &Spanned<i64>) {
    if (0..=0o777).contains(&mode.value) {
        return;
    }
    cx.report(
        Diagnostic::new(
            &UNSUPPORTED_VALUE,
            format!(
                "`defaultMode`: {} must be a number between 0 and 0777 (octal), both inclusive",
                mode.value
            ),
        )
        .with_label(mode.span, "not a file mode")
        .with_help(
            "write the mode in octal with a leading 0 (`0644`, read as 420), or its decimal value",
        ),
    );
}

fn binding_modes(cx: &mut Checker, bindings: &[WorkspaceBinding]) {
    for b in bindings {
        let config_map = b.config_map.as_ref().and_then(|c| c.default_mode.as_ref());
        let secret = b.secret.as_ref().and_then(|s| s.default_mode.as_ref());
        for mode in config_map.into_iter().chain(secret) {
            file_mode(cx, mode);
        }
    }
}

fn quantity(node: &Node) -> Option<Quantity> {
    node.as_str().and_then(Quantity::parse)
}

fn pod_template(cx: &mut Checker, template: Option<&Kube<PodTemplate>>) {
    let Some(node) = template.and_then(|t| t.0.as_ref()) else {
        return;
    };
    if let Some(policy) = crate::model::string_field(node, "dnsPolicy") {
        one_of(cx, Some(&policy), "dnsPolicy", DNS_POLICIES);
    }
    if let Some(Node {
        value: Value::Seq(env),
        ..
    }) = node.get("env")
    {
        for var in env {
            let (Some(name), Some(value), Some(from)) = (
                crate::model::string_field(var, "name"),
                crate::model::string_field(var, "value"),
                var.get("valueFrom"),
            ) else {
                continue;
            };
            if !value.is_empty() {
                env_value_and_value_from(cx, &name, value.span, Some(from));
            }
        }
    }
}

/// Whose metadata the labels are: the resource's own are stored as written; an inline task's
/// are copied to its TaskRun, and a `$(...)` in them is left alone (tkc does not follow
/// whether the run substitutes it).
#[derive(Copy, Clone, PartialEq, Eq)]
enum Written {
    Resource,
    InlineTask,
}

fn labels(cx: &mut Checker, labels: Option<&StringMap>, written: Written) {
    for (key, value) in labels.map(|l| &l.0[..]).unwrap_or_default() {
        label_key(cx, key, "label", written);
        let left_to_run = written == Written::InlineTask && value.contains("$(");
        if !crate::check::names::is_label_value(value) && !left_to_run {
            cx.report(
                Diagnostic::new(
                    &INVALID_LABEL,
                    format!("label `{}` has an invalid value `{}`", key.value, value.value),
                )
                .with_label(value.span, "not a label value")
                .with_help("a label value is empty or at most 63 characters of letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit; put free text in an annotation"),
            );
        }
    }
}

fn annotations(cx: &mut Checker, annotations: Option<&StringMap>, written: Written) {
    let entries = annotations.map(|a| &a.0[..]).unwrap_or_default();
    let mut size = 0;
    for (key, value) in entries {
        label_key(cx, key, "annotation", written);
        size += key.len() + value.len();
    }
    if size > MAX_ANNOTATIONS_SIZE
        && let Some((first, _)) = entries.first()
    {
        cx.report(
            Diagnostic::new(
                &INVALID_LABEL,
                format!("annotations hold {size} bytes; Kubernetes allows at most 262144"),
            )
            .with_label(first.span, "annotations too long")
            .with_help("keep large data out of annotations (a ConfigMap, or a workspace)"),
        );
    }
}

fn label_key(cx: &mut Checker, key: &Str, what: &str, written: Written) {
    if crate::check::names::is_qualified_name(key)
        || (written == Written::InlineTask && key.contains("$("))
    {
        return;
    }
    cx.report(
        Diagnostic::new(
            &INVALID_LABEL,
            format!("`{}` is not a valid {what} key", key.value),
        )
        .with_label(key.span, "not a qualified name")
        .with_help("a key is an optional DNS subdomain prefix and `/`, then at most 63 characters of letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"),
    );
}

#[cfg(test)]
mod tests {

    #[test]
    fn qualified_names_and_label_values_follow_apimachinery() {
        for ok in [
            "app",
            "app.kubernetes.io/name",
            "tekton.dev/pipeline",
            "a_b.c-d",
            "A1",
        ] {
            assert!(crate::check::names::is_qualified_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-app",
            "app-",
            "a/b/c",
            "Tekton.Dev/x",
            "x/",
            "has space",
            &"a".repeat(64),
        ] {
            assert!(!crate::check::names::is_qualified_name(bad), "{bad}");
        }
        for ok in ["", "v1", "1.0.0", "a_b"] {
            assert!(crate::check::names::is_label_value(ok), "{ok}");
        }
        for bad in ["1.0 beta", "-x", "x.", "a/b", &"a".repeat(64)] {
            assert!(!crate::check::names::is_label_value(bad), "{bad}");
        }
    }
}
