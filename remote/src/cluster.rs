//! The cluster resolver: a Task, Pipeline or StepAction read from a namespace of the cluster
//! (`pkg/resolution/resolver/cluster/resolver.go`, `ResolveFromParams`). The params and their
//! defaults (`kind` `task`, `name`, `namespace`) are read by [`tkc_compiler::remote`].
//!
//! The cluster is the one `kubectl` finds ([`config`]): `--kubeconfig`/`--context` when
//! `tkc run --backend kube` names them, else `KUBECONFIG`, else `~/.kube/config`, else the
//! in-cluster service account. A cluster object can change at any time, so it is read on
//! every run, as Tekton does; the cache keeps the last one read, for `--offline`.

use crate::Settings;
use crate::cache::Entry;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Api, Client};
use std::path::PathBuf;
use std::time::Duration;
use tkc_compiler::remote::ClusterSource;

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

/// Which cluster, as `kubectl`'s `--kubeconfig` and `--context` name it; each `None` is
/// kubectl's default.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// A kubeconfig file; default: `KUBECONFIG`, else `~/.kube/config`, else the in-cluster
    /// service account.
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig; default: its current context.
    pub context: Option<String>,
}

/// The client configuration for `target`, found as `kubectl` and client-go find it. The kube
/// backend connects through it too, so that a run and its cluster references read one cluster.
pub async fn config(target: &Target) -> Result<kube::Config, String> {
    let options = kube::config::KubeConfigOptions {
        context: target.context.clone(),
        ..Default::default()
    };
    match (&target.kubeconfig, &target.context) {
        (Some(path), _) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))
        }
        (None, Some(_)) => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("kubeconfig: {e}")),
        (None, None) => kube::Config::infer()
            .await
            .map_err(|e| format!("no cluster configuration (kubeconfig or in-cluster): {e}")),
    }
}

/// The object `source` names, read from [`Settings::cluster`] on a thread and runtime of its
/// own (the caller may be inside one).
pub fn fetch(source: &ClusterSource, settings: &Settings) -> Result<Entry, String> {
    let source = source.clone();
    let target = settings.cluster.clone();
    let timeout = settings.timeout;
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Kubernetes client: {e}"))?;
        runtime.block_on(async {
            let client = connect(&target, timeout).await?;
            read(&client, &source, timeout).await
        })
    });
    worker
        .join()
        .unwrap_or_else(|_| Err("the Kubernetes client failed".to_string()))
}

/// A client for `target`, bounded by `timeout` (no request is made yet).
async fn connect(target: &Target, timeout: Duration) -> Result<Client, String> {
    let mut config = tokio::time::timeout(timeout, config(target))
        .await
        .map_err(|_| "reading the cluster configuration timed out".to_string())??;
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    Client::try_from(config).map_err(|e| format!("cannot make a Kubernetes client: {e}"))
}

/// Reads what `source` names through `client`, giving up after `timeout`. The errors say what
/// Tekton's do: an unsupported kind, or the API's reason (not found, forbidden, unreachable).
/// The document is the object as the API returned it, with its `apiVersion` and `kind`, as
/// JSON (which reads as YAML); its origin is Tekton's `RefSource` URI with the object's uid
/// and resourceVersion: `/apis/tekton.dev/v1/namespaces/<ns>/<kind>/<name>@<uid>` then
/// `?resourceVersion=<v>`.
pub async fn read(
    client: &Client,
    source: &ClusterSource,
    timeout: Duration,
) -> Result<Entry, String> {
    let ClusterSource {
        kind,
        name,
        namespace,
    } = source;
    let Some((gvk, plural)) = resource(kind) else {
        return Err(format!("unknown or unsupported resource kind '{kind}'"));
    };
    let api_resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &api_resource);
    let failed = |reason: String| {
        format!("failed to load {kind} {name} from namespace {namespace}: {reason}")
    };
    let object = match tokio::time::timeout(timeout, api.get(name)).await {
        Ok(Ok(object)) => object,
        Ok(Err(kube::Error::Api(status))) if !status.message.is_empty() => {
            return Err(failed(status.message));
        }
        Ok(Err(e)) => return Err(failed(e.to_string())),
        Err(_) => {
            return Err(failed(format!(
                "timed out after {}s",
                timeout.as_secs_f64()
            )));
        }
    };
    let uid = object.metadata.uid.clone().unwrap_or_default();
    let version = object.metadata.resource_version.clone().unwrap_or_default();
    let mut json = serde_json::to_value(&object).map_err(|e| e.to_string())?;
    if let Some(fields) = json.as_object_mut() {
        fields.insert("apiVersion".into(), api_resource.api_version.clone().into());
        fields.insert("kind".into(), api_resource.kind.clone().into());
    }
    let mut bytes = serde_json::to_vec_pretty(&json).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    Ok(Entry {
        origin: format!(
            "/apis/tekton.dev/v1/namespaces/{namespace}/{kind}/{name}@{uid}?resourceVersion={version}"
        ),
        bytes,
    })
}
