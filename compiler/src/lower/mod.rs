//! Lowering: a checked [`World`] and a [`RunRequest`] → the [`Plan`] of one run.
//!
//! The run is a PipelineRun or TaskRun document among the inputs, or a Pipeline or Task run
//! with params and workspaces given by the caller. Everything known at compile time is
//! substituted, in Tekton's order (spec section 3, "Order"): the pipeline's params, context
//! and result references into each pipeline task (and into specs written inline), then each
//! Task's params, context, paths and workspaces into its pod ([`pod`]). What only the run
//! knows stays a structured reference ([`subst`]). Matrices fan out here when their values
//! are known ([`matrix`]); timeouts follow Tekton's defaulting ([`timeouts`]).
//!
//! Lowering runs on a world the checks found no errors in, but never trusts that: what it
//! cannot lower (a resolver reference, a custom task, a missing param) is a diagnostic.

pub mod matrix;
pub mod pod;
pub mod subst;
pub mod timeouts;

use crate::Options;
use crate::check::{dag::dependency_texts, task_strings};
use crate::diag::{Code, Diagnostic};
use crate::model::{
    self, Document, Kind, ParamSpec, PipelineRunSpec, PipelineSpec, PipelineTask,
    PipelineTaskRunSpec, Resource, StepRef, TaskRunSpec, TaskSpec,
};
use crate::plan::{
    self, Binding, OnError, PipelineResult, Plan, RunInfo, RunKind, RunValue, Section, TaskPlan,
    TaskWorkspace, ValueTemplate, ValueType, WorkspaceBinding, WorkspaceSource,
};
use crate::resolve::{Resolved, World};
use crate::source::Span;
use crate::vars::{ContextVar, RefKind, Reference, WorkspaceAttr};
use matrix::FanOut;
use pod::{TaskInput, WorkspaceInfo};
use std::collections::{BTreeMap, BTreeSet};
use subst::{Chain, PVal, Params, Pass, ResultTypes, TaskResults, Tpl};

/// The diagnostic codes of lowering.
pub mod codes {
    use crate::declare_code;

    declare_code! {
        /// # A reference that only a cluster can resolve
        ///
        /// The run uses a Task, Pipeline or StepAction that is fetched by a resolver (git,
        /// hub, bundles, cluster, http) when the run starts, or one that is not among the
        /// inputs and search paths. `tkc compile` and `tkc run` work offline: vendor the
        /// resource into the repository (or add its folder with `--search-path`) and refer to
        /// it by name.
        pub static UNRESOLVED_REF = "tkc::lower::unresolved-ref", Error, reason = "CouldntGetTask";
    }

    declare_code! {
        /// # Something tkc does not run
        ///
        /// Custom tasks (a `taskRef` or `taskSpec` with `apiVersion` and `kind`, run as
        /// CustomRuns by their own controllers) and pipelines in pipelines (alpha) have no
        /// pod to plan. `tkc check` still checks them.
        pub static UNSUPPORTED = "tkc::lower::unsupported", Error;
    }

    declare_code! {
        /// # Which run to compile?
        ///
        /// `tkc compile` compiles one run: the PipelineRun or TaskRun among the inputs, or a
        /// Pipeline or Task run with `--param` and `--workspace`. With several candidates,
        /// name one with `--run NAME`; the report lists them.
        pub static NO_RUN = "tkc::lower::no-run", Error;
    }

    declare_code! {
        /// # A param without a value
        ///
        /// The Pipeline or Task declares a param with no `default`, and the run gives it no
        /// value. Tekton fails the run (`ParameterMissing`, or `TaskRunValidationFailed`:
        /// `missing values for these params which have no default values`). Pass it in the
        /// run's `params` (or `--param name=value`).
        pub static MISSING_PARAM = "tkc::lower::missing-param", Error, reason = "ParameterMissing";
    }

    declare_code! {
        /// # A param value of the wrong type
        ///
        /// An array param was given a string, or a string param an array, ... Tekton fails
        /// the run (`ParameterTypeMismatch`). With `--param`, write arrays and objects as
        /// JSON: `--param flags='["-v","-x"]'`.
        pub static PARAM_TYPE = "tkc::lower::param-type", Error, reason = "ParameterTypeMismatch";
    }

    declare_code! {
        /// # A param the Pipeline or Task does not declare
        ///
        /// `--param` names a param that is not declared. Tekton accepts extra params (they
        /// are only substituted where referenced), so this is a warning: it is usually a typo.
        pub static UNKNOWN_PARAM = "tkc::lower::unknown-param", Warning;
    }

    declare_code! {
        /// # A required workspace is not bound
        ///
        /// The run does not bind a workspace the Pipeline or Task requires (it is not
        /// `optional`). Tekton fails the run (`InvalidWorkspaceBindings`: `pipeline requires
        /// workspace with name "<n>" be provided by pipelinerun`). Bind it in the run's
        /// `workspaces`, or with `--workspace name=emptyDir|dir:PATH`.
        pub static UNBOUND_WORKSPACE = "tkc::lower::unbound-workspace", Error, reason = "InvalidWorkspaceBindings";
    }

    declare_code! {
        /// # A workspace binding for a workspace nobody declares
        ///
        /// `--workspace` names a workspace the Pipeline or Task does not declare. Tekton
        /// rejects a TaskRun whose binding matches no declared workspace.
        pub static UNKNOWN_WORKSPACE = "tkc::lower::unknown-workspace", Error, reason = "TaskRunValidationFailed";
    }

    declare_code! {
        /// # `onError` is neither `continue` nor `stopAndFail`
        ///
        /// `onError` may be a param reference; after substitution it must be one of the two
        /// values. Tekton fails the pod (step) or the pipeline (task) when it is not.
        pub static INVALID_ON_ERROR = "tkc::lower::invalid-on-error", Error, reason = "TaskRunValidationFailed";
    }

    declare_code! {
        /// # A matrix with too many combinations
        ///
        /// Tekton runs at most 256 combinations of one matrix
        /// (`default-max-matrix-combinations-count`) and rejects the Pipeline otherwise.
        pub static MATRIX_TOO_LARGE = "tkc::lower::matrix-too-large", Error, reason = "PipelineValidationFailed";
    }

    declare_code! {
        /// # Param defaults that refer to each other in a cycle
        ///
        /// A Pipeline param's default may use other params (`default: $(params.base)/x`),
        /// resolved up to 10 levels deep; a cycle never resolves. Tekton fails the run
        /// (`parameter resolution failed: circular dependency detected in param`).
        pub static PARAM_CYCLE = "tkc::lower::param-cycle", Error, reason = "PipelineValidationFailed";
    }
}

/// Every code of lowering.
pub fn codes() -> Vec<&'static Code> {
    use codes::*;
    vec![
        &UNRESOLVED_REF,
        &UNSUPPORTED,
        &NO_RUN,
        &MISSING_PARAM,
        &PARAM_TYPE,
        &UNKNOWN_PARAM,
        &UNBOUND_WORKSPACE,
        &UNKNOWN_WORKSPACE,
        &INVALID_ON_ERROR,
        &MATRIX_TOO_LARGE,
        &PARAM_CYCLE,
    ]
}

/// Which run to plan, and what the caller adds to it.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    /// A PipelineRun or TaskRun among the inputs (by `metadata.name`, or `generateName`), or
    /// a Pipeline or Task to run. `None`: the only run document; without one, the only
    /// Pipeline (or else the only Task).
    pub run: Option<String>,
    /// Param values; they override the run document's.
    pub params: Vec<(String, plan::ParamValue)>,
    /// Workspace bindings; they override the run document's.
    pub workspaces: Vec<(String, Binding)>,
}

/// The state of one lowering.
pub struct Lowering<'w> {
    pub world: &'w World<'w>,
    diagnostics: Vec<Diagnostic>,
}

impl<'w> Lowering<'w> {
    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == crate::diag::Severity::Error)
    }

    /// Reports a reference the plan cannot follow.
    fn unresolved<T>(&mut self, what: &str, at: Span, resolved: &Resolved<T>) {
        let diagnostic = match resolved {
            Resolved::Remote { resolver } => Diagnostic::new(
                &codes::UNRESOLVED_REF,
                format!(
                    "needs a cluster: {what} uses the {} resolver",
                    resolver.value
                ),
            )
            .with_label(resolver.span, "fetched when the run starts")
            .with_help("vendor the resource into the repository and refer to it by name"),
            Resolved::NotFound { name } => Diagnostic::new(
                &codes::UNRESOLVED_REF,
                format!("{what} `{}` is not among the inputs", name.value),
            )
            .with_label(name.span, "not found")
            .with_help("pass the file that defines it, or its folder with `--search-path`"),
            Resolved::Custom => Diagnostic::new(
                &codes::UNSUPPORTED,
                format!(
                    "{what} is a custom task or a pipeline in a pipeline, which tkc does not run"
                ),
            )
            .with_label(at, "no pod to plan"),
            Resolved::Found { .. } | Resolved::Missing => return,
        };
        self.report(diagnostic);
    }

    pub(crate) fn unresolved_step<T>(&mut self, step_ref: &StepRef, resolved: &Resolved<T>) {
        self.unresolved("step `ref`", step_ref.head, resolved);
    }
}

/// Lowers the requested run of a world (that the checks found no errors in): the plan, or
/// the errors that prevent it.
pub fn lower(
    world: &World,
    request: &RunRequest,
    options: &Options,
) -> Result<Plan, Vec<Diagnostic>> {
    match lower_reporting(world, request, options) {
        (Some(plan), _) => Ok(plan),
        (None, diagnostics) => Err(diagnostics),
    }
}

/// Like [`lower`], with the warnings that come with a plan (an undeclared `--param`).
pub fn lower_reporting(
    world: &World,
    request: &RunRequest,
    _options: &Options,
) -> (Option<Plan>, Vec<Diagnostic>) {
    let mut lw = Lowering {
        world,
        diagnostics: Vec::new(),
    };
    let plan = match select(world, request) {
        Ok(target) => lower_target(&mut lw, target, request),
        Err(d) => {
            lw.report(*d);
            None
        }
    };
    let plan = plan.filter(|_| !lw.has_errors());
    (plan, lw.diagnostics)
}

/// What is run.
enum Target<'w> {
    PipelineRun(&'w Document, &'w PipelineRunSpec),
    TaskRun(&'w Document, &'w TaskRunSpec),
    Pipeline(&'w Document, &'w PipelineSpec),
    Task(&'w Document, &'w TaskSpec),
}

fn target(document: &Document) -> Option<Target<'_>> {
    Some(match &document.resource {
        Resource::PipelineRun(r) => Target::PipelineRun(document, r),
        Resource::TaskRun(r) => Target::TaskRun(document, r),
        Resource::Pipeline(p) => Target::Pipeline(document, p),
        Resource::Task(t) => Target::Task(document, t),
        _ => return None,
    })
}

/// Picks the run: by name, else the only run document, else the only Pipeline, else the
/// only Task among the inputs.
fn select<'w>(world: &'w World, request: &RunRequest) -> Result<Target<'w>, Box<Diagnostic>> {
    let of_kind = |kinds: &[Kind]| -> Vec<&'w Document> {
        world
            .checked()
            .map(|(_, d)| d)
            .filter(|d| kinds.contains(&d.kind))
            .collect()
    };
    if let Some(name) = &request.run {
        for kinds in [
            &[Kind::PipelineRun, Kind::TaskRun][..],
            &[Kind::Pipeline],
            &[Kind::Task, Kind::ClusterTask],
        ] {
            let found: Vec<&Document> = of_kind(kinds)
                .into_iter()
                .filter(|d| d.name() == name)
                .collect();
            if let Some(first) = found.first() {
                return target(first).ok_or_else(|| no_run(format!("`{name}` cannot be run"), &[]));
            }
        }
        // A Pipeline or Task found on a search path.
        if let Some(target) = [Kind::Pipeline, Kind::Task]
            .iter()
            .find_map(|k| world.find(*k, name))
            .and_then(|(_, d)| target(d))
        {
            return Ok(target);
        }
        let candidates = of_kind(&[Kind::PipelineRun, Kind::TaskRun, Kind::Pipeline, Kind::Task]);
        return Err(no_run(
            format!("there is no run, Pipeline or Task named `{name}` among the inputs"),
            &candidates,
        ));
    }
    for kinds in [
        &[Kind::PipelineRun, Kind::TaskRun][..],
        &[Kind::Pipeline],
        &[Kind::Task, Kind::ClusterTask],
    ] {
        let found = of_kind(kinds);
        match found.as_slice() {
            [] => continue,
            [one] => return target(one).ok_or_else(|| no_run("nothing to run".into(), &[])),
            many => {
                let what = match kinds[0] {
                    Kind::PipelineRun => "runs",
                    Kind::Pipeline => "Pipelines",
                    _ => "Tasks",
                };
                return Err(no_run(
                    format!(
                        "the inputs hold {} {what}; choose one by name (`--run NAME`)",
                        many.len()
                    ),
                    many,
                ));
            }
        }
    }
    Err(no_run(
        "nothing to run: the inputs hold no PipelineRun, TaskRun, Pipeline or Task".into(),
        &[],
    ))
}

fn no_run(message: String, candidates: &[&Document]) -> Box<Diagnostic> {
    let mut d = Diagnostic::new(&codes::NO_RUN, message);
    for c in candidates {
        d = d.with_label(c.name_span(), format!("{} `{}`", c.kind.as_str(), c.name()));
    }
    if !candidates.is_empty() {
        let names: Vec<String> = candidates
            .iter()
            .map(|c| format!("{} `{}`", c.kind.as_str(), c.name()))
            .collect();
        d = d.with_help(format!("candidates: {}", names.join(", ")));
    }
    Box::new(d)
}

fn lower_target(lw: &mut Lowering, target: Target, request: &RunRequest) -> Option<Plan> {
    match target {
        Target::PipelineRun(doc, run) => {
            let (spec, name) = match (&run.pipeline_ref, &run.pipeline_spec) {
                (Some(r), _) => {
                    let resolved = lw.world.resolve_pipeline_ref(r);
                    match resolved {
                        Resolved::Found { spec, .. } => {
                            (spec, r.name.as_ref().map(|n| n.value.clone()))
                        }
                        other => {
                            lw.unresolved("pipelineRef", r.head, &other);
                            return None;
                        }
                    }
                }
                (None, Some(spec)) => (spec, None),
                (None, None) => return None,
            };
            lower_pipeline(lw, doc, Some(run), spec, name, request)
        }
        Target::Pipeline(doc, spec) => {
            let name = doc.name().to_string();
            lower_pipeline(lw, doc, None, spec, Some(name), request)
        }
        Target::TaskRun(doc, run) => {
            let (spec, name) = match (&run.task_ref, &run.task_spec) {
                (Some(r), _) => match lw.world.resolve_task_ref(r) {
                    Resolved::Found { spec, .. } => {
                        (spec, r.name.as_ref().map(|n| n.value.clone()))
                    }
                    other => {
                        lw.unresolved("taskRef", r.head, &other);
                        return None;
                    }
                },
                (None, Some(spec)) => (spec, None),
                (None, None) => return None,
            };
            lower_task_run(lw, doc, Some(run), spec, name, request)
        }
        Target::Task(doc, spec) => {
            let name = doc.name().to_string();
            lower_task_run(lw, doc, None, spec, Some(name), request)
        }
    }
}

/// The namespace, name and labels of the run.
fn run_info(
    doc: &Document,
    kind: RunKind,
    is_run_document: bool,
    pipeline: String,
    task: String,
) -> RunInfo {
    let meta = &doc.metadata;
    let (name, generate_name) = if is_run_document {
        match (&meta.name, &meta.generate_name) {
            (Some(n), _) => (n.value.clone(), false),
            (None, Some(g)) => (g.value.clone(), true),
            (None, None) => ("run-".to_string(), true),
        }
    } else {
        (format!("{}-run-", doc.name()), true)
    };
    RunInfo {
        kind,
        name,
        generate_name,
        namespace: namespace(doc),
        pipeline,
        task,
        service_account_name: "default".to_string(),
        status: None,
        timeouts: plan::Timeouts::default(),
        labels: if is_run_document {
            string_map(meta.labels.as_ref())
        } else {
            BTreeMap::new()
        },
    }
}

fn namespace(doc: &Document) -> String {
    doc.metadata
        .namespace
        .as_ref()
        .map_or_else(|| "default".to_string(), |n| n.value.clone())
}

fn string_map(map: Option<&model::StringMap>) -> BTreeMap<String, String> {
    map.map(|m| {
        m.0.iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect()
    })
    .unwrap_or_default()
}

/// The values of declared params: given (run document, then request), else the default.
/// Undeclared given values are kept too (Tekton substitutes them where they are referenced).
/// Pipeline defaults may use other params (resolved recursively, at most 10 deep); Task
/// defaults one level.
fn param_values(
    lw: &mut Lowering,
    decls: &[ParamSpec],
    given: &[model::Param],
    request: &[(String, plan::ParamValue)],
    at: Span,
    pipeline_defaults: bool,
) -> BTreeMap<String, PVal> {
    let mut values: BTreeMap<String, PVal> = BTreeMap::new();
    for p in given {
        if let Some(v) = &p.value {
            values.insert(p.name.value.clone(), PVal::from_model(v));
        }
    }
    for (name, value) in request {
        values.insert(name.clone(), PVal::from_plan(value));
        if !decls.iter().any(|d| &d.name.value == name) {
            lw.report(
                Diagnostic::new(
                    &codes::UNKNOWN_PARAM,
                    format!("`--param {name}` is not declared"),
                )
                .with_label(at, "declares no such param")
                .with_optional_help(
                    crate::suggest::did_you_mean(name, decls.iter().map(|d| d.name.as_str()))
                        .map(|s| format!("did you mean `{s}`?")),
                ),
            );
        }
    }
    // Type checks of the given values.
    for decl in decls {
        let (Some(value), Some(ty)) = (values.get(&decl.name.value), decl.param_type()) else {
            continue;
        };
        let expected = match ty {
            model::ParamType::String => ValueType::String,
            model::ParamType::Array => ValueType::Array,
            model::ParamType::Object => ValueType::Object,
        };
        let holds_ref = matches!(value, PVal::Str(t) if t.text().contains("$("));
        if value.value_type() != expected && !holds_ref {
            let got = match value.value_type() {
                ValueType::String => "a string",
                ValueType::Array => "an array",
                ValueType::Object => "an object",
            };
            lw.report(
                Diagnostic::new(
                    &codes::PARAM_TYPE,
                    format!(
                        "param `{}` is {} but {got} is given",
                        decl.name.value,
                        ty.as_str()
                    ),
                )
                .with_label(decl.name.span, format!("declared {} here", ty.as_str()))
                .with_help(match ty {
                    model::ParamType::Array => "give a list (`--param name='[\"a\",\"b\"]'`)",
                    model::ParamType::Object => "give a map (`--param name='{\"k\":\"v\"}'`)",
                    model::ParamType::String => "give a string",
                }),
            );
        }
    }
    let defaults: BTreeMap<String, PVal> = decls
        .iter()
        .filter(|d| !values.contains_key(&d.name.value))
        .filter_map(|d| {
            d.default
                .as_ref()
                .map(|v| (d.name.value.clone(), PVal::from_model(v)))
        })
        .collect();
    for decl in decls {
        if !values.contains_key(&decl.name.value) && !defaults.contains_key(&decl.name.value) {
            lw.report(
                Diagnostic::new(
                    &codes::MISSING_PARAM,
                    format!("param `{}` has no value", decl.name.value),
                )
                .with_label(decl.name.span, "declared without a default")
                .with_secondary(at, "the run gives it none")
                .with_help(format!(
                    "give it a value in the run's params (or `--param {}=...`)",
                    decl.name.value
                )),
            );
        }
    }
    if pipeline_defaults {
        let mut resolved: BTreeMap<String, PVal> = BTreeMap::new();
        for name in defaults.keys() {
            resolve_default(
                lw,
                name,
                &defaults,
                &values,
                &mut resolved,
                &mut Vec::new(),
                decls,
            );
        }
        values.extend(resolved);
    } else {
        let mut all = values.clone();
        all.extend(defaults.clone());
        let pass = Params {
            values: &all,
            except: &[],
        };
        for (name, value) in defaults {
            values.insert(name, subst::apply_value(&value, &pass));
        }
    }
    values
}

/// A Pipeline param's default with the params it uses substituted (recursively).
fn resolve_default(
    lw: &mut Lowering,
    name: &str,
    defaults: &BTreeMap<String, PVal>,
    given: &BTreeMap<String, PVal>,
    resolved: &mut BTreeMap<String, PVal>,
    stack: &mut Vec<String>,
    decls: &[ParamSpec],
) {
    if resolved.contains_key(name) {
        return;
    }
    let Some(value) = defaults.get(name) else {
        return;
    };
    if stack.iter().any(|s| s == name) || stack.len() > 10 {
        let span = decls
            .iter()
            .find(|d| d.name.value == name)
            .map(|d| d.name.span)
            .unwrap_or_default();
        lw.report(
            Diagnostic::new(
                &codes::PARAM_CYCLE,
                format!(
                    "param defaults refer to each other: {} → {name}",
                    stack.join(" → ")
                ),
            )
            .with_label(span, "its default leads back here"),
        );
        resolved.insert(name.to_string(), value.clone());
        return;
    }
    stack.push(name.to_string());
    for t in value.templates() {
        for r in crate::vars::parse(&t.text()) {
            if let RefKind::Param { name: used, .. } = &r.kind
                && defaults.contains_key(used)
                && !given.contains_key(used)
            {
                resolve_default(lw, used, defaults, given, resolved, stack, decls);
            }
        }
    }
    stack.pop();
    let mut all = given.clone();
    all.extend(resolved.iter().map(|(k, v)| (k.clone(), v.clone())));
    let pass = Params {
        values: &all,
        except: &[],
    };
    let value = subst::apply_value(value, &pass);
    resolved.insert(name.to_string(), value);
}

/// A run's workspace binding as the plan's [`Binding`], string params substituted.
fn binding(chain: &Chain, b: &model::WorkspaceBinding) -> Binding {
    let text = |s: &model::Str| chain.str(s).text();
    let json = |o: &model::Object| o.0.as_ref().map(crate::syntax::node_to_json);
    if let Some(pvc) = &b.persistent_volume_claim {
        Binding::PersistentVolumeClaim {
            claim_name: text(&pvc.claim_name),
            read_only: pvc.read_only.as_ref().is_some_and(|r| r.value),
        }
    } else if b.volume_claim_template.is_some() {
        Binding::VolumeClaimTemplate {}
    } else if let Some(cm) = &b.config_map {
        Binding::ConfigMap {
            name: text(&cm.name),
            items: cm.items.as_ref().map(crate::syntax::node_to_json),
        }
    } else if let Some(secret) = &b.secret {
        Binding::Secret {
            secret_name: text(&secret.secret_name),
            items: secret.items.as_ref().map(crate::syntax::node_to_json),
        }
    } else if let Some(p) = &b.projected {
        Binding::Other {
            source: serde_json::json!({ "projected": json(p).map(|j| chain.json(&j)) }),
        }
    } else if let Some(c) = &b.csi {
        Binding::Other {
            source: serde_json::json!({ "csi": json(c).map(|j| chain.json(&j)) }),
        }
    } else {
        Binding::EmptyDir {}
    }
}

fn claim_of(binding: &Binding) -> String {
    match binding {
        Binding::PersistentVolumeClaim { claim_name, .. } => claim_name.clone(),
        _ => String::new(),
    }
}

fn volume_name(workspace: &str) -> String {
    pod::container_name("ws-", workspace)
}

/// `subPath`s joined with `/`.
fn join_sub_paths(outer: Option<Tpl>, inner: Option<Tpl>) -> Option<Tpl> {
    match (outer, inner) {
        (Some(mut o), Some(i)) => {
            o.push_str("/");
            o.append(i);
            Some(o)
        }
        (o, i) => o.or(i),
    }
}

/// `$(workspaces.W...)` names a Task spec uses but does not declare (inline specs get them
/// from their run: propagated workspaces).
fn used_workspaces(spec: &TaskSpec) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in task_strings(spec) {
        for r in crate::vars::parse(s.text.text) {
            if let RefKind::Workspace { name, .. } = r.kind
                && !spec.workspaces.iter().any(|w| w.name.value == name)
                && !out.contains(&name)
            {
                out.push(name);
            }
        }
    }
    out
}

/// The declared (and, for inline specs, used) workspaces of a Task.
fn task_workspace_decls(
    spec: &TaskSpec,
    inline: bool,
) -> Vec<(String, Option<&model::WorkspaceDeclaration>)> {
    let mut out: Vec<(String, Option<&model::WorkspaceDeclaration>)> = spec
        .workspaces
        .iter()
        .map(|w| (w.name.value.clone(), Some(w)))
        .collect();
    if inline {
        out.extend(used_workspaces(spec).into_iter().map(|n| (n, None)));
    }
    out
}

fn workspace_info(
    chain: &Chain,
    name: String,
    decl: Option<&model::WorkspaceDeclaration>,
    source: Option<WorkspaceSource>,
    claim: String,
    sub_path: Option<Tpl>,
) -> WorkspaceInfo {
    WorkspaceInfo {
        plan: TaskWorkspace {
            mount_path: decl
                .and_then(|d| d.mount_path.as_ref())
                .map_or_else(|| format!("/workspace/{name}"), |p| chain.str(p).text()),
            read_only: decl
                .and_then(|d| d.read_only.as_ref())
                .is_some_and(|r| r.value),
            source,
            sub_path: sub_path.map(|t| t.to_template()),
            only_in: Vec::new(),
            volume: volume_name(&name),
            name,
        },
        claim,
    }
}

// ---- PipelineRun ----

/// The pipeline-level context variables of one pipeline task.
struct PipelineContext<'a> {
    pipeline_name: &'a Tpl,
    namespace: &'a str,
    retries: i64,
}

impl Pass for PipelineContext<'_> {
    fn string(&self, r: &Reference) -> Option<Tpl> {
        let RefKind::Context(var) = &r.kind else {
            return None;
        };
        match var {
            ContextVar::PipelineName => Some(self.pipeline_name.clone()),
            ContextVar::PipelineRunName | ContextVar::PipelineRunUid => {
                Some(Tpl::run(RunValue::Context {
                    variable: var.as_str().to_string(),
                }))
            }
            ContextVar::PipelineRunNamespace => Some(Tpl::lit(self.namespace)),
            ContextVar::PipelineTaskRetries => Some(Tpl::lit(self.retries.to_string())),
            _ => None,
        }
    }
}

/// `$(tasks.T.status|reason)`, `$(tasks.status)` (finally tasks) and matrix lengths.
struct RunState<'a> {
    finally: bool,
    /// Combination counts of matrices known at compile time.
    matrix_lengths: &'a BTreeMap<String, usize>,
}

impl Pass for RunState<'_> {
    fn string(&self, r: &Reference) -> Option<Tpl> {
        let value = match &r.kind {
            RefKind::TaskStatus { task } if self.finally => {
                RunValue::TaskStatus { task: task.clone() }
            }
            RefKind::TaskReason { task } if self.finally => {
                RunValue::TaskReason { task: task.clone() }
            }
            RefKind::TasksStatus if self.finally => RunValue::TasksStatus {},
            RefKind::MatrixLength { task, result: None } => match self.matrix_lengths.get(task) {
                Some(n) => return Some(Tpl::lit(n.to_string())),
                None => RunValue::MatrixLength {
                    task: task.clone(),
                    result: None,
                },
            },
            RefKind::MatrixLength { task, result } => RunValue::MatrixLength {
                task: task.clone(),
                result: result.clone(),
            },
            _ => return None,
        };
        Some(Tpl::run(value))
    }
}

/// `$(workspaces.W.bound)` of the pipeline's workspaces.
struct PipelineWorkspacesBound<'a> {
    bound: &'a BTreeMap<String, bool>,
}

impl Pass for PipelineWorkspacesBound<'_> {
    fn string(&self, r: &Reference) -> Option<Tpl> {
        match &r.kind {
            RefKind::Workspace {
                name,
                attr: WorkspaceAttr::Bound,
            } => self
                .bound
                .get(name)
                .map(|b| Tpl::lit(if *b { "true" } else { "false" })),
            _ => None,
        }
    }
}

/// What every pipeline task of one run shares.
struct PipelineScope<'a> {
    values: BTreeMap<String, PVal>,
    pipeline_name: Tpl,
    namespace: String,
    results: BTreeMap<String, ResultTypes>,
    matrix_lengths: BTreeMap<String, usize>,
    bound: BTreeMap<String, bool>,
    workspaces: &'a [WorkspaceBinding],
    run: Option<&'a PipelineRunSpec>,
    timeouts: timeouts::RunTimeouts,
    service_account: String,
    pod_template: Option<serde_json::Value>,
    labels: BTreeMap<String, String>,
}

fn lower_pipeline(
    lw: &mut Lowering,
    doc: &Document,
    run: Option<&PipelineRunSpec>,
    spec: &PipelineSpec,
    pipeline_name: Option<String>,
    request: &RunRequest,
) -> Option<Plan> {
    let is_run = run.is_some();
    let mut info = run_info(
        doc,
        RunKind::PipelineRun,
        is_run,
        pipeline_name.clone().unwrap_or_default(),
        String::new(),
    );
    let given = run.map_or(&[][..], |r| &r.params);
    let values = param_values(
        lw,
        &spec.params,
        given,
        &request.params,
        doc.name_span(),
        true,
    );

    // Workspaces of the run: the document's bindings and the request's, by name.
    let string_params = Params {
        values: &values,
        except: &[],
    };
    let chain = Chain::new(vec![&string_params]);
    let mut bindings: Vec<WorkspaceBinding> = run
        .map(|r| {
            r.workspaces
                .iter()
                .map(|b| WorkspaceBinding {
                    name: b.name.value.clone(),
                    binding: binding(&chain, b),
                    sub_path: b.sub_path.as_ref().map(|s| chain.str(s).text()),
                })
                .collect()
        })
        .unwrap_or_default();
    for (name, b) in &request.workspaces {
        if !spec.workspaces.iter().any(|w| &w.name.value == name) {
            lw.report(
                Diagnostic::new(
                    &codes::UNKNOWN_WORKSPACE,
                    format!("`--workspace {name}` is not a workspace of the Pipeline"),
                )
                .with_label(doc.name_span(), "declares no such workspace"),
            );
        }
        bindings.retain(|w| &w.name != name);
        bindings.push(WorkspaceBinding {
            name: name.clone(),
            binding: b.clone(),
            sub_path: None,
        });
    }
    for decl in &spec.workspaces {
        let optional = decl.optional.as_ref().is_some_and(|o| o.value);
        if optional || bindings.iter().any(|b| b.name == decl.name.value) {
            continue;
        }
        if is_run {
            lw.report(
                Diagnostic::new(
                    &codes::UNBOUND_WORKSPACE,
                    format!("the run does not bind workspace `{}`", decl.name.value),
                )
                .with_label(decl.name.span, "required by the Pipeline")
                .with_secondary(doc.name_span(), "this run")
                .with_help(
                    "add it to the run's `workspaces` (or pass `--workspace name=emptyDir`)",
                ),
            );
        } else {
            bindings.push(WorkspaceBinding {
                name: decl.name.value.clone(),
                binding: Binding::RunShared {},
                sub_path: None,
            });
        }
    }
    bindings.sort_by(|a, b| a.name.cmp(&b.name));
    let bound: BTreeMap<String, bool> = spec
        .workspaces
        .iter()
        .map(|w| {
            let name = w.name.value.clone();
            let is_bound = bindings.iter().any(|b| b.name == name);
            (name, is_bound)
        })
        .collect();

    let mut results = BTreeMap::new();
    for pt in spec.tasks.iter().chain(&spec.finally) {
        let types = match lw.world.resolve_pipeline_task(pt) {
            Resolved::Found { spec, .. } => pod::task_results(spec)
                .into_iter()
                .map(|r| (r.name, r.result_type))
                .collect(),
            _ => BTreeMap::new(),
        };
        results.insert(
            pt.name.value.clone(),
            ResultTypes {
                matrixed: pt.is_matrixed(),
                types,
            },
        );
    }

    let run_timeouts = timeouts::RunTimeouts::new(run.and_then(|r| r.timeouts.as_ref()));
    info.timeouts = run_timeouts.to_plan();
    let template = run.and_then(|r| r.task_run_template.as_ref());
    if let Some(sa) = template.and_then(|t| t.service_account_name.as_ref()) {
        info.service_account_name = sa.value.clone();
    }
    info.status = run.and_then(|r| r.status.as_ref()).map(|s| s.value.clone());
    let pipeline_name_tpl = match &pipeline_name {
        Some(n) => Tpl::lit(n.as_str()),
        None => Tpl::run(RunValue::Context {
            variable: ContextVar::PipelineRunName.as_str().to_string(),
        }),
    };
    let mut scope = PipelineScope {
        values,
        pipeline_name: pipeline_name_tpl,
        namespace: info.namespace.clone(),
        results,
        matrix_lengths: BTreeMap::new(),
        bound,
        workspaces: &bindings,
        run,
        timeouts: run_timeouts,
        service_account: info.service_account_name.clone(),
        pod_template: template
            .and_then(|t| t.pod_template.as_ref())
            .and_then(|o| o.0.as_ref())
            .map(crate::syntax::node_to_json),
        labels: info.labels.clone(),
    };

    // Static matrix sizes first: `$(tasks.T.matrix.length)` may be used by any task.
    for pt in spec.tasks.iter().chain(&spec.finally) {
        if let Some(m) = &pt.matrix
            && pt.is_matrixed()
        {
            let lowered = lower_matrix(&scope, pt, m, Section::Tasks);
            if let FanOut::Static(c) = lowered.fan_out() {
                scope.matrix_lengths.insert(pt.name.value.clone(), c.len());
            }
        }
    }

    let mut tasks = Vec::new();
    for (section, list) in [
        (Section::Tasks, &spec.tasks),
        (Section::Finally, &spec.finally),
    ] {
        for pt in list {
            if let Some(task) = lower_pipeline_task(lw, &scope, pt, section) {
                tasks.push(task);
            }
        }
    }

    let status_less = RunState {
        finally: false,
        matrix_lengths: &scope.matrix_lengths,
    };
    let pparams = Params {
        values: &scope.values,
        except: &[],
    };
    let pctx = PipelineContext {
        pipeline_name: &scope.pipeline_name,
        namespace: &scope.namespace,
        retries: 0,
    };
    let task_results = TaskResults {
        tasks: &scope.results,
        allow_finally: true,
    };
    let results_chain = Chain::new(vec![&pparams, &pctx, &task_results, &status_less]);
    let pipeline_results = spec
        .results
        .iter()
        .map(|r| {
            let written = r.value.as_ref().map(|v| PVal::from_model(v));
            let result_type = match r.r#type.as_ref().map(|t| t.as_str()) {
                Some("array") => ValueType::Array,
                Some("object") => ValueType::Object,
                Some("string") => ValueType::String,
                _ => written.as_ref().map_or(ValueType::String, PVal::value_type),
            };
            let value = written
                .map(|v| results_chain.value(v))
                .unwrap_or(PVal::Str(Tpl::default()));
            PipelineResult {
                name: r.name.value.clone(),
                result_type,
                value: value.to_value_template(),
            }
        })
        .collect();

    let params = scope
        .values
        .iter()
        .map(|(k, v)| (k.clone(), v.to_plain()))
        .collect();
    let mut plan = Plan {
        api_version: plan::API_VERSION.to_string(),
        kind: "Plan".to_string(),
        run: info,
        params,
        workspaces: bindings.clone(),
        tasks,
        results: pipeline_results,
        config_maps: BTreeMap::new(),
        secrets: BTreeMap::new(),
    };
    collect_config(lw.world, &mut plan);
    Some(plan)
}

fn lower_matrix(
    scope: &PipelineScope,
    pt: &PipelineTask,
    m: &model::Matrix,
    section: Section,
) -> matrix::Lowered {
    let pparams = Params {
        values: &scope.values,
        except: &[],
    };
    let pctx = PipelineContext {
        pipeline_name: &scope.pipeline_name,
        namespace: &scope.namespace,
        retries: pt.retries.as_ref().map_or(0, |r| r.value),
    };
    let results = TaskResults {
        tasks: &scope.results,
        allow_finally: false,
    };
    let state = RunState {
        finally: section == Section::Finally,
        matrix_lengths: &scope.matrix_lengths,
    };
    let chain = Chain::new(vec![&pparams, &pctx, &results, &state]);
    matrix::Lowered {
        params: m
            .params
            .iter()
            .map(|p| {
                let value = p.value.as_ref().map(|v| PVal::from_model(v));
                (
                    p.name.value.clone(),
                    chain.value(value.unwrap_or(PVal::Array(Vec::new()))),
                )
            })
            .collect(),
        include: m
            .include
            .iter()
            .map(|i| {
                (
                    i.name.as_ref().map(|n| n.value.clone()),
                    i.params
                        .iter()
                        .map(|p| {
                            let text = p
                                .value
                                .as_ref()
                                .and_then(|v| v.as_string())
                                .unwrap_or_default();
                            (p.name.value.clone(), chain.str(text))
                        })
                        .collect(),
                )
            })
            .collect(),
    }
}

fn lower_pipeline_task(
    lw: &mut Lowering,
    scope: &PipelineScope,
    pt: &PipelineTask,
    section: Section,
) -> Option<TaskPlan> {
    let (spec, inline) = match lw.world.resolve_pipeline_task(pt) {
        Resolved::Found { spec, doc } => (spec, doc.is_none()),
        other => {
            let what = format!("pipeline task `{}`", pt.name.value);
            let at = pt.task_ref.as_ref().map_or(pt.head, |r| r.head);
            lw.unresolved(&what, at, &other);
            return None;
        }
    };
    let retries = pt.retries.as_ref().map_or(0, |r| r.value.max(0));
    let pparams = Params {
        values: &scope.values,
        except: &[],
    };
    let pctx = PipelineContext {
        pipeline_name: &scope.pipeline_name,
        namespace: &scope.namespace,
        retries,
    };
    let bound = PipelineWorkspacesBound {
        bound: &scope.bound,
    };
    let results = TaskResults {
        tasks: &scope.results,
        allow_finally: false,
    };
    let state = RunState {
        finally: section == Section::Finally,
        matrix_lengths: &scope.matrix_lengths,
    };
    let chain = Chain::new(vec![&pparams, &pctx, &bound, &results, &state]);

    // The params the pipeline task passes.
    let given: BTreeMap<String, PVal> = pt
        .params
        .iter()
        .filter_map(|p| {
            let v = p.value.as_ref()?;
            Some((p.name.value.clone(), chain.value(PVal::from_model(v))))
        })
        .collect();
    let shadowed: Vec<String> = pt.params.iter().map(|p| p.name.value.clone()).collect();

    // Matrix.
    let mut matrix_plan = None;
    let mut matrix_names = Vec::new();
    if let Some(m) = &pt.matrix
        && pt.is_matrixed()
    {
        let lowered = lower_matrix(scope, pt, m, section);
        matrix_names = lowered.names();
        let combinations = match lowered.fan_out() {
            FanOut::Static(c) => Some(c),
            FanOut::Deferred => None,
            FanOut::TooMany(n) => {
                lw.report(
                    Diagnostic::new(
                        &codes::MATRIX_TOO_LARGE,
                        format!(
                            "matrix of `{}` has {n} combinations; Tekton allows at most {}",
                            pt.name.value,
                            matrix::MAX_COMBINATIONS
                        ),
                    )
                    .with_label(m.head, "too many combinations"),
                );
                None
            }
        };
        matrix_plan = Some(lowered.to_plan(combinations));
    }

    // The Task's params: matrix params per combination, given values, defaults.
    let mut task_values: BTreeMap<String, PVal> = given.clone();
    let mut displayed: BTreeMap<String, ValueTemplate> = BTreeMap::new();
    {
        let all = task_values.clone();
        let pass = Params {
            values: &all,
            except: &[],
        };
        for decl in &spec.params {
            let name = &decl.name.value;
            if task_values.contains_key(name) {
                continue;
            }
            match &decl.default {
                Some(d) => {
                    let v = subst::apply_value(&PVal::from_model(d), &pass);
                    task_values.insert(name.clone(), v);
                }
                None if matrix_names.contains(name) => {}
                None => lw.report(
                    Diagnostic::new(
                        &codes::MISSING_PARAM,
                        format!(
                            "pipeline task `{}` gives param `{name}` no value",
                            pt.name.value
                        ),
                    )
                    .with_label(decl.name.span, "declared without a default")
                    .with_secondary(pt.name.span, "this pipeline task")
                    .with_help(format!("add `{name}` to the pipeline task's params")),
                ),
            }
        }
    }
    for (name, value) in &task_values {
        displayed.insert(name.clone(), value.to_value_template());
    }
    for name in &matrix_names {
        let param = PVal::Str(Tpl::run(RunValue::MatrixParam {
            name: name.clone(),
            index: None,
        }));
        displayed
            .entry(name.clone())
            .or_insert_with(|| param.to_value_template());
        task_values.insert(name.clone(), param);
    }

    // Workspaces.
    let run_spec: Option<&PipelineTaskRunSpec> = scope.run.and_then(|r| {
        r.task_run_specs
            .iter()
            .find(|s| s.pipeline_task_name.value == pt.name.value)
    });
    let task_param_pass = Params {
        values: &task_values,
        except: &[],
    };
    let task_chain = Chain::new(vec![&task_param_pass]);
    let mut workspaces = Vec::new();
    for (name, decl) in task_workspace_decls(spec, inline) {
        let given_binding = pt.workspaces.iter().find(|w| w.name.value == name);
        let (pipeline_ws, sub_path) = match given_binding {
            Some(b) => (
                b.workspace
                    .as_ref()
                    .map_or_else(|| b.name.value.clone(), |w| w.value.clone()),
                b.sub_path.as_ref().map(|s| chain.str(s)),
            ),
            // Inline specs get the pipeline's workspace of the same name.
            None if inline => (name.clone(), None),
            None => (String::new(), None),
        };
        let run_binding = scope.workspaces.iter().find(|b| b.name == pipeline_ws);
        let optional = decl
            .and_then(|d| d.optional.as_ref())
            .is_some_and(|o| o.value);
        if run_binding.is_none() && !optional && (decl.is_some() || given_binding.is_some()) {
            let declared_optional = scope.bound.contains_key(&pipeline_ws);
            if decl.is_some() && !declared_optional || given_binding.is_none() {
                let at = decl.map_or(pt.name.span, |d| d.name.span);
                lw.report(
                    Diagnostic::new(
                        &codes::UNBOUND_WORKSPACE,
                        format!(
                            "pipeline task `{}` does not bind workspace `{name}`",
                            pt.name.value
                        ),
                    )
                    .with_label(at, "required by the Task")
                    .with_secondary(pt.name.span, "this pipeline task")
                    .with_help("bind it in the pipeline task's `workspaces`"),
                );
            }
        }
        if decl.is_none() && run_binding.is_none() {
            continue;
        }
        let outer = run_binding.and_then(|b| b.sub_path.clone()).map(Tpl::lit);
        workspaces.push(workspace_info(
            &task_chain,
            name,
            decl,
            run_binding.map(|b| WorkspaceSource::Run(b.name.clone())),
            run_binding
                .map(|b| claim_of(&b.binding))
                .unwrap_or_default(),
            join_sub_paths(outer, sub_path),
        ));
    }

    // The pod. An inline spec first gets the pipeline's own substitution (propagated params,
    // context, results), then the Task's.
    let embedded_params = Params {
        values: &scope.values,
        except: &shadowed,
    };
    let before = if inline {
        Chain::new(vec![&embedded_params, &pctx, &results, &state])
    } else {
        Chain::default()
    };
    let task_name = match (&pt.task_ref, inline) {
        (Some(r), false) => Tpl::lit(r.name.as_ref().map_or("", |n| n.as_str())),
        _ => Tpl::run(RunValue::Context {
            variable: ContextVar::TaskRunName.as_str().to_string(),
        }),
    };
    let mut pod_template = scope.pod_template.clone();
    if let Some(t) = run_spec
        .and_then(|s| s.pod_template.as_ref())
        .and_then(|o| o.0.as_ref())
    {
        pod_template = merge_objects(pod_template, crate::syntax::node_to_json(t));
    }
    let pod = pod::lower_pod(
        lw,
        TaskInput {
            spec,
            params: &task_values,
            before,
            task_name,
            namespace: &scope.namespace,
            workspaces,
            step_specs: run_spec.map_or(&[][..], |s| &s.step_specs),
            sidecar_specs: run_spec.map_or(&[][..], |s| &s.sidecar_specs),
            pod_template,
        },
    );

    let mut after: BTreeSet<String> = BTreeSet::new();
    if section == Section::Tasks {
        after.extend(pt.run_after.iter().map(|r| r.value.clone()));
        for text in dependency_texts(pt) {
            for r in crate::vars::parse(text.text) {
                if let RefKind::TaskResult {
                    task,
                    finally: false,
                    bracket: false,
                    ..
                } = r.kind
                {
                    after.insert(task);
                }
            }
        }
        after.remove(&pt.name.value);
    }

    let mut labels = scope.labels.clone();
    if let Some(meta) = pt.task_spec.as_ref().and_then(|t| t.metadata.as_ref()) {
        labels.extend(string_map(meta.labels.as_ref()));
    }
    let on_error = match &pt.on_error {
        Some(o) => pod::on_error(lw, Some((o, chain.str(o)))),
        None => OnError::StopAndFail,
    };
    Some(TaskPlan {
        name: pt.name.value.clone(),
        section,
        display_name: pt.display_name.as_ref().map(|d| chain.str(d).to_template()),
        task_ref: match (&pt.task_ref, inline) {
            (Some(r), false) => r.name.as_ref().map(|n| n.value.clone()).unwrap_or_default(),
            _ => String::new(),
        },
        after: after.into_iter().collect(),
        retries: u32::try_from(retries).unwrap_or(u32::MAX),
        timeout: Some(scope.timeouts.task(
            section,
            pt.timeout.as_deref(),
            run_spec.and_then(|s| s.timeout.as_deref()),
        )),
        on_error,
        when: pipeline_whens(&chain, &scope.values, &pt.when),
        matrix: matrix_plan,
        params: displayed,
        service_account_name: run_spec
            .and_then(|s| s.service_account_name.as_ref())
            .map_or_else(|| scope.service_account.clone(), |s| s.value.clone()),
        labels,
        pod,
    })
}

/// A pipeline task's when expressions; an `input` that is a whole array param becomes its
/// JSON text, as Tekton does.
fn pipeline_whens(
    chain: &Chain,
    values: &BTreeMap<String, PVal>,
    whens: &[model::WhenExpression],
) -> Vec<plan::When> {
    let mut out = pod::whens(chain, whens);
    for (lowered, when) in out.iter_mut().zip(whens) {
        let Some(input) = &when.input else {
            continue;
        };
        let refs = crate::vars::parse(input);
        if let [r] = refs.as_slice()
            && r.is_whole(input)
            && let RefKind::Param { name, selector, .. } = &r.kind
            && matches!(
                selector,
                crate::vars::Selector::Whole | crate::vars::Selector::Star
            )
            && let Some(PVal::Array(items)) = values.get(name)
            && let Some(texts) = items
                .iter()
                .map(Tpl::as_literal)
                .collect::<Option<Vec<_>>>()
        {
            lowered.input = Some(plan::Template::Text(
                serde_json::to_string(&texts).unwrap_or_default(),
            ));
        }
    }
    out
}

/// `over`'s keys set onto `base` (a pod template of a task over the run's).
fn merge_objects(
    base: Option<serde_json::Value>,
    over: serde_json::Value,
) -> Option<serde_json::Value> {
    match (base, over) {
        (Some(serde_json::Value::Object(mut b)), serde_json::Value::Object(o)) => {
            b.extend(o);
            Some(serde_json::Value::Object(b))
        }
        (_, o) => Some(o),
    }
}

// ---- TaskRun ----

fn lower_task_run(
    lw: &mut Lowering,
    doc: &Document,
    run: Option<&TaskRunSpec>,
    spec: &TaskSpec,
    task_name: Option<String>,
    request: &RunRequest,
) -> Option<Plan> {
    let is_run = run.is_some();
    let inline = task_name.is_none();
    let mut info = run_info(
        doc,
        RunKind::TaskRun,
        is_run,
        String::new(),
        task_name.clone().unwrap_or_default(),
    );
    let given = run.map_or(&[][..], |r| &r.params);
    let values = param_values(
        lw,
        &spec.params,
        given,
        &request.params,
        doc.name_span(),
        false,
    );
    let params_pass = Params {
        values: &values,
        except: &[],
    };
    let chain = Chain::new(vec![&params_pass]);

    let mut bindings: Vec<(String, Binding, Option<String>)> = run
        .map(|r| {
            r.workspaces
                .iter()
                .map(|b| {
                    (
                        b.name.value.clone(),
                        binding(&chain, b),
                        b.sub_path.as_ref().map(|s| chain.str(s).text()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (name, b) in &request.workspaces {
        if !spec.workspaces.iter().any(|w| &w.name.value == name) && !inline {
            lw.report(
                Diagnostic::new(
                    &codes::UNKNOWN_WORKSPACE,
                    format!("`--workspace {name}` is not a workspace of the Task"),
                )
                .with_label(doc.name_span(), "declares no such workspace"),
            );
        }
        bindings.retain(|(n, _, _)| n != name);
        bindings.push((name.clone(), b.clone(), None));
    }
    let mut workspaces = Vec::new();
    for (name, decl) in task_workspace_decls(spec, inline) {
        let found = bindings.iter().find(|(n, _, _)| *n == name);
        let optional = decl
            .and_then(|d| d.optional.as_ref())
            .is_some_and(|o| o.value);
        let (source, claim, sub_path) = match found {
            Some((_, b, sub)) => (
                Some(WorkspaceSource::Binding(b.clone())),
                claim_of(b),
                sub.clone().map(Tpl::lit),
            ),
            None if optional || decl.is_none() => (None, String::new(), None),
            // A cluster may bind it (`default-task-run-workspace-binding` in Tekton's
            // config-defaults); tkc binds an emptyDir, as such a cluster usually does.
            None if is_run => {
                let at = decl.map_or(doc.name_span(), |d| d.name.span);
                lw.report(
                    Diagnostic::new(
                        &codes::UNBOUND_WORKSPACE,
                        format!("the run does not bind workspace `{name}`"),
                    )
                    .with_severity(crate::diag::Severity::Warning)
                    .with_label(at, "required by the Task")
                    .with_secondary(doc.name_span(), "this run")
                    .with_help(
                        "tkc binds an emptyDir, as a cluster with `default-task-run-workspace-binding` \
                         does; without that setting Tekton fails the run. Bind it in the run's `workspaces`",
                    ),
                );
                (
                    Some(WorkspaceSource::Binding(Binding::EmptyDir {})),
                    String::new(),
                    None,
                )
            }
            None => (
                Some(WorkspaceSource::Binding(Binding::RunShared {})),
                String::new(),
                None,
            ),
        };
        if decl.is_none() && source.is_none() {
            continue;
        }
        workspaces.push(workspace_info(&chain, name, decl, source, claim, sub_path));
    }

    let run_name = info.name.clone();
    let task_name_tpl = match &task_name {
        Some(n) => Tpl::lit(n.as_str()),
        None => Tpl::run(RunValue::Context {
            variable: ContextVar::TaskRunName.as_str().to_string(),
        }),
    };
    let namespace = info.namespace.clone();
    let pod = pod::lower_pod(
        lw,
        TaskInput {
            spec,
            params: &values,
            before: Chain::default(),
            task_name: task_name_tpl,
            namespace: &namespace,
            workspaces,
            step_specs: run.map_or(&[][..], |r| &r.step_specs),
            sidecar_specs: run.map_or(&[][..], |r| &r.sidecar_specs),
            pod_template: run
                .and_then(|r| r.pod_template.as_ref())
                .and_then(|o| o.0.as_ref())
                .map(crate::syntax::node_to_json),
        },
    );
    if let Some(sa) = run.and_then(|r| r.service_account_name.as_ref()) {
        info.service_account_name = sa.value.clone();
    }
    info.status = run.and_then(|r| r.status.as_ref()).map(|s| s.value.clone());
    let task = TaskPlan {
        name: task_name.unwrap_or_else(|| run_name.trim_end_matches('-').to_string()),
        section: Section::Tasks,
        display_name: spec
            .display_name
            .as_ref()
            .map(|d| chain.str(d).to_template()),
        task_ref: info.task.clone(),
        after: Vec::new(),
        retries: run
            .and_then(|r| r.retries.as_ref())
            .map_or(0, |r| u32::try_from(r.value.max(0)).unwrap_or(u32::MAX)),
        timeout: Some(timeouts::task_run(run.and_then(|r| r.timeout.as_deref()))),
        on_error: OnError::StopAndFail,
        when: Vec::new(),
        matrix: None,
        params: values
            .iter()
            .map(|(k, v)| (k.clone(), v.to_value_template()))
            .collect(),
        service_account_name: info.service_account_name.clone(),
        labels: info.labels.clone(),
        pod,
    };
    let mut plan = Plan {
        api_version: plan::API_VERSION.to_string(),
        kind: "Plan".to_string(),
        run: info,
        params: values
            .iter()
            .map(|(k, v)| (k.clone(), v.to_plain()))
            .collect(),
        workspaces: Vec::new(),
        tasks: vec![task],
        results: Vec::new(),
        config_maps: BTreeMap::new(),
        secrets: BTreeMap::new(),
    };
    collect_config(lw.world, &mut plan);
    Some(plan)
}

// ---- ConfigMaps and Secrets ----

/// Copies the data of the ConfigMaps and Secrets the plan uses (workspace bindings, volumes,
/// env) from the inputs into the plan; Secret `data` is decoded from base64.
fn collect_config(world: &World, plan: &mut Plan) {
    let mut config_maps = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let from_binding = |b: &Binding, cms: &mut BTreeSet<String>, ss: &mut BTreeSet<String>| match b
    {
        Binding::ConfigMap { name, .. } => {
            cms.insert(name.clone());
        }
        Binding::Secret { secret_name, .. } => {
            ss.insert(secret_name.clone());
        }
        Binding::Other { source } => names_in_json(source, cms, ss),
        _ => {}
    };
    for w in &plan.workspaces {
        from_binding(&w.binding, &mut config_maps, &mut secrets);
    }
    for task in &plan.tasks {
        for w in &task.pod.workspaces {
            if let Some(WorkspaceSource::Binding(b)) = &w.source {
                from_binding(b, &mut config_maps, &mut secrets);
            }
        }
        for v in &task.pod.volumes {
            names_in_json(&v.source, &mut config_maps, &mut secrets);
        }
        for step in &task.pod.steps {
            for e in &step.env {
                if let Some(v) = &e.value_from {
                    names_in_json(v, &mut config_maps, &mut secrets);
                }
            }
            for e in &step.env_from {
                names_in_json(e, &mut config_maps, &mut secrets);
            }
        }
        for sidecar in &task.pod.sidecars {
            for e in &sidecar.env {
                if let Some(v) = &e.value_from {
                    names_in_json(v, &mut config_maps, &mut secrets);
                }
            }
        }
    }
    for (_, doc) in world.iter() {
        let Some(name) = doc.metadata.name.as_ref() else {
            continue;
        };
        match &doc.resource {
            Resource::ConfigMap(data) if config_maps.contains(&name.value) => {
                let mut map: BTreeMap<String, String> = data
                    .data
                    .0
                    .iter()
                    .map(|(k, v)| (k.value.clone(), v.value.clone()))
                    .collect();
                for (k, v) in &data.binary_data.0 {
                    map.insert(k.value.clone(), decode_base64(&v.value));
                }
                plan.config_maps.entry(name.value.clone()).or_insert(map);
            }
            Resource::Secret(data) if secrets.contains(&name.value) => {
                let mut map: BTreeMap<String, String> = data
                    .data
                    .0
                    .iter()
                    .map(|(k, v)| (k.value.clone(), decode_base64(&v.value)))
                    .collect();
                for (k, v) in &data.string_data.0 {
                    map.insert(k.value.clone(), v.value.clone());
                }
                plan.secrets.entry(name.value.clone()).or_insert(map);
            }
            _ => {}
        }
    }
}

/// ConfigMap and Secret names in a Kubernetes object: `configMap.name`,
/// `configMapKeyRef.name`, `configMapRef.name`, `secret.secretName`, `secret.name`
/// (projected), `secretKeyRef.name`, `secretRef.name`.
fn names_in_json(value: &serde_json::Value, cms: &mut BTreeSet<String>, ss: &mut BTreeSet<String>) {
    use serde_json::Value as J;
    match value {
        J::Object(map) => {
            for (key, inner) in map {
                let name = |k: &str| inner.get(k).and_then(J::as_str).map(str::to_string);
                match key.as_str() {
                    "configMap" | "configMapKeyRef" | "configMapRef" => cms.extend(name("name")),
                    "secret" => ss.extend(name("secretName").or_else(|| name("name"))),
                    "secretKeyRef" | "secretRef" => ss.extend(name("name")),
                    _ => {}
                }
                names_in_json(inner, cms, ss);
            }
        }
        J::Array(items) => items.iter().for_each(|i| names_in_json(i, cms, ss)),
        _ => {}
    }
}

/// Standard base64 (padding optional, white space ignored); undecodable text is kept.
fn decode_base64(text: &str) -> String {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            _ => return text.to_string(),
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(decode_base64("aGVsbG8="), "hello");
        assert_eq!(decode_base64("aGVsbG8"), "hello");
        assert_eq!(decode_base64("not base64!"), "not base64!");
    }
}
