//! Steps, sidecars and StepActions: `script` against `command`, steps that run a StepAction
//! (`ref`) and its params, volume mounts, reserved names, Windows scripts.

use super::{Checker, TaskCx, TaskSite, refs, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic, codes};
use crate::model::{
    ApiFields, Resource, Sidecar, Step, StepActionSpec, Str, TaskSpec, VolumeMount,
};
use crate::resolve::Resolved;
use crate::source::Span;
use crate::suggest::did_you_mean;
use crate::vars::RefKind;
use std::collections::HashSet;

declare_code! {
    /// # `script` together with `command`
    ///
    /// A step's `script` becomes its command (a file run with the interpreter of its `#!`
    /// line), so it cannot also have a `command`; Tekton rejects the Task (`script cannot be
    /// used with command`). `args` are fine: they are passed to the script. A `command` in the
    /// `stepTemplate` counts too, since it is merged into every step.
    ///
    /// ## Example
    /// ```yaml
    /// - name: test
    ///   image: golang:1.22
    ///   command: [bash, -c]
    ///   script: go test ./...
    /// ```
    /// Drop `command`, and start the script with `#!/usr/bin/env bash` if it needs bash.
    pub static SCRIPT_WITH_COMMAND = "tkc::steps::script-with-command", Error;
}

declare_code! {
    /// # A field that a step running a StepAction cannot have
    ///
    /// A step with `ref` runs the referenced StepAction, which provides the image, command,
    /// args, script, env, volume mounts and results. Tekton rejects a step that sets them too
    /// (`image cannot be used with Ref`). Pass values through the StepAction's `params`.
    pub static REF_CONFLICT = "tkc::steps::ref-conflict", Error;
}

declare_code! {
    /// # `params` on a step without `ref`
    ///
    /// Step `params` are the inputs of a StepAction, so they only make sense with `ref`.
    /// Tekton rejects them otherwise (`params cannot be used without Ref`). A Task's own
    /// params are declared under `spec.params` and used as `$(params.<name>)`.
    pub static PARAMS_WITHOUT_REF = "tkc::steps::params-without-ref", Error;
}

declare_code! {
    /// # A StepAction param that is unknown or missing
    ///
    /// A step that runs a StepAction must give every param the StepAction declares without a
    /// default, and only params it declares. Tekton fails the TaskRun when it resolves the
    /// StepAction.
    pub static STEP_ACTION_PARAMS = "tkc::steps::step-action-params", Error, reason = "TaskRunResolutionFailed";
}

declare_code! {
    /// # A StepAction script that uses params
    ///
    /// Tekton forbids `$(params...)` in a StepAction's `script` (`param substitution in scripts
    /// is not allowed.`), because substituting text into a script invites shell injection.
    /// Pass the value in an environment variable and use `$NAME` in the script.
    ///
    /// ## Example
    /// ```yaml
    /// env:
    ///   - name: URL
    ///     value: $(params.url)
    /// script: |
    ///   curl "$URL"
    /// ```
    pub static STEP_ACTION_SCRIPT_PARAMS = "tkc::steps::step-action-script-params", Error;
}

declare_code! {
    /// # A volume mount that names no volume of the Task
    ///
    /// A step or sidecar mounts a volume by name; the pod has the Task's `volumes`, the
    /// workspace volumes (`$(workspaces.<name>.volume)`) and those a run's `podTemplate`
    /// adds. A name that is none of them makes the pod fail to start (Kubernetes'
    /// `ValidateVolumeMounts`: `not found`; stage: pod creation). Declare the volume under
    /// the Task's `volumes`, or mount a workspace instead.
    ///
    /// A warning in a Task or a pipeline task's inline spec, since a run's `podTemplate` may
    /// supply the volume; an error in a TaskRun's inline spec, whose `podTemplate` tkc sees.
    pub static UNDEFINED_VOLUME = "tkc::steps::undefined-volume", Warning, reason = "PodCreationFailed";
}

declare_code! {
    /// # A volume mount on a path or name Tekton reserves
    ///
    /// Tekton mounts its own volumes under `/tekton/` and names them `tekton-internal-*`; a
    /// step may not mount anything there (except `/tekton/home`) nor use such a name
    /// (`volumeMount cannot be mounted under /tekton/`).
    pub static RESERVED_MOUNT = "tkc::steps::reserved-mount", Error;
}

declare_code! {
    /// # A sidecar named `tekton-log-results`
    ///
    /// Tekton injects a sidecar of that name to collect results (`results-from:
    /// sidecar-logs`) and rejects a Task that declares one (`cannot use reserved sidecar
    /// name`).
    pub static RESERVED_SIDECAR_NAME = "tkc::steps::reserved-sidecar-name", Error;
}

declare_code! {
    /// # A StepAction volume mount not named by a param
    ///
    /// **Stage:** admission (`validateVolumeMounts`,
    /// `pkg/apis/pipeline/v1beta1/stepaction_validation.go`).
    ///
    /// A StepAction does not know the volumes of the Tasks that use it, so each of its
    /// `volumeMounts` is named by exactly one reference to a param it declares
    /// (`name: $(params.cache)`), which the Task fills in. Tekton rejects anything else
    /// (`invalid value: <name>: name: expect the Name to be a single param reference`), and a
    /// reference to a param the StepAction does not declare (`non-existent variable`).
    ///
    /// ## Example
    /// ```yaml
    /// kind: StepAction
    /// spec:
    ///   params:
    ///     - name: cache
    ///   volumeMounts:
    ///     - name: cache-volume        # write: $(params.cache)
    ///       mountPath: /cache
    /// ```
    pub static STEP_ACTION_VOLUME_MOUNT = "tkc::steps::step-action-volume-mount", Error;
}

/// This family's codes.
pub const CODES: &[&Code] = &[
    &STEP_ACTION_VOLUME_MOUNT,
    &SCRIPT_WITH_COMMAND,
    &REF_CONFLICT,
    &PARAMS_WITHOUT_REF,
    &STEP_ACTION_PARAMS,
    &STEP_ACTION_SCRIPT_PARAMS,
    &UNDEFINED_VOLUME,
    &RESERVED_MOUNT,
    &RESERVED_SIDECAR_NAME,
];

/// The name of the sidecar Tekton injects for `results-from: sidecar-logs`.
pub const RESERVED_SIDECAR: &str = "tekton-log-results";

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        task_spec(cx, task);
    }
    for (_, document) in world.checked() {
        if let Resource::StepAction(spec) = &document.resource {
            step_action(cx, spec);
        }
    }
}

fn task_spec(cx: &mut Checker, task: TaskCx) {
    let spec = task.spec;
    let template_command = spec.step_template.as_ref().and_then(|t| t.command.first());
    for step in &spec.steps {
        if step.r#ref.is_some() {
            ref_step(cx, step);
        } else {
            if let Some(first) = step.params.first() {
                let span = step
                    .params
                    .iter()
                    .map(|p| p.name.span)
                    .fold(first.name.span, Span::to);
                cx.report(
                    Diagnostic::new(&PARAMS_WITHOUT_REF, "params cannot be used without Ref")
                        .with_label(span, "params of a step without `ref`")
                        .with_help("step params are a StepAction's inputs; declare Task params under `spec.params`"),
                );
            }
            if let Some(script) = &step.script {
                match (step.command.first(), template_command) {
                    (Some(command), _) => script_with_command(cx, script, command, "command"),
                    (None, Some(command)) => {
                        script_with_command(cx, script, command, "stepTemplate command")
                    }
                    _ => {}
                }
                windows_script(cx, script);
            }
        }
        for mount in &step.volume_mounts {
            reserved_mount(cx, mount);
        }
    }
    if let Some(template) = &spec.step_template {
        for mount in &template.volume_mounts {
            reserved_mount(cx, mount);
        }
    }
    for sidecar in &spec.sidecars {
        sidecar_rules(cx, sidecar);
    }
    undefined_volumes(cx, task);
}

fn script_with_command(cx: &mut Checker, script: &Str, command: &Str, what: &str) {
    cx.report(
        Diagnostic::new(&SCRIPT_WITH_COMMAND, "script cannot be used with command")
            .with_label(command.span, format!("{what} given"))
            .with_secondary(first_line(cx, script), "and a script")
            .with_help("remove the command; choose the interpreter with the script's `#!` line (args are passed to the script)"),
    );
}

/// The first line of a script's text, as a span.
fn first_line(cx: &Checker, script: &Str) -> Span {
    let text = script.as_str();
    let start = text.len() - text.trim_start().len();
    let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
    crate::syntax::value_subspan(cx.world.sources, script.span, text, (start, end))
}

/// `#!win` scripts need alpha.
fn windows_script(cx: &mut Checker, script: &Str) {
    if script.trim_start().starts_with("#!win") && cx.options.api_fields < ApiFields::Alpha {
        cx.report(
            Diagnostic::new(
                &codes::FEATURE_GATED,
                "windows script support needs `enable-api-fields: alpha`",
            )
            .with_label(first_line(cx, script), "a Windows script")
            .with_help(format!(
                "pass `--enable-api-fields alpha` if your cluster enables it (the current setting is `{}`)",
                cx.options.api_fields.as_str()
            )),
        );
    }
}

fn ref_step(cx: &mut Checker, step: &Step) {
    let mut conflicts: Vec<(&str, Span)> = Vec::new();
    if let Some(image) = &step.image {
        conflicts.push(("image", image.span));
    }
    if let Some(first) = step.command.first() {
        conflicts.push(("command", first.span));
    }
    if let Some(first) = step.args.first() {
        conflicts.push(("args", first.span));
    }
    if let Some(script) = &step.script {
        conflicts.push(("script", first_line(cx, script)));
    }
    if let Some(first) = step.env.first() {
        conflicts.push(("env", first.name.span));
    }
    if let Some(first) = step.volume_mounts.first() {
        conflicts.push(("volumeMounts", first.name.span));
    }
    if let Some(first) = step.results.first() {
        conflicts.push(("results", first.name.span));
    }
    let Some(step_ref) = &step.r#ref else {
        return;
    };
    for (field, span) in conflicts {
        cx.report(
            Diagnostic::new(&REF_CONFLICT, format!("{field} cannot be used with Ref"))
                .with_label(span, format!("`{field}` of a step that runs a StepAction"))
                .with_secondary(step_ref.head, "the StepAction provides it")
                .with_help("remove it, or pass the value through the StepAction's `params`"),
        );
    }
    let Resolved::Found { spec, .. } = cx.world.resolve_step_ref(step_ref) else {
        return;
    };
    let declared: Vec<&str> = spec.params.iter().map(|p| p.name.as_str()).collect();
    let given: HashSet<&str> = step.params.iter().map(|p| p.name.as_str()).collect();
    let action = step_ref.name.as_ref().map_or("", |n| n.as_str());
    for param in &step.params {
        if !declared.contains(&param.name.as_str()) {
            let help = match did_you_mean(&param.name, declared.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if declared.is_empty() => format!("StepAction `{action}` takes no params"),
                None => format!(
                    "StepAction `{action}` takes {}",
                    declared
                        .iter()
                        .map(|d| format!("`{d}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            cx.report(
                Diagnostic::new(
                    &STEP_ACTION_PARAMS,
                    format!("StepAction `{action}` has no param `{}`", param.name.value),
                )
                .with_label(param.name.span, "unknown param")
                .with_help(help),
            );
        }
    }
    for declaration in &spec.params {
        if declaration.default.is_none() && !given.contains(declaration.name.as_str()) {
            cx.report(
                Diagnostic::new(
                    &STEP_ACTION_PARAMS,
                    format!(
                        "StepAction `{action}` needs param `{}`",
                        declaration.name.value
                    ),
                )
                .with_label(
                    step_ref.head,
                    format!("`{}` not given", declaration.name.value),
                )
                .with_secondary(declaration.name.span, "declared without a default here")
                .with_help(format!(
                    "add `params: [{{name: {}, value: ...}}]` to the step",
                    declaration.name.value
                )),
            );
        }
    }
}

fn reserved_mount(cx: &mut Checker, mount: &VolumeMount) {
    let path = mount.mount_path.as_str();
    if path.starts_with("/tekton/") && !path.starts_with("/tekton/home") {
        cx.report(
            Diagnostic::new(
                &RESERVED_MOUNT,
                format!(
                    "volumeMount cannot be mounted under /tekton/ (volumeMount \"{}\" mounted at \"{path}\")",
                    mount.name.value
                ),
            )
            .with_label(mount.mount_path.span, "Tekton's own directory")
            .with_help("mount it elsewhere; only `/tekton/home` may be mounted under /tekton/"),
        );
    }
    if mount.name.starts_with("tekton-internal-") {
        cx.report(
            Diagnostic::new(
                &RESERVED_MOUNT,
                format!(
                    "volumeMount name \"{}\" cannot start with \"tekton-internal-\"",
                    mount.name.value
                ),
            )
            .with_label(mount.name.span, "reserved prefix")
            .with_help("rename the volume"),
        );
    }
}

fn sidecar_rules(cx: &mut Checker, sidecar: &Sidecar) {
    if let Some(name) = &sidecar.name
        && name.value == RESERVED_SIDECAR
    {
        cx.report(
            Diagnostic::new(
                &RESERVED_SIDECAR_NAME,
                format!("cannot use reserved sidecar name {RESERVED_SIDECAR}"),
            )
            .with_label(name.span, "Tekton injects a sidecar of this name")
            .with_help("rename the sidecar"),
        );
    }
    if let (Some(script), Some(command)) = (&sidecar.script, sidecar.command.first()) {
        script_with_command(cx, script, command, "command");
    }
}

/// Volume mounts of steps, sidecars and the step template name a volume of the Task.
fn undefined_volumes(cx: &mut Checker, task: TaskCx) {
    let spec: &TaskSpec = task.spec;
    let severity = match task.site {
        TaskSite::InTaskRun { .. } => crate::diag::Severity::Error,
        _ => crate::diag::Severity::Warning,
    };
    // A run's podTemplate may add volumes; tkc sees those of an inline TaskRun spec only.
    let pod_template_volumes: Vec<String> = match task.site {
        TaskSite::InTaskRun { run } => run
            .pod_template
            .as_ref()
            .and_then(|o| o.0.as_ref())
            .and_then(|n| n.get("volumes"))
            .map(|v| {
                crate::syntax::node_to_json(v)
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|i| i.get("name")?.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let declared: Vec<&str> = spec
        .volumes
        .iter()
        .map(|v| v.name.as_str())
        .chain(pod_template_volumes.iter().map(String::as_str))
        .collect();
    let mounts = spec
        .steps
        .iter()
        .flat_map(|s| s.volume_mounts.iter())
        .chain(
            spec.step_template
                .iter()
                .flat_map(|t| t.volume_mounts.iter()),
        )
        .chain(spec.sidecars.iter().flat_map(|s| s.volume_mounts.iter()));
    for mount in mounts {
        let name = mount.name.as_str();
        if name.contains("$(") || declared.contains(&name) || name.starts_with("tekton-internal-") {
            continue;
        }
        let help = match did_you_mean(name, declared.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "declare it under the Task's `volumes` (`- name: {name}` with a source such as `emptyDir: {{}}`), or use a workspace"
            ),
        };
        cx.report(
            Diagnostic::new(
                &UNDEFINED_VOLUME,
                format!("no volume `{name}` is declared in this Task"),
            )
            .with_severity(severity)
            .with_label(mount.name.span, "mounted here")
            .with_help(help),
        );
    }
}

/// `validateVolumeMounts` (stepaction_validation.go): each mount's name is one reference to
/// a declared param.
fn step_action_volume_mounts(cx: &mut Checker, spec: &StepActionSpec) {
    for mount in &spec.volume_mounts {
        let name = &mount.name;
        let refs = crate::vars::parse(name);
        let single = match refs.as_slice() {
            [r] if r.is_whole(name) && r.prefix() == "params" => Some(r),
            _ => None,
        };
        let Some(r) = single else {
            cx.report(
                Diagnostic::new(
                    &STEP_ACTION_VOLUME_MOUNT,
                    format!(
                        "invalid value: {}: name: expect the Name to be a single param reference",
                        name.value
                    ),
                )
                .with_label(name.span, "not a single `$(params.<name>)`")
                .with_help("declare a param for the volume's name and write `name: $(params.<param>)`; the Task passes its volume's name"),
            );
            continue;
        };
        let declared = match &r.kind {
            RefKind::Param { name: p, .. } => spec.params.iter().any(|d| d.name.as_str() == p),
            _ => false,
        };
        if !declared {
            cx.report(
                Diagnostic::new(
                    &STEP_ACTION_VOLUME_MOUNT,
                    format!("non-existent variable in \"{}\"", name.value),
                )
                .with_label(name.span, "not a param of this StepAction")
                .with_optional_help(
                    did_you_mean(
                        r.expr.trim_start_matches("params."),
                        spec.params.iter().map(|p| p.name.as_str()),
                    )
                    .map(|c| format!("did you mean `$(params.{c})`?")),
                ),
            );
        }
    }
}

/// `ValidateStepActionResultsVariables` (task_validation.go): in a StepAction's script,
/// `$(step.results.<r>…)` and `$(results.<r>…)` name results it declares.
fn step_action_result_paths(cx: &mut Checker, spec: &StepActionSpec, script: &Str) {
    for (r, span) in &refs(cx.world, script.into()) {
        let result = match &r.kind {
            RefKind::StepResultPath { result } | RefKind::ResultPath { result } => result,
            _ => continue,
        };
        if result.contains(['$', '{', '}'])
            || spec.results.iter().any(|d| d.name.as_str() == result)
        {
            continue;
        }
        let d = Diagnostic::new(
            &crate::check::results::UNDECLARED,
            format!("this StepAction declares no result `{result}`"),
        )
        .with_label(span, "not one of the StepAction's results");
        let d = match did_you_mean(result, spec.results.iter().map(|d| d.name.as_str())) {
            Some(c) => d.with_help(format!("did you mean `$(step.results.{c}.path)`?")),
            None => d.with_help(format!(
                "declare it in the StepAction's results:\n  results:\n    - name: {result}"
            )),
        };
        cx.report(d);
    }
}

fn step_action(cx: &mut Checker, spec: &StepActionSpec) {
    step_action_volume_mounts(cx, spec);
    if let Some(script) = &spec.script {
        step_action_result_paths(cx, spec, script);
        if let Some(command) = spec.command.first() {
            script_with_command(cx, script, command, "command");
        }
        windows_script(cx, script);
        for (r, span) in &refs(cx.world, script.into()) {
            if matches!(r.kind, RefKind::Param { .. })
                || (r.prefix() == "params" && matches!(r.kind, RefKind::Malformed { .. }))
            {
                let name = match &r.kind {
                    RefKind::Param { name, .. } => name.to_uppercase().replace(['-', '.'], "_"),
                    _ => "VALUE".to_string(),
                };
                cx.report(
                    Diagnostic::new(
                        &STEP_ACTION_SCRIPT_PARAMS,
                        "param substitution in scripts is not allowed.",
                    )
                    .with_label(span, "param in a StepAction script")
                    .with_help(format!(
                        "pass it in an env var (`env: [{{name: {name}, value: \"{r}\"}}]`) and use \"${name}\" in the script"
                    )),
                );
            }
        }
    }
}
