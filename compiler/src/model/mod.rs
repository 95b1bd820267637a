//! The typed Tekton model: Task, Pipeline, TaskRun, PipelineRun and StepAction
//! (`tekton.dev/v1`; `v1beta1` documents are converted on the way in).
//!
//! [`decode_document`] is the only place that knows field names: it turns a syntax [`Node`]
//! into a [`Document`], reporting unknown, mistyped, missing and feature-gated fields.
//! Documents of other kinds (RBAC, PVCs, ...) are skipped; ConfigMaps and Secrets are kept
//! for the local runtime's workspaces.

pub mod common;
pub mod decode;
pub mod duration;
pub mod encode;
pub mod kube;
pub mod pipeline;
pub mod quantity;
pub mod run;
pub mod shape;
pub mod task;
pub mod v1beta1;

pub use common::*;
pub use decode::{ApiFields, ApiVersion, Cx, Decode, Object, Spanned, StringMap};
pub use duration::Duration;
pub use kube::Kube;
pub use pipeline::*;
pub use run::*;
pub use task::*;

use crate::diag::{Diagnostic, codes};
use crate::source::{FileId, Span, Syntax};
use crate::suggest::did_you_mean;
use crate::syntax::{Node, Value};

/// The kinds tkc models.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Kind {
    Task,
    /// A v1beta1 cluster-scoped Task (removed from Tekton; read as a Task).
    ClusterTask,
    Pipeline,
    TaskRun,
    PipelineRun,
    StepAction,
    ConfigMap,
    Secret,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "Task",
            Kind::ClusterTask => "ClusterTask",
            Kind::Pipeline => "Pipeline",
            Kind::TaskRun => "TaskRun",
            Kind::PipelineRun => "PipelineRun",
            Kind::StepAction => "StepAction",
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
        }
    }

    /// The versions Tekton serves this kind at.
    fn served(self) -> &'static [ApiVersion] {
        match self {
            Kind::Task | Kind::Pipeline | Kind::TaskRun | Kind::PipelineRun => {
                &[ApiVersion::V1, ApiVersion::V1beta1]
            }
            Kind::ClusterTask => &[ApiVersion::V1beta1],
            Kind::StepAction => &[ApiVersion::V1beta1, ApiVersion::V1alpha1],
            Kind::ConfigMap | Kind::Secret => &[],
        }
    }
}

const TEKTON_KINDS: &[Kind] = &[
    Kind::Task,
    Kind::ClusterTask,
    Kind::Pipeline,
    Kind::TaskRun,
    Kind::PipelineRun,
    Kind::StepAction,
];

/// Kinds of the tekton.dev group tkc does not check (and does not report).
const OTHER_TEKTON_KINDS: &[&str] = &[
    "CustomRun",
    "Run",
    "Condition",
    "PipelineResource",
    "VerificationPolicy",
    "ResolutionRequest",
];

/// What a document holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    Task(Box<TaskSpec>),
    Pipeline(Box<PipelineSpec>),
    TaskRun(Box<TaskRunSpec>),
    PipelineRun(Box<PipelineRunSpec>),
    StepAction(Box<StepActionSpec>),
    ConfigMap(ConfigData),
    Secret(ConfigData),
}

/// The data of a ConfigMap or Secret (Secret `data` is base64, `stringData` plain).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigData {
    pub data: StringMap,
    pub string_data: StringMap,
    pub binary_data: StringMap,
}

/// One decoded resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub kind: Kind,
    /// The `kind` value as written.
    pub kind_span: Span,
    /// The version it was written in (it is converted to v1).
    pub version: ApiVersion,
    pub metadata: ObjectMeta,
    pub resource: Resource,
    /// The whole document.
    pub span: Span,
    pub syntax: Syntax,
}

impl Document {
    pub fn file(&self) -> FileId {
        self.span.file
    }

    /// `metadata.name`, or `generateName`, or "".
    pub fn name(&self) -> &str {
        self.metadata
            .name
            .as_ref()
            .or(self.metadata.generate_name.as_ref())
            .map_or("", |n| n.as_str())
    }

    /// Where to point at the resource: its name, else its kind.
    pub fn name_span(&self) -> Span {
        self.metadata
            .name
            .as_ref()
            .or(self.metadata.generate_name.as_ref())
            .map_or(self.kind_span, |n| n.span)
    }
}

/// Decodes one top-level node. `None` for documents tkc does not model (they are skipped
/// silently: a repository's other YAML is none of tkc's business), and for Tekton documents
/// whose kind or apiVersion is wrong (reported).
pub fn decode_document(node: Node, cx: &mut Cx) -> Option<Document> {
    let doc_span = node.span;
    let syntax = node.origin;
    let Value::Map(map) = node.value else {
        return None;
    };
    let field = |key: &str| map.entries.iter().find(|e| e.key == key);
    let api_version = field("apiVersion")?.value.as_str()?.to_string();
    let api_version_span = field("apiVersion")?.value.span;
    let kind_entry = field("kind")?;
    let kind_name = kind_entry.value.as_str()?.to_string();
    let kind_span = kind_entry.value.span;

    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let kind = match group {
        "tekton.dev" => tekton_kind(&kind_name, kind_span, cx)?,
        "" if kind_name == "ConfigMap" => Kind::ConfigMap,
        "" if kind_name == "Secret" => Kind::Secret,
        _ => {
            // A near-miss of the Tekton group on a Tekton kind is a typo, not another API.
            let tekton_kind = TEKTON_KINDS.iter().any(|k| k.as_str() == kind_name);
            if tekton_kind && did_you_mean(group, ["tekton.dev"]).is_some() {
                cx.push(
                    Diagnostic::new(
                        &codes::UNKNOWN_API_VERSION,
                        format!("unknown apiVersion `{api_version}`"),
                    )
                    .with_label(api_version_span, "not a Tekton API group")
                    .with_help(format!("did you mean `tekton.dev/{version}`?")),
                );
            }
            return None;
        }
    };
    let api = match version {
        "v1" => Some(ApiVersion::V1),
        "v1beta1" => Some(ApiVersion::V1beta1),
        "v1alpha1" => Some(ApiVersion::V1alpha1),
        _ => None,
    };
    let served = api.is_some_and(|v| kind.served().contains(&v));
    if group == "tekton.dev" && !served {
        let served: Vec<String> = kind
            .served()
            .iter()
            .map(|v| format!("`{}`", v.as_str()))
            .collect();
        cx.push(
            Diagnostic::new(
                &codes::UNKNOWN_API_VERSION,
                format!("{kind_name} is not served at `{api_version}`"),
            )
            .with_label(api_version_span, "unknown apiVersion")
            .with_help(format!(
                "Tekton serves {kind_name} at {}",
                served.join(" and ")
            )),
        );
        return None;
    }
    // ConfigMaps and Secrets are core `v1`; their fields are not checked.
    let api = api
        .filter(|_| group == "tekton.dev")
        .unwrap_or(ApiVersion::V1);
    cx.version = api;

    let mut metadata = None;
    let mut spec = None;
    // A misspelt `spec` is reported once, as an unknown field, not also as a missing spec.
    let mut spec_misspelt = false;
    let mut data = ConfigData::default();
    for entry in map.entries {
        match entry.key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" if entry.value.value != Value::Null => {
                metadata = ObjectMeta::decode(entry.value, cx);
            }
            "spec" if matches!(kind, Kind::ConfigMap | Kind::Secret) => {}
            "spec" => spec = Some((entry.key_span, entry.value)),
            "data" | "stringData" | "binaryData"
                if matches!(kind, Kind::ConfigMap | Kind::Secret) =>
            {
                if entry.value.value == Value::Null {
                    continue;
                }
                let map = StringMap::decode(entry.value, cx).unwrap_or_default();
                match entry.key.as_str() {
                    "data" => data.data = map,
                    "stringData" => data.string_data = map,
                    _ => data.binary_data = map,
                }
            }
            _ if matches!(kind, Kind::ConfigMap | Kind::Secret) => {}
            other => {
                let suggestion =
                    did_you_mean(other, ["apiVersion", "kind", "metadata", "spec", "status"]);
                spec_misspelt |= suggestion == Some("spec");
                let help = suggestion
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        "a resource has `apiVersion`, `kind`, `metadata` and `spec`".to_string()
                    });
                cx.push(
                    Diagnostic::new(
                        &codes::UNKNOWN_FIELD,
                        format!("unknown field `{other}` in {kind_name}"),
                    )
                    .with_label(entry.key_span, "unknown field")
                    .with_help(help),
                );
            }
        }
    }

    let resource = match kind {
        Kind::ConfigMap => Resource::ConfigMap(data),
        Kind::Secret => Resource::Secret(data),
        _ => {
            let Some((key_span, spec)) = spec.filter(|(_, n)| n.value != Value::Null) else {
                if spec_misspelt {
                    return None;
                }
                cx.push(
                    Diagnostic::new(
                        &codes::MISSING_FIELD,
                        format!("missing field `spec` in {kind_name}"),
                    )
                    .with_label(kind_span, format!("this {kind_name} has no spec")),
                );
                return None;
            };
            decode_spec(kind, key_span, spec, cx)?
        }
    };
    let mut document = Document {
        kind,
        kind_span,
        version: api,
        metadata: metadata.unwrap_or_default(),
        resource,
        span: doc_span,
        syntax,
    };
    if api == ApiVersion::V1beta1 {
        if let Resource::PipelineRun(run) = &document.resource
            && let (Some(timeout), Some(timeouts)) = (&run.timeout, &run.timeouts)
        {
            // Conversion folds `timeout` into `timeouts`: report before the fact is lost.
            cx.push(
                Diagnostic::new(
                    &crate::check::runs::TIMEOUT_AND_TIMEOUTS,
                    "must not set the field(s): timeout, timeouts",
                )
                .with_label(timeout.span, "the deprecated `timeout`")
                .with_secondary(timeouts.head, "and `timeouts`")
                .with_help("move the value to `timeouts.pipeline`"),
            );
        }
        disallowed_bundles(&document.resource, cx);
        v1beta1::convert(&mut document);
    }
    cx.version = ApiVersion::V1;
    Some(document)
}

/// The spec of a Tekton kind; "missing field" reports of the spec point at `spec:`.
fn decode_spec(kind: Kind, key_span: Span, spec: Node, cx: &mut Cx) -> Option<Resource> {
    cx.set_parent_key(key_span);
    Some(match kind {
        Kind::Task | Kind::ClusterTask => Resource::Task(Box::decode(spec, cx)?),
        Kind::Pipeline => Resource::Pipeline(Box::decode(spec, cx)?),
        Kind::TaskRun => Resource::TaskRun(Box::decode(spec, cx)?),
        Kind::PipelineRun => Resource::PipelineRun(Box::decode(spec, cx)?),
        Kind::StepAction => Resource::StepAction(Box::decode(spec, cx)?),
        Kind::ConfigMap | Kind::Secret => return None,
    })
}

fn tekton_kind(name: &str, span: Span, cx: &mut Cx) -> Option<Kind> {
    if let Some(kind) = TEKTON_KINDS.iter().find(|k| k.as_str() == name) {
        return Some(*kind);
    }
    if OTHER_TEKTON_KINDS.contains(&name) {
        return None;
    }
    let names = TEKTON_KINDS.iter().map(|k| k.as_str());
    let help = match did_you_mean(name, names) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "tkc checks Task, Pipeline, TaskRun, PipelineRun and StepAction".to_string(),
    };
    cx.push(
        Diagnostic::new(
            &codes::UNKNOWN_KIND,
            format!("unknown kind `{name}` in tekton.dev"),
        )
        .with_label(span, "unknown kind")
        .with_help(help),
    );
    None
}

/// v1beta1 `bundle` references: `TaskRef.Validate` and `PipelineRef.Validate`
/// (`pkg/apis/pipeline/v1beta1/*ref_validation.go`) refuse them when an object is created
/// (`apis.IsInCreate`), and applying a file creates it. Reported before conversion turns them
/// into the `bundles` resolver.
fn disallowed_bundles(resource: &Resource, cx: &mut Cx) {
    fn pipeline<'a>(spec: &'a pipeline::PipelineSpec, out: &mut Vec<&'a Str>) {
        for task in spec.tasks.iter().chain(&spec.finally) {
            if let Some(b) = task.task_ref.as_ref().and_then(|r| r.bundle.as_ref()) {
                out.push(b);
            }
        }
    }
    let mut bundles: Vec<&Str> = Vec::new();
    match resource {
        Resource::Pipeline(spec) => pipeline(spec, &mut bundles),
        Resource::PipelineRun(run) => {
            bundles.extend(run.pipeline_ref.as_ref().and_then(|r| r.bundle.as_ref()));
            if let Some(spec) = &run.pipeline_spec {
                pipeline(spec, &mut bundles);
            }
        }
        Resource::TaskRun(run) => {
            bundles.extend(run.task_ref.as_ref().and_then(|r| r.bundle.as_ref()));
        }
        _ => {}
    }
    for bundle in bundles {
        cx.push(
            Diagnostic::new(&codes::DISALLOWED_FIELD, "must not set the field(s): bundle")
                .with_label(bundle.span, "Tekton refuses `bundle` on new resources")
                .with_help("use the bundles resolver: `resolver: bundles` with params `bundle`, `name` and `kind`"),
        );
    }
}

#[cfg(test)]
mod size_tests {
    use super::PipelineTask;

    /// A pipeline task is held in memory 100,000 times over in a large world (issue 11): its
    /// big and rarely set parts (`taskSpec`, `pipelineRef`, `matrix`, `timeout`) are boxed, so
    /// that a task which does not use them does not pay for them (1,792 bytes a task before,
    /// 600 after).
    #[test]
    fn a_pipeline_task_stays_small() {
        let size = std::mem::size_of::<PipelineTask>();
        assert!(size <= 640, "a PipelineTask takes {size} bytes");
    }
}
