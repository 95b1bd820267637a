//! Types shared by several kinds: params, results, when expressions, Kubernetes pieces.

use super::decode::{Cx, Decode, Object, Spanned, StringMap};
use super::duration::Duration;
use super::kube::{self, Kube};
use crate::diag::{Diagnostic, codes};
use crate::model;
use crate::source::Span;
use crate::syntax::{Node, ScalarKind, Value, node_to_json};

/// The types of params, results and properties (`type:`).
pub const TYPES: &[&str] = &["string", "array", "object"];

/// What a step or pipeline task does when it fails (`onError:`).
pub const ON_ERROR: &[&str] = &["continue", "stopAndFail"];

/// A spanned string.
pub type Str = Spanned<String>;

model! {
    /// Standard Kubernetes object metadata.
    #[what = "metadata"]
    pub struct ObjectMeta {
        /// Name of the resource: a DNS-1123 subdomain of at most 63 characters.
        pub name: Option<Str> = "name" { positional: true },
        /// Prefix of a name the API server generates (runs are often created this way).
        pub generate_name: Option<Str> = "generateName",
        pub namespace: Option<Str> = "namespace",
        pub labels: Option<StringMap> = "labels",
        pub annotations: Option<StringMap> = "annotations",
        pub uid: Option<Node> = "uid",
        pub resource_version: Option<Node> = "resourceVersion",
        pub generation: Option<Node> = "generation",
        pub creation_timestamp: Option<Node> = "creationTimestamp",
        pub deletion_timestamp: Option<Node> = "deletionTimestamp",
        pub deletion_grace_period_seconds: Option<Node> = "deletionGracePeriodSeconds",
        pub owner_references: Option<Node> = "ownerReferences",
        pub finalizers: Option<Node> = "finalizers",
        pub managed_fields: Option<Node> = "managedFields",
        pub self_link: Option<Node> = "selfLink",
    }
}

/// A param or result value: Tekton's `ParamValue` (a string, an array of strings or an
/// object of strings).
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    String(String),
    Array(Vec<Str>),
    Object(Vec<(Str, Str)>),
}

impl Default for ParamValue {
    fn default() -> Self {
        ParamValue::String(String::new())
    }
}

impl ParamValue {
    /// `string`, `array` or `object`.
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamValue::String(_) => "string",
            ParamValue::Array(_) => "array",
            ParamValue::Object(_) => "object",
        }
    }

    pub fn as_string(&self) -> Option<&str> {
        match self {
            ParamValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl Decode for ParamValue {
    /// Decodes as Tekton does: a list of strings is an array, a map of strings an object,
    /// anything else a string (a number or boolean as its JSON text; a list or map holding
    /// other values as its JSON text, too, which then fails type checks as it does in Tekton).
    fn decode(node: Node, _cx: &mut Cx) -> Option<Self> {
        Some(match node.value {
            Value::Null => ParamValue::String(String::new()),
            Value::Scalar(s) => ParamValue::String(match s.kind {
                ScalarKind::Str => s.text,
                ScalarKind::Bool(b) => b.to_string(),
                ScalarKind::Int => {
                    super::decode::parse_int(&s.text).map_or(s.text, |n| n.to_string())
                }
                ScalarKind::Float => s.text,
            }),
            Value::Seq(ref items) if items.iter().all(is_string) => {
                let Value::Seq(items) = node.value else {
                    return None;
                };
                ParamValue::Array(
                    items
                        .into_iter()
                        .map(|n| Spanned::new(n.as_str().unwrap_or_default().to_string(), n.span))
                        .collect(),
                )
            }
            Value::Map(ref map)
                if map.entries.iter().all(|e| is_string(&e.value)) && map.args.is_empty() =>
            {
                let Value::Map(map) = node.value else {
                    return None;
                };
                ParamValue::Object(
                    map.entries
                        .into_iter()
                        .map(|e| {
                            let value = Spanned::new(
                                e.value.as_str().unwrap_or_default().to_string(),
                                e.value.span,
                            );
                            (Spanned::new(e.key, e.key_span), value)
                        })
                        .collect(),
                )
            }
            _ => ParamValue::String(node_to_json(&node).to_string()),
        })
    }
}

fn is_string(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar(s) if s.kind == ScalarKind::Str)
}

model! {
    /// A param value passed to a Task, Pipeline or StepAction.
    #[what = "param"]
    pub struct Param {
        /// The name of the declared param this value is for.
        pub name: Str = "name" { required: true, positional: true },
        /// The value: a string, an array of strings or an object of strings.
        pub value: Option<Spanned<ParamValue>> = "value",
    }
}

model! {
    /// The type of one key of an object param or result.
    #[what = "property"]
    pub struct PropertySpec {
        /// Always `string`.
        pub r#type: Option<Str> = "type" { values: TYPES },
    }
}

/// The `properties` of an object param or result: key → spec, in source order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Properties(pub Vec<(Str, PropertySpec)>);

impl Properties {
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k.value == key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &Str> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl Decode for Properties {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        let Value::Map(map) = node.value else {
            cx.wrong_type(&node, "a mapping of property names to their types");
            return None;
        };
        let mut out = Vec::new();
        for entry in map.entries {
            let key = Spanned::new(entry.key, entry.key_span);
            let spec = match entry.value.value {
                Value::Null => PropertySpec {
                    span: entry.key_span,
                    ..PropertySpec::default()
                },
                _ => PropertySpec::decode(entry.value, cx)?,
            };
            out.push((key, spec));
        }
        Some(Properties(out))
    }
}

model! {
    /// A param a Task, Pipeline or StepAction declares.
    #[what = "param declaration"]
    pub struct ParamSpec {
        /// The param's name.
        pub name: Str = "name" { required: true, positional: true },
        /// `string` (the default), `array` or `object` (implied by `properties`).
        pub r#type: Option<Str> = "type" { values: TYPES },
        /// What the param is for.
        pub description: Option<Str> = "description",
        /// The keys of an object param.
        pub properties: Option<Properties> = "properties",
        /// The value when none is given; a param without a default is required.
        pub default: Option<Spanned<ParamValue>> = "default",
        /// The values the param may take (alpha: `enable-param-enum`).
        pub r#enum: Vec<Str> = "enum" { gate: super::decode::ApiFields::Alpha },
    }
}

/// A param's type after Tekton's defaulting.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ParamType {
    String,
    Array,
    Object,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Array => "array",
            ParamType::Object => "object",
        }
    }

    pub fn parse(s: &str) -> Option<ParamType> {
        match s {
            "string" => Some(ParamType::String),
            "array" => Some(ParamType::Array),
            "object" => Some(ParamType::Object),
            _ => None,
        }
    }

    pub fn of_value(value: &ParamValue) -> ParamType {
        match value {
            ParamValue::String(_) => ParamType::String,
            ParamValue::Array(_) => ParamType::Array,
            ParamValue::Object(_) => ParamType::Object,
        }
    }

    /// Tekton's defaulting of a param's or result's `type`: the explicit type; else object
    /// when `properties` are given; else the type of the value (a param's default, a pipeline
    /// result's value); else string. An unknown explicit type gives `None` (a check reports
    /// it). The one place this rule lives: checks, lowering and `--emit tekton` all call it.
    pub fn defaulted(
        explicit: Option<&str>,
        has_properties: bool,
        value: Option<ParamType>,
    ) -> Option<ParamType> {
        match explicit {
            Some(t) if !t.is_empty() => ParamType::parse(t),
            _ if has_properties => Some(ParamType::Object),
            _ => Some(value.unwrap_or(ParamType::String)),
        }
    }
}

impl ParamSpec {
    /// The type as Tekton defaults it (see [`ParamType::defaulted`]).
    pub fn param_type(&self) -> Option<ParamType> {
        ParamType::defaulted(
            self.r#type.as_deref().map(String::as_str),
            self.properties.is_some(),
            self.default.as_deref().map(ParamType::of_value),
        )
    }
}

impl TaskResult {
    /// The type as Tekton defaults it (see [`ParamType::defaulted`]).
    pub fn result_type(&self) -> Option<ParamType> {
        ParamType::defaulted(
            self.r#type.as_deref().map(String::as_str),
            self.properties.is_some(),
            None,
        )
    }
}

impl StepResult {
    /// The type as Tekton defaults it (see [`ParamType::defaulted`]).
    pub fn result_type(&self) -> Option<ParamType> {
        ParamType::defaulted(
            self.r#type.as_deref().map(String::as_str),
            self.properties.is_some(),
            None,
        )
    }
}

model! {
    /// A result a Task declares.
    #[what = "result"]
    pub struct TaskResult {
        /// The result's name; steps write it to `$(results.<name>.path)`.
        pub name: Str = "name" { required: true, positional: true },
        /// `string` (the default), `array` or `object` (implied by `properties`).
        pub r#type: Option<Str> = "type" { values: TYPES },
        /// The keys of an object result.
        pub properties: Option<Properties> = "properties",
        pub description: Option<Str> = "description",
        /// `$(steps.<step>.results.<name>)`: the result is copied from that step result.
        pub value: Option<Spanned<ParamValue>> = "value",
    }
}

model! {
    /// A result a step (or StepAction) declares.
    #[what = "step result"]
    pub struct StepResult {
        /// The result's name; the step writes it to `$(step.results.<name>.path)`.
        pub name: Str = "name" { required: true, positional: true },
        pub r#type: Option<Str> = "type" { values: TYPES },
        pub properties: Option<Properties> = "properties",
        pub description: Option<Str> = "description",
    }
}

model! {
    /// A guard: the task (or step) runs only if every expression is true.
    #[what = "when expression"]
    pub struct WhenExpression {
        /// The value tested, usually a `$(params...)` or `$(tasks...)` reference.
        pub input: Option<Str> = "input",
        /// `in` or `notin`.
        pub operator: Option<Str> = "operator" { values: &["in", "notin"] },
        /// The values `input` is compared with.
        pub values: Vec<Str> = "values",
        /// A CEL expression instead of input/operator/values (alpha:
        /// `enable-cel-in-whenexpression`).
        pub cel: Option<Str> = "cel" { gate: super::decode::ApiFields::Alpha },
    }
}

model! {
    /// An environment variable of a container.
    #[what = "env var"]
    pub struct EnvVar {
        pub name: Str = "name" { required: true, positional: true },
        pub value: Option<Str> = "value",
        /// A value from a Secret, ConfigMap, field or resource.
        pub value_from: Option<Kube<kube::EnvVarSource>> = "valueFrom",
    }
}

model! {
    /// A volume mounted into a container.
    #[what = "volume mount"]
    pub struct VolumeMount {
        /// The volume's name.
        pub name: Str = "name" { required: true, positional: true },
        pub mount_path: Str = "mountPath" { required: true },
        pub read_only: Option<Spanned<bool>> = "readOnly",
        pub sub_path: Option<Str> = "subPath",
        pub sub_path_expr: Option<Str> = "subPathExpr",
        pub mount_propagation: Option<Str> = "mountPropagation",
        pub recursive_read_only: Option<Str> = "recursiveReadOnly",
    }
}

model! {
    /// A ConfigMap as a volume or workspace.
    #[what = "configMap source"]
    pub struct ConfigMapSource {
        pub name: Str = "name" { required: true, positional: true },
        pub items: Option<Node> = "items",
        pub default_mode: Option<Spanned<i64>> = "defaultMode",
        pub optional: Option<Spanned<bool>> = "optional",
    }
}

model! {
    /// A Secret as a volume or workspace.
    #[what = "secret source"]
    pub struct SecretSource {
        pub secret_name: Str = "secretName" { required: true, positional: true },
        pub items: Option<Node> = "items",
        pub default_mode: Option<Spanned<i64>> = "defaultMode",
        pub optional: Option<Spanned<bool>> = "optional",
    }
}

/// One file a ConfigMap, Secret, downward API or token source puts into a volume: Kubernetes'
/// `KeyToPath` (`items[]`), or the `path` of a projected source that has no `items`. `key` is
/// the ConfigMap or Secret key it comes from, when it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeFile {
    pub key: Option<Str>,
    pub path: Option<Str>,
}

/// The files of an `items` list (entries that are not mappings, or fields that are not
/// strings, are the schema's business and skipped here).
pub fn volume_items(items: Option<&Node>) -> Vec<VolumeFile> {
    let Some(Node {
        value: Value::Seq(list),
        ..
    }) = items
    else {
        return Vec::new();
    };
    list.iter()
        .filter(|item| item.as_map().is_some())
        .map(|item| VolumeFile {
            key: string_field(item, "key"),
            path: string_field(item, "path"),
        })
        .collect()
}

/// The files of a `projected` volume source: `sources[].configMap.items`, `secret.items`,
/// `downwardAPI.items`, and the `path` of `serviceAccountToken` and `clusterTrustBundle`.
pub fn projected_files(projected: &Object) -> Vec<VolumeFile> {
    let Some(Node {
        value: Value::Seq(sources),
        ..
    }) = projected.0.as_ref().and_then(|p| p.get("sources"))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for source in sources {
        for with_items in ["configMap", "secret", "downwardAPI"] {
            if let Some(inner) = source.get(with_items) {
                out.extend(volume_items(inner.get("items")));
            }
        }
        for with_path in ["serviceAccountToken", "clusterTrustBundle"] {
            if let Some(inner) = source.get(with_path) {
                out.push(VolumeFile {
                    key: None,
                    path: string_field(inner, "path"),
                });
            }
        }
    }
    out
}

/// The string at `key` of a map node, with the value's span.
pub(crate) fn string_field(node: &Node, key: &str) -> Option<Str> {
    let value = node.get(key)?;
    value
        .as_str()
        .map(|text| Spanned::new(text.to_string(), value.span))
}

model! {
    /// A PersistentVolumeClaim as a volume or workspace.
    #[what = "persistentVolumeClaim source"]
    pub struct PvcSource {
        pub claim_name: Str = "claimName" { required: true, positional: true },
        pub read_only: Option<Spanned<bool>> = "readOnly",
    }
}

model! {
    /// A pod volume (Kubernetes `Volume`); sources tkc does not interpret are kept as written.
    #[what = "volume"]
    pub struct Volume {
        pub name: Str = "name" { required: true, positional: true },
        pub empty_dir: Option<Kube<kube::EmptyDirVolumeSource>> = "emptyDir",
        pub config_map: Option<ConfigMapSource> = "configMap",
        pub secret: Option<SecretSource> = "secret",
        pub persistent_volume_claim: Option<PvcSource> = "persistentVolumeClaim",
        pub host_path: Option<Kube<kube::HostPathVolumeSource>> = "hostPath",
        pub projected: Option<Kube<kube::ProjectedVolumeSource>> = "projected",
        pub csi: Option<Kube<kube::CSIVolumeSource>> = "csi",
        pub downward_api: Option<Kube<kube::DownwardAPIVolumeSource>> = "downwardAPI",
        pub ephemeral: Option<Kube<kube::EphemeralVolumeSource>> = "ephemeral",
        pub image: Option<Kube<kube::ImageVolumeSource>> = "image",
        pub nfs: Option<Kube<kube::NFSVolumeSource>> = "nfs",
        pub git_repo: Option<Kube<kube::GitRepoVolumeSource>> = "gitRepo",
        pub iscsi: Option<Kube<kube::ISCSIVolumeSource>> = "iscsi",
        pub aws_elastic_block_store: Option<Kube<kube::AWSElasticBlockStoreVolumeSource>> = "awsElasticBlockStore",
        pub gce_persistent_disk: Option<Kube<kube::GCEPersistentDiskVolumeSource>> = "gcePersistentDisk",
        pub azure_disk: Option<Kube<kube::AzureDiskVolumeSource>> = "azureDisk",
        pub azure_file: Option<Kube<kube::AzureFileVolumeSource>> = "azureFile",
        pub cephfs: Option<Kube<kube::CephFSVolumeSource>> = "cephfs",
        pub cinder: Option<Kube<kube::CinderVolumeSource>> = "cinder",
        pub fc: Option<Kube<kube::FCVolumeSource>> = "fc",
        pub flex_volume: Option<Kube<kube::FlexVolumeSource>> = "flexVolume",
        pub flocker: Option<Kube<kube::FlockerVolumeSource>> = "flocker",
        pub glusterfs: Option<Kube<kube::GlusterfsVolumeSource>> = "glusterfs",
        pub photon_persistent_disk: Option<Kube<kube::PhotonPersistentDiskVolumeSource>> = "photonPersistentDisk",
        pub portworx_volume: Option<Kube<kube::PortworxVolumeSource>> = "portworxVolume",
        pub quobyte: Option<Kube<kube::QuobyteVolumeSource>> = "quobyte",
        pub rbd: Option<Kube<kube::RBDVolumeSource>> = "rbd",
        pub scale_io: Option<Kube<kube::ScaleIOVolumeSource>> = "scaleIO",
        pub storageos: Option<Kube<kube::StorageOSVolumeSource>> = "storageos",
        pub vsphere_volume: Option<Kube<kube::VsphereVirtualDiskVolumeSource>> = "vsphereVolume",
    }
}

model! {
    /// A workspace a run binds to a volume source.
    #[what = "workspace binding"]
    pub struct WorkspaceBinding {
        /// The declared workspace this binding is for.
        pub name: Str = "name" { required: true, positional: true },
        /// A directory inside the volume to use as the workspace.
        pub sub_path: Option<Str> = "subPath",
        pub persistent_volume_claim: Option<PvcSource> = "persistentVolumeClaim",
        /// A PVC created for the run (one per PipelineRun workspace) and deleted with it.
        pub volume_claim_template: Option<Kube<kube::PersistentVolumeClaim>> = "volumeClaimTemplate" { schemaless: true },
        pub empty_dir: Option<Kube<kube::EmptyDirVolumeSource>> = "emptyDir",
        pub config_map: Option<ConfigMapSource> = "configMap",
        pub secret: Option<SecretSource> = "secret",
        pub projected: Option<Kube<kube::ProjectedVolumeSource>> = "projected",
        pub csi: Option<Kube<kube::CSIVolumeSource>> = "csi",
    }
}

impl WorkspaceBinding {
    /// The names of the sources given (a binding needs exactly one).
    pub fn sources(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.persistent_volume_claim.is_some() {
            out.push("persistentVolumeClaim");
        }
        if self.volume_claim_template.is_some() {
            out.push("volumeClaimTemplate");
        }
        if self.empty_dir.is_some() {
            out.push("emptyDir");
        }
        if self.config_map.is_some() {
            out.push("configMap");
        }
        if self.secret.is_some() {
            out.push("secret");
        }
        if self.projected.is_some() {
            out.push("projected");
        }
        if self.csi.is_some() {
            out.push("csi");
        }
        out
    }
}

/// Decodes a Go duration (`90s`, `1h30m`, `0`).
impl Decode for Duration {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        let span = node.span;
        // A number is a wrong type (Kubernetes wants a string), reported once: not also as
        // an invalid duration.
        if !matches!(&node.value, Value::Scalar(s) if s.kind == ScalarKind::Str) {
            let help = match &node.value {
                Value::Scalar(s) if s.kind == ScalarKind::Int => {
                    format!("give the unit, as a string: \"{}s\"", s.text)
                }
                _ => "write a Go duration as a string: \"90s\", \"10m\", \"1h30m\"".to_string(),
            };
            let d = cx
                .wrong_type_diagnostic(&node, "a duration string")
                .with_help(help);
            cx.push(d);
            return None;
        }
        let text = String::decode(node, cx)?;
        match Duration::parse(&text) {
            Some(d) => Some(d),
            None => {
                cx.push(invalid_duration(&text, span));
                None
            }
        }
    }
}

fn invalid_duration(text: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        &codes::INVALID_DURATION,
        format!("invalid duration `{text}`"),
    )
    .with_label(span, "not a Go duration")
    .with_help("write a number with a unit: `90s`, `10m`, `1h30m`, or `0` for no timeout")
}

impl<T: Decode> Decode for Box<T> {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        T::decode(node, cx).map(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::ParamType::{self, Array, Object, String};

    #[test]
    fn type_defaulting_follows_tekton() {
        // Explicit wins, even over properties and the value.
        assert_eq!(
            ParamType::defaulted(Some("array"), true, Some(Object)),
            Some(Array)
        );
        // An empty type is no type.
        assert_eq!(ParamType::defaulted(Some(""), true, None), Some(Object));
        assert_eq!(ParamType::defaulted(None, false, Some(Array)), Some(Array));
        assert_eq!(ParamType::defaulted(None, false, None), Some(String));
        // An unknown type is left for the checks to report.
        assert_eq!(ParamType::defaulted(Some("list"), false, None), None);
    }
}
