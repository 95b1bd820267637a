//! Workspaces: declared before they are used, mounted at distinct paths, bound by pipeline
//! tasks and runs to what the Task or Pipeline declares, each binding with one volume source.

mod affinity;

use super::scope::{Runs, pipeline_task_strings};
use super::{
    Checker, PipelineCx, TaskCx, TaskSite, describe, pipeline_specs, pipeline_tasks, refs,
    task_specs, task_strings,
};
use crate::declare_code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{
    PipelineRunSpec, PipelineSpec, Resource, Str, TaskRunSpec, TaskSpec, WorkspaceBinding,
};
use crate::resolve::{DocId, Resolved};
use crate::source::{Span, Syntax};
use crate::suggest::did_you_mean;
use crate::vars::{RefKind, WorkspaceAttr};
use std::collections::{HashMap, HashSet};

declare_code! {
    /// # A workspace that is not declared
    ///
    /// A step's or sidecar's `workspaces[].name` must name a workspace the Task declares:
    /// Tekton's validating webhook rejects the Task (`undefined workspace "<name>"`,
    /// `validateWorkspaceUsages` in `pkg/apis/pipeline/v1/task_validation.go`); that is an
    /// error. A `$(workspaces.<name>.path)` (or `.claim`, `.volume`) reference to an
    /// undeclared workspace is checked by no Tekton function: the step sees the text as
    /// written when it runs, so that is a **warning** of this code. In an inline task, the
    /// workspaces the pipeline task binds (or the Pipeline declares) and, in a TaskRun, the
    /// run's bindings count as declared.
    ///
    /// ## Example
    /// ```yaml
    /// workspaces:
    ///   - name: source
    /// steps:
    ///   - script: cd $(workspaces.src.path)
    /// ```
    pub static UNDECLARED = "tkc::workspaces::undeclared", Error;
}

declare_code! {
    /// # Two mounts at the same path
    ///
    /// A workspace is mounted at its `mountPath` (default `/workspace/<name>`); it must not
    /// share it with another workspace or with a step's (or the step template's) volume mount.
    /// Tekton rejects the Task (`workspace mount path "<path>" must be unique`).
    pub static DUPLICATE_MOUNT_PATH = "tkc::workspaces::duplicate-mount-path", Error;
}

declare_code! {
    /// # A pipeline task binds a workspace the Pipeline does not declare
    ///
    /// `workspaces[].workspace` (default: the binding's `name`) names a workspace of the
    /// Pipeline. Tekton rejects the Pipeline (`pipeline task "<task>" expects workspace with
    /// name "<name>" but none exists in pipeline spec`). `$(workspaces.<name>.bound)` in a
    /// pipeline task also needs the Pipeline to declare the workspace.
    ///
    /// ## Example
    /// ```yaml
    /// workspaces:
    ///   - name: shared
    /// tasks:
    ///   - name: clone
    ///     workspaces:
    ///       - name: output
    ///         workspace: shraed
    /// ```
    pub static UNDECLARED_PIPELINE_WORKSPACE = "tkc::workspaces::undeclared-pipeline-workspace", Error;
}

declare_code! {
    /// # A pipeline task binds a workspace its Task does not declare
    ///
    /// The binding's `name` is a workspace of the Task the pipeline task runs. Tekton fails
    /// the TaskRun (`workspace binding "<name>" does not match any declared workspace`).
    pub static UNKNOWN_TASK_WORKSPACE = "tkc::workspaces::unknown-task-workspace", Error, reason = "TaskRunValidationFailed";
}

declare_code! {
    /// # A required workspace is not bound
    ///
    /// Every workspace a Task declares without `optional: true` must be bound: by the
    /// pipeline task that runs it, or by the TaskRun. Tekton fails the TaskRun (`declared
    /// workspace "<name>" is required but has not been bound`).
    ///
    /// ## Example
    /// ```yaml
    /// - name: clone
    ///   taskRef: {name: git-clone}      # declares `output`
    ///   workspaces: []
    /// ```
    pub static MISSING_BINDING = "tkc::workspaces::missing-binding", Error, reason = "TaskRunValidationFailed";
}

declare_code! {
    /// # An optional pipeline workspace given to a required Task workspace
    ///
    /// The Pipeline marks the workspace `optional`, so a run may leave it unbound, but the
    /// Task needs it. Tekton fails the run before it starts (`RequiredWorkspaceMarkedOptional`).
    /// Make the Task's workspace optional too, or the Pipeline's required.
    pub static OPTIONAL_TO_REQUIRED = "tkc::workspaces::optional-to-required", Error, reason = "RequiredWorkspaceMarkedOptional";
}

declare_code! {
    /// # A PipelineRun does not bind a workspace the Pipeline requires
    ///
    /// Every Pipeline workspace without `optional: true` needs a binding in the PipelineRun.
    /// Tekton fails the run (`InvalidWorkspaceBindings`: `pipeline requires workspace with
    /// name "<name>" be provided by pipelinerun`).
    pub static PIPELINERUN_MISSING = "tkc::workspaces::pipelinerun-missing", Error, reason = "InvalidWorkspaceBindings";
}

declare_code! {
    /// # A TaskRun binds a workspace its Task does not declare
    ///
    /// Tekton fails the TaskRun (`workspace binding "<name>" does not match any declared
    /// workspace`). An inline `taskSpec` declares the workspaces its steps use
    /// (`$(workspaces.<name>.path)`) implicitly.
    pub static UNKNOWN_BINDING = "tkc::workspaces::unknown-binding", Error, reason = "TaskRunValidationFailed";
}

declare_code! {
    /// # A PipelineRun binds a workspace the Pipeline does not declare
    ///
    /// Tekton ignores the binding. Reported when the name is close to a declared workspace
    /// that is not bound, which is most likely a typo.
    pub static UNUSED_BINDING = "tkc::workspaces::unused-binding", Warning;
}

declare_code! {
    /// # A workspace binding without exactly one volume source
    ///
    /// A binding gives one of `persistentVolumeClaim`, `volumeClaimTemplate`, `emptyDir`,
    /// `configMap`, `secret`, `projected` or `csi`. Tekton rejects the run (`expected exactly
    /// one, got both` / `expected exactly one, got neither`), and a `projected` source without
    /// `sources` (`missing field(s): projected.sources`) or a `csi` source without `driver`
    /// (`missing field(s): csi.driver`).
    ///
    /// **Stage:** admission (`WorkspaceBinding.Validate`,
    /// `pkg/apis/pipeline/v1/workspace_validation.go`).
    pub static BINDING_SOURCE = "tkc::workspaces::binding-source", Error;
}

/// This family's codes.
pub const CODES: &[&Code] = &[
    &UNDECLARED,
    &DUPLICATE_MOUNT_PATH,
    &UNDECLARED_PIPELINE_WORKSPACE,
    &UNKNOWN_TASK_WORKSPACE,
    &MISSING_BINDING,
    &OPTIONAL_TO_REQUIRED,
    &PIPELINERUN_MISSING,
    &UNKNOWN_BINDING,
    &UNUSED_BINDING,
    &BINDING_SOURCE,
    &affinity::MORE_THAN_ONE_PVC,
];

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    let runs = Runs::new(world);
    for task in task_specs(world) {
        task_uses(cx, &runs, &task);
        mount_paths(cx, task.spec);
    }
    for pipeline in pipeline_specs(world) {
        pipeline_bindings(cx, &pipeline);
    }
    for (doc, document) in world.checked() {
        match &document.resource {
            Resource::PipelineRun(run) => {
                pipeline_run(cx, run);
                affinity::pipeline_run(cx, run);
            }
            Resource::TaskRun(run) => {
                task_run(cx, doc, run);
                affinity::task_run(cx, run);
            }
            _ => {}
        }
    }
}

/// The workspaces an inline spec sees without declaring them.
fn propagated<'w>(runs: &Runs<'w>, task: &TaskCx<'w>) -> Vec<&'w str> {
    match task.site {
        TaskSite::Resource => Vec::new(),
        TaskSite::InTaskRun { run } => run.workspaces.iter().map(|w| w.name.as_str()).collect(),
        TaskSite::InPipeline {
            pipeline, task: pt, ..
        } => {
            let mut out: Vec<&str> = pt.workspaces.iter().map(|w| w.name.as_str()).collect();
            out.extend(pipeline.workspaces.iter().map(|w| w.name.as_str()));
            if let Some(run) = runs.of(pipeline) {
                out.extend(run.workspaces.iter().map(|w| w.name.as_str()));
            }
            out
        }
    }
}

fn task_uses<'w>(cx: &mut Checker<'w>, runs: &Runs<'w>, task: &TaskCx<'w>) {
    let spec = task.spec;
    let declared: HashMap<&str, Span> = spec
        .workspaces
        .iter()
        .map(|w| (w.name.as_str(), w.name.span))
        .collect();
    let extra = propagated(runs, task);
    let known = |name: &str| declared.contains_key(name) || extra.contains(&name);
    let candidates = || declared.keys().copied().chain(extra.iter().copied());
    let usages = spec
        .steps
        .iter()
        .flat_map(|s| &s.workspaces)
        .chain(spec.sidecars.iter().flat_map(|s| &s.workspaces));
    for usage in usages {
        if !known(&usage.name) {
            report_undeclared(
                cx,
                &usage.name.value,
                usage.name.span,
                candidates(),
                &declared,
            );
        }
    }
    for s in task_strings(spec) {
        if !s.text.text.contains("$(workspaces") {
            continue;
        }
        for (r, span) in &refs(cx.world, s.text) {
            // `$(workspaces.<name>.bound)` is how a step asks whether a workspace is there;
            // Tekton accepts it for any name.
            if let RefKind::Workspace { name, attr } = &r.kind
                && *attr != WorkspaceAttr::Bound
                && !known(name)
            {
                let mut d = undeclared(name, span, candidates(), &declared);
                d.message = format!("undefined workspace `{name}`: Tekton leaves `{r}` as text");
                cx.report(d.with_severity(Severity::Warning));
            }
        }
    }
}

fn report_undeclared<'a>(
    cx: &mut Checker,
    name: &str,
    span: Span,
    candidates: impl Iterator<Item = &'a str>,
    declared: &HashMap<&str, Span>,
) {
    let d = undeclared(name, span, candidates, declared);
    cx.report(d);
}

fn undeclared<'a>(
    name: &str,
    span: Span,
    candidates: impl Iterator<Item = &'a str>,
    declared: &HashMap<&str, Span>,
) -> Diagnostic {
    let mut d = Diagnostic::new(&UNDECLARED, format!("undefined workspace `{name}`"))
        .with_label(span, "not declared by the Task");
    d = match did_you_mean(name, candidates) {
        Some(c) => {
            if let Some(at) = declared.get(c) {
                d = d.with_secondary(*at, format!("`{c}` is declared here"));
            }
            d.with_help(format!("did you mean `{c}`?"))
        }
        None => d.with_help(format!(
            "declare it in the Task:\n  workspaces:\n    - name: {name}"
        )),
    };
    d
}

/// Cleans a path as Go's `filepath.Clean` does, for comparing mount paths.
fn clean_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

fn mount_paths(cx: &mut Checker, spec: &TaskSpec) {
    let mut used: HashMap<String, (Span, String)> = HashMap::new();
    let mounts = spec
        .steps
        .iter()
        .flat_map(|s| &s.volume_mounts)
        .chain(spec.step_template.iter().flat_map(|t| &t.volume_mounts));
    for mount in mounts {
        used.entry(clean_path(&mount.mount_path)).or_insert((
            mount.mount_path.span,
            format!("volume `{}` is mounted here", mount.name.value),
        ));
    }
    for ws in &spec.workspaces {
        let (path, span) = match &ws.mount_path {
            Some(p) if !p.is_empty() => (clean_path(p), p.span),
            _ => (format!("/workspace/{}", ws.name.value), ws.name.span),
        };
        if let Some((first, what)) = used.get(&path) {
            cx.report(
                Diagnostic::new(
                    &DUPLICATE_MOUNT_PATH,
                    format!("workspace mount path `{path}` must be unique"),
                )
                .with_label(
                    span,
                    format!("workspace `{}` is mounted here", ws.name.value),
                )
                .with_secondary(*first, what.clone())
                .with_help("give the workspace its own `mountPath`"),
            );
        } else {
            let what = format!("workspace `{}` is mounted here", ws.name.value);
            used.insert(path, (span, what));
        }
    }
}

/// The declared workspaces of a Pipeline (with those a run gives an inline spec).
fn pipeline_bindings(cx: &mut Checker, pipeline: &PipelineCx) {
    let world = cx.world;
    let spec = pipeline.spec;
    let declared: HashMap<&str, &crate::model::PipelineWorkspaceDeclaration> = spec
        .workspaces
        .iter()
        .map(|w| (w.name.as_str(), w))
        .collect();
    let from_run: HashSet<&str> = pipeline
        .run
        .iter()
        .flat_map(|r| r.workspaces.iter().map(|w| w.name.as_str()))
        .collect();
    for (_, pt) in pipeline_tasks(spec) {
        for binding in &pt.workspaces {
            let target = binding.workspace.as_ref().unwrap_or(&binding.name);
            if !declared.contains_key(target.as_str()) && !from_run.contains(target.as_str()) {
                let d = Diagnostic::new(
                    &UNDECLARED_PIPELINE_WORKSPACE,
                    format!(
                        "pipeline task `{}` expects workspace with name `{}` but none exists in pipeline spec",
                        pt.name.value, target.value
                    ),
                )
                .with_label(target.span, "not a workspace of the Pipeline");
                let d = match did_you_mean(target, declared.keys().copied()) {
                    Some(c) => d
                        .with_secondary(
                            declared.get(c).map_or(target.span, |w| w.name.span),
                            format!("`{c}` is declared here"),
                        )
                        .with_help(format!("did you mean `{c}`?")),
                    None => d.with_help(format!(
                        "declare it in the Pipeline:\n  workspaces:\n    - name: {}",
                        target.value
                    )),
                };
                cx.report(d);
            }
        }
        for s in pipeline_task_strings(pt) {
            if !s.text.text.contains("$(workspaces") {
                continue;
            }
            for (r, span) in &refs(world, s.text) {
                if let RefKind::Workspace {
                    name,
                    attr: WorkspaceAttr::Bound,
                } = &r.kind
                    && !declared.contains_key(name.as_str())
                    && !from_run.contains(name.as_str())
                {
                    let help = did_you_mean(name, declared.keys().copied())
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| "name a workspace of the Pipeline".into());
                    cx.report(
                        Diagnostic::new(
                            &UNDECLARED_PIPELINE_WORKSPACE,
                            format!("`{r}` names no workspace of the Pipeline"),
                        )
                        .with_label(span, "undeclared workspace")
                        .with_help(help),
                    );
                }
            }
        }

        let Resolved::Found { spec: task, doc } = world.resolve_pipeline_task(pt) else {
            continue;
        };
        let inline = doc.is_none();
        let target_name = match doc {
            Some(doc) => describe(world.doc(doc)),
            None => "its inline task".to_string(),
        };
        let task_ws: HashMap<&str, &crate::model::WorkspaceDeclaration> = task
            .workspaces
            .iter()
            .map(|w| (w.name.as_str(), w))
            .collect();
        let bound: HashSet<&str> = pt.workspaces.iter().map(|w| w.name.as_str()).collect();
        if !inline {
            for binding in &pt.workspaces {
                if task_ws.contains_key(binding.name.as_str()) {
                    continue;
                }
                let not_bound = task
                    .workspaces
                    .iter()
                    .map(|w| w.name.as_str())
                    .filter(|n| !bound.contains(n));
                let d = Diagnostic::new(
                    &UNKNOWN_TASK_WORKSPACE,
                    format!("{target_name} has no workspace `{}`", binding.name.value),
                )
                .with_label(binding.name.span, "not declared by the Task");
                let d = match did_you_mean(&binding.name, not_bound) {
                    Some(c) => d
                        .with_secondary(
                            task_ws.get(c).map_or(binding.name.span, |w| w.name.span),
                            format!("`{c}` is declared here"),
                        )
                        .with_help(format!("did you mean `{c}`?")),
                    None if task.workspaces.is_empty() => d.with_help(format!(
                        "{target_name} declares no workspaces; remove the binding"
                    )),
                    None => d.with_help(format!(
                        "{target_name} declares {}",
                        task.workspaces
                            .iter()
                            .map(|w| format!("`{}`", w.name.value))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                cx.report(d);
            }
        }
        let missing: Vec<&Str> = task
            .workspaces
            .iter()
            .filter(|w| !w.optional.as_ref().is_some_and(|o| o.value))
            .filter(|w| !bound.contains(w.name.as_str()))
            // An inline task is given the pipeline's workspace of the same name.
            .filter(|w| {
                !(inline
                    && (declared.contains_key(w.name.as_str())
                        || from_run.contains(w.name.as_str())))
            })
            .map(|w| &w.name)
            .collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|n| format!("`{}`", n.value))
                .collect::<Vec<_>>()
                .join(", ");
            let mut d = Diagnostic::new(
                &MISSING_BINDING,
                format!(
                    "pipeline task `{}` does not bind workspace{} {list} that {target_name} requires",
                    pt.name.value,
                    if missing.len() == 1 { "" } else { "s" }
                ),
            )
            .with_label(pt.name.span, format!("missing {list}"));
            for n in &missing {
                d = d.with_secondary(n.span, format!("`{}` is not optional", n.value));
            }
            let syntax = world.doc(pipeline.doc).syntax;
            let mut help = format!(
                "bind {} in the pipeline task:{}",
                if missing.len() == 1 { "it" } else { "them" },
                if syntax == Syntax::Yaml {
                    "\n  workspaces:"
                } else {
                    ""
                }
            );
            let only = match spec.workspaces.as_slice() {
                [one] => Some(one.name.as_str()),
                _ => None,
            };
            for n in &missing {
                let pipeline_ws = declared
                    .contains_key(n.as_str())
                    .then_some(n.as_str())
                    .or_else(|| did_you_mean(n, declared.keys().copied()))
                    .or(only)
                    .unwrap_or("<pipeline workspace>");
                match syntax {
                    Syntax::Yaml => help.push_str(&format!(
                        "\n    - name: {}\n      workspace: {pipeline_ws}",
                        n.value
                    )),
                    Syntax::Kdl => help.push_str(&format!(
                        "\n  workspace {:?} workspace={pipeline_ws:?}",
                        n.value
                    )),
                }
            }
            cx.report(d.with_help(help));
        }
        for binding in &pt.workspaces {
            let target = binding.workspace.as_ref().unwrap_or(&binding.name);
            let (Some(pipeline_ws), Some(task_ws)) = (
                declared.get(target.as_str()),
                task_ws.get(binding.name.as_str()),
            ) else {
                continue;
            };
            let optional_in_pipeline = pipeline_ws.optional.as_ref().is_some_and(|o| o.value);
            let optional_in_task = task_ws.optional.as_ref().is_some_and(|o| o.value);
            if optional_in_pipeline && !optional_in_task {
                cx.report(
                    Diagnostic::new(
                        &OPTIONAL_TO_REQUIRED,
                        format!(
                            "optional workspace `{}` is given to workspace `{}`, which {target_name} requires",
                            target.value, binding.name.value
                        ),
                    )
                    .with_label(target.span, "may be left unbound by the run")
                    .with_secondary(
                        pipeline_ws.optional.as_ref().map_or(pipeline_ws.name.span, |o| o.span),
                        "optional in the Pipeline",
                    )
                    .with_secondary(task_ws.name.span, "required by the Task")
                    .with_help("mark the Task's workspace `optional: true`, or make the Pipeline's workspace required"),
                );
            }
        }
    }
}

fn binding_sources(cx: &mut Checker, bindings: &[WorkspaceBinding]) {
    for b in bindings {
        let sources = b.sources();
        if sources.len() == 1 {
            source_fields(cx, b);
            continue;
        }
        let (message, help) = if sources.is_empty() {
            (
                format!("workspace binding `{}` has no volume source: expected exactly one, got neither", b.name.value),
                "give one of `emptyDir: {}`, `persistentVolumeClaim`, `volumeClaimTemplate`, `configMap`, `secret`, `projected` or `csi`".to_string(),
            )
        } else {
            (
                format!(
                    "workspace binding `{}` has {} volume sources: expected exactly one, got both",
                    b.name.value,
                    sources.len()
                ),
                format!(
                    "keep one of {}",
                    sources
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        };
        cx.report(
            Diagnostic::new(&BINDING_SOURCE, message)
                .with_label(b.name.span, "needs exactly one source")
                .with_help(help),
        );
    }
}

/// The fields `WorkspaceBinding.Validate` requires of a projected or CSI source.
fn source_fields(cx: &mut Checker, b: &WorkspaceBinding) {
    let checks = [
        (b.projected.as_deref(), "projected", "sources"),
        (b.csi.as_deref(), "csi", "driver"),
    ];
    for (source, kind, field) in checks {
        let Some(node) = source.and_then(|o| o.0.as_ref()) else {
            continue;
        };
        let value = node
            .as_map()
            .and_then(|m| m.entries.iter().find(|e| e.key == field))
            .map(|e| &e.value);
        let given = value.is_some_and(|v| match &v.value {
            crate::syntax::Value::Seq(items) => !items.is_empty(),
            crate::syntax::Value::Null => false,
            _ => v.as_str().is_none_or(|s| !s.is_empty()),
        });
        if given {
            continue;
        }
        let help = match kind {
            "projected" => {
                "list the volumes to project under `sources` (`configMap`, `secret`, `serviceAccountToken`, `downwardAPI`)"
            }
            _ => {
                "name the CSI driver installed on the cluster, such as `driver: secrets-store.csi.k8s.io`"
            }
        };
        cx.report(
            Diagnostic::new(
                &BINDING_SOURCE,
                format!(
                    "workspace binding `{}`: missing field(s): {kind}.{field}",
                    b.name.value
                ),
            )
            .with_label(b.name.span, format!("its `{kind}` source has no `{field}`"))
            .with_help(help),
        );
    }
}

fn pipeline_run(cx: &mut Checker, run: &PipelineRunSpec) {
    binding_sources(cx, &run.workspaces);
    let world = cx.world;
    let (spec, inline): (&PipelineSpec, bool) = match (&run.pipeline_spec, &run.pipeline_ref) {
        (Some(spec), _) => (spec, true),
        (None, Some(r)) => match world.resolve_pipeline_ref(r) {
            Resolved::Found { spec, .. } => (spec, false),
            _ => return,
        },
        _ => return,
    };
    let bound: HashSet<&str> = run.workspaces.iter().map(|w| w.name.as_str()).collect();
    let anchor = run
        .pipeline_ref
        .as_ref()
        .and_then(|r| r.name.as_ref())
        .map(|n| n.span);
    for ws in &spec.workspaces {
        if ws.optional.as_ref().is_some_and(|o| o.value) || bound.contains(ws.name.as_str()) {
            continue;
        }
        let msg = format!(
            "pipeline requires workspace with name `{}` be provided by pipelinerun",
            ws.name.value
        );
        let mut d = Diagnostic::new(&PIPELINERUN_MISSING, msg);
        d = match anchor {
            Some(at) => d
                .with_label(at, format!("`{}` is not bound", ws.name.value))
                .with_secondary(ws.name.span, "declared here, not optional"),
            None => d.with_label(ws.name.span, "declared here, not bound by the run"),
        };
        cx.report(d.with_help(format!(
            "bind it in the PipelineRun:\n  workspaces:\n    - name: {}\n      emptyDir: {{}}",
            ws.name.value
        )));
    }
    if inline {
        return;
    }
    let not_bound: Vec<&str> = spec
        .workspaces
        .iter()
        .map(|w| w.name.as_str())
        .filter(|n| !bound.contains(n))
        .collect();
    for b in &run.workspaces {
        if spec
            .workspaces
            .iter()
            .any(|w| w.name.as_str() == b.name.as_str())
        {
            continue;
        }
        if let Some(c) = did_you_mean(&b.name, not_bound.iter().copied()) {
            cx.report(
                Diagnostic::new(
                    &UNUSED_BINDING,
                    format!("the Pipeline has no workspace `{}`", b.name.value),
                )
                .with_label(b.name.span, "not declared by the Pipeline; ignored")
                .with_help(format!("did you mean `{c}`?")),
            );
        }
    }
}

/// The workspaces an inline Task spec uses without declaring them.
fn referenced_workspaces(cx: &Checker, spec: &TaskSpec) -> HashSet<String> {
    let mut out = HashSet::new();
    for s in task_strings(spec) {
        if !s.text.text.contains("$(workspaces") {
            continue;
        }
        for (r, _) in &refs(cx.world, s.text) {
            if let RefKind::Workspace { name, .. } = &r.kind {
                out.insert(name.clone());
            }
        }
    }
    for usage in spec
        .steps
        .iter()
        .flat_map(|s| &s.workspaces)
        .chain(spec.sidecars.iter().flat_map(|s| &s.workspaces))
    {
        out.insert(usage.name.value.clone());
    }
    out
}

fn task_run(cx: &mut Checker, doc: DocId, run: &TaskRunSpec) {
    binding_sources(cx, &run.workspaces);
    let world = cx.world;
    let (spec, inline, target) = match (&run.task_spec, &run.task_ref) {
        (Some(spec), _) => (spec, true, "its inline task".to_string()),
        (None, Some(r)) => match world.resolve_task_ref(r) {
            Resolved::Found { spec, doc } => (
                spec,
                false,
                doc.map_or_else(|| "its Task".to_string(), |d| describe(world.doc(d))),
            ),
            _ => return,
        },
        _ => return,
    };
    let bound: HashSet<&str> = run.workspaces.iter().map(|w| w.name.as_str()).collect();
    let anchor = run
        .task_ref
        .as_ref()
        .and_then(|r| r.name.as_ref())
        .map_or_else(|| world.doc(doc).name_span(), |n| n.span);
    for ws in &spec.workspaces {
        if ws.optional.as_ref().is_some_and(|o| o.value) || bound.contains(ws.name.as_str()) {
            continue;
        }
        // A TaskRun without any binding gets the cluster's `default-task-run-workspace-binding`
        // if one is configured, so tkc cannot know it fails.
        let (severity, message) = if run.workspaces.is_empty() {
            (
                Severity::Warning,
                format!(
                    "declared workspace `{}` is not bound; the run fails unless the cluster sets `default-task-run-workspace-binding`",
                    ws.name.value
                ),
            )
        } else {
            (
                Severity::Error,
                format!(
                    "declared workspace `{}` is required but has not been bound",
                    ws.name.value
                ),
            )
        };
        cx.report(
            Diagnostic::new(&MISSING_BINDING, message)
                .with_severity(severity)
                .with_label(
                    anchor,
                    format!("the TaskRun does not bind `{}`", ws.name.value),
                )
                .with_secondary(ws.name.span, format!("declared by {target}, not optional"))
                .with_help(format!(
                    "bind it in the TaskRun:\n  workspaces:\n    - name: {}\n      emptyDir: {{}}",
                    ws.name.value
                )),
        );
    }
    let implicit = if inline {
        referenced_workspaces(cx, spec)
    } else {
        HashSet::new()
    };
    let not_bound: Vec<&str> = spec
        .workspaces
        .iter()
        .map(|w| w.name.as_str())
        .filter(|n| !bound.contains(n))
        .collect();
    for b in &run.workspaces {
        if spec
            .workspaces
            .iter()
            .any(|w| w.name.as_str() == b.name.as_str())
            || implicit.contains(b.name.as_str())
        {
            continue;
        }
        let d = Diagnostic::new(
            &UNKNOWN_BINDING,
            format!(
                "workspace binding `{}` does not match any declared workspace",
                b.name.value
            ),
        )
        .with_label(b.name.span, format!("{target} declares no such workspace"));
        let d = match did_you_mean(&b.name, not_bound.iter().copied()) {
            Some(c) => d.with_help(format!("did you mean `{c}`?")),
            None => d.with_help("remove the binding, or declare the workspace in the Task"),
        };
        cx.report(d);
    }
}

#[cfg(test)]
mod tests {
    use super::clean_path;

    #[test]
    fn paths_are_cleaned_like_go() {
        assert_eq!(clean_path("/workspace/src/"), "/workspace/src");
        assert_eq!(clean_path("/a//b/./c/.."), "/a/b");
        assert_eq!(clean_path("a/../.."), "..");
        assert_eq!(clean_path(""), ".");
    }
}
