//! Tekton's `cluster` resolver: a Task, Pipeline or StepAction read from a namespace of the
//! cluster (`pkg/resolution/resolver/cluster/resolver.go`, `ResolveFromParams`). Params and
//! their defaults (`kind`, `name`, `namespace`) are the resolver framework's; this is the
//! fetch.

use crate::Cluster;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A resource read from the cluster.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The object as the API returned it, with its `apiVersion` and `kind`, as JSON (which
    /// reads as YAML).
    pub yaml: Vec<u8>,
    /// `sha256:` of `yaml`.
    pub digest: String,
    /// Tekton's identifier of it (its `RefSource` URI, `tekton.dev/v1` for every kind), for
    /// reports: `/apis/tekton.dev/v1/namespaces/<namespace>/<kind>/<name>@<uid>`.
    pub origin: String,
}

/// The kinds the cluster resolver reads, with their group version and plural
/// (`isSupportedKind`; StepActions are `v1beta1`).
fn resource(kind: &str) -> Option<(GroupVersionKind, &'static str)> {
    let (version, kind, plural) = match kind {
        "task" => ("v1", "Task", "tasks"),
        "pipeline" => ("v1", "Pipeline", "pipelines"),
        "stepaction" => ("v1beta1", "StepAction", "stepactions"),
        _ => return None,
    };
    Some((GroupVersionKind::gvk("tekton.dev", version, kind), plural))
}

/// Reads the `kind` (`task`, `pipeline` or `stepaction`, as Tekton's param takes it) named
/// `name` in `namespace`, giving up after `timeout`. The errors say what Tekton's do: an
/// unsupported kind, or the API's reason (not found, forbidden, unreachable).
pub async fn fetch(
    cluster: &Cluster,
    kind: &str,
    name: &str,
    namespace: &str,
    timeout: Duration,
) -> Result<Fetched, String> {
    let Some((gvk, plural)) = resource(kind) else {
        return Err(format!("unknown or unsupported resource kind '{kind}'"));
    };
    let api_resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    let api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), namespace, &api_resource);
    let object = match tokio::time::timeout(timeout, api.get(name)).await {
        Ok(Ok(object)) => object,
        Ok(Err(e)) => {
            return Err(format!(
                "failed to load {kind} {name} from namespace {namespace}: {}",
                crate::retry::message(&e)
            ));
        }
        Err(_) => {
            return Err(format!(
                "failed to load {kind} {name} from namespace {namespace}: timed out after {}s",
                timeout.as_secs_f64()
            ));
        }
    };
    let uid = object.metadata.uid.clone().unwrap_or_default();
    let mut json = serde_json::to_value(&object).map_err(|e| e.to_string())?;
    if let Some(fields) = json.as_object_mut() {
        fields.insert("apiVersion".into(), api_resource.api_version.clone().into());
        fields.insert("kind".into(), api_resource.kind.clone().into());
    }
    let mut yaml = serde_json::to_vec_pretty(&json).map_err(|e| e.to_string())?;
    yaml.push(b'\n');
    let digest = format!("sha256:{}", hex(&Sha256::digest(&yaml)));
    Ok(Fetched {
        origin: format!("/apis/tekton.dev/v1/namespaces/{namespace}/{kind}/{name}@{uid}"),
        digest,
        yaml,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
