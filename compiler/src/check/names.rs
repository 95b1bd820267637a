//! Names: the formats Kubernetes and Tekton require, and duplicates.

use super::{Checker, pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::{
    Param, Resource, Str, VolumeFile, WorkspaceBinding, projected_files, volume_items,
};
use std::collections::HashMap;

declare_code! {
    /// # A name in the wrong format
    ///
    /// Resource names (`metadata.name`) are DNS-1123 subdomains: lowercase letters, digits,
    /// `-` and `.`, starting and ending with a letter or digit, at most 63 characters here
    /// because Tekton derives pod and label values from them. Pipeline task and step names are
    /// DNS labels (no `.`). A name may start with a digit (`42crunch-scan` is fine).
    /// Param names match `^[_a-zA-Z][_a-zA-Z0-9.-]*$` (objects: no `.`); result names match
    /// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`.
    ///
    /// Names that become volumes, containers or directories follow Kubernetes' rules, at every
    /// level: workspace names (declared by a Task or Pipeline, bound by a pipeline task or a
    /// run, mounted by a step or sidecar), volume names (declared and mounted) and sidecar
    /// names are DNS-1123 labels (`IsDNS1123Label`, as Kubernetes' `ValidateVolumes` and
    /// `validateContainers` require; Tekton names the sidecar's container `sidecar-<name>`),
    /// and `persistentVolumeClaim.claimName` is a DNS-1123 subdomain of at most 253 characters
    /// (`ValidatePersistentVolumeName`). A name such as `../../etc` would otherwise become a
    /// path outside the workspace, in a pod and in tkc's local runs alike. Tekton's own
    /// admission does not check workspace names (`validatePipelineWorkspacesDeclarations`
    /// only wants them unique and non-empty), but the pod they end up in is Kubernetes'. A
    /// name that holds a `$(...)` reference is substituted at run time and not checked here.
    ///
    /// ## Example
    /// ```yaml
    /// tasks:
    ///   - name: Build_Image
    /// ```
    /// Use `build-image`.
    pub static INVALID_NAME = "tkc::names::invalid-name", Error, reason = "PipelineValidationFailed";
}

declare_code! {
    /// # Two things of the same kind share a name
    ///
    /// Steps, sidecars, pipeline tasks (over `tasks` and `finally` together), declared params,
    /// workspaces, volumes, and the params and workspace bindings given to one task must have
    /// distinct names. Tekton rejects the resource; for params given to a run the comparison
    /// ignores case.
    pub static DUPLICATE = "tkc::names::duplicate", Error, reason = "PipelineValidationFailed";
}

declare_code! {
    /// # A Task declares the same result twice
    ///
    /// Tekton accepts it (a known quirk) but only one value is ever reported; the other
    /// declaration is dead.
    pub static DUPLICATE_RESULT = "tkc::names::duplicate-result", Warning;
}

declare_code! {
    /// # A container sets the same environment variable twice
    ///
    /// Kubernetes keeps the last value, so the first is silently lost.
    pub static DUPLICATE_ENV = "tkc::names::duplicate-env", Warning;
}

declare_code! {
    /// # A ConfigMap or Secret key Kubernetes rejects
    ///
    /// Keys of a ConfigMap's or Secret's `data`, `stringData` and `binaryData`, and the `key`
    /// of a volume's `items[]`, become file names in the volume. Kubernetes' `IsConfigMapKey`
    /// (used by `ValidateConfigMap` and `ValidateSecret`) allows letters, digits, `-`, `_` and
    /// `.`, at most 253 characters, and not `.`, `..` or a name starting with `..`; so a key
    /// can never name a file outside its volume. A key with `/` in it is rejected.
    ///
    /// ## Example
    /// ```yaml
    /// kind: ConfigMap
    /// data:
    ///   ../settings.json: "{}"
    /// ```
    /// Use `settings.json`, and put the file elsewhere with `items[].path` if needed.
    pub static INVALID_KEY = "tkc::names::invalid-key", Error;
}

declare_code! {
    /// # A path that leaves its volume
    ///
    /// `subPath` (of a volume mount, of a pipeline task's workspace binding, of a run's
    /// workspace binding) and the `path` of a volume's `items[]` name a place *inside* a
    /// volume. Kubernetes' `validateLocalDescendingPath` (called by `ValidateVolumeMounts` for
    /// `subPath` and by `validateKeyToPath` for `items[].path`, which also refuses a path that
    /// starts with `..`) requires a relative path without a `..` element; the pod is rejected
    /// and the TaskRun fails with `PodCreationFailed`. Tekton passes a binding's `subPath` on
    /// to the pod's volume mount.
    ///
    /// A `$(...)` reference is substituted at run time (`subPath: $(params.dir)` is common):
    /// only the text around references is checked here, and tkc's run time checks the
    /// substituted value.
    ///
    /// ## Example
    /// ```yaml
    /// workspaces:
    ///   - name: source
    ///     workspace: shared
    ///     subPath: ../other-run
    /// ```
    /// Use a directory below the workspace: `subPath: $(context.pipelineRun.name)/src`.
    pub static INVALID_PATH = "tkc::names::invalid-path", Error, reason = "PodCreationFailed";
}

/// This family's codes.
pub const CODES: &[&Code] = &[
    &INVALID_NAME,
    &DUPLICATE,
    &DUPLICATE_RESULT,
    &DUPLICATE_ENV,
    &INVALID_KEY,
    &INVALID_PATH,
];

/// DNS-1123 label: `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// DNS-1123 subdomain: dot-separated labels, at most 253 characters (Tekton: 63).
pub fn is_dns_subdomain(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Kubernetes' `IsConfigMapKey`: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`
/// and not starting with `..`.
pub fn is_config_map_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        && s != "."
        && !s.starts_with("..")
}

/// Why a path is not a local descending path (Kubernetes' `validateLocalDescendingPath`:
/// relative, no `..` element; with `reserved`, `validateLocalNonReservedPath`: also not
/// starting with `..`), looking only at the text outside `$(...)` references. `None` if it is
/// fine as far as the static text tells.
pub fn path_problem(path: &str, reserved: bool) -> Option<&'static str> {
    // Each reference stands for an unknown, non-empty piece of text.
    let mut static_text = String::with_capacity(path.len());
    let mut at = 0;
    for r in crate::vars::parse(path) {
        static_text.push_str(&path[at..r.start]);
        static_text.push('\0');
        at = r.end;
    }
    static_text.push_str(&path[at..]);
    if static_text.starts_with('/') {
        Some("an absolute path")
    } else if static_text.split('/').any(|part| part == "..") {
        Some("a `..` element")
    } else if reserved && static_text.starts_with("..") {
        Some("a name starting with `..` (reserved by Kubernetes)")
    } else {
        None
    }
}

/// String and array param names: `^[_a-zA-Z][_a-zA-Z0-9.-]*$`.
pub fn is_param_name(s: &str, object: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c == '-' || c.is_ascii_alphanumeric() || (!object && c == '.'))
}

/// Result names: `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`.
pub fn is_result_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A suggested DNS label for a bad name (`Build_Image` → `build-image`).
fn as_dns_label(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(63).collect()
}

pub fn run(cx: &mut Checker) {
    host_paths(cx);
    let world = cx.world;
    for (_, document) in world.checked() {
        if let Some(name) = &document.metadata.name
            && !matches!(
                document.resource,
                Resource::ConfigMap(_) | Resource::Secret(_)
            )
            && !is_dns_subdomain(name, 63)
        {
            cx.report(
                Diagnostic::new(
                    &INVALID_NAME,
                    format!(
                        "`{}` is not a valid {} name",
                        name.value,
                        document.kind.as_str()
                    ),
                )
                .with_label(name.span, "not a DNS-1123 subdomain")
                .with_help(format!(
                    "use lowercase letters, digits, `-` and `.`, at most 63 characters: `{}`",
                    as_dns_label(name)
                )),
            );
        }
        if let Resource::StepAction(spec) = &document.resource {
            for result in &spec.results {
                result_name(cx, &result.name, "step result");
            }
        }
        if let Resource::TaskRun(run) = &document.resource {
            duplicates(cx, run.params.iter().map(|p| &p.name), "param", true);
            duplicates(
                cx,
                run.workspaces.iter().map(|w| &w.name),
                "workspace binding",
                true,
            );
            // `validateStepSpecs`, `validateSidecarSpecs` → `validateNoDuplicateNames`
            // (taskrun_validation.go): names compared in lower case.
            duplicates(
                cx,
                run.step_specs.iter().map(|s| &s.name),
                "step spec",
                true,
            );
            duplicates(
                cx,
                run.sidecar_specs.iter().map(|s| &s.name),
                "sidecar spec",
                true,
            );
        }
        if let Resource::PipelineRun(run) = &document.resource {
            duplicates(cx, run.params.iter().map(|p| &p.name), "param", true);
            duplicates(
                cx,
                run.workspaces.iter().map(|w| &w.name),
                "workspace binding",
                false,
            );
            // `validateTaskRunSpec` (pipelinerun_validation.go) checks each entry's specs.
            for entry in &run.task_run_specs {
                duplicates(
                    cx,
                    entry.step_specs.iter().map(|s| &s.name),
                    "step spec",
                    true,
                );
                duplicates(
                    cx,
                    entry.sidecar_specs.iter().map(|s| &s.name),
                    "sidecar spec",
                    true,
                );
            }
        }
    }

    for task in task_specs(world) {
        let spec = task.spec;
        for step in &spec.steps {
            if let Some(name) = &step.name {
                dns_label(cx, name, "step");
            }
        }
        duplicates(
            cx,
            spec.steps.iter().filter_map(|s| s.name.as_ref()),
            "step",
            false,
        );
        duplicates(
            cx,
            spec.sidecars.iter().filter_map(|s| s.name.as_ref()),
            "sidecar",
            false,
        );
        duplicates(cx, spec.params.iter().map(|p| &p.name), "param", false);
        duplicates(
            cx,
            spec.workspaces.iter().map(|w| &w.name),
            "workspace",
            false,
        );
        duplicates(cx, spec.volumes.iter().map(|v| &v.name), "volume", false);
        for param in &spec.params {
            param_name(cx, &param.name, param.properties.is_some());
        }
        for result in &spec.results {
            result_name(cx, &result.name, "result");
        }
        for step in &spec.steps {
            for result in &step.results {
                result_name(cx, &result.name, "step result");
            }
        }
        for (again, first) in repeats(spec.results.iter().map(|r| &r.name), false) {
            cx.report(
                Diagnostic::new(
                    &DUPLICATE_RESULT,
                    format!("result `{}` is declared twice", again.value),
                )
                .with_label(again.span, "declared again here")
                .with_secondary(first.span, "first declared here"),
            );
        }
        let template_env = spec.step_template.iter().flat_map(|t| t.env.iter());
        duplicate_env(cx, template_env.map(|e| &e.name));
        for step in &spec.steps {
            duplicate_env(cx, step.env.iter().map(|e| &e.name));
        }
        for sidecar in &spec.sidecars {
            duplicate_env(cx, sidecar.env.iter().map(|e| &e.name));
        }
    }

    for pipeline in pipeline_specs(world) {
        let spec = pipeline.spec;
        duplicates(
            cx,
            pipeline_tasks(spec).map(|(_, t)| &t.name),
            "pipeline task",
            false,
        );
        duplicates(cx, spec.params.iter().map(|p| &p.name), "param", false);
        duplicates(
            cx,
            spec.workspaces.iter().map(|w| &w.name),
            "workspace",
            false,
        );
        for (_, task) in pipeline_tasks(spec) {
            dns_label(cx, &task.name, "pipeline task");
            duplicates(
                cx,
                task.params.iter().map(|p: &Param| &p.name),
                "param",
                false,
            );
            case_only_duplicates(cx, task.params.iter().map(|p: &Param| &p.name));
            duplicates(
                cx,
                task.workspaces.iter().map(|w| &w.name),
                "workspace binding",
                false,
            );
        }
    }
}

/// Names, keys and paths that tkc and Kubernetes turn into volumes, containers, directories
/// and files: workspaces, volumes, sidecars, claims, ConfigMap and Secret keys, `items[]` and
/// `subPath`, wherever they are written.
fn host_paths(cx: &mut Checker) {
    let world = cx.world;
    for (_, document) in world.checked() {
        match &document.resource {
            Resource::ConfigMap(data) | Resource::Secret(data) => {
                let what = format!("{} key", document.kind.as_str());
                for map in [&data.data, &data.string_data, &data.binary_data] {
                    for (key, _) in &map.0 {
                        config_key(cx, key, &what);
                    }
                }
            }
            Resource::TaskRun(run) => workspace_bindings(cx, &run.workspaces),
            Resource::PipelineRun(run) => workspace_bindings(cx, &run.workspaces),
            _ => {}
        }
    }
    for task in task_specs(world) {
        let spec = task.spec;
        for workspace in &spec.workspaces {
            resource_label(cx, &workspace.name, "workspace");
        }
        for volume in &spec.volumes {
            resource_label(cx, &volume.name, "volume");
            if let Some(pvc) = &volume.persistent_volume_claim {
                claim_name(cx, &pvc.claim_name);
            }
            if let Some(config_map) = &volume.config_map {
                volume_files(cx, volume_items(config_map.items.as_ref()));
            }
            if let Some(secret) = &volume.secret {
                volume_files(cx, volume_items(secret.items.as_ref()));
            }
            if let Some(projected) = &volume.projected {
                volume_files(cx, projected_files(projected));
            }
        }
        for sidecar in &spec.sidecars {
            if let Some(name) = &sidecar.name {
                resource_label(cx, name, "sidecar");
            }
        }
        let mounts = spec
            .steps
            .iter()
            .flat_map(|s| &s.volume_mounts)
            .chain(spec.sidecars.iter().flat_map(|s| &s.volume_mounts))
            .chain(spec.step_template.iter().flat_map(|t| &t.volume_mounts));
        for mount in mounts {
            resource_label(cx, &mount.name, "volume");
            if let Some(sub_path) = &mount.sub_path {
                local_path(cx, sub_path, "subPath", false);
            }
        }
        let usages = spec
            .steps
            .iter()
            .flat_map(|s| &s.workspaces)
            .chain(spec.sidecars.iter().flat_map(|s| &s.workspaces));
        for usage in usages {
            resource_label(cx, &usage.name, "workspace");
        }
    }
    for pipeline in pipeline_specs(world) {
        for workspace in &pipeline.spec.workspaces {
            resource_label(cx, &workspace.name, "workspace");
        }
        for (_, task) in pipeline_tasks(pipeline.spec) {
            for binding in &task.workspaces {
                resource_label(cx, &binding.name, "workspace");
                if let Some(workspace) = &binding.workspace {
                    resource_label(cx, workspace, "workspace");
                }
                if let Some(sub_path) = &binding.sub_path {
                    local_path(cx, sub_path, "subPath", false);
                }
            }
        }
    }
}

/// A run's workspace bindings (Tekton's `WorkspaceBinding`, validated by
/// `WorkspaceBinding.Validate` in `workspace_validation.go`, then mounted by the pod).
fn workspace_bindings(cx: &mut Checker, bindings: &[WorkspaceBinding]) {
    for binding in bindings {
        resource_label(cx, &binding.name, "workspace");
        if let Some(sub_path) = &binding.sub_path {
            local_path(cx, sub_path, "subPath", false);
        }
        if let Some(pvc) = &binding.persistent_volume_claim {
            claim_name(cx, &pvc.claim_name);
        }
        if let Some(config_map) = &binding.config_map {
            volume_files(cx, volume_items(config_map.items.as_ref()));
        }
        if let Some(secret) = &binding.secret {
            volume_files(cx, volume_items(secret.items.as_ref()));
        }
        if let Some(projected) = &binding.projected {
            volume_files(cx, projected_files(projected));
        }
    }
}

/// A DNS-1123 label, unless it holds a reference Tekton substitutes first.
fn resource_label(cx: &mut Checker, name: &Str, what: &str) {
    if !name.contains("$(") {
        dns_label(cx, name, what);
    }
}

fn claim_name(cx: &mut Checker, name: &Str) {
    if !name.is_empty() && !name.contains("$(") && !is_dns_subdomain(name, 253) {
        cx.report(
            Diagnostic::new(
                &INVALID_NAME,
                format!("`{}` is not a valid claim name", name.value),
            )
            .with_label(name.span, "not a DNS-1123 subdomain")
            .with_help(format!(
                "a PersistentVolumeClaim's name uses lowercase letters, digits, `-` and `.`, at most 253 characters: `{}`",
                as_dns_label(name)
            )),
        );
    }
}

fn config_key(cx: &mut Checker, key: &Str, what: &str) {
    if !key.contains("$(") && !is_config_map_key(key) {
        let help = match key.rsplit('/').next() {
            Some(file) if key.contains('/') && is_config_map_key(file) => format!(
                "keys are file names, not paths: use `{file}` (and `items[].path` to place it)"
            ),
            _ => "use letters, digits, `-`, `_` and `.`, at most 253 characters, not starting with `..`"
                .to_string(),
        };
        cx.report(
            Diagnostic::new(
                &INVALID_KEY,
                format!("`{}` is not a valid {what}", key.value),
            )
            .with_label(key.span, "not a ConfigMap key")
            .with_help(help),
        );
    }
}

fn volume_files(cx: &mut Checker, files: Vec<VolumeFile>) {
    for file in files {
        if let Some(key) = &file.key {
            config_key(cx, key, "key");
        }
        if let Some(path) = &file.path {
            local_path(cx, path, "path", true);
        }
    }
}

fn local_path(cx: &mut Checker, path: &Str, what: &str, reserved: bool) {
    if let Some(problem) = path_problem(path, reserved) {
        cx.report(
            Diagnostic::new(
                &INVALID_PATH,
                format!("{what} `{}` leaves its volume", path.value),
            )
            .with_label(path.span, format!("{problem}: not allowed here"))
            .with_help("use a relative path below the volume, without `..`"),
        );
    }
}

fn dns_label(cx: &mut Checker, name: &Str, what: &str) {
    // An empty name is a missing one, reported by the schema.
    if !name.is_empty() && !is_dns_label(name) {
        cx.report(
            Diagnostic::new(
                &INVALID_NAME,
                format!("`{}` is not a valid {what} name", name.value),
            )
            .with_label(name.span, "not a DNS label")
            .with_help(format!(
                "use lowercase letters, digits and `-`, at most 63 characters: `{}`",
                as_dns_label(name)
            )),
        );
    }
}

fn param_name(cx: &mut Checker, name: &Str, object: bool) {
    if !name.is_empty() && !is_param_name(name, object) {
        let allowed = if object {
            "letters, digits, `_` and `-` (no `.` in object params)"
        } else {
            "letters, digits, `_`, `-` and `.`"
        };
        cx.report(
            Diagnostic::new(
                &INVALID_NAME,
                format!("`{}` is not a valid param name", name.value),
            )
            .with_label(name.span, "invalid param name")
            .with_help(format!("start with a letter or `_`, then use {allowed}")),
        );
    }
}

fn result_name(cx: &mut Checker, name: &Str, what: &str) {
    // An empty name is a missing one, reported by the schema.
    if !name.is_empty() && !is_result_name(name) {
        cx.report(
            Diagnostic::new(
                &INVALID_NAME,
                format!("`{}` is not a valid {what} name", name.value),
            )
            .with_label(name.span, "invalid result name")
            .with_help(
                "use letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit",
            ),
        );
    }
}

/// Each name that repeats an earlier one (case-insensitively if `fold_case`), with the first;
/// empty names (reported by the schema) are skipped.
fn repeats<'a>(names: impl Iterator<Item = &'a Str>, fold_case: bool) -> Vec<(&'a Str, &'a Str)> {
    let mut seen: HashMap<String, &Str> = HashMap::new();
    let mut out = Vec::new();
    for name in names.filter(|n| !n.is_empty()) {
        let key = if fold_case {
            name.value.to_lowercase()
        } else {
            name.value.clone()
        };
        match seen.get(&key) {
            Some(first) => out.push((name, *first)),
            None => {
                seen.insert(key, name);
            }
        }
    }
    out
}

fn duplicates<'a>(
    cx: &mut Checker,
    names: impl Iterator<Item = &'a Str>,
    what: &str,
    fold_case: bool,
) {
    for (again, first) in repeats(names, fold_case) {
        cx.report(
            Diagnostic::new(
                &DUPLICATE,
                format!("{what} `{}` is given twice", again.value),
            )
            .with_label(again.span, "given again here")
            .with_secondary(first.span, "first given here"),
        );
    }
}

/// Pipeline task params that differ only in case: the Pipeline is accepted
/// (`validateDuplicateParameters` compares exactly), but the TaskRun made for the task is
/// not (`ValidateParameters` → `validateNoDuplicateNames`, in lower case), so the run fails
/// when the task starts.
fn case_only_duplicates<'a>(cx: &mut Checker, names: impl Iterator<Item = &'a Str>) {
    for (again, first) in repeats(names, true) {
        if again.value == first.value {
            continue;
        }
        cx.report(
            Diagnostic::new(
                &DUPLICATE,
                format!(
                    "params `{}` and `{}` differ only in case: the TaskRun for this task is rejected",
                    first.value, again.value
                ),
            )
            .with_label(again.span, "the same name to a TaskRun")
            .with_secondary(first.span, "first given here")
            .with_help("a TaskRun's param names are compared ignoring case; rename one of them"),
        );
    }
}

fn duplicate_env<'a>(cx: &mut Checker, names: impl Iterator<Item = &'a Str>) {
    for (again, first) in repeats(names, false) {
        cx.report(
            Diagnostic::new(
                &DUPLICATE_ENV,
                format!("env var `{}` is set twice", again.value),
            )
            .with_label(again.span, "set again here")
            .with_secondary(first.span, "first set here")
            .with_help("Kubernetes keeps the last value; remove one"),
        );
    }
}

/// `IsQualifiedName`: `[prefix/]name`, the prefix a DNS-1123 subdomain of at most 253
/// characters, the name at most 63 characters of `[-A-Za-z0-9_.]` that start and end with a
/// letter or digit.
pub fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(|p| is_dns_subdomain(p, 253)) && is_label_value(name) && !name.is_empty()
}

/// `IsValidLabelValue`: empty, or at most 63 characters of `[-A-Za-z0-9_.]` that start and
/// end with a letter or digit.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
            && s.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_formats() {
        assert!(is_dns_label("42crunch-scan"));
        assert!(!is_dns_label("Build"));
        assert!(!is_dns_label("a.b"));
        assert!(!is_dns_label("-a"));
        assert!(is_dns_subdomain("a.b-c", 63));
        assert!(is_param_name("a.b", false));
        assert!(!is_param_name("a.b", true));
        assert!(!is_param_name("1a", false));
        assert!(is_result_name("digest"));
        assert!(!is_result_name("-x"));
        assert_eq!(as_dns_label("Build_Image"), "build-image");
    }

    #[test]
    fn config_map_keys_follow_is_config_map_key() {
        assert!(is_config_map_key(".env"));
        assert!(is_config_map_key("a..b"));
        assert!(is_config_map_key("CA_BUNDLE-2.pem"));
        for bad in ["", ".", "..", "..data", "../x", "a/b", "/abs", "with space"] {
            assert!(!is_config_map_key(bad), "{bad:?}");
        }
        assert!(!is_config_map_key(&"k".repeat(254)));
    }

    #[test]
    fn paths_follow_validate_local_descending_path() {
        assert_eq!(path_problem("a/b", false), None);
        assert_eq!(path_problem("./a/..b/c..", false), None);
        assert_eq!(path_problem("$(params.dir)", false), None);
        assert_eq!(path_problem("$(params.a)..", false), None);
        assert!(path_problem("/", false).is_some());
        assert!(path_problem("/$(params.dir)", false).is_some());
        assert!(path_problem("a/../../b", false).is_some());
        assert!(path_problem("$(params.dir)/..", false).is_some());
        assert_eq!(path_problem("..data", false), None);
        assert!(path_problem("..data", true).is_some());
    }
}
