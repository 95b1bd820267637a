//! Kubernetes objects inside Tekton resources (`securityContext`, `computeResources`, volume
//! sources, `valueFrom`, the `podTemplate`, ...), typed by their `k8s_openapi` definitions.
//!
//! They are kept as written (a [`Node`], so that checks can point into them and lowering can
//! substitute into them), and checked on the way in against the Kubernetes type of the field:
//! the value is decoded into the `k8s_openapi` type, as the API server (where Tekton's CRD
//! schema types the field) or the webhook's `encoding/json` (where it leaves it open) decodes
//! it. A value of the wrong type (`runAsUser: "1000"`, `imagePullSecrets: [name]`) fails the
//! decode: `tkc::schema::wrong-type` at the value. A key the round trip drops is one the type
//! does not declare: `tkc::schema::unknown-field`, or `tkc::schema::field-case` when it is a
//! declared field in another case. The field names come from the type itself: its
//! `Deserialize` hands them to `deserialize_struct`, which [`fields_at`] asks for.
//!
//! So what is accepted is decided by the Kubernetes types, never by a list written here.
//! KDL documents are not typed this way (their objects are written node by node, and the
//! KDL-specific rules of `decode` apply).

use std::cell::Cell;
use std::marker::PhantomData;

use k8s_openapi::api::core::v1 as core;
use serde::de::{self, DeserializeOwned, IntoDeserializer};
use serde::{Deserialize, Serialize};

use super::decode::{Cx, Decode, Object};
use super::encode::Encode;
use super::quantity::Quantity;
use super::shape::{Described, Shape};
use crate::diag::{Diagnostic, Severity, codes};
use crate::source::Syntax;
use crate::suggest::did_you_mean;
use crate::syntax::{Node, Value, node_to_json};

/// A Kubernetes object of type `T`, kept as written. Derefs to the untyped [`Object`].
pub struct Kube<T> {
    pub object: Object,
    kind: PhantomData<fn() -> T>,
}

impl<T> std::ops::Deref for Kube<T> {
    type Target = Object;
    fn deref(&self) -> &Object {
        &self.object
    }
}

impl<T> AsRef<Object> for Kube<T> {
    fn as_ref(&self) -> &Object {
        &self.object
    }
}

impl<T> Clone for Kube<T> {
    fn clone(&self) -> Self {
        Kube {
            object: self.object.clone(),
            kind: PhantomData,
        }
    }
}

impl<T> Default for Kube<T> {
    fn default() -> Self {
        Kube {
            object: Object::default(),
            kind: PhantomData,
        }
    }
}

impl<T> PartialEq for Kube<T> {
    fn eq(&self, other: &Self) -> bool {
        self.object == other.object
    }
}

impl<T> std::fmt::Debug for Kube<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.object.fmt(f)
    }
}

impl<T> Encode for Kube<T> {
    fn encode(&self) -> Option<serde_json::Value> {
        self.object.encode()
    }
}

impl<T> Described for Kube<T> {
    fn shape() -> Shape {
        Shape::Object
    }
}

impl<T: DeserializeOwned + Serialize + 'static> Decode for Kube<T> {
    fn decode(node: Node, cx: &mut Cx) -> Option<Self> {
        let reported = cx.diagnostics.len();
        let object = Object::decode(node, cx)?;
        // One report per mistake: what `Object` found (a capability given as one string) is
        // the same mistake the typed decode would find again.
        if cx.diagnostics.len() == reported
            && let Some(node) = &object.0
            && node.origin == Syntax::Yaml
        {
            check_typed::<T>(node, cx);
        }
        Some(Kube {
            object,
            kind: PhantomData,
        })
    }
}

/// One step of a path into a value.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Item,
}

/// Decodes `node` as a `T` and reports the first type error, or every key the type does not
/// declare.
fn check_typed<T: DeserializeOwned + Serialize + 'static>(node: &Node, cx: &mut Cx) {
    let json = node_to_json(node);
    match serde_path_to_error::deserialize::<_, T>(&json) {
        Err(e) => {
            let mut at = node;
            let mut shown = Vec::new();
            for segment in e.path().iter() {
                let next = match segment {
                    serde_path_to_error::Segment::Map { key } => {
                        shown.push(key.clone());
                        at.get(key)
                    }
                    serde_path_to_error::Segment::Seq { index } => {
                        match shown.last_mut() {
                            Some(last) => last.push_str(&format!("[{index}]")),
                            None => shown.push(format!("[{index}]")),
                        }
                        match &at.value {
                            Value::Seq(items) => items.get(*index),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                match next {
                    Some(n) => at = n,
                    None => break,
                }
            }
            let inner = e.into_inner().to_string();
            let expected = inner
                .rsplit_once("expected ")
                .map_or("another type", |(_, e)| e);
            let expected = match expected {
                "i32" | "i64" | "u32" | "u64" | "a 32-bit integer" => "an integer".to_string(),
                "a sequence" => "a list".to_string(),
                "a map" => "a mapping".to_string(),
                "a string" | "a boolean" => expected.to_string(),
                other if other.starts_with("a ") || other.starts_with("an ") => other.to_string(),
                other => format!("a mapping ({other})"),
            };
            let field = if shown.is_empty() {
                String::new()
            } else {
                format!("`{}` ", shown.join("."))
            };
            cx.push(
                Diagnostic::new(
                    &codes::WRONG_TYPE,
                    format!("{field}expects {expected}, found {}", at.describe()),
                )
                .with_label(cx.head(at), format!("this is {}", at.describe()))
                .with_help("Kubernetes decodes this field with its own type and rejects the value"),
            );
        }
        Ok(typed) => {
            let Ok(out) = serde_json::to_value(&typed) else {
                return;
            };
            let mut path = Vec::new();
            unknown_keys::<T>(node, &out, &mut path, cx);
            quantities::<T>(node, &mut path, cx);
        }
    }
}

/// Reports the keys of `input` that the typed round trip `output` lost.
fn unknown_keys<T: DeserializeOwned + 'static>(
    input: &Node,
    output: &serde_json::Value,
    path: &mut Vec<Step>,
    cx: &mut Cx,
) {
    // The podTemplate's `affinity`, `securityContext` and `volumes` are
    // `x-kubernetes-preserve-unknown-fields` in 300-taskrun.yaml and 300-pipelinerun.yaml.
    let open = std::any::TypeId::of::<T>() == std::any::TypeId::of::<PodTemplate>()
        && matches!(path.first(), Some(Step::Key(k)) if matches!(k.as_str(), "affinity" | "securityContext" | "volumes"));
    let schemaless = cx.schemaless || open;
    match (&input.value, output) {
        (Value::Map(map), serde_json::Value::Object(out)) => {
            for entry in &map.entries {
                if let Some(value) = out.get(&entry.key) {
                    path.push(Step::Key(entry.key.clone()));
                    unknown_keys::<T>(&entry.value, value, path, cx);
                    path.pop();
                    continue;
                }
                if entry.value.value == Value::Null {
                    continue;
                }
                let fields = fields_at::<T>(path).unwrap_or_default();
                let d = match fields.iter().find(|f| f.eq_ignore_ascii_case(&entry.key)) {
                    Some(field) if schemaless => Diagnostic::new(
                        &codes::FIELD_CASE,
                        format!("field `{field}` is spelled `{}`", entry.key),
                    )
                    .with_severity(Severity::Warning)
                    .with_label(entry.key_span, "different case")
                    .with_help(format!(
                        "write `{field}`: in this part, which the CRD schema leaves open, Tekton's decoder accepts any case, but other tools and schemas do not"
                    )),
                    Some(field) => Diagnostic::new(
                        &codes::FIELD_CASE,
                        format!("field `{field}` is spelled `{}`", entry.key),
                    )
                    .with_label(entry.key_span, "not this field: keys are case-sensitive here")
                    .with_help(format!(
                        "write `{field}`: the API server's strict field validation rejects `{}` as an unknown field",
                        entry.key
                    )),
                    None => Diagnostic::new(
                        &codes::UNKNOWN_FIELD,
                        format!("unknown field `{}`", entry.key),
                    )
                    .with_label(entry.key_span, "unknown field")
                    .with_optional_help(
                        did_you_mean(&entry.key, fields.iter().copied())
                            .map(|s| format!("did you mean `{s}`?")),
                    ),
                };
                cx.push(d);
            }
        }
        (Value::Seq(items), serde_json::Value::Array(out)) => {
            path.push(Step::Item);
            for (item, value) in items.iter().zip(out) {
                unknown_keys::<T>(item, value, path, cx);
            }
            path.pop();
        }
        _ => {}
    }
}

/// Reports the values of `Quantity` fields (the type says which) that
/// `resource.ParseQuantity` rejects: the CRD schema's pattern where Tekton types the field,
/// the webhook's decoding where it does not. A `$(params...)` reference is rejected too: the
/// field is decoded before any substitution.
fn quantities<T: DeserializeOwned>(node: &Node, path: &mut Vec<Step>, cx: &mut Cx) {
    match &node.value {
        Value::Map(map) => {
            for entry in &map.entries {
                path.push(Step::Key(entry.key.clone()));
                quantities::<T>(&entry.value, path, cx);
                path.pop();
            }
        }
        Value::Seq(items) => {
            path.push(Step::Item);
            for item in items {
                quantities::<T>(item, path, cx);
            }
            path.pop();
        }
        Value::Scalar(scalar) => {
            if probe::<T>(path) != Some(Found::Newtype("Quantity"))
                || Quantity::parse(&scalar.text).is_some()
            {
                return;
            }
            let field = match path.last() {
                Some(Step::Key(k)) => k.as_str(),
                _ => "quantity",
            };
            cx.push(
                Diagnostic::new(
                    &codes::INVALID_QUANTITY,
                    format!("`{}` is not a Kubernetes quantity ({field})", scalar.text),
                )
                .with_label(node.span, "not a quantity")
                .with_help(
                    "write a number with an optional suffix: `500m`, `2`, `128Mi`, `1Gi`, `1e3`",
                ),
            );
        }
        Value::Null => {}
    }
}

/// What a type's `Deserialize` said about itself at the end of a path.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Found {
    /// A struct, with its field names.
    Struct(&'static [&'static str]),
    /// A newtype struct (`Quantity`), by name.
    Newtype(&'static str),
}

/// The field names of the struct at `path` inside `T`, as its `Deserialize` declares them.
fn fields_at<T: DeserializeOwned>(path: &[Step]) -> Option<&'static [&'static str]> {
    match probe::<T>(path)? {
        Found::Struct(fields) => Some(fields),
        Found::Newtype(_) => None,
    }
}

fn probe<T: DeserializeOwned>(path: &[Step]) -> Option<Found> {
    let found = Cell::new(None);
    let _ = T::deserialize(FieldProbe {
        path,
        found: &found,
    });
    found.get()
}

/// A deserializer that walks one path into a type and records the field names of the struct
/// it ends at: types say their fields only to the deserializer (`deserialize_struct`).
struct FieldProbe<'a> {
    path: &'a [Step],
    found: &'a Cell<Option<Found>>,
}

fn stop() -> de::value::Error {
    de::Error::custom("probe")
}

impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(stop())
    }

    fn deserialize_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.path.split_first() {
            None => {
                self.found.set(Some(Found::Struct(fields)));
                Err(stop())
            }
            Some((Step::Key(key), rest)) => visitor.visit_map(ProbeMap {
                key: Some(key),
                rest,
                found: self.found,
            }),
            Some((Step::Item, _)) => Err(stop()),
        }
    }

    fn deserialize_map<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.path.split_first() {
            Some((Step::Key(key), rest)) => visitor.visit_map(ProbeMap {
                key: Some(key),
                rest,
                found: self.found,
            }),
            _ => Err(stop()),
        }
    }

    fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.path.split_first() {
            Some((Step::Item, rest)) => visitor.visit_seq(ProbeSeq {
                next: Some(FieldProbe {
                    path: rest,
                    found: self.found,
                }),
            }),
            _ => Err(stop()),
        }
    }

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if self.path.is_empty() {
            self.found.set(Some(Found::Newtype(name)));
            return Err(stop());
        }
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct enum identifier ignored_any
    }
}

struct ProbeMap<'a> {
    key: Option<&'a str>,
    rest: &'a [Step],
    found: &'a Cell<Option<Found>>,
}

impl<'de> de::MapAccess<'de> for ProbeMap<'_> {
    type Error = de::value::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.key.take() {
            Some(key) => seed.deserialize(key.into_deserializer()).map(Some),
            None => Err(stop()),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        seed.deserialize(FieldProbe {
            path: self.rest,
            found: self.found,
        })
    }
}

struct ProbeSeq<'a> {
    next: Option<FieldProbe<'a>>,
}

impl<'de> de::SeqAccess<'de> for ProbeSeq<'_> {
    type Error = de::value::Error;

    fn next_element_seed<E: de::DeserializeSeed<'de>>(
        &mut self,
        seed: E,
    ) -> Result<Option<E::Value>, Self::Error> {
        match self.next.take() {
            Some(probe) => seed.deserialize(probe).map(Some),
            None => Err(stop()),
        }
    }
}

/// Tekton's `pod.Template` (`pkg/apis/pipeline/pod/template.go`): the fields a run's
/// `podTemplate` may set, each of the Kubernetes type Tekton declares it with.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node_selector: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    env: Option<Vec<core::EnvVar>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tolerations: Option<Vec<core::Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    affinity: Option<core::Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    security_context: Option<core::PodSecurityContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    volumes: Option<Vec<core::Volume>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dns_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dns_config: Option<core::PodDNSConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enable_service_links: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scheduler_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_pull_secrets: Option<Vec<core::LocalObjectReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_aliases: Option<Vec<core::HostAlias>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_network: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_users: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topology_spread_constraints: Option<Vec<core::TopologySpreadConstraint>>,
}

pub use core::{
    AWSElasticBlockStoreVolumeSource, AzureDiskVolumeSource, AzureFileVolumeSource,
    CSIVolumeSource, CephFSVolumeSource, CinderVolumeSource, ContainerPort,
    DownwardAPIVolumeSource, EmptyDirVolumeSource, EnvFromSource, EnvVarSource,
    EphemeralVolumeSource, FCVolumeSource, FlexVolumeSource, FlockerVolumeSource,
    GCEPersistentDiskVolumeSource, GitRepoVolumeSource, GlusterfsVolumeSource,
    HostPathVolumeSource, ISCSIVolumeSource, ImageVolumeSource, Lifecycle, NFSVolumeSource,
    PersistentVolumeClaim, PhotonPersistentDiskVolumeSource, PortworxVolumeSource, Probe,
    ProjectedVolumeSource, QuobyteVolumeSource, RBDVolumeSource, ResourceRequirements,
    ScaleIOVolumeSource, SecurityContext, StorageOSVolumeSource, VolumeDevice,
    VsphereVirtualDiskVolumeSource,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_finds_the_fields_of_nested_types() {
        let fields = fields_at::<core::SecurityContext>(&[Step::Key("capabilities".into())]);
        assert_eq!(fields, Some(&["add", "drop"][..]));
        let fields = fields_at::<PodTemplate>(&[
            Step::Key("volumes".into()),
            Step::Item,
            Step::Key("emptyDir".into()),
        ]);
        assert!(
            fields.is_some_and(|f| f.contains(&"sizeLimit")),
            "{fields:?}"
        );
        assert!(fields_at::<PodTemplate>(&[]).is_some_and(|f| f.contains(&"imagePullSecrets")));
    }
}
