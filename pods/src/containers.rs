//! Step, sidecar and init containers, as `pkg/pod/pod.go`, `entrypoint.go` and `script.go`
//! build them.

use crate::paths::{
    BIN_DIR, CREDS_DIR, DOWNWARD_DIR, ENTRYPOINT, READY_FILE, RUN_DIR, SCRIPTS_DIR, STEPS_DIR,
    TERMINATION,
};
use crate::volumes::WorkspaceMount;
use crate::{AttemptInput, BuildError, Render, decode};
use k8s_openapi::api::core::v1::{Container, EnvVar, VolumeMount};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use tkc_compiler::plan::{self, OnError, Step, When, WhenOperator};

pub struct Context<'a> {
    pub workspaces: &'a [WorkspaceMount],
    /// The pod template's `env`, appended to every step's.
    pub template_env: &'a [EnvVar],
    /// Does the first step wait for the ready annotation?
    pub gated: bool,
}

pub struct Built {
    pub init: Vec<Container>,
    pub containers: Vec<Container>,
    /// The scripts ConfigMap's data (file name → script), when there are scripts.
    pub scripts: Option<BTreeMap<String, String>>,
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// Tekton's `implicitVolumeMounts`, after `binROMount`: added to each step where the step
/// does not mount that path itself.
fn implicit_mounts() -> Vec<VolumeMount> {
    vec![
        mount("tekton-internal-bin", BIN_DIR, true),
        mount("tekton-internal-workspace", "/workspace", false),
        mount("tekton-internal-home", "/tekton/home", false),
        mount("tekton-internal-results", "/tekton/results", false),
        mount("tekton-internal-steps", STEPS_DIR, true),
        mount("tekton-internal-artifacts", "/tekton/artifacts", false),
    ]
}

/// Paths compare cleaned (`filepath.Clean`): trailing slashes and `.` parts do not count.
fn clean(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

fn mounts_path(mounts: &[VolumeMount], path: &str) -> bool {
    let path = clean(path);
    mounts.iter().any(|m| clean(&m.mount_path) == path)
}

/// The container's own `volumeMounts`.
fn own_mounts(render: &Render, mounts: &[plan::VolumeMount]) -> Vec<VolumeMount> {
    mounts
        .iter()
        .map(|m| VolumeMount {
            name: m.name.clone(),
            mount_path: render.text(&m.mount_path),
            sub_path: m
                .sub_path
                .as_ref()
                .map(|s| render.text(s))
                .filter(|s| !s.is_empty()),
            read_only: m.read_only.then_some(true),
            ..VolumeMount::default()
        })
        .collect()
}

/// Workspace mounts (`workspace.Apply`): a shared workspace where the container does not
/// mount its path already; an isolated one only into the containers that list it, at the
/// path they give.
fn workspace_mounts(
    ctx: &Context,
    container: &str,
    own: &[plan::StepWorkspace],
    mounts: &mut Vec<VolumeMount>,
) {
    for ws in ctx.workspaces {
        let path = if ws.only_in.is_empty() {
            ws.mount_path.clone()
        } else if ws.only_in.iter().any(|c| c == container) {
            own.iter()
                .find(|o| o.name == ws.name)
                .map_or_else(|| ws.mount_path.clone(), |o| o.mount_path.clone())
        } else {
            continue;
        };
        if mounts_path(mounts, &path) {
            continue;
        }
        mounts.push(VolumeMount {
            name: ws.volume.clone(),
            mount_path: path,
            sub_path: ws.sub_path.clone(),
            read_only: ws.read_only.then_some(true),
            ..VolumeMount::default()
        });
    }
}

fn env(render: &Render, what: &str, vars: &[plan::EnvVar]) -> Result<Vec<EnvVar>, BuildError> {
    vars.iter()
        .map(|e| {
            Ok(EnvVar {
                name: e.name.clone(),
                value: e.value.as_ref().map(|v| render.text(v)),
                value_from: match &e.value_from {
                    Some(from) => Some(decode(
                        format_args!("valueFrom of env `{}` in {what}", e.name),
                        from,
                    )?),
                    None => None,
                },
            })
        })
        .collect()
}

fn optional<T: serde::de::DeserializeOwned>(
    what: std::fmt::Arguments,
    json: Option<&Json>,
) -> Result<Option<T>, BuildError> {
    json.map(|j| decode(what, j)).transpose()
}

/// Step `when` expressions as the entrypoint's `-when_expressions` JSON (Tekton marshals
/// `v1.WhenExpressions`, fields omitted when empty).
fn when_json(render: &Render, when: &[When]) -> String {
    let items: Vec<Json> = when
        .iter()
        .map(|w| {
            let mut o = serde_json::Map::new();
            if let Some(input) = &w.input {
                let input = render.text(input);
                if !input.is_empty() {
                    o.insert("input".to_string(), Json::String(input));
                }
            }
            if let Some(op) = w.operator {
                let op = match op {
                    WhenOperator::In => "in",
                    WhenOperator::Notin => "notin",
                };
                o.insert("operator".to_string(), Json::String(op.to_string()));
            }
            if !w.values.is_empty() {
                o.insert("values".to_string(), json!(render.list(&w.values)));
            }
            if let Some(cel) = &w.cel {
                o.insert("cel".to_string(), Json::String(render.text(cel)));
            }
            Json::Object(o)
        })
        .collect();
    Json::Array(items).to_string()
}

/// The entrypoint's flags for step `i`, in `orderContainers`' order, then `--` and the
/// step's argv after its first word.
fn entrypoint_args(
    input: &AttemptInput,
    render: &Render,
    ctx: &Context,
    i: usize,
    step: &Step,
    command: Vec<String>,
    args: Vec<String>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let flag = |out: &mut Vec<String>, f: &str, v: String| {
        out.push(f.to_string());
        out.push(v);
    };
    if i == 0 {
        if ctx.gated {
            flag(&mut out, "-wait_file", READY_FILE.to_string());
            out.push("-wait_file_content".to_string());
        }
    } else {
        flag(&mut out, "-wait_file", format!("{RUN_DIR}/{}/out", i - 1));
    }
    flag(&mut out, "-post_file", format!("{RUN_DIR}/{i}/out"));
    flag(&mut out, "-termination_path", TERMINATION.to_string());
    flag(
        &mut out,
        "-step_metadata_dir",
        format!("{RUN_DIR}/{i}/status"),
    );
    if step.on_error == OnError::Continue {
        flag(&mut out, "-on_error", "continue".to_string());
    }
    if let Some(timeout) = &step.timeout {
        flag(&mut out, "-timeout", timeout.clone());
    }
    if let Some(p) = &step.stdout_path {
        flag(&mut out, "-stdout_path", render.text(p));
    }
    if let Some(p) = &step.stderr_path {
        flag(&mut out, "-stderr_path", render.text(p));
    }
    if !step.results.is_empty() {
        let names: Vec<&str> = step.results.iter().map(|r| r.name.as_str()).collect();
        flag(&mut out, "-step_results", names.join(","));
    }
    if !step.when.is_empty() {
        flag(
            &mut out,
            "--when_expressions",
            when_json(render, &step.when),
        );
    }
    let results = &input.task.pod.results;
    if !results.is_empty() {
        // Every task result a step writes itself (`collectResultsName`): not those copied
        // from a step result.
        let names: Vec<&str> = results
            .iter()
            .filter(|r| r.from_step.is_none())
            .map(|r| r.name.as_str())
            .collect();
        flag(&mut out, "-results", names.join(","));
    }
    let mut command = command.into_iter();
    if let Some(first) = command.next() {
        flag(&mut out, "-entrypoint", first);
    }
    out.push("--".to_string());
    out.extend(command);
    out.extend(args);
    out
}

/// Every container of the pod.
pub fn build(input: &AttemptInput, render: &Render, ctx: &Context) -> Result<Built, BuildError> {
    let pod = &input.task.pod;
    let mut scripts: BTreeMap<String, String> = BTreeMap::new();
    let mut containers = Vec::with_capacity(pod.steps.len() + pod.sidecars.len());
    let steps = pod.steps.len();
    for (i, step) in pod.steps.iter().enumerate() {
        let what = format!("step `{}`", step.name);
        let image = render.text(&step.image);
        let mut mounts = own_mounts(render, &step.volume_mounts);
        workspace_mounts(ctx, &step.container, &step.workspaces, &mut mounts);
        let mut command = match &step.script {
            Some(script) => {
                let key = format!("script-{i}");
                scripts.insert(key.clone(), render.text(script));
                mounts.push(mount("tekton-internal-scripts", SCRIPTS_DIR, true));
                vec![format!("{SCRIPTS_DIR}/{key}")]
            }
            None => render.list(&step.command),
        };
        let mut args = render.list(&step.args);
        if command.is_empty() {
            // `imageInfo` (`pkg/pod/entrypoint_lookup_impl.go`): the image's Entrypoint, and
            // its Cmd unless the step has args; its Cmd alone when it has no Entrypoint.
            let Some(config) = render.values.image_config(&image) else {
                return Err(BuildError::ImageEntrypoint {
                    step: step.name.clone(),
                    image,
                });
            };
            if config.entrypoint.is_empty() {
                command = config.cmd;
            } else {
                command = config.entrypoint;
                if args.is_empty() {
                    args = config.cmd;
                }
            }
            if command.is_empty() {
                return Err(BuildError::ImageEntrypoint {
                    step: step.name.clone(),
                    image,
                });
            }
        }
        let args = entrypoint_args(input, render, ctx, i, step, command, args);
        if i == 0 && ctx.gated {
            mounts.push(mount("tekton-internal-downward", DOWNWARD_DIR, true));
        }
        mounts.push(mount(
            &format!("tekton-creds-init-home-{i}"),
            CREDS_DIR,
            false,
        ));
        for j in 0..steps {
            mounts.push(mount(
                &format!("tekton-internal-run-{j}"),
                &format!("{RUN_DIR}/{j}"),
                i != j,
            ));
        }
        for m in implicit_mounts() {
            if !mounts_path(&mounts, &m.mount_path) {
                mounts.push(m);
            }
        }
        let mut env_vars = env(render, &what, &step.env)?;
        env_vars.extend(ctx.template_env.iter().cloned());
        containers.push(Container {
            name: step.container.clone(),
            image: Some(image),
            command: Some(vec![ENTRYPOINT.to_string()]),
            args: Some(args),
            working_dir: step.working_dir.as_ref().map(|w| render.text(w)),
            env: Some(env_vars).filter(|e| !e.is_empty()),
            env_from: Some(
                step.env_from
                    .iter()
                    .map(|e| decode(format_args!("envFrom of {what}"), e))
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .filter(|e| !e.is_empty()),
            resources: optional(
                format_args!("computeResources of {what}"),
                step.compute_resources.as_ref(),
            )?,
            security_context: optional(
                format_args!("securityContext of {what}"),
                step.security_context.as_ref(),
            )?,
            image_pull_policy: step.image_pull_policy.clone(),
            volume_mounts: Some(mounts),
            // Tekton sets the path only: the policy stays the API's default, `File` (the
            // controller parses the message as JSON, which logs would not be).
            termination_message_path: Some(TERMINATION.to_string()),
            ..Container::default()
        });
    }
    for (i, sidecar) in pod.sidecars.iter().enumerate() {
        containers.push(sidecar_container(render, ctx, i, sidecar, &mut scripts)?);
    }
    let prepare = Container {
        name: "prepare".to_string(),
        image: pod.steps.first().map(|s| render.text(&s.image)),
        command: Some(
            [ENTRYPOINT.to_string(), "step-init".to_string()]
                .into_iter()
                .chain(pod.steps.iter().map(|s| s.container.clone()))
                .collect(),
        ),
        working_dir: Some("/".to_string()),
        volume_mounts: Some(vec![
            mount("tekton-internal-bin", BIN_DIR, true),
            mount("tekton-internal-steps", STEPS_DIR, false),
        ]),
        ..Container::default()
    };
    Ok(Built {
        init: vec![prepare],
        containers,
        scripts: Some(scripts).filter(|s| !s.is_empty()),
    })
}

/// A sidecar: not wrapped by the entrypoint, none of Tekton's implicit mounts.
fn sidecar_container(
    render: &Render,
    ctx: &Context,
    i: usize,
    sidecar: &plan::Sidecar,
    scripts: &mut BTreeMap<String, String>,
) -> Result<Container, BuildError> {
    let what = format!("sidecar `{}`", sidecar.name);
    let mut mounts = own_mounts(render, &sidecar.volume_mounts);
    workspace_mounts(ctx, &sidecar.container, &sidecar.workspaces, &mut mounts);
    let command = match &sidecar.script {
        Some(script) => {
            let key = format!("sidecar-script-{i}");
            scripts.insert(key.clone(), render.text(script));
            mounts.push(mount("tekton-internal-scripts", SCRIPTS_DIR, true));
            vec![format!("{SCRIPTS_DIR}/{key}")]
        }
        None => render.list(&sidecar.command),
    };
    let base = Container {
        name: sidecar.container.clone(),
        image: Some(render.text(&sidecar.image)),
        command: Some(command).filter(|c| !c.is_empty()),
        args: Some(render.list(&sidecar.args)).filter(|a| !a.is_empty()),
        working_dir: sidecar.working_dir.as_ref().map(|w| render.text(w)),
        env: Some(env(render, &what, &sidecar.env)?).filter(|e| !e.is_empty()),
        volume_mounts: Some(mounts).filter(|m| !m.is_empty()),
        ..Container::default()
    };
    if sidecar.extra.is_empty() {
        return Ok(base);
    }
    let mut object = match serde_json::to_value(&base) {
        Ok(Json::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    for (key, value) in &sidecar.extra {
        let key = if key == "computeResources" {
            "resources"
        } else {
            key.as_str()
        };
        object.insert(key.to_string(), value.clone());
    }
    decode(what, &Json::Object(object))
}
