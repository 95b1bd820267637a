//! A temporary lowering seam: World + run request → [`Plan`], for the subset `tkc run` needs.
//!
//! The compiler's lowering (`tkc_compiler::compile`) replaces this module once it lands; it
//! lives in the CLI so that it does not collide with `compiler/src/lower`. It substitutes
//! params (with array splicing), merges the step template, inlines StepActions found among
//! the inputs, and turns run-time references into [`RunValue`]s.

// Temporary code, replaced by the compiler's lowering: nested `if let`s kept as written.
#![allow(clippy::collapsible_if)]

use std::collections::{BTreeMap, BTreeSet};
use tkc_compiler::model::{
    self, Document, Kind, ParamSpec, PipelineSpec, PipelineTask, Resource, TaskSpec,
};
use tkc_compiler::plan::{
    self, Binding, Matrix, MatrixInclude, NamedValue, OnError, ParamValue, PathRef, Plan, Pod,
    ResultDecl, RunInfo, RunKind, RunValue, Section, Step, StepResultRef, TaskPlan, TaskWorkspace,
    Template, TemplateRef, Timeouts, ValueTemplate, ValueType, When, WhenOperator,
    WorkspaceBinding, WorkspaceSource,
};
use tkc_compiler::resolve::{Resolved, World};
use tkc_compiler::vars::{self, RefKind, Selector, WorkspaceAttr};

/// What the command line asks for.
pub struct Request {
    pub run: Option<String>,
    pub params: Vec<(String, String)>,
    pub workspaces: Vec<(String, Binding)>,
}

/// Why no plan could be made: Tekton's reason and a message.
#[derive(Debug)]
pub struct LowerError {
    pub reason: &'static str,
    pub message: String,
}

fn error(reason: &'static str, message: impl Into<String>) -> LowerError {
    LowerError {
        reason,
        message: message.into(),
    }
}

/// A plan and what the user should be told about how it was made.
pub struct Lowered {
    pub plan: Plan,
    pub notes: Vec<String>,
}

type Params = BTreeMap<String, ParamValue>;

pub fn lower(world: &World, request: &Request) -> Result<Lowered, LowerError> {
    let doc = pick(world, request.run.as_deref())?;
    let mut notes = vec![];
    let mut cms = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    for (_, d) in world.iter() {
        match &d.resource {
            Resource::ConfigMap(c) => {
                cms.insert(d.name().to_string(), config_data(c, false));
            }
            Resource::Secret(c) => {
                secrets.insert(d.name().to_string(), config_data(c, true));
            }
            _ => {}
        }
    }
    let name = doc.name().to_string();
    let generate = doc.metadata.name.is_none();
    let namespace = doc
        .metadata
        .namespace
        .as_ref()
        .map_or("default".to_string(), |n| n.value.clone());
    let labels = doc
        .metadata
        .labels
        .as_ref()
        .map(|l| {
            l.0.iter()
                .map(|(k, v)| (k.value.clone(), v.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut plan = match &doc.resource {
        Resource::PipelineRun(run) => {
            let spec = match (&run.pipeline_ref, &run.pipeline_spec) {
                (_, Some(spec)) => spec,
                (Some(r), None) => match world.resolve_pipeline_ref(r) {
                    Resolved::Found { spec, .. } => spec,
                    _ => {
                        return Err(error(
                            "CouldntGetPipeline",
                            "the referenced Pipeline is not among the inputs",
                        ));
                    }
                },
                _ => {
                    return Err(error(
                        "PipelineValidationFailed",
                        "the PipelineRun has no pipeline",
                    ));
                }
            };
            let mut given: Vec<(String, model::ParamValue)> = run
                .params
                .iter()
                .map(|p| {
                    (
                        p.name.value.clone(),
                        p.value
                            .as_ref()
                            .map(|v| v.value.clone())
                            .unwrap_or_default(),
                    )
                })
                .collect();
            let cli = cli_params(&request.params, &spec.params);
            given.retain(|(n, _)| !cli.contains_key(n));
            let mut params = to_params(&given);
            params.extend(cli);
            let mut bindings: Vec<WorkspaceBinding> = run
                .workspaces
                .iter()
                .filter_map(|w| binding(w, &mut notes))
                .collect();
            override_bindings(&mut bindings, &request.workspaces);
            let timeouts = run.timeouts.as_ref().map(|t| Timeouts {
                pipeline: t.pipeline.as_ref().map(|d| d.canonical()),
                tasks: t.tasks.as_ref().map(|d| d.canonical()),
                finally: t.finally.as_ref().map(|d| d.canonical()),
            });
            let timeouts = timeouts.unwrap_or(Timeouts {
                pipeline: run.timeout.as_ref().map(|d| d.canonical()),
                ..Timeouts::default()
            });
            let pipeline_name = run
                .pipeline_ref
                .as_ref()
                .and_then(|r| r.name.as_ref())
                .map_or(String::new(), |n| n.value.clone());
            lower_pipeline(
                world,
                spec,
                params,
                bindings,
                false,
                &mut notes,
                RunInfo {
                    kind: RunKind::PipelineRun,
                    name: name.clone(),
                    generate_name: generate,
                    namespace: namespace.clone(),
                    pipeline: pipeline_name,
                    task: String::new(),
                    service_account_name: "default".into(),
                    status: run.status.as_ref().map(|s| s.value.clone()),
                    timeouts,
                    labels,
                },
            )?
        }
        Resource::Pipeline(spec) => {
            let params = cli_params(&request.params, &spec.params);
            let mut bindings = vec![];
            override_bindings(&mut bindings, &request.workspaces);
            lower_pipeline(
                world,
                spec,
                params,
                bindings,
                true,
                &mut notes,
                RunInfo {
                    kind: RunKind::PipelineRun,
                    name: format!("{name}-run-"),
                    generate_name: true,
                    namespace: namespace.clone(),
                    pipeline: name.clone(),
                    task: String::new(),
                    service_account_name: "default".into(),
                    status: None,
                    timeouts: Timeouts::default(),
                    labels,
                },
            )?
        }
        Resource::TaskRun(run) => {
            let (spec, task_name) = match (&run.task_ref, &run.task_spec) {
                (_, Some(spec)) => (spec, String::new()),
                (Some(r), None) => match world.resolve_task_ref(r) {
                    Resolved::Found { spec, .. } => (
                        spec,
                        r.name.as_ref().map_or(String::new(), |n| n.value.clone()),
                    ),
                    _ => {
                        return Err(error(
                            "CouldntGetTask",
                            "the referenced Task is not among the inputs",
                        ));
                    }
                },
                _ => return Err(error("TaskRunValidationFailed", "the TaskRun has no task")),
            };
            let mut given: Vec<(String, model::ParamValue)> = run
                .params
                .iter()
                .map(|p| {
                    (
                        p.name.value.clone(),
                        p.value
                            .as_ref()
                            .map(|v| v.value.clone())
                            .unwrap_or_default(),
                    )
                })
                .collect();
            let cli = cli_params(&request.params, &spec.params);
            given.retain(|(n, _)| !cli.contains_key(n));
            let mut params = to_params(&given);
            params.extend(cli);
            let mut bindings: Vec<WorkspaceBinding> = run
                .workspaces
                .iter()
                .filter_map(|w| binding(w, &mut notes))
                .collect();
            override_bindings(&mut bindings, &request.workspaces);
            let timeout = run.timeout.as_ref().map(|d| d.canonical());
            let retries = run
                .retries
                .as_ref()
                .map_or(0, |r| u32::try_from(r.value).unwrap_or(0));
            lower_taskrun(
                spec,
                &task_name,
                params,
                bindings,
                false,
                &mut notes,
                timeout,
                retries,
                world,
                RunInfo {
                    kind: RunKind::TaskRun,
                    name: name.clone(),
                    generate_name: generate,
                    namespace: namespace.clone(),
                    pipeline: String::new(),
                    task: task_name.clone(),
                    service_account_name: "default".into(),
                    status: None,
                    timeouts: Timeouts::default(),
                    labels,
                },
            )?
        }
        Resource::Task(spec) => {
            let params = cli_params(&request.params, &spec.params);
            let mut bindings = vec![];
            override_bindings(&mut bindings, &request.workspaces);
            lower_taskrun(
                spec,
                &name,
                params,
                bindings,
                true,
                &mut notes,
                None,
                0,
                world,
                RunInfo {
                    kind: RunKind::TaskRun,
                    name: format!("{name}-run-"),
                    generate_name: true,
                    namespace: namespace.clone(),
                    pipeline: String::new(),
                    task: name.clone(),
                    service_account_name: "default".into(),
                    status: None,
                    timeouts: Timeouts::default(),
                    labels,
                },
            )?
        }
        _ => return Err(error("PipelineValidationFailed", "nothing to run")),
    };
    plan.config_maps = cms;
    plan.secrets = secrets;
    Ok(Lowered { plan, notes })
}

/// The document to run: `--run NAME`, else the only run, else the only Pipeline, else the only Task.
fn pick<'w>(world: &'w World, name: Option<&str>) -> Result<&'w Document, LowerError> {
    let checked: Vec<&Document> = world.checked().map(|(_, d)| d).collect();
    if let Some(name) = name {
        for kind in [Kind::PipelineRun, Kind::TaskRun, Kind::Pipeline, Kind::Task] {
            if let Some(d) = checked.iter().find(|d| d.kind == kind && d.name() == name) {
                return Ok(d);
            }
        }
        return Err(error(
            "usage",
            format!("no PipelineRun, TaskRun, Pipeline or Task named `{name}` among the inputs"),
        ));
    }
    for kinds in [
        &[Kind::PipelineRun, Kind::TaskRun][..],
        &[Kind::Pipeline],
        &[Kind::Task],
    ] {
        let found: Vec<&&Document> = checked.iter().filter(|d| kinds.contains(&d.kind)).collect();
        match found.len() {
            0 => continue,
            1 => return Ok(found[0]),
            _ => {
                let names: Vec<String> = found
                    .iter()
                    .map(|d| format!("{} `{}`", d.kind.as_str(), d.name()))
                    .collect();
                return Err(error(
                    "usage",
                    format!(
                        "several things could run ({}); pick one with --run NAME",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    Err(error(
        "usage",
        "the inputs hold no PipelineRun, TaskRun, Pipeline or Task",
    ))
}

fn config_data(c: &model::ConfigData, secret: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in &c.data.0 {
        let value = if secret {
            base64_decode(&v.value).unwrap_or_else(|| v.value.clone())
        } else {
            v.value.clone()
        };
        out.insert(k.value.clone(), value);
    }
    for (k, v) in c.binary_data.0.iter() {
        out.insert(
            k.value.clone(),
            base64_decode(&v.value).unwrap_or_else(|| v.value.clone()),
        );
    }
    for (k, v) in &c.string_data.0 {
        out.insert(k.value.clone(), v.value.clone());
    }
    out
}

fn base64_decode(text: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = vec![];
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push(((bits >> n) & 0xff) as u8);
        }
    }
    String::from_utf8(out).ok()
}

fn pvalue(p: &model::Param) -> ParamValue {
    p.value
        .as_ref()
        .map_or(ParamValue::String(String::new()), |v| to_value(&v.value))
}

fn to_value(v: &model::ParamValue) -> ParamValue {
    match v {
        model::ParamValue::String(s) => ParamValue::String(s.clone()),
        model::ParamValue::Array(a) => {
            ParamValue::Array(a.iter().map(|s| s.value.clone()).collect())
        }
        model::ParamValue::Object(o) => ParamValue::Object(
            o.iter()
                .map(|(k, v)| (k.value.clone(), v.value.clone()))
                .collect(),
        ),
    }
}

fn to_params(given: &[(String, model::ParamValue)]) -> Params {
    given
        .iter()
        .map(|(n, v)| (n.clone(), to_value(v)))
        .collect()
}

/// `--param k=v`: typed by the declaration (an array as JSON or comma-separated; an object as JSON).
fn cli_params(given: &[(String, String)], decls: &[ParamSpec]) -> Params {
    let mut out = Params::new();
    for (name, text) in given {
        let ty = decls
            .iter()
            .find(|d| d.name.value == *name)
            .and_then(|d| d.param_type());
        let value = match ty {
            Some(model::ParamType::Array) => serde_json::from_str::<Vec<String>>(text)
                .map(ParamValue::Array)
                .unwrap_or_else(|_| {
                    ParamValue::Array(text.split(',').map(str::to_string).collect())
                }),
            Some(model::ParamType::Object) => {
                serde_json::from_str::<BTreeMap<String, String>>(text)
                    .map(ParamValue::Object)
                    .unwrap_or_else(|_| ParamValue::String(text.clone()))
            }
            _ => ParamValue::String(text.clone()),
        };
        out.insert(name.clone(), value);
    }
    out
}

/// Declared params with their defaults, overridden by the given values.
fn with_defaults(decls: &[ParamSpec], given: &Params) -> Params {
    let mut out = Params::new();
    for d in decls {
        if let Some(def) = &d.default {
            out.insert(d.name.value.clone(), to_value(&def.value));
        }
    }
    for (k, v) in given {
        // An object param takes the keys it is not given from its default.
        match (out.get_mut(k), v) {
            (Some(ParamValue::Object(default)), ParamValue::Object(given)) => {
                default.extend(given.iter().map(|(a, b)| (a.clone(), b.clone())));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    // Defaults may refer to other params.
    let snapshot = out.clone();
    for v in out.values_mut() {
        if let ParamValue::String(s) = v {
            *s = subst_params(s, &snapshot);
        }
    }
    out
}

fn binding(w: &model::WorkspaceBinding, notes: &mut Vec<String>) -> Option<WorkspaceBinding> {
    let b = if let Some(p) = &w.persistent_volume_claim {
        Binding::PersistentVolumeClaim {
            claim_name: p.claim_name.value.clone(),
            read_only: p.read_only.as_ref().is_some_and(|r| r.value),
        }
    } else if w.volume_claim_template.is_some() {
        Binding::VolumeClaimTemplate {}
    } else if w.empty_dir.is_some() {
        Binding::EmptyDir {}
    } else if let Some(c) = &w.config_map {
        Binding::ConfigMap {
            name: c.name.value.clone(),
            items: c.items.as_ref().map(tkc_compiler::syntax::node_to_json),
        }
    } else if let Some(s) = &w.secret {
        Binding::Secret {
            secret_name: s.secret_name.value.clone(),
            items: s.items.as_ref().map(tkc_compiler::syntax::node_to_json),
        }
    } else {
        notes.push(format!(
            "workspace `{}`: this source has no local equivalent",
            w.name.value
        ));
        Binding::Other {
            source: serde_json::Value::Null,
        }
    };
    Some(WorkspaceBinding {
        name: w.name.value.clone(),
        binding: b,
        sub_path: w.sub_path.as_ref().map(|s| s.value.clone()),
    })
}

fn override_bindings(bindings: &mut Vec<WorkspaceBinding>, cli: &[(String, Binding)]) {
    for (name, b) in cli {
        bindings.retain(|w| &w.name != name);
        bindings.push(WorkspaceBinding {
            name: name.clone(),
            binding: b.clone(),
            sub_path: None,
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn lower_pipeline(
    world: &World,
    spec: &PipelineSpec,
    given: Params,
    mut bindings: Vec<WorkspaceBinding>,
    implicit: bool,
    notes: &mut Vec<String>,
    run: RunInfo,
) -> Result<Plan, LowerError> {
    for d in &spec.params {
        if d.default.is_none() && !given.contains_key(&d.name.value) {
            return Err(error(
                "ParameterMissing",
                format!(
                    "PipelineRun missing parameters: [{}]; give it with --param {}=VALUE",
                    d.name.value, d.name.value
                ),
            ));
        }
    }
    let params = with_defaults(&spec.params, &given);
    for w in &spec.workspaces {
        if bindings.iter().any(|b| b.name == w.name.value) {
            continue;
        }
        if implicit {
            notes.push(format!(
                "workspace `{}` is not bound: its tasks share a directory made for this run (bind your own with --workspace {}=dir:PATH)",
                w.name.value, w.name.value
            ));
            bindings.push(WorkspaceBinding {
                name: w.name.value.clone(),
                binding: Binding::VolumeClaimTemplate {},
                sub_path: None,
            });
        } else if !w.optional.as_ref().is_some_and(|o| o.value) {
            return Err(error(
                "InvalidWorkspaceBindings",
                format!(
                    "pipeline requires workspace with name \"{}\" be provided by pipelinerun",
                    w.name.value
                ),
            ));
        }
    }
    let mut tasks = vec![];
    for (section, list) in [
        (Section::Tasks, &spec.tasks),
        (Section::Finally, &spec.finally),
    ] {
        for pt in list {
            tasks.push(lower_pipeline_task(
                world, pt, section, &params, &bindings, &run,
            )?);
        }
    }
    let results = spec
        .results
        .iter()
        .map(|r| {
            let value = r
                .value
                .as_ref()
                .map(|v| to_value(&v.value))
                .unwrap_or(ParamValue::String(String::new()));
            let value = subst_value(&value, &params);
            let result_type = match (r.r#type.as_deref().map(String::as_str), &value) {
                (Some("array"), _) | (None, ParamValue::Array(_)) => ValueType::Array,
                (Some("object"), _) | (None, ParamValue::Object(_)) => ValueType::Object,
                _ => ValueType::String,
            };
            plan::PipelineResult {
                name: r.name.value.clone(),
                result_type,
                value: value_template(&value, &Cx::default()),
            }
        })
        .collect();
    Ok(Plan {
        api_version: plan::API_VERSION.into(),
        kind: "Plan".into(),
        run,
        params,
        workspaces: bindings,
        tasks,
        results,
        config_maps: BTreeMap::new(),
        secrets: BTreeMap::new(),
    })
}

fn lower_pipeline_task(
    world: &World,
    pt: &PipelineTask,
    section: Section,
    params: &Params,
    bindings: &[WorkspaceBinding],
    _run: &RunInfo,
) -> Result<TaskPlan, LowerError> {
    let name = pt.name.value.clone();
    let spec = match world.resolve_pipeline_task(pt) {
        Resolved::Found { spec, .. } => spec,
        Resolved::Remote { resolver } => {
            return Err(error(
                "CouldntGetTask",
                format!(
                    "task `{name}` is fetched by the `{}` resolver, which tkc run cannot reach",
                    resolver.value
                ),
            ));
        }
        Resolved::NotFound { name: n } => {
            return Err(error(
                "CouldntGetTask",
                format!("task `{name}`: Task `{}` is not among the inputs", n.value),
            ));
        }
        _ => {
            return Err(error(
                "CouldntGetTask",
                format!("task `{name}` is a custom task or a pipeline, which tkc run does not run"),
            ));
        }
    };
    let task_ref = pt
        .task_ref
        .as_ref()
        .and_then(|r| r.name.as_ref())
        .map_or(String::new(), |n| n.value.clone());
    let matrix_names: BTreeSet<String> = pt
        .matrix
        .iter()
        .flat_map(|m| {
            m.params.iter().map(|p| p.name.value.clone()).chain(
                m.include
                    .iter()
                    .flat_map(|i| i.params.iter().map(|p| p.name.value.clone())),
            )
        })
        .collect();
    // The pipeline task's params, pipeline params substituted.
    let mut given = Params::new();
    for p in &pt.params {
        given.insert(p.name.value.clone(), subst_value(&pvalue(p), params));
    }
    let mut task_params = with_defaults(&spec.params, &given);
    // Embedded specs see the pipeline's params (Tekton's param propagation).
    if pt.task_spec.is_some() {
        for (k, v) in params {
            task_params.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    for n in &matrix_names {
        task_params.remove(n);
    }
    let mut after: BTreeSet<String> = pt.run_after.iter().map(|r| r.value.clone()).collect();
    let when: Vec<When> = pt
        .when
        .iter()
        .map(|w| When {
            input: w
                .input
                .as_ref()
                .map(|i| template(&subst_params(i, params), &Cx::default())),
            operator: match w.operator.as_deref().map(String::as_str) {
                Some("notin") => Some(WhenOperator::Notin),
                Some(_) => Some(WhenOperator::In),
                None => None,
            },
            values: subst_list(
                &w.values.iter().map(|v| v.value.clone()).collect::<Vec<_>>(),
                params,
            )
            .iter()
            .map(|v| template(v, &Cx::default()))
            .collect(),
            cel: w
                .cel
                .as_ref()
                .map(|c| template(&subst_params(c, params), &Cx::default())),
        })
        .collect();
    let matrix = pt
        .matrix
        .as_ref()
        .filter(|_| pt.is_matrixed())
        .map(|m| Matrix {
            params: m
                .params
                .iter()
                .map(|p| NamedValue {
                    name: p.name.value.clone(),
                    value: value_template(&subst_value(&pvalue(p), params), &Cx::default()),
                })
                .collect(),
            include: m
                .include
                .iter()
                .map(|i| MatrixInclude {
                    name: i.name.as_ref().map(|n| n.value.clone()),
                    params: i
                        .params
                        .iter()
                        .map(|p| NamedValue {
                            name: p.name.value.clone(),
                            value: value_template(&subst_value(&pvalue(p), params), &Cx::default()),
                        })
                        .collect(),
                })
                .collect(),
            combinations: None,
        });
    let mut workspaces = vec![];
    // Embedded specs see the pipeline's workspaces they do not declare (propagation).
    if pt.task_spec.is_some() {
        for b in bindings {
            let declared = spec.workspaces.iter().any(|d| d.name.value == b.name);
            if !declared && !pt.workspaces.iter().any(|w| w.name.value == b.name) {
                workspaces.push(TaskWorkspace {
                    volume: format!("ws-{}", b.name),
                    name: b.name.clone(),
                    mount_path: format!("/workspace/{}", b.name),
                    read_only: false,
                    source: Some(WorkspaceSource::Run(b.name.clone())),
                    sub_path: None,
                    only_in: vec![],
                });
            }
        }
    }
    for decl in &spec.workspaces {
        let bound = pt
            .workspaces
            .iter()
            .find(|w| w.name.value == decl.name.value);
        let source = bound.and_then(|b| {
            let from = b
                .workspace
                .as_ref()
                .map_or(b.name.value.clone(), |w| w.value.clone());
            bindings
                .iter()
                .any(|x| x.name == from)
                .then_some(WorkspaceSource::Run(from))
        });
        workspaces.push(TaskWorkspace {
            volume: format!("ws-{}", decl.name.value),
            name: decl.name.value.clone(),
            mount_path: decl
                .mount_path
                .as_ref()
                .map_or(format!("/workspace/{}", decl.name.value), |m| {
                    m.value.clone()
                }),
            read_only: decl.read_only.as_ref().is_some_and(|r| r.value),
            source,
            sub_path: bound
                .and_then(|b| b.sub_path.as_ref())
                .map(|s| Template::Text(subst_params(s, params))),
            only_in: vec![],
        });
    }
    let pod = lower_pod(world, spec, &task_params, &workspaces, &matrix_names)?;
    let mut plan = TaskPlan {
        name,
        section,
        display_name: None,
        task_ref,
        after: vec![],
        retries: pt
            .retries
            .as_ref()
            .map_or(0, |r| u32::try_from(r.value).unwrap_or(0)),
        timeout: pt.timeout.as_ref().map(|d| d.canonical()),
        on_error: if pt.on_error.as_deref().map(String::as_str) == Some("continue") {
            OnError::Continue
        } else {
            OnError::StopAndFail
        },
        when,
        matrix,
        params: task_params
            .iter()
            .map(|(k, v)| (k.clone(), value_template(v, &Cx::default())))
            .collect(),
        service_account_name: "default".into(),
        labels: BTreeMap::new(),
        pod,
    };
    if section == Section::Tasks {
        tkc_runtime::values::for_each_template(&plan, &mut |t: &Template| {
            for r in t.refs() {
                if let RunValue::TaskResult { task, .. } = &r.value {
                    after.insert(task.clone());
                }
            }
        });
        plan.after = after.into_iter().collect();
    }
    Ok(plan)
}

#[allow(clippy::too_many_arguments)]
fn lower_taskrun(
    spec: &TaskSpec,
    task_name: &str,
    given: Params,
    mut bindings: Vec<WorkspaceBinding>,
    implicit: bool,
    notes: &mut Vec<String>,
    timeout: Option<String>,
    retries: u32,
    world: &World,
    run: RunInfo,
) -> Result<Plan, LowerError> {
    for d in &spec.params {
        if d.default.is_none() && !given.contains_key(&d.name.value) {
            return Err(error(
                "TaskRunValidationFailed",
                format!(
                    "missing parameters: [{}]; give it with --param {}=VALUE",
                    d.name.value, d.name.value
                ),
            ));
        }
    }
    let params = with_defaults(&spec.params, &given);
    let mut workspaces = vec![];
    for decl in &spec.workspaces {
        let mut bound = bindings.iter().find(|b| b.name == decl.name.value).cloned();
        if bound.is_none() && implicit && !decl.optional.as_ref().is_some_and(|o| o.value) {
            notes.push(format!(
                "workspace `{}` is not bound: using a directory made for this run (bind your own with --workspace {}=dir:PATH)",
                decl.name.value, decl.name.value
            ));
            let b = WorkspaceBinding {
                name: decl.name.value.clone(),
                binding: Binding::VolumeClaimTemplate {},
                sub_path: None,
            };
            bindings.push(b.clone());
            bound = Some(b);
        } else if bound.is_none() && !decl.optional.as_ref().is_some_and(|o| o.value) {
            return Err(error(
                "TaskRunValidationFailed",
                format!(
                    "bound workspaces did not match declared workspaces: didn't provide required values: [{}]",
                    decl.name.value
                ),
            ));
        }
        workspaces.push(TaskWorkspace {
            volume: format!("ws-{}", decl.name.value),
            name: decl.name.value.clone(),
            mount_path: decl
                .mount_path
                .as_ref()
                .map_or(format!("/workspace/{}", decl.name.value), |m| {
                    m.value.clone()
                }),
            read_only: decl.read_only.as_ref().is_some_and(|r| r.value),
            source: bound.as_ref().map(|b| WorkspaceSource::Run(b.name.clone())),
            sub_path: None,
            only_in: vec![],
        });
    }
    let pod = lower_pod(world, spec, &params, &workspaces, &BTreeSet::new())?;
    let task = TaskPlan {
        name: if task_name.is_empty() {
            run.name.trim_end_matches('-').to_string()
        } else {
            task_name.to_string()
        },
        section: Section::Tasks,
        display_name: None,
        task_ref: task_name.to_string(),
        after: vec![],
        retries,
        timeout,
        on_error: OnError::StopAndFail,
        when: vec![],
        matrix: None,
        params: params
            .iter()
            .map(|(k, v)| (k.clone(), value_template(v, &Cx::default())))
            .collect(),
        service_account_name: "default".into(),
        labels: BTreeMap::new(),
        pod,
    };
    Ok(Plan {
        api_version: plan::API_VERSION.into(),
        kind: "Plan".into(),
        run,
        params,
        workspaces: bindings,
        tasks: vec![task],
        results: vec![],
        config_maps: BTreeMap::new(),
        secrets: BTreeMap::new(),
    })
}

/// What a template may refer to besides params: workspaces (for paths), the step (for
/// `$(step.results.R.path)`), matrix params.
#[derive(Default)]
struct Cx<'a> {
    workspaces: Option<&'a [TaskWorkspace]>,
    step: Option<String>,
    matrix: Option<&'a BTreeSet<String>>,
}

fn lower_pod(
    world: &World,
    spec: &TaskSpec,
    params: &Params,
    workspaces: &[TaskWorkspace],
    matrix: &BTreeSet<String>,
) -> Result<Pod, LowerError> {
    let st = spec.step_template.as_ref();
    let sub = |s: &str| subst_workspace_attrs(&subst_params(s, params), workspaces);
    let sub_list = |l: &[String]| {
        subst_list(l, params)
            .into_iter()
            .map(|s| subst_workspace_attrs(&s, workspaces))
            .collect::<Vec<_>>()
    };
    let mut steps = vec![];
    for (i, s) in spec.steps.iter().enumerate() {
        let name = s
            .name
            .as_ref()
            .map_or(format!("unnamed-{i}"), |n| n.value.clone());
        let cx = Cx {
            workspaces: Some(workspaces),
            step: Some(name.clone()),
            matrix: Some(matrix),
        };
        // A StepAction: its fields, with its params from the step's.
        let action = match &s.r#ref {
            Some(r) => match world.resolve_step_ref(r) {
                Resolved::Found { spec: a, .. } => Some(a),
                _ => {
                    return Err(error(
                        "TaskRunValidationFailed",
                        format!("step `{name}`: its StepAction is not among the inputs"),
                    ));
                }
            },
            None => None,
        };
        let (image, command, args, script, wd, mut env_list, results) = match action {
            Some(a) => {
                let mut given = Params::new();
                for p in &s.params {
                    given.insert(p.name.value.clone(), subst_value(&pvalue(p), params));
                }
                let ap = with_defaults(&a.params, &given);
                let f = |t: &str| subst_params(t, &ap);
                (
                    f(&a.image.value),
                    subst_list(
                        &a.command
                            .iter()
                            .map(|c| c.value.clone())
                            .collect::<Vec<_>>(),
                        &ap,
                    ),
                    subst_list(
                        &a.args.iter().map(|c| c.value.clone()).collect::<Vec<_>>(),
                        &ap,
                    ),
                    a.script.as_ref().map(|x| f(x)),
                    a.working_dir.as_ref().map(|x| f(x)),
                    a.env
                        .iter()
                        .map(|e| {
                            (
                                e.name.value.clone(),
                                e.value.as_ref().map(|v| f(v)),
                                e.value_from
                                    .as_ref()
                                    .and_then(|o| o.0.as_ref())
                                    .map(tkc_compiler::syntax::node_to_json),
                            )
                        })
                        .collect::<Vec<_>>(),
                    a.results
                        .iter()
                        .map(|r| {
                            result_decl(
                                &r.name.value,
                                r.r#type.as_deref().map(String::as_str),
                                r.properties.as_ref(),
                            )
                        })
                        .collect::<Vec<_>>(),
                )
            }
            None => (
                s.image
                    .as_ref()
                    .map(|x| x.value.clone())
                    .or_else(|| st.and_then(|t| t.image.as_ref()).map(|x| x.value.clone()))
                    .unwrap_or_default(),
                if s.command.is_empty() && s.script.is_none() {
                    st.map(|t| t.command.iter().map(|c| c.value.clone()).collect())
                        .unwrap_or_default()
                } else {
                    s.command.iter().map(|c| c.value.clone()).collect()
                },
                if s.args.is_empty() && s.script.is_none() {
                    st.map(|t| t.args.iter().map(|c| c.value.clone()).collect())
                        .unwrap_or_default()
                } else {
                    s.args.iter().map(|c| c.value.clone()).collect()
                },
                s.script.as_ref().map(|x| x.value.clone()),
                s.working_dir
                    .as_ref()
                    .or_else(|| st.and_then(|t| t.working_dir.as_ref()))
                    .map(|x| x.value.clone()),
                s.env
                    .iter()
                    .map(|e| {
                        (
                            e.name.value.clone(),
                            e.value.as_ref().map(|v| v.value.clone()),
                            e.value_from
                                .as_ref()
                                .and_then(|o| o.0.as_ref())
                                .map(tkc_compiler::syntax::node_to_json),
                        )
                    })
                    .collect(),
                s.results
                    .iter()
                    .map(|r| {
                        result_decl(
                            &r.name.value,
                            r.r#type.as_deref().map(String::as_str),
                            r.properties.as_ref(),
                        )
                    })
                    .collect(),
            ),
        };
        if let Some(t) = st {
            let mut merged: Vec<(String, Option<String>, Option<serde_json::Value>)> = t
                .env
                .iter()
                .filter(|e| !env_list.iter().any(|(n, _, _)| *n == e.name.value))
                .map(|e| {
                    (
                        e.name.value.clone(),
                        e.value.as_ref().map(|v| v.value.clone()),
                        e.value_from
                            .as_ref()
                            .and_then(|o| o.0.as_ref())
                            .map(tkc_compiler::syntax::node_to_json),
                    )
                })
                .collect();
            merged.append(&mut env_list);
            env_list = merged;
        }
        let script = script.map(|x| {
            let x = sub(&x);
            if x.trim_start().starts_with("#!") {
                x
            } else {
                format!("#!/bin/sh\nset -e\n{x}")
            }
        });
        steps.push(Step {
            container: format!("step-{name}"),
            image: template(&sub(&image), &cx),
            command: sub_list(&command)
                .iter()
                .map(|c| template(c, &cx))
                .collect(),
            args: sub_list(&args).iter().map(|c| template(c, &cx)).collect(),
            script: script.map(|x| template(&x, &cx)),
            env: env_list
                .into_iter()
                .map(|(n, v, from)| plan::EnvVar {
                    name: n,
                    value: v.map(|v| template(&sub(&v), &cx)),
                    value_from: from,
                })
                .collect(),
            working_dir: wd.map(|w| template(&sub(&w), &cx)),
            timeout: s.timeout.as_ref().map(|d| d.canonical()),
            on_error: if s.on_error.as_deref().map(String::as_str) == Some("continue") {
                OnError::Continue
            } else {
                OnError::StopAndFail
            },
            results,
            volume_mounts: s
                .volume_mounts
                .iter()
                .chain(st.iter().flat_map(|t| t.volume_mounts.iter()))
                .map(|m| plan::VolumeMount {
                    name: m.name.value.clone(),
                    mount_path: Template::Text(sub(&m.mount_path)),
                    sub_path: m.sub_path.as_ref().map(|p| Template::Text(sub(p))),
                    read_only: m.read_only.as_ref().is_some_and(|r| r.value),
                })
                .collect(),
            when: s
                .when
                .iter()
                .map(|w| When {
                    input: w.input.as_ref().map(|i| template(&sub(i), &cx)),
                    operator: match w.operator.as_deref().map(String::as_str) {
                        Some("notin") => Some(WhenOperator::Notin),
                        Some(_) => Some(WhenOperator::In),
                        None => None,
                    },
                    values: sub_list(&w.values.iter().map(|v| v.value.clone()).collect::<Vec<_>>())
                        .iter()
                        .map(|v| template(v, &cx))
                        .collect(),
                    cel: None,
                })
                .collect(),
            stdout_path: s
                .stdout_config
                .as_ref()
                .and_then(|c| c.path.as_ref())
                .map(|p| template(&sub(p), &cx)),
            stderr_path: s
                .stderr_config
                .as_ref()
                .and_then(|c| c.path.as_ref())
                .map(|p| template(&sub(p), &cx)),
            name,
            ..Step::default()
        });
    }
    let cx = Cx {
        workspaces: Some(workspaces),
        step: None,
        matrix: Some(matrix),
    };
    let sidecars = spec
        .sidecars
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = s
                .name
                .as_ref()
                .map_or(format!("unnamed-{i}"), |n| n.value.clone());
            plan::Sidecar {
                container: format!("sidecar-{name}"),
                name,
                image: template(&sub(s.image.as_deref().map_or("", String::as_str)), &cx),
                command: sub_list(
                    &s.command
                        .iter()
                        .map(|c| c.value.clone())
                        .collect::<Vec<_>>(),
                )
                .iter()
                .map(|c| template(c, &cx))
                .collect(),
                args: sub_list(&s.args.iter().map(|c| c.value.clone()).collect::<Vec<_>>())
                    .iter()
                    .map(|c| template(c, &cx))
                    .collect(),
                script: s.script.as_ref().map(|x| template(&sub(x), &cx)),
                env: s
                    .env
                    .iter()
                    .map(|e| plan::EnvVar {
                        name: e.name.value.clone(),
                        value: e.value.as_ref().map(|v| template(&sub(v), &cx)),
                        value_from: None,
                    })
                    .collect(),
                working_dir: s.working_dir.as_ref().map(|w| template(&sub(w), &cx)),
                ..plan::Sidecar::default()
            }
        })
        .collect();
    let volumes = spec
        .volumes
        .iter()
        .map(|v| {
            let mut source = serde_json::Map::new();
            if let Some(cm) = &v.config_map {
                source.insert("configMap".into(), serde_json::json!({"name": cm.name.value, "items": cm.items.as_ref().map(tkc_compiler::syntax::node_to_json)}));
            } else if let Some(s) = &v.secret {
                source.insert("secret".into(), serde_json::json!({"secretName": s.secret_name.value, "items": s.items.as_ref().map(tkc_compiler::syntax::node_to_json)}));
            } else if let Some(h) = v.host_path.as_ref().and_then(|h| h.0.as_ref()) {
                source.insert("hostPath".into(), tkc_compiler::syntax::node_to_json(h));
            } else {
                source.insert("emptyDir".into(), serde_json::json!({}));
            }
            plan::Volume { name: v.name.value.clone(), source: serde_json::Value::Object(source) }
        })
        .collect();
    let results = spec
        .results
        .iter()
        .map(|r| {
            let mut d = result_decl(
                &r.name.value,
                r.r#type.as_deref().map(String::as_str),
                r.properties.as_ref(),
            );
            if let Some(model::ParamValue::String(v)) = r.value.as_ref().map(|v| &v.value) {
                if let Some(rf) = vars::parse(v).into_iter().find(|x| x.is_whole(v)) {
                    if let RefKind::StepResult { step, result, .. } = rf.kind {
                        d.from_step = Some(StepResultRef { step, result });
                    }
                }
            }
            d
        })
        .collect();
    Ok(Pod {
        steps,
        sidecars,
        volumes,
        workspaces: workspaces.to_vec(),
        results,
        pod_template: None,
    })
}

fn result_decl(name: &str, ty: Option<&str>, props: Option<&model::Properties>) -> ResultDecl {
    ResultDecl {
        name: name.to_string(),
        result_type: match ty {
            Some("array") => ValueType::Array,
            Some("object") => ValueType::Object,
            _ if props.is_some() => ValueType::Object,
            _ => ValueType::String,
        },
        properties: props
            .map(|p| p.keys().map(|k| k.value.clone()).collect())
            .unwrap_or_default(),
        from_step: None,
    }
}

/// Replaces `$(params...)` in a string (arrays and objects as Tekton would: only elements,
/// keys, or a whole array spliced elsewhere; other uses are left).
fn subst_params(text: &str, params: &Params) -> String {
    vars::substitute(text, |r| match &r.kind {
        RefKind::Param { name, selector, .. } => match (params.get(name)?, selector) {
            (ParamValue::String(s), Selector::Whole | Selector::Star) => Some(s.clone()),
            (ParamValue::Array(a), Selector::Index(i)) => a.get(*i).cloned(),
            (ParamValue::Object(o), Selector::Key(k)) => o.get(k).cloned(),
            (ParamValue::Array(a), Selector::Star | Selector::Whole) => Some(a.join(" ")),
            // A param bound to a whole task result: select from the result at run time.
            (ParamValue::String(s), Selector::Key(_) | Selector::Index(_)) => {
                let refs = vars::parse(s);
                let [r] = refs.as_slice() else { return None };
                match &r.kind {
                    RefKind::TaskResult {
                        task,
                        result,
                        selector: Selector::Whole | Selector::Star,
                        ..
                    } if r.is_whole(s) => {
                        let suffix = match selector {
                            Selector::Key(k) => format!(".{k}"),
                            Selector::Index(i) => format!("[{i}]"),
                            _ => String::new(),
                        };
                        Some(format!("$(tasks.{task}.results.{result}{suffix})"))
                    }
                    _ => None,
                }
            }
            _ => None,
        },
        _ => None,
    })
}

/// A list with array params spliced (`$(params.a[*])` as a whole item).
fn subst_list(items: &[String], params: &Params) -> Vec<String> {
    let mut out = vec![];
    for item in items {
        let refs = vars::parse(item);
        if let [r] = refs.as_slice() {
            if r.is_whole(item) {
                if let RefKind::Param {
                    name,
                    selector: Selector::Star | Selector::Whole,
                    ..
                } = &r.kind
                {
                    if let Some(ParamValue::Array(a)) = params.get(name) {
                        out.extend(a.iter().cloned());
                        continue;
                    }
                }
            }
        }
        out.push(subst_params(item, params));
    }
    out
}

fn subst_value(v: &ParamValue, params: &Params) -> ParamValue {
    match v {
        ParamValue::String(s) => {
            if let [r] = vars::parse(s).as_slice() {
                if r.is_whole(s) {
                    if let RefKind::Param {
                        name,
                        selector: Selector::Star | Selector::Whole,
                        ..
                    } = &r.kind
                    {
                        if let Some(p @ (ParamValue::Array(_) | ParamValue::Object(_))) =
                            params.get(name)
                        {
                            return p.clone();
                        }
                    }
                }
            }
            ParamValue::String(subst_params(s, params))
        }
        ParamValue::Array(a) => ParamValue::Array(subst_list(a, params)),
        ParamValue::Object(o) => ParamValue::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), subst_params(v, params)))
                .collect(),
        ),
    }
}

/// `$(workspaces.W.bound|claim|volume)`: known when lowering.
fn subst_workspace_attrs(text: &str, workspaces: &[TaskWorkspace]) -> String {
    vars::substitute(text, |r| match &r.kind {
        RefKind::Workspace { name, attr } => {
            let w = workspaces.iter().find(|w| &w.name == name);
            match attr {
                WorkspaceAttr::Bound => Some(w.is_some_and(|w| w.source.is_some()).to_string()),
                WorkspaceAttr::Claim => Some(String::new()),
                WorkspaceAttr::Volume => Some(format!("ws-{name}")),
                WorkspaceAttr::Path => None,
            }
        }
        _ => None,
    })
}

fn value_template(v: &ParamValue, cx: &Cx) -> ValueTemplate {
    match v {
        ParamValue::String(s) => ValueTemplate::String(template(s, cx)),
        ParamValue::Array(a) => ValueTemplate::Array(a.iter().map(|s| template(s, cx)).collect()),
        ParamValue::Object(o) => ValueTemplate::Object(
            o.iter()
                .map(|(k, s)| (k.clone(), template(s, cx)))
                .collect(),
        ),
    }
}

/// A string with its run-time references made structured.
fn template(text: &str, cx: &Cx) -> Template {
    let mut refs = vec![];
    for r in vars::parse(text) {
        let value = match r.kind {
            RefKind::TaskResult {
                task,
                result,
                selector,
                ..
            } => Some(RunValue::TaskResult {
                task,
                result,
                index: match selector {
                    Selector::Index(i) => Some(i),
                    _ => None,
                },
                key: match &selector {
                    Selector::Key(k) => Some(k.clone()),
                    _ => None,
                },
                star: selector == Selector::Star,
            }),
            RefKind::TaskStatus { task } => Some(RunValue::TaskStatus { task }),
            RefKind::TaskReason { task } => Some(RunValue::TaskReason { task }),
            RefKind::TasksStatus => Some(RunValue::TasksStatus {}),
            RefKind::MatrixLength { task, result } => Some(RunValue::MatrixLength { task, result }),
            RefKind::Context(c) => Some(RunValue::Context {
                variable: c.as_str().to_string(),
            }),
            RefKind::Param { name, selector, .. }
                if cx.matrix.is_some_and(|m| m.contains(&name)) =>
            {
                Some(RunValue::MatrixParam {
                    name,
                    index: match selector {
                        Selector::Index(i) => Some(i),
                        _ => None,
                    },
                })
            }
            RefKind::Workspace {
                name,
                attr: WorkspaceAttr::Path,
            } => cx.workspaces.and_then(|ws| {
                ws.iter().find(|w| w.name == name).map(|w| RunValue::Path {
                    tekton: w.mount_path.clone(),
                    path: PathRef::Workspace { name },
                })
            }),
            RefKind::ResultPath { result } => Some(RunValue::Path {
                tekton: format!("/tekton/results/{result}"),
                path: PathRef::Result { name: result },
            }),
            RefKind::StepResultPath { result } => cx.step.as_ref().map(|s| RunValue::Path {
                tekton: format!("/tekton/steps/step-{s}/results/{result}"),
                path: PathRef::StepResult {
                    step: s.clone(),
                    name: result,
                },
            }),
            RefKind::StepExitCodePath { step } => Some(RunValue::Path {
                tekton: format!("/tekton/steps/step-{step}/exitCode"),
                path: PathRef::StepExitCode { step },
            }),
            RefKind::CredentialsPath => Some(RunValue::Path {
                tekton: "/tekton/creds".into(),
                path: PathRef::Credentials {},
            }),
            _ => None,
        };
        if let Some(value) = value {
            refs.push(TemplateRef {
                start: r.start,
                end: r.end,
                value,
            });
        }
    }
    if refs.is_empty() {
        Template::Text(text.to_string())
    } else {
        Template::Refs {
            template: text.to_string(),
            refs,
        }
    }
}
