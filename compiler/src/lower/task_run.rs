//! A TaskRun (or a Task run with the caller's params and workspaces).

use super::*;

pub(super) fn lower_task_run(
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
        params::given_values(given),
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
    let claim_templates = claim_templates(
        &chain,
        run.map_or(&[][..], |r| &r.workspaces[..]),
        &request.workspaces,
    );
    for (name, b) in &request.workspaces {
        if !spec.workspaces.iter().any(|w| &w.name.value == name) && !inline {
            lw.report(
                Diagnostic::new(
                    &codes::UNKNOWN_WORKSPACE,
                    format!("`--workspace {name}` is not a workspace of the Task"),
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
            // config-defaults; the checks warn about it): tkc binds an emptyDir, as such a
            // cluster usually does.
            None if is_run => (
                Some(WorkspaceSource::Binding(Binding::EmptyDir {})),
                String::new(),
                None,
            ),
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
        pipeline: None,
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
        secrets: Default::default(),
        claim_templates,
    };
    collect_config(lw.world, &mut plan);
    Some(plan)
}
