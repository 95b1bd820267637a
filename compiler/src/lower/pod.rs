//! One Task spec → the pod of one attempt (spec section 6): StepActions inlined, the step
//! template merged, scripts given their default shebang, every string substituted with the
//! Task-side passes (params, `context`, result and exit-code paths, workspaces, credentials),
//! workspaces mounted, step and sidecar overrides applied.

use super::subst::{self, Chain, PVal, Params, Pass, Tpl};
use super::{Lowering, codes};
use crate::diag::Diagnostic;
use crate::model::encode::Encode;
use crate::model::{
    self, Object, Sidecar as ModelSidecar, Step as ModelStep, StepActionSpec, StepTemplate,
    TaskRunStepSpec, TaskSpec, VolumeMount as ModelMount,
};
use crate::plan::{
    EnvVar, OnError, PathRef, Pod, ResultDecl, RunValue, Sidecar, Step, StepResultRef,
    StepWorkspace, TaskWorkspace, ValueType, Volume, VolumeMount, When, WhenOperator,
};
use crate::resolve::Resolved;
use crate::syntax::node_to_json;
use crate::vars::{ContextVar, RefKind, Reference, WorkspaceAttr};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The Task-side default script interpreter (spec section 6, "Scripts").
pub const DEFAULT_SHEBANG: &str = "#!/bin/sh\nset -e\n";

/// A workspace of the Task as this run binds it.
#[derive(Clone, Debug)]
pub struct WorkspaceInfo {
    /// The plan entry (`only_in` is filled in here).
    pub plan: TaskWorkspace,
    /// The PVC's claim name, or "" (`$(workspaces.W.claim)`).
    pub claim: String,
}

/// What lowering one Task needs besides its spec.
pub struct TaskInput<'a> {
    pub spec: &'a TaskSpec,
    /// The Task's params, after defaulting (matrix params as run-time references).
    pub params: &'a BTreeMap<String, PVal>,
    /// Passes that run before the Task's own: the pipeline's, for a spec written inline in a
    /// pipeline task.
    pub before: Chain<'a>,
    /// `$(context.task.name)`.
    pub task_name: Tpl,
    pub namespace: &'a str,
    pub workspaces: Vec<WorkspaceInfo>,
    pub step_specs: &'a [TaskRunStepSpec],
    pub sidecar_specs: &'a [TaskRunStepSpec],
    pub pod_template: Option<Json>,
}

/// `step-<name>` / `sidecar-<name>`: at most 63 characters, no trailing punctuation.
pub fn container_name(prefix: &str, name: &str) -> String {
    let mut full = format!("{prefix}{name}");
    if full.len() > 63 {
        let mut end = 63;
        while !full.is_char_boundary(end) {
            end -= 1;
        }
        full.truncate(end);
    }
    full.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The Task-side context variables.
struct TaskContext<'a> {
    task_name: &'a Tpl,
    namespace: &'a str,
}

impl Pass for TaskContext<'_> {
    fn string(&self, r: &Reference) -> Option<Tpl> {
        let RefKind::Context(var) = &r.kind else {
            return None;
        };
        match var {
            ContextVar::TaskRunName | ContextVar::TaskRunUid | ContextVar::TaskRetryCount => {
                Some(Tpl::run(RunValue::Context {
                    variable: var.as_str().to_string(),
                }))
            }
            ContextVar::TaskRunNamespace => Some(Tpl::lit(self.namespace)),
            ContextVar::TaskName => Some(self.task_name.clone()),
            _ => None,
        }
    }
}

/// Result and exit-code paths, and `$(credentials.path)`; `container` is the step's
/// container name (none in sidecars and the step template).
struct Paths<'a> {
    container: Option<&'a str>,
}

impl Pass for Paths<'_> {
    fn string(&self, r: &Reference) -> Option<Tpl> {
        let (path, tekton) = match &r.kind {
            RefKind::ResultPath { result } => (
                PathRef::Result {
                    name: result.clone(),
                },
                format!("/tekton/results/{result}"),
            ),
            RefKind::StepResultPath { result } => {
                let container = self.container?;
                (
                    PathRef::StepResult {
                        step: container
                            .strip_prefix("step-")
                            .unwrap_or(container)
                            .to_string(),
                        name: result.clone(),
                    },
                    format!("/tekton/steps/{container}/results/{result}"),
                )
            }
            RefKind::StepExitCodePath { step } => (
                PathRef::StepExitCode { step: step.clone() },
                format!("/tekton/steps/step-{step}/exitCode"),
            ),
            RefKind::CredentialsPath => (PathRef::Credentials {}, "/tekton/creds".to_string()),
            _ => return None,
        };
        Some(Tpl::run(RunValue::Path { path, tekton }))
    }
}

/// `$(workspaces.W.path|bound|claim|volume)`; paths as the container sees them.
struct Workspaces<'a> {
    workspaces: &'a [WorkspaceInfo],
    /// This container's own mount paths of isolated workspaces.
    own: &'a [StepWorkspace],
}

impl Pass for Workspaces<'_> {
    fn string(&self, r: &Reference) -> Option<Tpl> {
        let RefKind::Workspace { name, attr } = &r.kind else {
            return None;
        };
        let ws = self.workspaces.iter().find(|w| &w.plan.name == name)?;
        let bound = ws.plan.source.is_some();
        Some(match attr {
            WorkspaceAttr::Path if !bound => Tpl::lit(""),
            WorkspaceAttr::Path => {
                let tekton = self
                    .own
                    .iter()
                    .find(|w| &w.name == name)
                    .map_or_else(|| ws.plan.mount_path.clone(), |w| w.mount_path.clone());
                Tpl::run(RunValue::Path {
                    path: PathRef::Workspace { name: name.clone() },
                    tekton,
                })
            }
            WorkspaceAttr::Bound => Tpl::lit(if bound { "true" } else { "false" }),
            WorkspaceAttr::Claim => Tpl::lit(ws.claim.as_str()),
            WorkspaceAttr::Volume => Tpl::lit(ws.plan.volume.as_str()),
        })
    }
}

/// A container's fields after substitution, before the step template is merged in.
#[derive(Clone, Debug, Default)]
struct Container {
    image: Option<Tpl>,
    command: Option<Vec<Tpl>>,
    args: Option<Vec<Tpl>>,
    working_dir: Option<Tpl>,
    env: Vec<EnvVar>,
    env_from: Vec<Json>,
    compute_resources: Option<Json>,
    volume_mounts: Vec<VolumeMount>,
    image_pull_policy: Option<Tpl>,
    security_context: Option<Json>,
    script: Option<Tpl>,
}

fn object(o: &impl AsRef<Object>) -> Option<Json> {
    o.as_ref().0.as_ref().map(node_to_json)
}

fn nonempty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn env(chain: &Chain, vars: &[model::EnvVar]) -> Vec<EnvVar> {
    vars.iter()
        .map(|e| EnvVar {
            name: e.name.value.clone(),
            value: e.value.as_ref().map(|v| chain.str(v).to_template()),
            value_from: e
                .value_from
                .as_ref()
                .and_then(object)
                .map(|j| chain.json(&j)),
        })
        .collect()
}

fn mounts(chain: &Chain, mounts: &[ModelMount]) -> Vec<VolumeMount> {
    mounts
        .iter()
        .map(|m| VolumeMount {
            name: chain.str(&m.name).text(),
            mount_path: chain.str(&m.mount_path).to_template(),
            sub_path: m.sub_path.as_ref().map(|s| chain.str(s).to_template()),
            read_only: m.read_only.as_ref().is_some_and(|b| b.value),
        })
        .collect()
}

impl Container {
    fn of_template(chain: &Chain, t: &StepTemplate) -> Container {
        Container {
            image: t.image.as_ref().map(|s| chain.str(s)),
            command: nonempty(chain.list(t.command.iter().map(|s| s.as_str()))),
            args: nonempty(chain.list(t.args.iter().map(|s| s.as_str()))),
            working_dir: t.working_dir.as_ref().map(|s| chain.str(s)),
            env: env(chain, &t.env),
            env_from: t
                .env_from
                .iter()
                .filter_map(object)
                .map(|j| chain.json(&j))
                .collect(),
            compute_resources: t.compute_resources.as_ref().and_then(object),
            volume_mounts: mounts(chain, &t.volume_mounts),
            image_pull_policy: t.image_pull_policy.as_ref().map(|s| chain.str(s)),
            security_context: t.security_context.as_ref().and_then(object),
            script: None,
        }
    }

    fn of_step(chain: &Chain, s: &ModelStep) -> Container {
        Container {
            image: s.image.as_ref().map(|v| chain.str(v)),
            command: nonempty(chain.list(s.command.iter().map(|v| v.as_str()))),
            args: nonempty(chain.list(s.args.iter().map(|v| v.as_str()))),
            working_dir: s.working_dir.as_ref().map(|v| chain.str(v)),
            env: env(chain, &s.env),
            env_from: s
                .env_from
                .iter()
                .filter_map(object)
                .map(|j| chain.json(&j))
                .collect(),
            compute_resources: s.compute_resources.as_ref().and_then(object),
            volume_mounts: mounts(chain, &s.volume_mounts),
            image_pull_policy: s.image_pull_policy.as_ref().map(|v| chain.str(v)),
            security_context: s.security_context.as_ref().and_then(object),
            script: s.script.as_ref().map(|v| chain.str(v)),
        }
    }

    /// The fields a StepAction gives the step that references it.
    fn of_step_action(chain: &Chain, a: &StepActionSpec) -> Container {
        Container {
            image: Some(chain.str(&a.image)),
            command: nonempty(chain.list(a.command.iter().map(|v| v.as_str()))),
            args: nonempty(chain.list(a.args.iter().map(|v| v.as_str()))),
            working_dir: a.working_dir.as_ref().map(|v| chain.str(v)),
            env: env(chain, &a.env),
            volume_mounts: mounts(chain, &a.volume_mounts),
            security_context: a.security_context.as_ref().and_then(object),
            script: a.script.as_ref().map(|v| chain.str(v)),
            ..Container::default()
        }
    }

    /// Fields the step sets itself that a StepAction does not (`ref` steps only set these).
    fn with_step_extras(mut self, chain: &Chain, s: &ModelStep) -> Container {
        self.compute_resources = s.compute_resources.as_ref().and_then(object);
        self.image_pull_policy = s.image_pull_policy.as_ref().map(|v| chain.str(v));
        self.env_from = s
            .env_from
            .iter()
            .filter_map(object)
            .map(|j| chain.json(&j))
            .collect();
        self
    }

    /// Merges the step template under this step, as Kubernetes' strategic merge does:
    /// the step's scalars win; `env` merges by name, `volumeMounts` by mount path (a step's
    /// entry replaces the template's); `command`/`args`/`envFrom` are replaced when the
    /// step sets them; objects merge key by key.
    fn merged_over(self, template: &Container) -> Container {
        Container {
            image: self.image.or_else(|| template.image.clone()),
            command: self.command.or_else(|| template.command.clone()),
            args: self.args.or_else(|| template.args.clone()),
            working_dir: self.working_dir.or_else(|| template.working_dir.clone()),
            env: merge_by_key(&template.env, self.env, |e| e.name.clone()),
            env_from: if self.env_from.is_empty() {
                template.env_from.clone()
            } else {
                self.env_from
            },
            compute_resources: merge_json(
                template.compute_resources.as_ref(),
                self.compute_resources,
            ),
            volume_mounts: merge_by_key(&template.volume_mounts, self.volume_mounts, |m| {
                m.mount_path.text().to_string()
            }),
            image_pull_policy: self
                .image_pull_policy
                .or_else(|| template.image_pull_policy.clone()),
            security_context: merge_json(template.security_context.as_ref(), self.security_context),
            script: self.script,
        }
    }
}

/// A list merged by key: the step's entries in its order, with the template's other entries
/// placed where Kubernetes' `$setElementOrder` merge puts them (before the first step entry
/// that comes after them in the template, else at the end).
fn merge_by_key<T: Clone>(template: &[T], step: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
    let step_keys: Vec<String> = step.iter().map(&key).collect();
    let template_keys: Vec<String> = template.iter().map(&key).collect();
    let position = |k: &str| template_keys.iter().position(|t| t == k);
    let left: Vec<&T> = template
        .iter()
        .filter(|t| !step_keys.contains(&key(t)))
        .collect();
    let mut out = Vec::with_capacity(left.len() + step.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() || j < step.len() {
        let take_left = match (left.get(i), step.get(j)) {
            (Some(l), Some(r)) => matches!(
                (position(&key(l)), position(&key(r))),
                (Some(a), Some(b)) if a < b
            ),
            (Some(_), None) => true,
            _ => false,
        };
        if take_left {
            out.push(left[i].clone());
            i += 1;
        } else if let Some(r) = step.get(j) {
            out.push(r.clone());
            j += 1;
        }
    }
    out
}

/// `over` merged onto `base`, key by key (`over` wins).
fn merge_json(base: Option<&Json>, over: Option<Json>) -> Option<Json> {
    match (base, over) {
        (Some(Json::Object(b)), Some(Json::Object(o))) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = merge_json(out.get(&k), Some(v));
                if let Some(m) = merged {
                    out.insert(k, m);
                }
            }
            Some(Json::Object(out))
        }
        (_, Some(o)) => Some(o),
        (b, None) => b.cloned(),
    }
}

/// The script with Tekton's default shebang when it has none.
fn with_shebang(script: Tpl) -> Tpl {
    if script.text().trim_start().starts_with("#!") {
        return script;
    }
    let mut out = Tpl::lit(DEFAULT_SHEBANG);
    out.append(script);
    out
}

fn properties(p: Option<&model::Properties>) -> Vec<String> {
    p.map(|p| p.keys().map(|k| k.value.clone()).collect())
        .unwrap_or_default()
}

/// The task's declared results.
pub fn task_results(spec: &TaskSpec) -> Vec<ResultDecl> {
    spec.results
        .iter()
        .map(|r| ResultDecl {
            name: r.name.value.clone(),
            result_type: r.result_type().map(ValueType::from).unwrap_or_default(),
            properties: properties(r.properties.as_ref()),
            from_step: r.value.as_ref().and_then(|v| {
                let text = v.as_string()?;
                let refs = crate::vars::parse(text);
                match refs.as_slice() {
                    [r] if r.is_whole(text) => match &r.kind {
                        RefKind::StepResult { step, result, .. } => Some(StepResultRef {
                            step: step.clone(),
                            result: result.clone(),
                        }),
                        _ => None,
                    },
                    _ => None,
                }
            }),
        })
        .collect()
}

fn step_results(results: &[model::StepResult]) -> Vec<ResultDecl> {
    results
        .iter()
        .map(|r| ResultDecl {
            name: r.name.value.clone(),
            result_type: r.result_type().map(ValueType::from).unwrap_or_default(),
            properties: properties(r.properties.as_ref()),
            from_step: None,
        })
        .collect()
}

/// When expressions, substituted (`values` with whole arrays expanded).
pub fn whens(chain: &Chain, whens: &[model::WhenExpression]) -> Vec<When> {
    whens
        .iter()
        .map(|w| When {
            input: w.input.as_ref().map(|i| chain.str(i).to_template()),
            operator: w.operator.as_ref().and_then(|o| match o.as_str() {
                "in" => Some(WhenOperator::In),
                "notin" => Some(WhenOperator::Notin),
                _ => None,
            }),
            values: chain
                .list(w.values.iter().map(|v| v.as_str()))
                .iter()
                .map(Tpl::to_template)
                .collect(),
            cel: w.cel.as_ref().map(|c| chain.str(c).to_template()),
        })
        .collect()
}

/// `continue` or `stopAndFail` after substitution; anything else is reported.
pub fn on_error(lw: &mut Lowering, value: Option<(&model::Str, Tpl)>) -> OnError {
    let Some((source, tpl)) = value else {
        return OnError::StopAndFail;
    };
    match tpl.as_literal() {
        Some("continue") => OnError::Continue,
        Some("stopAndFail") | Some("") => OnError::StopAndFail,
        _ => {
            lw.report(
                Diagnostic::new(
                    &codes::INVALID_ON_ERROR,
                    format!("`onError` is `{}` after substitution", tpl.text()),
                )
                .with_label(source.span, "must be `continue` or `stopAndFail`")
                .with_help("pass a param value of `continue` or `stopAndFail`"),
            );
            OnError::StopAndFail
        }
    }
}

/// Lowers a Task spec to the pod of one attempt.
pub fn lower_pod(lw: &mut Lowering, input: TaskInput) -> Pod {
    let spec = input.spec;
    let params = Params {
        values: input.params,
        except: &[],
    };
    let context = TaskContext {
        task_name: &input.task_name,
        namespace: input.namespace,
    };
    let named = input.before.then(&[&params, &context]);

    // Which containers mount which workspaces themselves (isolated workspaces).
    let mut only_in: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut step_names = Vec::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let name = step
            .name
            .as_ref()
            .map_or_else(|| format!("unnamed-{i}"), |n| named.str(n).text());
        let container = container_name("step-", &name);
        for ws in &step.workspaces {
            only_in
                .entry(ws.name.value.clone())
                .or_default()
                .push(container.clone());
        }
        step_names.push((name, container));
    }
    let mut sidecar_names = Vec::new();
    for (i, sidecar) in spec.sidecars.iter().enumerate() {
        let name = sidecar
            .name
            .as_ref()
            .map_or_else(|| format!("unnamed-{i}"), |n| named.str(n).text());
        let container = container_name("sidecar-", &name);
        for ws in &sidecar.workspaces {
            only_in
                .entry(ws.name.value.clone())
                .or_default()
                .push(container.clone());
        }
        sidecar_names.push((name, container));
    }
    let workspaces: Vec<WorkspaceInfo> = input
        .workspaces
        .iter()
        .map(|w| {
            let mut w = w.clone();
            w.plan.only_in = only_in.get(&w.plan.name).cloned().unwrap_or_default();
            w
        })
        .collect();

    let no_own: Vec<StepWorkspace> = Vec::new();
    let task_paths = Paths { container: None };
    let task_workspaces = Workspaces {
        workspaces: &workspaces,
        own: &no_own,
    };
    let task_chain = input
        .before
        .then(&[&params, &context, &task_paths, &task_workspaces]);
    let template = spec
        .step_template
        .as_ref()
        .map(|t| Container::of_template(&task_chain, t))
        .unwrap_or_default();

    let mut steps = Vec::with_capacity(spec.steps.len());
    for (step, (name, container)) in spec.steps.iter().zip(&step_names) {
        let own = own_workspaces(&named, &step.workspaces, &workspaces);
        let paths = Paths {
            container: Some(container),
        };
        let ws = Workspaces {
            workspaces: &workspaces,
            own: &own,
        };
        let chain = input.before.then(&[&params, &context, &paths, &ws]);
        let (fields, results) = match &step.r#ref {
            Some(step_ref) => match lw.world.resolve_step_ref(step_ref) {
                Resolved::Found { spec: action, .. } => {
                    let action_params = action_params(&input.before.then(&[&params]), step, action);
                    let action_pass = Params {
                        values: &action_params,
                        except: &[],
                    };
                    let action_chain =
                        Chain::new(vec![&action_pass, &params, &context, &paths, &ws]);
                    let c = Container::of_step_action(&action_chain, action)
                        .with_step_extras(&chain, step);
                    (c, step_results(&action.results))
                }
                other => {
                    lw.unresolved_step(step_ref, &other);
                    (
                        Container::of_step(&chain, step),
                        step_results(&step.results),
                    )
                }
            },
            None => (
                Container::of_step(&chain, step),
                step_results(&step.results),
            ),
        };
        let mut merged = fields.merged_over(&template);
        if let Some(over) = input.step_specs.iter().find(|s| &s.name.value == name)
            && let Some(resources) = over.compute_resources.as_ref().and_then(object)
        {
            merged.compute_resources = Some(resources);
        }
        let on_error = on_error(lw, step.on_error.as_ref().map(|o| (o, chain.str(o))));
        steps.push(Step {
            name: name.clone(),
            container: container.clone(),
            image: merged.image.unwrap_or_default().to_template(),
            command: if merged.script.is_some() {
                Vec::new()
            } else {
                templates(merged.command)
            },
            args: templates(merged.args),
            script: merged.script.map(|s| with_shebang(s).to_template()),
            env: merged.env,
            env_from: merged.env_from,
            working_dir: merged.working_dir.map(|t| t.to_template()),
            timeout: step.timeout.as_ref().map(|t| t.canonical()),
            on_error,
            results,
            volume_mounts: merged.volume_mounts,
            workspaces: own.clone(),
            stdout_path: step
                .stdout_config
                .as_ref()
                .and_then(|c| c.path.as_ref())
                .map(|p| chain.str(p).to_template()),
            stderr_path: step
                .stderr_config
                .as_ref()
                .and_then(|c| c.path.as_ref())
                .map(|p| chain.str(p).to_template()),
            when: whens(&chain, &step.when),
            image_pull_policy: merged.image_pull_policy.map(|t| t.text()),
            security_context: merged.security_context,
            compute_resources: merged.compute_resources,
        });
    }

    let mut sidecars = Vec::with_capacity(spec.sidecars.len());
    for (sidecar, (name, container)) in spec.sidecars.iter().zip(&sidecar_names) {
        let own = own_workspaces(&named, &sidecar.workspaces, &workspaces);
        let ws = Workspaces {
            workspaces: &workspaces,
            own: &own,
        };
        let chain = input.before.then(&[&params, &context, &task_paths, &ws]);
        let mut extra = sidecar_extra(&chain, sidecar);
        if let Some(over) = input.sidecar_specs.iter().find(|s| &s.name.value == name)
            && let Some(resources) = over.compute_resources.as_ref().and_then(object)
        {
            extra.insert("computeResources".to_string(), resources);
        }
        sidecars.push(Sidecar {
            name: name.clone(),
            container: container.clone(),
            image: sidecar
                .image
                .as_ref()
                .map(|i| chain.str(i))
                .unwrap_or_default()
                .to_template(),
            command: if sidecar.script.is_some() {
                Vec::new()
            } else {
                templates(nonempty(
                    chain.list(sidecar.command.iter().map(|v| v.as_str())),
                ))
            },
            args: templates(nonempty(
                chain.list(sidecar.args.iter().map(|v| v.as_str())),
            )),
            script: sidecar
                .script
                .as_ref()
                .map(|s| with_shebang(chain.str(s)).to_template()),
            env: env(&chain, &sidecar.env),
            working_dir: sidecar
                .working_dir
                .as_ref()
                .map(|w| chain.str(w).to_template()),
            volume_mounts: mounts(&chain, &sidecar.volume_mounts),
            workspaces: own.clone(),
            extra,
        });
    }

    let volumes = spec
        .volumes
        .iter()
        .map(|v| {
            let mut source = match v.encode() {
                Some(Json::Object(map)) => map,
                _ => serde_json::Map::new(),
            };
            source.remove("name");
            Volume {
                name: named.str(&v.name).text(),
                source: task_chain.json(&Json::Object(source)),
            }
        })
        .collect();

    Pod {
        steps,
        sidecars,
        volumes,
        workspaces: workspaces.into_iter().map(|w| w.plan).collect(),
        results: task_results(spec),
        // String params (a matrix param stays `$(params.p)`, filled per combination).
        pod_template: input
            .pod_template
            .map(|t| Chain::new(vec![&params]).json(&t)),
    }
}

fn templates(items: Option<Vec<Tpl>>) -> Vec<crate::plan::Template> {
    items
        .unwrap_or_default()
        .iter()
        .map(Tpl::to_template)
        .collect()
}

/// The isolated workspaces a container lists, at the path it gives (else the declared one).
fn own_workspaces(
    chain: &Chain,
    usages: &[model::WorkspaceUsage],
    workspaces: &[WorkspaceInfo],
) -> Vec<StepWorkspace> {
    usages
        .iter()
        .map(|u| StepWorkspace {
            name: u.name.value.clone(),
            mount_path: u.mount_path.as_ref().map_or_else(
                || {
                    workspaces
                        .iter()
                        .find(|w| w.plan.name == u.name.value)
                        .map_or_else(
                            || format!("/workspace/{}", u.name.value),
                            |w| w.plan.mount_path.clone(),
                        )
                },
                |p| chain.str(p).text(),
            ),
        })
        .collect()
}

/// The values of a StepAction's params: the step's `params` (substituted with the Task's),
/// else the StepAction's defaults.
fn action_params(
    chain: &Chain,
    step: &ModelStep,
    action: &StepActionSpec,
) -> BTreeMap<String, PVal> {
    let mut out = BTreeMap::new();
    for decl in &action.params {
        let given = step.params.iter().find(|p| p.name.value == decl.name.value);
        let default = decl.default.as_ref().map(|d| PVal::from_model(d));
        let given = given
            .and_then(|p| p.value.as_ref())
            .map(|v| chain.value(PVal::from_model(v)))
            // A whole-value reference Tekton could not replace (`$(params.s[*])` of a string)
            // leaves an array or object param to its default.
            .filter(|v| {
                let typed = matches!(
                    decl.param_type(),
                    Some(crate::model::ParamType::Array | crate::model::ParamType::Object)
                );
                !(typed && default.is_some() && is_unreplaced_param_ref(v))
            });
        let value = match (given, default) {
            (Some(v), Some(default)) => Some(v.with_default_keys(&default)),
            (Some(v), None) => Some(v),
            (None, default) => default,
        };
        if let Some(value) = value {
            out.insert(decl.name.value.clone(), value);
        }
    }
    // Defaults that reference other params take the values the step provides (or their own
    // defaults), never the Task's params of the same name: Tekton's
    // `applyStepActionParameters` (taskrun/resources/apply.go) resolves them, in rounds, before
    // anything else is substituted.
    let mut pending: Vec<String> = action
        .params
        .iter()
        .filter(|d| !step.params.iter().any(|p| p.name.value == d.name.value))
        .filter(|d| out.get(&d.name.value).is_some_and(refers_to_params))
        .map(|d| d.name.value.clone())
        .collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|name| {
            let Some(value) = out.get(name) else {
                return false;
            };
            let waits = crate::vars::parse(&pval_text(value))
                .iter()
                .any(|r| match &r.kind {
                    RefKind::Param { name: other, .. } => {
                        other == name || out.get(other).is_none_or(refers_to_params)
                    }
                    _ => false,
                });
            if waits {
                return true;
            }
            let pass = Params {
                values: &out,
                except: &[],
            };
            let resolved = subst::apply_value(value, &pass);
            out.insert(name.clone(), resolved);
            false
        });
        // A cycle, or a reference to a param the StepAction does not declare: left as written.
        if pending.len() == before {
            break;
        }
    }
    out
}

/// Does a param value still refer to `$(params...)`?
fn refers_to_params(value: &PVal) -> bool {
    pval_text(value).contains("$(params.")
}

/// The text of a value (every string of an array or object, joined), to look for references.
fn pval_text(value: &PVal) -> String {
    match value {
        PVal::Str(t) => t.text(),
        PVal::Array(items) => items.iter().map(Tpl::text).collect::<Vec<_>>().join(" "),
        PVal::Object(map) => map
            .iter()
            .map(|(_, t)| t.text())
            .collect::<Vec<_>>()
            .join(" "),
        PVal::Deferred { .. } => String::new(),
    }
}

/// Is the value a string that is exactly one `$(params...)` reference left in place?
fn is_unreplaced_param_ref(value: &PVal) -> bool {
    let PVal::Str(t) = value else {
        return false;
    };
    let text = t.text();
    let refs = crate::vars::parse(&text);
    refs.len() == 1
        && refs[0].is_whole(&text)
        && matches!(refs[0].kind, crate::vars::RefKind::Param { .. })
}

/// A sidecar's container fields that the plan keeps as written (ports, probes, ...).
fn sidecar_extra(chain: &Chain, s: &ModelSidecar) -> BTreeMap<String, Json> {
    let mut out = BTreeMap::new();
    let mut put = |key: &str, value: Option<Json>| {
        if let Some(v) = value {
            out.insert(key.to_string(), chain.json(&v));
        }
    };
    fn list<O: AsRef<Object>>(items: &[O]) -> Option<Json> {
        let items: Vec<Json> = items.iter().filter_map(object).collect();
        (!items.is_empty()).then_some(Json::Array(items))
    }
    put("ports", list(&s.ports));
    put("envFrom", list(&s.env_from));
    put("volumeDevices", list(&s.volume_devices));
    put(
        "computeResources",
        s.compute_resources.as_ref().and_then(object),
    );
    put("livenessProbe", s.liveness_probe.as_ref().and_then(object));
    put(
        "readinessProbe",
        s.readiness_probe.as_ref().and_then(object),
    );
    put("startupProbe", s.startup_probe.as_ref().and_then(object));
    put("lifecycle", s.lifecycle.as_ref().and_then(object));
    put(
        "securityContext",
        s.security_context.as_ref().and_then(object),
    );
    for (key, value) in [
        ("terminationMessagePath", &s.termination_message_path),
        ("terminationMessagePolicy", &s.termination_message_policy),
        ("imagePullPolicy", &s.image_pull_policy),
        ("restartPolicy", &s.restart_policy),
    ] {
        put(key, value.as_ref().map(|v| Json::String(v.value.clone())));
    }
    for (key, value) in [
        ("stdin", &s.stdin),
        ("stdinOnce", &s.stdin_once),
        ("tty", &s.tty),
    ] {
        put(key, value.as_ref().map(|v| Json::Bool(v.value)));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn container_names_are_cut_and_trimmed() {
        assert_eq!(container_name("step-", "build"), "step-build");
        let long = format!("{}-x", "a".repeat(57));
        assert_eq!(
            container_name("step-", &long),
            format!("step-{}", "a".repeat(57))
        );
    }

    #[test]
    fn env_merges_like_kubernetes() {
        let keys = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let merged = merge_by_key(&keys(&["A", "B"]), keys(&["C", "B"]), |s| s.clone());
        assert_eq!(merged, ["C", "A", "B"]);
        let merged = merge_by_key(&keys(&["A"]), keys(&["B"]), |s| s.clone());
        assert_eq!(merged, ["B", "A"]);
        let merged = merge_by_key(&keys(&["A", "B", "C"]), keys(&["B"]), |s| s.clone());
        assert_eq!(merged, ["A", "B", "C"]);
    }

    #[test]
    fn shebang_is_added_once() {
        assert_eq!(
            with_shebang(Tpl::lit("echo")).text(),
            "#!/bin/sh\nset -e\necho"
        );
        assert_eq!(
            with_shebang(Tpl::lit("\n#!/bin/bash\nx")).text(),
            "\n#!/bin/bash\nx"
        );
    }
}
