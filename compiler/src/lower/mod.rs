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

mod config;
pub mod matrix;
mod params;
mod pipeline;
pub mod pod;
pub mod subst;
mod task_run;
pub mod timeouts;
mod workspaces;

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

impl From<model::ParamType> for ValueType {
    fn from(t: model::ParamType) -> ValueType {
        match t {
            model::ParamType::String => ValueType::String,
            model::ParamType::Array => ValueType::Array,
            model::ParamType::Object => ValueType::Object,
        }
    }
}
use subst::{Chain, PVal, Params, Pass, ResultTypes, TaskResults, Tpl};

use config::collect_config;
pub use config::secret_values;
use params::param_values;
use pipeline::lower_pipeline;
use task_run::lower_task_run;
use workspaces::{
    binding, claim_of, claim_templates, join_sub_paths, task_workspace_decls, workspace_info,
};

/// The diagnostic codes of lowering. Problems the checks also find (a missing param, an
/// unbound workspace) are reported with the check family's code, whichever finds them: a
/// run document's problems are found by the checks, those of `--param`/`--workspace` here.
pub mod codes {
    pub use crate::check::params::bindings::{
        MISSING as MISSING_PARAM, TYPE_MISMATCH as PARAM_TYPE, UNKNOWN as UNKNOWN_PARAM,
    };
    pub use crate::check::params::declarations::DEFAULT_REFERENCE as PARAM_CYCLE;
    pub use crate::check::workspaces::{
        MISSING_BINDING, PIPELINERUN_MISSING, UNKNOWN_BINDING as UNKNOWN_WORKSPACE,
    };

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
        /// # A run's Pipeline that only a cluster can resolve
        ///
        /// The PipelineRun's `pipelineRef` names a Pipeline fetched by a resolver when the run
        /// starts, or one that is not among the inputs and search paths. Tekton fails such a
        /// run with `CouldntGetPipeline` if the cluster lacks it too (`Reconciler.reconcile`
        /// in `pkg/reconciler/pipelinerun/pipelinerun.go`, when `GetPipelineData` fails). `tkc compile` and
        /// `tkc run` work offline: vendor the Pipeline into the repository (or add its folder
        /// with `--search-path`) and refer to it by name.
        pub static UNRESOLVED_PIPELINE = "tkc::lower::unresolved-pipeline", Error, reason = "CouldntGetPipeline";
    }

    declare_code! {
        /// # Something tkc does not run
        ///
        /// Custom tasks (a `taskRef` or `taskSpec` with `apiVersion` and `kind`, run as
        /// CustomRuns by their own controllers) have no pod to plan, and a pipeline in a
        /// pipeline (alpha) cannot be matrixed: Tekton's `createChildPipelineRun` passes a
        /// child PipelineRun the pipeline task's params only, never a combination's
        /// (`docs/pipelines-in-pipelines.md` lists it as a limitation). Child pipelines nest
        /// at most 16 deep. `tkc check` still checks them.
        pub static UNSUPPORTED = "tkc::lower::unsupported", Error;
    }

    declare_code! {
        /// # A pipeline in a pipeline that runs itself
        ///
        /// A pipeline task's `pipelineRef` names a Pipeline that is already running above it
        /// (the Pipeline itself, or one of the Pipelines that run it). Tekton finds the cycle
        /// when it creates the child PipelineRun (`detectPipelineRefCycle` in
        /// `pkg/reconciler/pipelinerun/pipelinerun.go`, walking the owner references) and
        /// fails the run with `CreateRunFailed`: `detected cycle in pipeline-in-pipeline`.
        ///
        /// ## Example
        /// ```yaml
        /// kind: Pipeline
        /// metadata:
        ///   name: release
        /// spec:
        ///   tasks:
        ///     - name: again
        ///       pipelineRef:
        ///         name: release
        /// ```
        pub static PIPELINE_CYCLE = "tkc::lower::pipeline-cycle", Error, reason = "CreateRunFailed";
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
        /// # `onError` is neither `continue` nor `stopAndFail`
        ///
        /// `onError` may be a param reference; after substitution it must be one of the two
        /// values. Tekton fails the pod (step: `orderContainers` in `pkg/pod/entrypoint.go`,
        /// stage: pod creation) or the PipelineRun (pipeline task:
        /// `validatePipelineSpecAfterApplyParameters`, stage: reconciling) when it is not.
        /// `tkc check` reports it where the value is known: a run's param or a pipeline
        /// task's literal param (an error), or a Task's or Pipeline's default (a warning: a
        /// run may still give another value).
        pub static INVALID_ON_ERROR = "tkc::lower::invalid-on-error", Error, reason = "TaskRunValidationFailed";
    }

    declare_code! {
        /// # A matrix with too many combinations
        ///
        /// Tekton runs at most 256 combinations of one matrix
        /// (`default-max-matrix-combinations-count`) and rejects the Pipeline otherwise.
        pub static MATRIX_TOO_LARGE = "tkc::lower::matrix-too-large", Error, reason = "PipelineValidationFailed";
    }
}

/// Every code of lowering.
pub fn codes() -> Vec<&'static Code> {
    use codes::*;
    vec![
        &UNRESOLVED_REF,
        &UNRESOLVED_PIPELINE,
        &UNSUPPORTED,
        &PIPELINE_CYCLE,
        &NO_RUN,
        &INVALID_ON_ERROR,
        &MATRIX_TOO_LARGE,
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
    /// The named Pipelines being lowered, outermost first (a child pipeline's `pipelineRef`
    /// must not name one of them).
    pipelines: Vec<String>,
    /// How many child pipelines deep the lowering is.
    depth: usize,
    /// How many pipeline tasks of child pipelines have been lowered so far (bounded: a chain
    /// of Pipelines each running the next several times would grow exponentially).
    child_tasks: usize,
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
        // Tekton's reason differs: CouldntGetPipeline for the run's Pipeline.
        let code = if what == "pipelineRef" {
            &codes::UNRESOLVED_PIPELINE
        } else {
            &codes::UNRESOLVED_REF
        };
        let diagnostic = match resolved {
            Resolved::Remote { resolver } => Diagnostic::new(
                code,
                format!(
                    "needs a cluster: {what} uses the {} resolver",
                    resolver.value
                ),
            )
            .with_label(resolver.span, "fetched when the run starts")
            .with_help("vendor the resource into the repository and refer to it by name"),
            Resolved::NotFound { name } => Diagnostic::new(
                code,
                format!("{what} `{}` is not among the inputs", name.value),
            )
            .with_label(name.span, "not found")
            .with_help("pass the file that defines it, or its folder with `--search-path`"),
            Resolved::Ambiguous { name } => Diagnostic::new(
                code,
                format!(
                    "{what} `{}` is defined in several files, none nearer than the others",
                    name.value
                ),
            )
            .with_label(name.span, "ambiguous")
            .with_help(
                "`kubectl apply` keeps the copy applied last: pass only the file that defines \
                 the one you mean",
            ),
            Resolved::Custom => Diagnostic::new(
                &codes::UNSUPPORTED,
                format!("{what} is a custom task, which tkc does not run"),
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
        pipelines: Vec::new(),
        depth: 0,
        child_tasks: 0,
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
            // A document fetched for a reference is run through it, never on its own.
            .filter(|d| !world.is_fetched_file(d.file()))
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
