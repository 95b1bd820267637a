//! The model back to data: canonical `tekton.dev/v1` JSON (empty lists and absent fields
//! left out, v1beta1 fields already moved to their v1 places). `tkc compile --emit tekton`,
//! `tkc convert` and the YAML/KDL equivalence tests are built on it.

use super::common::{ParamValue, Properties};
use super::decode::{Object, Spanned, StringMap};
use super::duration::Duration;
use super::task::EmbeddedTask;
use super::{Document, Resource};
use crate::syntax::{Node, node_to_json};
use serde_json::{Map, Value};

/// Encodes a value; `None` leaves the field out.
pub trait Encode {
    fn encode(&self) -> Option<Value>;
}

impl Encode for String {
    fn encode(&self) -> Option<Value> {
        Some(Value::String(self.clone()))
    }
}

impl Encode for bool {
    fn encode(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
}

impl Encode for i64 {
    fn encode(&self) -> Option<Value> {
        Some(Value::from(*self))
    }
}

impl Encode for Duration {
    fn encode(&self) -> Option<Value> {
        Some(Value::String(self.to_string()))
    }
}

impl<T: Encode> Encode for Spanned<T> {
    fn encode(&self) -> Option<Value> {
        self.value.encode()
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self) -> Option<Value> {
        self.as_ref().and_then(Encode::encode)
    }
}

impl<T: Encode> Encode for Box<T> {
    fn encode(&self) -> Option<Value> {
        (**self).encode()
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self) -> Option<Value> {
        if self.is_empty() {
            return None;
        }
        Some(Value::Array(
            self.iter().filter_map(Encode::encode).collect(),
        ))
    }
}

impl Encode for Node {
    fn encode(&self) -> Option<Value> {
        Some(node_to_json(self))
    }
}

impl Encode for Object {
    fn encode(&self) -> Option<Value> {
        self.0.as_ref().map(node_to_json)
    }
}

impl Encode for StringMap {
    fn encode(&self) -> Option<Value> {
        Some(Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.value.clone(), Value::String(v.value.clone())))
                .collect(),
        ))
    }
}

impl Encode for ParamValue {
    fn encode(&self) -> Option<Value> {
        Some(match self {
            ParamValue::String(s) => Value::String(s.clone()),
            ParamValue::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| Value::String(i.value.clone()))
                    .collect(),
            ),
            ParamValue::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.value.clone(), Value::String(v.value.clone())))
                    .collect(),
            ),
        })
    }
}

impl Encode for Properties {
    fn encode(&self) -> Option<Value> {
        Some(Value::Object(
            self.0
                .iter()
                .map(|(k, spec)| {
                    (
                        k.value.clone(),
                        spec.encode().unwrap_or(Value::Object(Map::new())),
                    )
                })
                .collect(),
        ))
    }
}

impl Encode for EmbeddedTask {
    fn encode(&self) -> Option<Value> {
        let mut map = match self.task.encode() {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(v) = value {
                map.insert(key.to_string(), v);
            }
        };
        put("apiVersion", self.api_version.encode());
        put("kind", self.kind.encode());
        put("spec", self.custom_spec.encode());
        put("metadata", self.metadata.encode());
        Some(Value::Object(map))
    }
}

/// A whole document as canonical Tekton JSON (v1; StepAction v1beta1).
pub fn document_to_json(document: &Document) -> Value {
    let (api_version, spec) = match &document.resource {
        Resource::Task(s) => ("tekton.dev/v1", s.encode()),
        Resource::Pipeline(s) => ("tekton.dev/v1", s.encode()),
        Resource::TaskRun(s) => ("tekton.dev/v1", s.encode()),
        Resource::PipelineRun(s) => ("tekton.dev/v1", s.encode()),
        Resource::StepAction(s) => ("tekton.dev/v1beta1", s.encode()),
        Resource::ConfigMap(d) | Resource::Secret(d) => {
            let mut map = Map::new();
            map.insert("apiVersion".into(), Value::from("v1"));
            map.insert("kind".into(), Value::from(document.kind.as_str()));
            if let Some(m) = document.metadata.encode() {
                map.insert("metadata".into(), m);
            }
            for (key, data) in [
                ("data", &d.data),
                ("stringData", &d.string_data),
                ("binaryData", &d.binary_data),
            ] {
                if !data.0.is_empty() {
                    map.insert(key.into(), data.encode().unwrap_or(Value::Null));
                }
            }
            return Value::Object(map);
        }
    };
    let kind = match document.kind {
        super::Kind::ClusterTask => "Task",
        k => k.as_str(),
    };
    let mut map = Map::new();
    map.insert("apiVersion".into(), Value::from(api_version));
    map.insert("kind".into(), Value::from(kind));
    map.insert(
        "metadata".into(),
        document
            .metadata
            .encode()
            .unwrap_or(Value::Object(Map::new())),
    );
    map.insert("spec".into(), spec.unwrap_or(Value::Object(Map::new())));
    Value::Object(map)
}
