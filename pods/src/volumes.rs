//! The pod's volumes: Tekton's internal ones, the Task's, the workspaces' and the pod
//! template's.

use crate::entrypoint::ENTRYPOINT_KEY;
use crate::{AttemptInput, BuildError, Identity, Render, decode, names, run_labels};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, DownwardAPIVolumeFile, DownwardAPIVolumeSource, EmptyDirVolumeSource,
    EnvVar, ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, SecretVolumeSource, Volume,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use tkc_compiler::plan::{Binding, ParamValue, RunValue, WorkspaceSource};
use tkc_compiler::vars::{RefKind, Selector};

/// Mode of the files of the entrypoint and scripts ConfigMaps: readable and executable by
/// any user the step runs as (0555).
pub const EXECUTABLE: i32 = 0o555;

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// Tekton's own volumes, in `pod.Builder.Build`'s order: `implicitVolumes`, the scripts, the
/// entrypoint (`tekton-internal-bin`, here the entrypoint's ConfigMap), the downward volume
/// (when the first step waits for the ready annotation), then per step the credentials home
/// (`getCredsInitVolume`) and `/tekton/run/<i>` (`runVolume`).
pub fn implicit(gated: bool, entrypoint: &str, scripts: Option<&str>, steps: usize) -> Vec<Volume> {
    let mut out: Vec<Volume> = [
        "tekton-internal-workspace",
        "tekton-internal-home",
        "tekton-internal-results",
        "tekton-internal-steps",
        "tekton-internal-artifacts",
    ]
    .into_iter()
    .map(empty_dir)
    .collect();
    if let Some(scripts) = scripts {
        out.push(Volume {
            name: "tekton-internal-scripts".to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: scripts.to_string(),
                default_mode: Some(EXECUTABLE),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    out.push(Volume {
        name: "tekton-internal-bin".to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: entrypoint.to_string(),
            default_mode: Some(EXECUTABLE),
            items: Some(vec![k8s_openapi::api::core::v1::KeyToPath {
                key: ENTRYPOINT_KEY.to_string(),
                path: "entrypoint".to_string(),
                mode: None,
            }]),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    });
    if gated {
        out.push(Volume {
            name: "tekton-internal-downward".to_string(),
            downward_api: Some(DownwardAPIVolumeSource {
                items: Some(vec![DownwardAPIVolumeFile {
                    path: "ready".to_string(),
                    field_ref: Some(ObjectFieldSelector {
                        field_path: format!("metadata.annotations['{}']", crate::READY_ANNOTATION),
                        api_version: None,
                    }),
                    ..DownwardAPIVolumeFile::default()
                }]),
                ..DownwardAPIVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    for i in 0..steps {
        out.push(Volume {
            name: format!("tekton-creds-init-home-{i}"),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".to_string()),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        });
        out.push(empty_dir(&format!("tekton-internal-run-{i}")));
    }
    out
}

/// The Task's own `volumes`.
pub fn task_volumes(input: &AttemptInput) -> Result<Vec<Volume>, BuildError> {
    input
        .task
        .pod
        .volumes
        .iter()
        .map(|v| {
            let mut object = match &v.source {
                Json::Object(map) => map.clone(),
                _ => serde_json::Map::new(),
            };
            object.insert("name".to_string(), Json::String(v.name.clone()));
            decode(format_args!("volume `{}`", v.name), &Json::Object(object))
        })
        .collect()
}

/// A workspace as the containers mount it.
#[derive(Clone, Debug)]
pub struct WorkspaceMount {
    pub name: String,
    pub volume: String,
    pub mount_path: String,
    pub sub_path: Option<String>,
    pub read_only: bool,
    /// Isolated: only these containers (empty: every step, and sidecars lacking the path).
    pub only_in: Vec<String>,
}

pub struct Workspaces {
    pub mounts: Vec<WorkspaceMount>,
    pub volumes: Vec<Volume>,
    pub claims: Vec<PersistentVolumeClaim>,
}

/// The name of the claim made for a run workspace (`volumeClaimTemplate`):
/// `<template name, else pvc>-<md5(workspace + run uid)[:10]>`, as Tekton's
/// `GeneratePVCNameFromWorkspaceBinding` (`pkg/reconciler/volumeclaim/pvchandler.go`).
pub fn claim_name(template: Option<&Json>, workspace: &str, id: &Identity) -> String {
    let base = template
        .and_then(|t| t.pointer("/metadata/name"))
        .and_then(Json::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or("pvc");
    let hash = names::md5_hex(&format!("{workspace}{}", id.run_uid));
    format!("{base}-{}", &hash[..10])
}

/// The claim for a run workspace bound to a `volumeClaimTemplate` (or left to tkc: a
/// `RunShared` workspace gets a 1Gi ReadWriteOnce claim, what Tekton's examples ask for).
fn claim(
    template: Option<&Json>,
    name: &str,
    id: &Identity,
) -> Result<PersistentVolumeClaim, BuildError> {
    let mut spec: PersistentVolumeClaimSpec = match template.and_then(|t| t.get("spec")) {
        Some(spec) => decode("volumeClaimTemplate spec", spec)?,
        None => PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity("1Gi".to_string()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        },
    };
    if spec.access_modes.is_none() {
        spec.access_modes = Some(vec!["ReadWriteOnce".to_string()]);
    }
    let meta: ObjectMeta = match template.and_then(|t| t.get("metadata")) {
        Some(m) => decode("volumeClaimTemplate metadata", m)?,
        None => ObjectMeta::default(),
    };
    let mut labels = meta.labels.unwrap_or_default();
    labels.extend(run_labels(id));
    Ok(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(id.namespace.clone()),
            labels: Some(labels),
            annotations: meta.annotations,
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    })
}

/// The workspaces' volumes and mounts (`workspace.CreateVolumes` and `workspace.Apply` in
/// `pkg/workspace/apply.go`): one volume per bound workspace, shared by workspaces bound
/// to the same claim.
pub fn workspaces(input: &AttemptInput, render: &Render) -> Result<Workspaces, BuildError> {
    let mut out = Workspaces {
        mounts: Vec::new(),
        volumes: Vec::new(),
        claims: Vec::new(),
    };
    let mut by_claim: BTreeMap<String, String> = BTreeMap::new();
    for ws in &input.task.pod.workspaces {
        let Some(source) = &ws.source else { continue };
        let (binding, claim_key) = match source {
            WorkspaceSource::Run(name) => (
                input
                    .plan
                    .workspaces
                    .iter()
                    .find(|b| &b.name == name)
                    .map(|b| b.binding.clone())
                    .unwrap_or(Binding::EmptyDir {}),
                name.clone(),
            ),
            WorkspaceSource::Binding(b) => (b.clone(), ws.name.clone()),
        };
        let mut volume = Volume {
            name: ws.volume.clone(),
            ..Volume::default()
        };
        match &binding {
            Binding::EmptyDir {} => volume.empty_dir = Some(EmptyDirVolumeSource::default()),
            Binding::VolumeClaimTemplate {} | Binding::RunShared {} => {
                let template = input.plan.claim_templates.get(&claim_key);
                let name = claim_name(template, &claim_key, input.identity);
                if !out
                    .claims
                    .iter()
                    .any(|c| c.metadata.name.as_deref() == Some(name.as_str()))
                {
                    out.claims.push(claim(template, &name, input.identity)?);
                }
                volume.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                    claim_name: name,
                    read_only: None,
                });
            }
            Binding::PersistentVolumeClaim {
                claim_name,
                read_only,
            } => {
                if let Some(shared) = by_claim.get(claim_name) {
                    out.mounts.push(mount(ws, shared.clone(), render));
                    continue;
                }
                by_claim.insert(claim_name.clone(), ws.volume.clone());
                volume.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim_name.clone(),
                    read_only: read_only.then_some(true),
                });
            }
            Binding::ConfigMap { name, items } => {
                volume.config_map = Some(decode(
                    format_args!("configMap of workspace `{}`", ws.name),
                    &json!({ "name": name, "items": items }),
                )?);
            }
            Binding::Secret { secret_name, items } => {
                volume.secret = Some(decode::<SecretVolumeSource>(
                    format_args!("secret of workspace `{}`", ws.name),
                    &json!({ "secretName": secret_name, "items": items }),
                )?);
            }
            Binding::Dir { path } => {
                return Err(BuildError::HostDirectory {
                    workspace: ws.name.clone(),
                    path: path.clone(),
                });
            }
            Binding::Other { source } => {
                let mut object = match source {
                    Json::Object(map) => map.clone(),
                    _ => serde_json::Map::new(),
                };
                object.insert("name".to_string(), Json::String(ws.volume.clone()));
                volume = decode(
                    format_args!("volume of workspace `{}`", ws.name),
                    &Json::Object(object),
                )?;
            }
        }
        out.mounts.push(mount(ws, ws.volume.clone(), render));
        out.volumes.push(volume);
    }
    Ok(out)
}

fn mount(
    ws: &tkc_compiler::plan::TaskWorkspace,
    volume: String,
    render: &Render,
) -> WorkspaceMount {
    WorkspaceMount {
        name: ws.name.clone(),
        volume,
        mount_path: ws.mount_path.clone(),
        sub_path: ws
            .sub_path
            .as_ref()
            .map(|s| render.text(s))
            .filter(|s| !s.is_empty()),
        read_only: ws.read_only,
        only_in: ws.only_in.clone(),
    }
}

/// The run's `podTemplate` (Tekton's `pod.Template`), as the pod's fields.
pub struct PodTemplate {
    /// Scheduling and security fields, copied onto the pod.
    pub spec: PodSpec,
    /// Appended to every step's `env`.
    pub env: Vec<EnvVar>,
    pub volumes: Vec<Volume>,
}

/// The `pod.Template` fields `pod.Builder.Build` copies onto the pod.
const TEMPLATE_FIELDS: &[&str] = &[
    "nodeSelector",
    "tolerations",
    "affinity",
    "securityContext",
    "runtimeClassName",
    "automountServiceAccountToken",
    "schedulerName",
    "hostNetwork",
    "hostUsers",
    "dnsPolicy",
    "dnsConfig",
    "enableServiceLinks",
    "priorityClassName",
    "imagePullSecrets",
    "hostAliases",
    "topologySpreadConstraints",
];

/// The pod template with each matrix param (`$(params.p)`, which lowering leaves in it for
/// the runtime) replaced by this combination's value.
fn with_matrix_params(value: &Json, render: &Render, matrix: &[String]) -> Json {
    match value {
        Json::String(text) => {
            let mut out = String::with_capacity(text.len());
            let mut at = 0;
            for r in tkc_compiler::vars::parse(text) {
                let RefKind::Param {
                    name,
                    selector: Selector::Whole,
                    ..
                } = &r.kind
                else {
                    continue;
                };
                if !matrix.contains(name) {
                    continue;
                }
                let run = RunValue::MatrixParam {
                    name: name.clone(),
                    index: None,
                };
                let (Some(before), Some(ParamValue::String(v))) =
                    (text.get(at..r.start), render.values.value(&run))
                else {
                    continue;
                };
                out.push_str(before);
                out.push_str(&v);
                at = r.end;
            }
            out.push_str(text.get(at..).unwrap_or_default());
            Json::String(out)
        }
        Json::Array(items) => Json::Array(
            items
                .iter()
                .map(|v| with_matrix_params(v, render, matrix))
                .collect(),
        ),
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), with_matrix_params(v, render, matrix)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl PodTemplate {
    /// The task's pod template, matrix params filled in.
    pub fn of(input: &AttemptInput, render: &Render) -> Result<PodTemplate, BuildError> {
        let matrix: Vec<String> = input
            .task
            .matrix
            .iter()
            .flat_map(|m| {
                m.params.iter().map(|p| p.name.clone()).chain(
                    m.include
                        .iter()
                        .flat_map(|i| i.params.iter().map(|p| p.name.clone())),
                )
            })
            .collect();
        let template = input
            .task
            .pod
            .pod_template
            .as_ref()
            .map(|t| with_matrix_params(t, render, &matrix));
        let Some(Json::Object(t)) = template else {
            return Ok(PodTemplate {
                spec: PodSpec::default(),
                env: Vec::new(),
                volumes: Vec::new(),
            });
        };
        let mut fields = serde_json::Map::new();
        fields.insert("containers".to_string(), Json::Array(Vec::new()));
        for key in TEMPLATE_FIELDS {
            if let Some(v) = t.get(*key) {
                fields.insert((*key).to_string(), v.clone());
            }
        }
        let spec: PodSpec = decode("podTemplate", &Json::Object(fields))?;
        let env = match t.get("env") {
            Some(env) => decode("podTemplate env", env)?,
            None => Vec::new(),
        };
        let volumes = match t.get("volumes") {
            Some(v) => decode("podTemplate volumes", v)?,
            None => Vec::new(),
        };
        Ok(PodTemplate { spec, env, volumes })
    }
}
