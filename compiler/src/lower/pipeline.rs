//! A PipelineRun (or a Pipeline run with the caller's params and workspaces): the
//! pipeline-level substitution passes, then each pipeline task's params, matrix,
//! workspaces and pod.

use super::*;

/// The pipeline-level context variables of one pipeline task.
pub(super) struct PipelineContext<'a> {
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
pub(super) struct RunState<'a> {
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
pub(super) struct PipelineWorkspacesBound<'a> {
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

/// What a pipeline task's own fields (params, when, workspaces' subPath, onError,
/// displayName) may reference: the pipeline's params and context, its bound workspaces and
/// its tasks' results, and the run's state. The same for a task and a child pipeline.
pub(super) struct TaskPasses<'a> {
    params: Params<'a>,
    context: PipelineContext<'a>,
    bound: PipelineWorkspacesBound<'a>,
    results: TaskResults<'a>,
    state: RunState<'a>,
}

impl TaskPasses<'_> {
    pub(super) fn chain(&self) -> Chain<'_> {
        Chain::new(vec![
            &self.params,
            &self.context,
            &self.bound,
            &self.results,
            &self.state,
        ])
    }
}

/// What every pipeline task of one run shares.
pub(super) struct PipelineScope<'a> {
    values: BTreeMap<String, PVal>,
    pipeline_name: Tpl,
    namespace: String,
    results: BTreeMap<String, ResultTypes>,
    matrix_lengths: BTreeMap<String, usize>,
    bound: BTreeMap<String, bool>,
    workspaces: &'a [WorkspaceBinding],
    /// In a child pipeline: the top-level run's binding each of `workspaces` is.
    aliases: BTreeMap<String, String>,
    run: Option<&'a PipelineRunSpec>,
    timeouts: timeouts::RunTimeouts,
    service_account: String,
    pod_template: Option<serde_json::Value>,
    labels: BTreeMap<String, String>,
}

impl PipelineScope<'_> {
    /// The references a pipeline task's fields may hold, for a task in `section` whose
    /// `context.pipelineTask.retries` is `retries`.
    fn task_passes(&self, section: Section, retries: i64) -> TaskPasses<'_> {
        TaskPasses {
            params: Params {
                values: &self.values,
                except: &[],
            },
            context: PipelineContext {
                pipeline_name: &self.pipeline_name,
                namespace: &self.namespace,
                retries,
            },
            bound: PipelineWorkspacesBound { bound: &self.bound },
            results: TaskResults {
                tasks: &self.results,
                allow_finally: false,
            },
            state: RunState {
                finally: section == Section::Finally,
                matrix_lengths: &self.matrix_lengths,
            },
        }
    }

    /// The top-level run's name of one of this run's workspace bindings.
    fn alias(&self, binding: &str) -> String {
        self.aliases
            .get(binding)
            .cloned()
            .unwrap_or_else(|| binding.to_string())
    }
}

pub(super) fn lower_pipeline(
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
        params::given_values(given),
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
    let claim_templates = claim_templates(
        &chain,
        run.map_or(&[][..], |r| &r.workspaces[..]),
        &request.workspaces,
    );
    for (name, b) in &request.workspaces {
        if !spec.workspaces.iter().any(|w| &w.name.value == name) {
            lw.report(
                Diagnostic::new(
                    &codes::UNKNOWN_WORKSPACE,
                    format!("`--workspace {name}` is not a workspace of the Pipeline"),
                )
                .with_label(doc.name_span(), "declares no such workspace")
                .with_optional_help(
                    crate::suggest::did_you_mean(
                        name,
                        spec.workspaces.iter().map(|w| w.name.as_str()),
                    )
                    .map(|s| format!("did you mean `{s}`?")),
                ),
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
                    &codes::PIPELINERUN_MISSING,
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
        results: result_types(lw, spec),
        matrix_lengths: BTreeMap::new(),
        bound,
        workspaces: &bindings,
        aliases: BTreeMap::new(),
        run,
        timeouts: run_timeouts,
        service_account: info.service_account_name.clone(),
        pod_template: template
            .and_then(|t| t.pod_template.as_ref())
            .and_then(|o| o.0.as_ref())
            .map(crate::syntax::node_to_json),
        labels: info.labels.clone(),
    };
    if let Some(name) = &pipeline_name {
        lw.pipelines.push(name.clone());
    }
    let (tasks, pipeline_results) = lower_tasks(lw, &mut scope, spec);
    if pipeline_name.is_some() {
        lw.pipelines.pop();
    }

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
        secrets: Default::default(),
        claim_templates,
    };
    collect_config(lw.world, &mut plan);
    Some(plan)
}

/// The declared result types of every pipeline task (none for a child pipeline: Tekton
/// propagates no results from one).
fn result_types(lw: &Lowering, spec: &PipelineSpec) -> BTreeMap<String, ResultTypes> {
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
    results
}

/// The pipeline's tasks (DAG, then finally) and results, in `scope`.
fn lower_tasks(
    lw: &mut Lowering,
    scope: &mut PipelineScope,
    spec: &PipelineSpec,
) -> (Vec<TaskPlan>, Vec<PipelineResult>) {
    // Static matrix sizes first: `$(tasks.T.matrix.length)` may be used by any task.
    for pt in spec.tasks.iter().chain(&spec.finally) {
        if let Some(m) = &pt.matrix
            && pt.is_matrixed()
        {
            let lowered = lower_matrix(&*scope, pt, m, Section::Tasks);
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
            if let Some(task) = lower_pipeline_task(lw, scope, pt, section) {
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
            let value = r
                .value
                .as_ref()
                .map(|v| results_chain.value(PVal::from_model(v)))
                .unwrap_or(PVal::Str(Tpl::default()));
            PipelineResult {
                name: r.name.value.clone(),
                result_type: r.result_type().map(ValueType::from).unwrap_or_default(),
                value: value.to_value_template(),
            }
        })
        .collect();

    (tasks, pipeline_results)
}

pub(super) fn lower_matrix(
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

pub(super) fn lower_pipeline_task(
    lw: &mut Lowering,
    scope: &PipelineScope,
    pt: &PipelineTask,
    section: Section,
) -> Option<TaskPlan> {
    if pt.pipeline_ref.is_some() || pt.pipeline_spec.is_some() {
        return lower_child_pipeline(lw, scope, pt, section);
    }
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
    let passes = scope.task_passes(section, retries);
    let chain = passes.chain();

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
                        &codes::MISSING_BINDING,
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
            run_binding.map(|b| WorkspaceSource::Run(scope.alias(&b.name))),
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
        Chain::new(vec![
            &embedded_params,
            &passes.context,
            &passes.results,
            &passes.state,
        ])
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

    let mut labels = scope.labels.clone();
    if let Some(meta) = pt.task_spec.as_ref().and_then(|t| t.metadata.as_ref()) {
        labels.extend(string_map(meta.labels.as_ref()));
    }
    let run_spec_labels = run_spec
        .and_then(|s| s.metadata.as_ref())
        .and_then(|m| m.0.as_ref())
        .map(crate::syntax::node_to_json);
    if let Some(serde_json::Value::Object(l)) =
        run_spec_labels.as_ref().and_then(|m| m.get("labels"))
    {
        labels.extend(
            l.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))),
        );
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
        after: task_after(pt, section),
        retries: u32::try_from(retries).unwrap_or(u32::MAX),
        timeout: Some(scope.timeouts.task(
            section,
            pt.timeout.as_deref().map(|t| &t.value),
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
        pipeline: None,
    })
}

/// The tasks a pipeline task waits for: `runAfter` and the producers of the results it uses.
fn task_after(pt: &PipelineTask, section: Section) -> Vec<String> {
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
    after.into_iter().collect()
}

/// How deep child pipelines may nest: lowering recurses once per level, and a plan must read
/// back within serde_json's nesting limit (the kube backend's `--attach`).
const MAX_CHILD_DEPTH: usize = 16;

/// How many pipeline tasks all the child pipelines of one run may have together: a few dozen
/// lines of Pipelines that each run the next one several times would otherwise lower to
/// billions of tasks.
const MAX_CHILD_TASKS: usize = 10_000;

/// A pipeline task that runs a Pipeline (alpha `pipelineRef`/`pipelineSpec`), lowered to the
/// child PipelineRun Tekton's `createChildPipelineRun` (`pkg/reconciler/pipelinerun/pipelinerun.go`)
/// creates: the pipeline task's params, substituted as any pipeline task's are (a reference
/// to the parent run stays one, [`RunValue::Parent`]); its workspaces bound to the parent
/// run's bindings with the subPaths joined (`getChildPipelineRunWorkspaces`); the parent's
/// service account and pod template (`TaskRunTemplate`). Tekton passes neither the pipeline
/// task's `timeout` and `retries` nor the parent's timeouts: the child runs with the default
/// timeouts, once.
fn lower_child_pipeline(
    lw: &mut Lowering,
    scope: &PipelineScope,
    pt: &PipelineTask,
    section: Section,
) -> Option<TaskPlan> {
    let (spec, pipeline_name): (&PipelineSpec, Option<String>) =
        match (&pt.pipeline_ref, &pt.pipeline_spec) {
            (Some(r), _) => match lw.world.resolve_pipeline_ref(r) {
                Resolved::Found { spec, .. } => (spec, r.name.as_ref().map(|n| n.value.clone())),
                other => {
                    lw.unresolved("pipelineRef", r.head, &other);
                    return None;
                }
            },
            (None, Some(spec)) => (spec, None),
            (None, None) => return None,
        };
    let size = spec.tasks.len() + spec.finally.len();
    if lw.child_tasks + size > MAX_CHILD_TASKS {
        lw.report(
            Diagnostic::new(
                &codes::UNSUPPORTED,
                format!(
                    "pipeline task `{}`: the run's child pipelines have more than {MAX_CHILD_TASKS} tasks together",
                    pt.name.value
                ),
            )
            .with_label(pt.name.span, "too many child pipeline tasks"),
        );
        return None;
    }
    lw.child_tasks += size;
    if lw.depth >= MAX_CHILD_DEPTH {
        lw.report(
            Diagnostic::new(
                &codes::UNSUPPORTED,
                format!(
                    "pipeline task `{}` runs a Pipeline nested more than {MAX_CHILD_DEPTH} deep",
                    pt.name.value
                ),
            )
            .with_label(pt.name.span, "too deep"),
        );
        return None;
    }
    if let Some(name) = &pipeline_name
        && lw.pipelines.contains(name)
    {
        let at = pt.pipeline_ref.as_ref().map_or(pt.head, |r| r.head);
        lw.report(
            Diagnostic::new(
                &codes::PIPELINE_CYCLE,
                format!(
                    "detected cycle in pipeline-in-pipeline: pipeline \"{name}\" is already running in ancestor chain [{}]",
                    lw.pipelines.join(" ")
                ),
            )
            .with_label(at, "runs a Pipeline that is running already"),
        );
        return None;
    }
    if let Some(m) = &pt.matrix
        && pt.is_matrixed()
    {
        lw.report(
            Diagnostic::new(
                &codes::UNSUPPORTED,
                format!(
                    "pipeline task `{}` runs a Pipeline: it cannot be matrixed",
                    pt.name.value
                ),
            )
            .with_label(m.head, "Tekton gives a child PipelineRun no matrix params"),
        );
        return None;
    }
    // Tekton counts no retries of a child PipelineRun.
    let passes = scope.task_passes(section, 0);
    let chain = passes.chain();
    let given: Vec<(String, PVal)> = pt
        .params
        .iter()
        .filter_map(|p| {
            let v = p.value.as_ref()?;
            Some((p.name.value.clone(), chain.value(PVal::from_model(v))))
        })
        .collect();
    let values = param_values(
        lw,
        &spec.params,
        given
            .iter()
            .map(|(k, v)| (k.clone(), v.in_parent()))
            .collect(),
        &[],
        pt.name.span,
        true,
    );

    // The parent's bindings, under the child's names.
    let mut bindings: Vec<WorkspaceBinding> = Vec::new();
    let mut aliases = BTreeMap::new();
    for w in &pt.workspaces {
        let parent_name = w
            .workspace
            .as_ref()
            .map_or_else(|| w.name.value.clone(), |p| p.value.clone());
        // An unbound one is left out: the child fails if it needs it.
        let Some(b) = scope.workspaces.iter().find(|b| b.name == parent_name) else {
            continue;
        };
        let sub_path = join_sub_paths(
            b.sub_path.clone().map(Tpl::lit),
            w.sub_path.as_ref().map(|s| chain.str(s)),
        );
        bindings.push(WorkspaceBinding {
            name: w.name.value.clone(),
            binding: b.binding.clone(),
            sub_path: sub_path.map(|s| s.text()),
        });
        aliases.insert(w.name.value.clone(), scope.alias(&b.name));
    }
    for decl in &spec.workspaces {
        let optional = decl.optional.as_ref().is_some_and(|o| o.value);
        if !optional && !bindings.iter().any(|b| b.name == decl.name.value) {
            lw.report(
                Diagnostic::new(
                    &codes::PIPELINERUN_MISSING,
                    format!(
                        "pipeline task `{}` does not bind workspace `{}` of the Pipeline it runs",
                        pt.name.value, decl.name.value
                    ),
                )
                .with_label(decl.name.span, "required by the Pipeline")
                .with_secondary(pt.name.span, "this pipeline task")
                .with_help("bind it in the pipeline task's `workspaces`"),
            );
        }
    }
    bindings.sort_by(|a, b| a.name.cmp(&b.name));
    let child_bound = spec
        .workspaces
        .iter()
        .map(|w| {
            let name = w.name.value.clone();
            let is_bound = bindings.iter().any(|b| b.name == name);
            (name, is_bound)
        })
        .collect();
    let timeouts = timeouts::RunTimeouts::new(None);
    let mut child_scope = PipelineScope {
        values,
        pipeline_name: match &pipeline_name {
            Some(n) => Tpl::lit(n.as_str()),
            None => Tpl::run(RunValue::Context {
                variable: ContextVar::PipelineRunName.as_str().to_string(),
            }),
        },
        namespace: scope.namespace.clone(),
        results: result_types(lw, spec),
        matrix_lengths: BTreeMap::new(),
        bound: child_bound,
        workspaces: &bindings,
        aliases,
        // `taskRunSpecs` name the parent's pipeline tasks; the child gets none.
        run: None,
        timeouts,
        service_account: scope.service_account.clone(),
        pod_template: scope.pod_template.clone(),
        labels: scope.labels.clone(),
    };
    if let Some(name) = &pipeline_name {
        lw.pipelines.push(name.clone());
    }
    lw.depth += 1;
    let (tasks, pipeline_results) = lower_tasks(lw, &mut child_scope, spec);
    lw.depth -= 1;
    if pipeline_name.is_some() {
        lw.pipelines.pop();
    }
    let child = Plan {
        api_version: plan::API_VERSION.to_string(),
        kind: "Plan".to_string(),
        run: RunInfo {
            kind: RunKind::PipelineRun,
            name: pt.name.value.clone(),
            generate_name: false,
            namespace: scope.namespace.clone(),
            pipeline: pipeline_name.unwrap_or_default(),
            task: String::new(),
            service_account_name: scope.service_account.clone(),
            status: None,
            timeouts: child_scope.timeouts.to_plan(),
            labels: scope.labels.clone(),
        },
        params: child_scope
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.to_plain()))
            .collect(),
        workspaces: bindings.clone(),
        tasks,
        results: pipeline_results,
        config_maps: BTreeMap::new(),
        secrets: Default::default(),
        claim_templates: BTreeMap::new(),
    };
    let on_error = match &pt.on_error {
        Some(o) => pod::on_error(lw, Some((o, chain.str(o)))),
        None => OnError::StopAndFail,
    };
    Some(TaskPlan {
        name: pt.name.value.clone(),
        section,
        display_name: pt.display_name.as_ref().map(|d| chain.str(d).to_template()),
        task_ref: String::new(),
        after: task_after(pt, section),
        retries: 0,
        timeout: None,
        on_error,
        when: pipeline_whens(&chain, &scope.values, &pt.when),
        matrix: None,
        params: given
            .iter()
            .map(|(k, v)| (k.clone(), v.to_value_template()))
            .collect(),
        service_account_name: scope.service_account.clone(),
        labels: scope.labels.clone(),
        pod: plan::Pod::default(),
        pipeline: Some(Box::new(child)),
    })
}

/// A pipeline task's when expressions; an `input` that is a whole array param becomes its
/// JSON text, as Tekton does.
pub(super) fn pipeline_whens(
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
pub(super) fn merge_objects(
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
