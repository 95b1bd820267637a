//! Writing the model back out: canonical YAML ([`yaml`]) and KDL ([`kdl`]), and the
//! canonical Tekton resources of `tkc compile --emit tekton` ([`tekton_yaml`]).

pub mod kdl;
pub mod layout;
pub mod yaml;

use crate::model::{Document, Kind, ParamType};
use serde_json::{Map, Value};
use yaml::Data;

/// Documents as canonical `tekton.dev/v1` YAML (StepActions `v1beta1`): converted from KDL
/// or v1beta1, keys in Tekton's order, and the defaults Tekton's webhook would add made
/// explicit: param types, Task and step result types (not a Pipeline's result types:
/// Tekton's `PipelineSpec.SetDefaults` leaves them unset, and `string` would be wrong for an
/// array or object result), `taskRef.kind: Task` (unless a resolver fetches it), a TaskRun's `timeout: 1h0m0s`
/// and `serviceAccountName: default`, a PipelineRun's `timeouts.pipeline: 1h0m0s` and
/// `taskRunTemplate.serviceAccountName: default`.
///
/// `metadata.namespace` is left as written: an explicit `default` would make
/// `kubectl apply -n <other>` refuse the file.
pub fn tekton_yaml(documents: &[Document]) -> String {
    let data: Vec<Data> = documents
        .iter()
        .map(|d| kdl::ordered_json(&defaults(d), d.kind))
        .collect();
    yaml::to_yaml_stream(&data)
}

/// The JSON of a document with Tekton's defaults.
pub fn defaults(document: &Document) -> Value {
    let mut json = crate::model::encode::document_to_json(document);
    let Some(spec) = json.get_mut("spec").and_then(Value::as_object_mut) else {
        return json;
    };
    match document.kind {
        Kind::Task | Kind::ClusterTask | Kind::StepAction => task_spec(spec),
        Kind::Pipeline => pipeline_spec(spec),
        Kind::TaskRun => {
            if let Some(Value::Object(t)) = spec.get_mut("taskSpec") {
                task_spec(t);
            }
            task_ref(spec);
            spec.entry("timeout")
                .or_insert_with(|| Value::from("1h0m0s"));
            spec.entry("serviceAccountName")
                .or_insert_with(|| Value::from("default"));
        }
        Kind::PipelineRun => {
            if let Some(Value::Object(p)) = spec.get_mut("pipelineSpec") {
                pipeline_spec(p);
            }
            if let Some(t) = spec
                .entry("timeouts")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
            {
                t.entry("pipeline").or_insert_with(|| Value::from("1h0m0s"));
            }
            if let Some(t) = spec
                .entry("taskRunTemplate")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
            {
                t.entry("serviceAccountName")
                    .or_insert_with(|| Value::from("default"));
            }
        }
        Kind::ConfigMap | Kind::Secret => {}
    }
    json
}

/// `type` of each param (`value_key` = "default") or result ("value"), as Tekton defaults it
/// ([`ParamType::defaulted`]) where it is left out.
fn default_types(list: Option<&mut Value>, value_key: &str) {
    let Some(Value::Array(items)) = list else {
        return;
    };
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        if item.contains_key("type") {
            continue;
        }
        let value = match item.get(value_key) {
            Some(Value::Array(_)) => Some(ParamType::Array),
            Some(Value::Object(_)) => Some(ParamType::Object),
            Some(_) => Some(ParamType::String),
            None => None,
        };
        if let Some(ty) = ParamType::defaulted(None, item.contains_key("properties"), value) {
            item.insert("type".into(), Value::from(ty.as_str()));
        }
    }
}

fn task_spec(spec: &mut Map<String, Value>) {
    default_types(spec.get_mut("params"), "default");
    default_types(spec.get_mut("results"), "value");
    if let Some(Value::Array(steps)) = spec.get_mut("steps") {
        for step in steps.iter_mut().filter_map(Value::as_object_mut) {
            default_types(step.get_mut("results"), "value");
        }
    }
}

/// `kind: Task` on a `taskRef` without one, as Tekton's `PipelineTask.SetDefaults` and
/// `TaskRunSpec.SetDefaults` do: not for a resolver's reference nor a custom task's.
fn task_ref(holder: &mut Map<String, Value>) {
    if let Some(Value::Object(r)) = holder.get_mut("taskRef")
        && !r.contains_key("apiVersion")
        && !r.contains_key("resolver")
    {
        r.entry("kind").or_insert_with(|| Value::from("Task"));
    }
}

/// A Pipeline's defaults (Tekton's `PipelineSpec.SetDefaults`): param types, and those of
/// its tasks; its results keep the type as written.
fn pipeline_spec(spec: &mut Map<String, Value>) {
    default_types(spec.get_mut("params"), "default");
    for section in ["tasks", "finally"] {
        if let Some(Value::Array(tasks)) = spec.get_mut(section) {
            for task in tasks.iter_mut().filter_map(Value::as_object_mut) {
                task_ref(task);
                if let Some(Value::Object(t)) = task.get_mut("taskSpec") {
                    task_spec(t);
                }
                if let Some(Value::Object(p)) = task.get_mut("pipelineSpec") {
                    pipeline_spec(p);
                }
            }
        }
    }
}
