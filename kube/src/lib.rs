//! The Kubernetes backend: tkc as the whole controller of a run on a cluster with nothing of
//! Tekton installed. The scheduler (`tkc_runtime`) owns every Tekton semantic; this crate
//! runs one task attempt as one pod ([`tkc_pods::build`] makes it, as Tekton's
//! `pod.Builder.Build` does) and reports how it ended through the shared
//! [`tkc_runtime::backend::outcome`] derivation (Tekton's `MakeTaskRunStatus`).
//!
//! Per run:
//! - **one owner object**, the ConfigMap `tkc-run-<run>` ([`RUN_PREFIX`]), holding the plan
//!   and each attempt's outcome as it ends; every other object of the run (pods, scripts
//!   ConfigMaps, claims of `volumeClaimTemplate` workspaces, the ConfigMaps and Secrets given
//!   among the inputs) has an `ownerReference` to it, so one delete removes them all
//!   (background propagation). The entrypoint ConfigMap is shared per namespace and
//!   content-addressed: created if absent, owned by no run.
//! - **one watch** on the run's pods by label ([`pods::PodWatch`]), never a polling loop.
//! - every request retried with backoff when worth it ([`retry`]).

#![forbid(unsafe_code)]

mod pods;
pub mod retry;

use futures_util::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, LogParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::{Api, Client};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tkc_compiler::plan::{ParamValue, Plan, RunValue};
use tkc_runtime::backend::outcome::{self, StepEnd};
use tkc_runtime::backend::{Attempt, AttemptOutcome, Backend, RunIdentity, Stop, StopSignal};
use tkc_runtime::events::{EventSink, LogLines, Stream};
use tkc_runtime::values::Values;

pub use pods::PodWatch;

/// The per-run owner ConfigMap is `tkc-run-<run name>`.
pub const RUN_PREFIX: &str = "tkc-run-";
/// Its key holding the plan (JSON).
pub const PLAN_KEY: &str = "plan.json";
/// Its keys holding each ended attempt's outcome: `attempt.<pod name>`.
pub const ATTEMPT_PREFIX: &str = "attempt.";
/// Its key holding the run's status: `Running` until it ends.
pub const STATUS_KEY: &str = "status";
/// The key of the owner object's data that holds the tasks a partial run selected
/// (`tkc run --task/--from/--until`, as JSON), so that `--attach` runs the same ones.
pub const SELECTION_KEY: &str = "selection.json";
const RUNNING: &str = "Running";
/// Tekton's reason for a pod that could not be created (`pkg/pod/status.go`).
pub const POD_CREATION_FAILED: &str = "PodCreationFailed";
/// Tekton's reason for an evicted pod (`TaskRunReasonPodEvicted`, `getFailureInfo` in
/// `pkg/pod/status.go`).
pub const POD_EVICTED: &str = "PodEvicted";
/// How long a stopped attempt's containers get before SIGKILL.
const STOP_GRACE_SECONDS: i64 = 5;
/// What a ConfigMap may hold, less room for its metadata.
const CONFIG_MAP_BUDGET: usize = 1024 * 1024 - 16 * 1024;

/// Where the cluster is and how to reach it.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// A kubeconfig file; default: `KUBECONFIG`, else `~/.kube/config`, else the in-cluster
    /// service account (as `kubectl` and client-go find them).
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig; default: its current context.
    pub context: Option<String>,
    /// The namespace; default: the context's, else `default`.
    pub namespace: Option<String>,
}

impl ConnectOptions {
    /// The cluster these options name, as the cluster resolver reads it too.
    pub fn target(&self) -> tkc_remote::cluster::Target {
        tkc_remote::cluster::Target {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }
}

/// A client and the namespace it runs in.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
}

/// Connects as `kubectl` would (no request is made yet).
pub async fn connect(opts: &ConnectOptions) -> Result<Cluster, String> {
    let config = tkc_remote::cluster::config(&opts.target()).await?;
    let namespace = opts
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(|e| format!("cannot make a client: {e}"))?;
    Ok(Cluster { client, namespace })
}

/// A request tkc makes, on a core (`v1`) resource of the run's namespace, and when.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    /// The resource, with its subresource after a `/` (`pods/log`).
    pub resource: &'static str,
    pub verb: &'static str,
    pub when: Need,
}

/// Which runs make a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Always,
    /// Claims of `volumeClaimTemplate` workspaces are created.
    ClaimTemplates,
    /// Secrets given among the inputs are created.
    InputSecrets,
    /// The preflight checks that a workspace's Secret exists.
    SecretWorkspaces,
    /// The preflight checks that a workspace's claim exists.
    ClaimWorkspaces,
}

const fn allow(resource: &'static str, verb: &'static str, when: Need) -> Permission {
    Permission {
        resource,
        verb,
        when,
    }
}

/// Every request tkc makes (`tkc run --backend kube`, `--attach`, `tkc runs`): the preflight
/// asks a SelfSubjectAccessReview for each one the run needs, and `deploy/rbac.yaml` grants
/// exactly these (a test holds them equal).
pub const PERMISSIONS: &[Permission] = &[
    // One pod per attempt, followed by the run's watch (a list, then watches), annotated
    // ready, deleted on timeout, cancellation and when its sidecars must stop; never read
    // one by one.
    allow("pods", "create", Need::Always),
    allow("pods", "list", Need::Always),
    allow("pods", "watch", Need::Always),
    allow("pods", "patch", Need::Always),
    allow("pods", "delete", Need::Always),
    allow("pods/log", "get", Need::Always),
    // The owner object (read by --attach, listed by `tkc runs`, and the preflight's first
    // request), the scripts of each attempt, the entrypoint, the ConfigMaps among the inputs
    // and the workspaces' ConfigMaps (the preflight checks they exist).
    allow("configmaps", "create", Need::Always),
    allow("configmaps", "get", Need::Always),
    allow("configmaps", "list", Need::Always),
    allow("configmaps", "patch", Need::Always),
    allow("configmaps", "delete", Need::Always),
    allow("secrets", "create", Need::InputSecrets),
    allow("secrets", "get", Need::SecretWorkspaces),
    allow("persistentvolumeclaims", "create", Need::ClaimTemplates),
    allow("persistentvolumeclaims", "get", Need::ClaimWorkspaces),
];

/// What is missing for a run, found before anything is created: each item says what and
/// what to do.
pub async fn preflight(cluster: &Cluster, plan: &Plan) -> Vec<String> {
    use tkc_compiler::plan::Binding;
    let ns = &cluster.namespace;
    let mut problems = Vec::new();
    // Access to the namespace at all (and the cluster being there): the first error says.
    let cms: Api<ConfigMap> = api(cluster);
    let one = kube::api::ListParams::default().limit(1);
    if let Err(e) = retry::retrying_n(4, || cms.list(&one)).await {
        problems.push(match retry::code(&e) {
            Some(401) => format!("the cluster does not accept these credentials: {}", retry::message(&e)),
            Some(403) => format!("no access to ConfigMaps in namespace `{ns}`: {} (deploy/rbac.yaml has the Role tkc needs)", retry::message(&e)),
            _ => format!("cannot reach the cluster: {}", retry::message(&e)),
        });
        return problems;
    }
    // The verbs this run needs, where the API server answers SelfSubjectAccessReviews.
    let claims = !plan.claim_templates.is_empty()
        || plan.workspaces.iter().any(|w| {
            matches!(
                w.binding,
                Binding::VolumeClaimTemplate {} | Binding::RunShared {}
            )
        });
    let needed = PERMISSIONS.iter().filter(|p| match p.when {
        Need::Always => true,
        Need::ClaimTemplates => claims,
        Need::InputSecrets => !plan.secrets.is_empty(),
        Need::SecretWorkspaces => plan.workspaces.iter().any(|w| {
            matches!(&w.binding, Binding::Secret { secret_name, .. } if !plan.secrets.contains(secret_name))
        }),
        Need::ClaimWorkspaces => plan
            .workspaces
            .iter()
            .any(|w| matches!(w.binding, Binding::PersistentVolumeClaim { .. })),
    });
    let reviews: Api<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview> =
        Api::all(cluster.client.clone());
    for &Permission { resource, verb, .. } in needed {
        let (resource, subresource) = match resource.split_once('/') {
            Some((r, s)) => (r, Some(s.to_string())),
            None => (resource, None),
        };
        let review = k8s_openapi::api::authorization::v1::SelfSubjectAccessReview {
            spec: k8s_openapi::api::authorization::v1::SelfSubjectAccessReviewSpec {
                resource_attributes: Some(
                    k8s_openapi::api::authorization::v1::ResourceAttributes {
                        group: Some(String::new()),
                        namespace: Some(ns.clone()),
                        resource: Some(resource.to_string()),
                        subresource: subresource.clone(),
                        verb: Some(verb.to_string()),
                        ..Default::default()
                    },
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        match retry::retrying(|| reviews.create(&POST, &review)).await {
            Ok(r) if r.status.as_ref().is_some_and(|s| !s.allowed) => {
                let what = match &subresource {
                    Some(sub) => format!("{resource}/{sub}"),
                    None => resource.to_string(),
                };
                problems.push(format!("forbidden: `{verb}` on {what} in namespace `{ns}` (deploy/rbac.yaml has the Role tkc needs)"));
            }
            Ok(_) => {}
            // Not served (or not allowed to ask): the first failing request will say.
            Err(_) => break,
        }
    }
    // What the workspaces name must exist, unless the run brings it among its inputs.
    for w in &plan.workspaces {
        let missing = match &w.binding {
            Binding::ConfigMap { name, .. } if !plan.config_maps.contains_key(name) => {
                exists(&cms, name)
                    .await
                    .then_some(())
                    .map_or(Some(format!("ConfigMap `{name}`")), |_| None)
            }
            Binding::Secret { secret_name, .. } if !plan.secrets.contains(secret_name) => {
                let secrets: Api<Secret> = api(cluster);
                exists(&secrets, secret_name)
                    .await
                    .then_some(())
                    .map_or(Some(format!("Secret `{secret_name}`")), |_| None)
            }
            Binding::PersistentVolumeClaim { claim_name, .. } => {
                let claims: Api<PersistentVolumeClaim> = api(cluster);
                exists(&claims, claim_name).await.then_some(()).map_or(
                    Some(format!("PersistentVolumeClaim `{claim_name}`")),
                    |_| None,
                )
            }
            Binding::Dir { path } => {
                problems.push(format!("workspace `{}` is bound to the host directory `{path}`, which a cluster does not have: bind a volume (pvc:, configMap:, secret:, emptyDir, volumeClaimTemplate)", w.name));
                None
            }
            _ => None,
        };
        if let Some(what) = missing {
            problems.push(format!("workspace `{}` names {what}, which namespace `{ns}` does not have: create it, or give it among the inputs", w.name));
        }
    }
    problems
}

/// Whether the object exists (an error other than 404 counts as existing: the run will say).
async fn exists<K>(api: &Api<K>, name: &str) -> bool
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    !matches!(
        retry::retrying(|| api.get_metadata_opt(name)).await,
        Ok(None)
    )
}

/// Requests made, by verb (watch events counted apart), for the traffic test and the
/// closing note.
#[derive(Debug, Default)]
pub struct Traffic {
    pub create: AtomicU64,
    pub get: AtomicU64,
    pub patch: AtomicU64,
    pub delete: AtomicU64,
    pub log: AtomicU64,
}

/// A snapshot of [`Traffic`] and the watch events received.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrafficCount {
    pub create: u64,
    pub get: u64,
    pub patch: u64,
    pub delete: u64,
    pub log: u64,
    pub watch_events: u64,
    pub attempts: u64,
}

/// How the run is set up on the cluster.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The static `tkc-entrypoint` binary pods mount (see `tkc_pods::entrypoint_config_map`).
    pub entrypoint: Vec<u8>,
    /// Leave the run's objects in place at the end.
    pub keep: bool,
    /// The data of the Secrets among the run's inputs that it uses (`Plan::secrets` names
    /// them; their values are never in the plan, which the run's owner object stores).
    pub secrets: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// The tasks a partial run selected, as JSON (stored with the plan; `None`: all).
    pub selection: Option<String>,
}

/// The kube backend of one run.
pub struct KubeBackend {
    cluster: Cluster,
    run: RunIdentity,
    plan: Arc<Plan>,
    binary: tkc_pods::EntrypointBinary,
    owner: OwnerReference,
    watch: PodWatch,
    watch_task: tokio::task::JoinHandle<()>,
    keep: bool,
    traffic: Arc<Traffic>,
    attempts: AtomicU64,
    /// Attempts' outcomes not yet written to the owner object (written in order).
    record: tokio::sync::Mutex<()>,
    notes: Mutex<Vec<String>>,
    /// Outcomes recorded in the owner object by an earlier `tkc` of this run (`--attach`),
    /// by pod name: those attempts are not run again.
    recorded: BTreeMap<String, AttemptOutcome>,
}

/// The namespace's entrypoint ConfigMap, created unless it exists (content-addressed, shared
/// by every run, owned by none).
async fn ensure_entrypoint(
    cms: &Api<ConfigMap>,
    traffic: &Traffic,
    ns: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let mut entry = tkc_pods::entrypoint_config_map(bytes)
        .map_err(|e| format!("the entrypoint binary: {e}"))?;
    entry.metadata.namespace = Some(ns.to_string());
    create_if_absent(cms, traffic, &entry).await.map_err(|e| {
        format!(
            "cannot create the entrypoint ConfigMap: {}",
            retry::message(&e)
        )
    })?;
    Ok(())
}

fn api<K>(cluster: &Cluster) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    Api::namespaced(cluster.client.clone(), &cluster.namespace)
}

fn run_labels(uid: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            tkc_pods::MANAGED_BY.to_string(),
        ),
        ("tkc.dev/run".to_string(), uid.to_string()),
    ])
}

static POST: PostParams = PostParams {
    dry_run: false,
    field_manager: None,
};
static PATCH: PatchParams = PatchParams {
    dry_run: false,
    force: false,
    field_manager: None,
    field_validation: None,
};

/// Creates `obj`; an existing object of that name is fine (`Ok(false)`).
async fn create_if_absent<K>(api: &Api<K>, traffic: &Traffic, obj: &K) -> Result<bool, kube::Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let r = retry::retrying(|| {
        traffic.create.fetch_add(1, Ordering::Relaxed);
        api.create(&POST, obj)
    })
    .await;
    match r {
        Ok(_) => Ok(true),
        Err(e) if retry::code(&e) == Some(409) => Ok(false),
        Err(e) => Err(e),
    }
}

impl KubeBackend {
    /// Sets the run up on the cluster: the owner object with the plan, the shared entrypoint
    /// ConfigMap, the ConfigMaps and Secrets given among the inputs, and the run's watch.
    pub async fn start(
        cluster: Cluster,
        plan: &Plan,
        run: &RunIdentity,
        opts: RunOptions,
    ) -> Result<KubeBackend, String> {
        let traffic = Arc::new(Traffic::default());
        // Checked before anything is created: a wrong binary creates nothing.
        let binary = tkc_pods::EntrypointBinary::inspect(&opts.entrypoint)
            .map_err(|e| format!("the entrypoint binary: {e}"))?;
        let cms: Api<ConfigMap> = api(&cluster);
        let ns = &cluster.namespace;
        let mut notes = Vec::new();

        let plan_json = serde_json::to_string(plan).map_err(|e| e.to_string())?;
        let mut data = BTreeMap::from([
            ("run".to_string(), run.name.clone()),
            ("uid".to_string(), run.uid.clone()),
            (STATUS_KEY.to_string(), RUNNING.to_string()),
        ]);
        if let Some(selection) = &opts.selection {
            data.insert(SELECTION_KEY.to_string(), selection.clone());
        }
        if plan_json.len() <= CONFIG_MAP_BUDGET {
            data.insert(PLAN_KEY.to_string(), plan_json);
        } else {
            notes.push(format!(
                "the plan ({} bytes) is over what the run's ConfigMap holds; `tkc run --attach` cannot resume this run",
                plan_json.len()
            ));
        }
        let owner_cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(format!("{RUN_PREFIX}{}", run.name)),
                namespace: Some(ns.clone()),
                labels: Some(run_labels(&run.uid)),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..ConfigMap::default()
        };
        let created = retry::retrying(|| {
            traffic.create.fetch_add(1, Ordering::Relaxed);
            cms.create(&POST, &owner_cm)
        })
        .await
        .map_err(|e| match retry::code(&e) {
            Some(409) => format!(
                "a run named `{}` already exists in namespace `{ns}` (ConfigMap {RUN_PREFIX}{}): delete it, or resume it with --attach",
                run.name, run.name
            ),
            _ => format!("cannot create the run's ConfigMap in namespace `{ns}`: {}", retry::message(&e)),
        })?;
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: created.metadata.name.clone().unwrap_or_default(),
            uid: created.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };

        // From here on the run exists on the cluster: if its setup fails, the owner object
        // and what it already owns are deleted, so no run that never ran is left behind.
        let setup = async {
            ensure_entrypoint(&cms, &traffic, ns, &opts.entrypoint).await?;

            // ConfigMaps and Secrets among the inputs: created for the run if the namespace has
            // none of that name (the cluster's own are used otherwise).
            for (name, values) in &plan.config_maps {
                let cm = ConfigMap {
                    metadata: owned_meta(name, ns, &run.uid, &owner),
                    data: Some(values.clone()),
                    ..ConfigMap::default()
                };
                if !create_if_absent(&cms, &traffic, &cm).await.map_err(|e| {
                    format!("cannot create ConfigMap `{name}`: {}", retry::message(&e))
                })? {
                    notes.push(format!("ConfigMap `{name}` exists in namespace `{ns}`: the run uses it, not the one among the inputs"));
                }
            }
            let secrets: Api<Secret> = api(&cluster);
            for (name, values) in &opts.secrets {
                let s = Secret {
                    metadata: owned_meta(name, ns, &run.uid, &owner),
                    string_data: Some(values.clone()),
                    ..Secret::default()
                };
                if !create_if_absent(&secrets, &traffic, &s)
                    .await
                    .map_err(|e| format!("cannot create Secret `{name}`: {}", retry::message(&e)))?
                {
                    notes.push(format!("Secret `{name}` exists in namespace `{ns}`: the run uses it, not the one among the inputs"));
                }
            }
            Ok::<_, String>(())
        };
        if let Err(e) = setup.await {
            let params = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..DeleteParams::default()
            };
            let owner_name = owner.name.clone();
            let _ = retry::retrying(|| cms.delete(&owner_name, &params)).await;
            return Err(e);
        }
        Ok(KubeBackend::assemble(
            cluster,
            plan,
            run,
            binary,
            owner,
            opts.keep,
            traffic,
            notes,
            BTreeMap::new(),
        ))
    }

    /// The backend of a run whose owner object exists: its watch starts here.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        cluster: Cluster,
        plan: &Plan,
        run: &RunIdentity,
        binary: tkc_pods::EntrypointBinary,
        owner: OwnerReference,
        keep: bool,
        traffic: Arc<Traffic>,
        notes: Vec<String>,
        recorded: BTreeMap<String, AttemptOutcome>,
    ) -> KubeBackend {
        let (watch, watch_task) = PodWatch::start(api(&cluster), &run.uid);
        KubeBackend {
            cluster,
            run: run.clone(),
            plan: Arc::new(plan.clone()),
            binary,
            owner,
            watch,
            watch_task,
            keep,
            traffic,
            attempts: AtomicU64::new(0),
            record: tokio::sync::Mutex::new(()),
            notes: Mutex::new(notes),
            recorded,
        }
    }

    /// Re-attaches to run `name` whose `tkc` died: reads its plan and the outcomes of the
    /// attempts that ended from its owner object, and follows the pods that exist. The
    /// scheduler then drives the run again; an attempt that ended is answered from the record
    /// (not run again), one whose pod exists follows that pod, and only the others get pods.
    /// Also the selection of a partial run ([`SELECTION_KEY`]).
    pub async fn attach(
        cluster: Cluster,
        name: &str,
        opts: RunOptions,
    ) -> Result<(KubeBackend, Plan, RunIdentity, Option<String>), String> {
        let traffic = Arc::new(Traffic::default());
        let cms: Api<ConfigMap> = api(&cluster);
        let ns = &cluster.namespace;
        let owner_name = format!("{RUN_PREFIX}{name}");
        let owner_cm = retry::retrying(|| {
            traffic.get.fetch_add(1, Ordering::Relaxed);
            cms.get(&owner_name)
        })
        .await
        .map_err(|e| match retry::code(&e) {
            Some(404) => format!("no run `{name}` in namespace `{ns}` (no ConfigMap {owner_name}; `tkc runs` lists them)"),
            _ => format!("cannot read ConfigMap {owner_name}: {}", retry::message(&e)),
        })?;
        let data = owner_cm.data.clone().unwrap_or_default();
        if let Some(status) = data.get(STATUS_KEY).filter(|s| s.as_str() != RUNNING) {
            return Err(format!("run `{name}` has already ended ({status})"));
        }
        let plan: Plan = data
            .get(PLAN_KEY)
            .ok_or_else(|| {
                format!("ConfigMap {owner_name} holds no plan: the run cannot be resumed")
            })
            .and_then(|j| {
                serde_json::from_str(j)
                    .map_err(|e| format!("ConfigMap {owner_name}: the plan does not read: {e}"))
            })?;
        let run = RunIdentity {
            name: data.get("run").cloned().unwrap_or_else(|| name.to_string()),
            uid: data
                .get("uid")
                .cloned()
                .ok_or_else(|| format!("ConfigMap {owner_name} has no run uid"))?,
        };
        let mut recorded = BTreeMap::new();
        for (key, value) in &data {
            if let Some(pod) = key.strip_prefix(ATTEMPT_PREFIX)
                && let Some(outcome) = read_outcome(value)
            {
                recorded.insert(pod.to_string(), outcome);
            }
        }
        let binary = tkc_pods::EntrypointBinary::inspect(&opts.entrypoint)
            .map_err(|e| format!("the entrypoint binary: {e}"))?;
        ensure_entrypoint(&cms, &traffic, ns, &opts.entrypoint).await?;
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: owner_name.clone(),
            uid: owner_cm.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let notes = vec![format!(
            "attached to run `{}`: {} attempt{} had ended and {} not run again",
            run.name,
            recorded.len(),
            if recorded.len() == 1 { "" } else { "s" },
            if recorded.len() == 1 { "is" } else { "are" },
        )];
        let backend = KubeBackend::assemble(
            cluster, &plan, &run, binary, owner, opts.keep, traffic, notes, recorded,
        );
        Ok((backend, plan, run, data.get(SELECTION_KEY).cloned()))
    }

    /// Records how the run ended in its owner object (seen with `--keep` and by `tkc runs`).
    pub async fn mark(&self, status: &str) {
        let patch = serde_json::json!({"data": {STATUS_KEY: status}});
        self.patch_owner(&patch).await;
    }

    async fn patch_owner(&self, patch: &serde_json::Value) {
        let cms: Api<ConfigMap> = api(&self.cluster);
        let name = self.owner_name();
        let merge = &Patch::Merge(patch);
        let _ = retry::retrying(|| {
            self.traffic.patch.fetch_add(1, Ordering::Relaxed);
            cms.patch(&name, &PATCH, merge)
        })
        .await;
    }

    /// The run's owner object.
    pub fn owner_name(&self) -> String {
        format!("{RUN_PREFIX}{}", self.run.name)
    }

    /// Requests made so far.
    pub fn traffic(&self) -> TrafficCount {
        let t = &self.traffic;
        TrafficCount {
            create: t.create.load(Ordering::Relaxed),
            get: t.get.load(Ordering::Relaxed),
            patch: t.patch.load(Ordering::Relaxed),
            delete: t.delete.load(Ordering::Relaxed),
            log: t.log.load(Ordering::Relaxed),
            watch_events: self.watch.events(),
            attempts: self.attempts.load(Ordering::Relaxed),
        }
    }

    /// Ends the run on the cluster: unless `--keep`, deletes the owner object (the garbage
    /// collector removes everything it owns) and waits, on the run's watch and for at most
    /// `wait`, until none of its pods is left.
    pub async fn finish(&self, wait: Duration) -> Result<(), String> {
        let result = if self.keep {
            Ok(())
        } else {
            let cms: Api<ConfigMap> = api(&self.cluster);
            let params = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                ..DeleteParams::default()
            };
            let name = self.owner_name();
            let r = retry::retrying(|| {
                self.traffic.delete.fetch_add(1, Ordering::Relaxed);
                cms.delete(&name, &params)
            })
            .await;
            match r {
                Ok(_) => {
                    let _ = tokio::time::timeout(wait, self.no_pods_left()).await;
                    Ok(())
                }
                Err(e) if retry::code(&e) == Some(404) => Ok(()),
                Err(e) => Err(format!(
                    "cannot delete the run's objects (ConfigMap {name} and what it owns): {}",
                    retry::message(&e)
                )),
            }
        };
        self.watch_task.abort();
        result
    }

    async fn no_pods_left(&self) {
        while self.watch.live() > 0 {
            let mut all = self.watch.any_change();
            if all.is_empty() {
                return;
            }
            let changes = all.iter_mut().map(|r| Box::pin(r.changed()));
            let _ = futures_util::future::select_all(changes).await;
        }
    }

    fn identity(&self, attempt: &Attempt) -> tkc_pods::Identity {
        tkc_pods::Identity {
            run: self.run.name.clone(),
            run_uid: self.run.uid.clone(),
            namespace: self.cluster.namespace.clone(),
            task_run: attempt.task_run.clone(),
            retry: attempt.retry,
        }
    }

    /// Writes an attempt's outcome into the owner object (for `--attach` and `tkc runs`).
    async fn record(&self, pod: &str, outcome: &AttemptOutcome) {
        let _one_at_a_time = self.record.lock().await;
        let patch =
            serde_json::json!({"data": {format!("{ATTEMPT_PREFIX}{pod}"): write_outcome(outcome)}});
        self.patch_owner(&patch).await;
    }
}

/// An attempt's outcome as the owner object keeps it (JSON).
fn write_outcome(outcome: &AttemptOutcome) -> String {
    serde_json::json!({
        "steps": outcome.steps.iter().map(|s| serde_json::json!({"name": s.name, "exit_code": s.exit_code, "status": s.status})).collect::<Vec<_>>(),
        "results": outcome.results,
        "failure": outcome.failure,
    })
    .to_string()
}

fn read_outcome(text: &str) -> Option<AttemptOutcome> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let steps = v
        .get("steps")?
        .as_array()?
        .iter()
        .map(|s| {
            Some(tkc_runtime::backend::StepOutcome {
                name: s.get("name")?.as_str()?.to_string(),
                exit_code: s
                    .get("exit_code")
                    .and_then(|c| c.as_i64())
                    .and_then(|c| i32::try_from(c).ok()),
                status: s.get("status")?.as_str()?.to_string(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let results = serde_json::from_value(v.get("results")?.clone()).ok()?;
    let failure = serde_json::from_value(v.get("failure")?.clone()).ok()?;
    Some(AttemptOutcome {
        steps,
        results,
        failure,
    })
}

/// A run in a namespace, as `tkc runs` lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RunEntry {
    pub name: String,
    /// `Running` (or its `tkc` died: `--attach` resumes it), else how it ended.
    pub status: String,
    /// Attempts that ended, and how many of them failed.
    pub attempts_ended: usize,
    pub attempts_failed: usize,
    pub created: String,
}

/// The runs in the namespace (their owner objects), by name.
pub async fn list_runs(cluster: &Cluster) -> Result<Vec<RunEntry>, String> {
    let cms: Api<ConfigMap> = api(cluster);
    let lp =
        kube::api::ListParams::default().labels("app.kubernetes.io/managed-by=tkc,tkc.dev/run");
    let list = retry::retrying(|| cms.list(&lp)).await.map_err(|e| {
        format!(
            "cannot list runs in namespace `{}`: {}",
            cluster.namespace,
            retry::message(&e)
        )
    })?;
    let mut runs: Vec<RunEntry> = list
        .items
        .iter()
        .filter_map(|cm| {
            let name = cm
                .metadata
                .name
                .as_deref()?
                .strip_prefix(RUN_PREFIX)?
                .to_string();
            let data = cm.data.clone().unwrap_or_default();
            let outcomes: Vec<AttemptOutcome> = data
                .iter()
                .filter(|(k, _)| k.starts_with(ATTEMPT_PREFIX))
                .filter_map(|(_, v)| read_outcome(v))
                .collect();
            Some(RunEntry {
                name,
                status: data
                    .get(STATUS_KEY)
                    .cloned()
                    .unwrap_or_else(|| RUNNING.to_string()),
                attempts_ended: outcomes.len(),
                attempts_failed: outcomes.iter().filter(|o| o.failure.is_some()).count(),
                created: cm
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string())
                    .unwrap_or_default(),
            })
        })
        .collect();
    runs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(runs)
}

fn owned_meta(name: &str, ns: &str, uid: &str, owner: &OwnerReference) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(ns.to_string()),
        labels: Some(run_labels(uid)),
        owner_references: Some(vec![owner.clone()]),
        ..ObjectMeta::default()
    }
}

fn own(meta: &mut ObjectMeta, owner: &OwnerReference) {
    meta.owner_references = Some(vec![owner.clone()]);
}

/// The run's values, for the pod builder.
struct Known<'a>(&'a Values);

impl tkc_pods::Resolve for Known<'_> {
    fn value(&self, value: &RunValue) -> Option<ParamValue> {
        self.0.lookup(value)
    }
}

impl Backend for KubeBackend {
    fn prepare(&self, _plan: &Plan, _run: &RunIdentity) -> Result<Vec<String>, String> {
        let mut notes = std::mem::take(&mut *self.notes.lock().unwrap_or_else(|e| e.into_inner()));
        notes.insert(
            0,
            format!(
                "running on Kubernetes in namespace `{}`; the run's objects are owned by ConfigMap {}{}",
                self.cluster.namespace,
                self.owner_name(),
                if self.keep { " (kept)" } else { "" }
            ),
        );
        Ok(notes)
    }

    async fn run_attempt(
        &self,
        attempt: Attempt,
        stop: StopSignal,
        events: EventSink,
    ) -> AttemptOutcome {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let pod_name = tkc_pods::pod_name(&attempt.task_run, attempt.retry);
        if let Some(done) = self.recorded.get(&pod_name) {
            return done.clone();
        }
        let outcome = self.attempt(&attempt, &pod_name, stop, &events).await;
        self.record(&pod_name, &outcome).await;
        outcome
    }
}

impl KubeBackend {
    async fn attempt(
        &self,
        attempt: &Attempt,
        pod_name: &str,
        mut stop: StopSignal,
        events: &EventSink,
    ) -> AttemptOutcome {
        let identity = self.identity(attempt);
        let built = {
            let known = Known(&attempt.values);
            tkc_pods::build(&tkc_pods::AttemptInput {
                plan: &self.plan,
                task: &attempt.plan,
                identity: &identity,
                values: &known,
                entrypoints: std::slice::from_ref(&self.binary),
                options: &tkc_pods::Options::default(),
            })
        };
        let mut objects = match built {
            Ok(o) => o,
            Err(e) => return AttemptOutcome::failed(POD_CREATION_FAILED, e.to_string()),
        };
        let ns = &self.cluster.namespace;
        let claims: Api<PersistentVolumeClaim> = api(&self.cluster);
        for claim in &mut objects.claims {
            own(&mut claim.metadata, &self.owner);
            claim.metadata.namespace = Some(ns.clone());
            if let Err(e) = create_if_absent(&claims, &self.traffic, claim).await {
                return AttemptOutcome::failed(
                    POD_CREATION_FAILED,
                    format!("cannot create claim: {}", retry::message(&e)),
                );
            }
        }
        let cms: Api<ConfigMap> = api(&self.cluster);
        for cm in &mut objects.config_maps {
            own(&mut cm.metadata, &self.owner);
            if let Err(e) = create_if_absent(&cms, &self.traffic, cm).await {
                return AttemptOutcome::failed(
                    POD_CREATION_FAILED,
                    format!(
                        "cannot create the scripts ConfigMap: {}",
                        retry::message(&e)
                    ),
                );
            }
        }
        own(&mut objects.pod.metadata, &self.owner);
        let mut seen = self.watch.follow(pod_name);
        let pods: Api<Pod> = api(&self.cluster);
        if stop.borrow().is_some() {
            return self.outcome(attempt, None, *stop.borrow());
        }
        let created = retry::retrying(|| {
            self.traffic.create.fetch_add(1, Ordering::Relaxed);
            pods.create(&POST, &objects.pod)
        })
        .await;
        match created {
            Ok(_) => {}
            // Already there: an attempt resumed after `--attach` follows the pod it had.
            Err(e) if retry::code(&e) == Some(409) => {}
            Err(e) => {
                return AttemptOutcome::failed(
                    POD_CREATION_FAILED,
                    format!(
                        "failed to create task run pod \"{pod_name}\": {}",
                        retry::message(&e)
                    ),
                );
            }
        }

        let sidecars: Vec<String> = attempt
            .plan
            .pod
            .sidecars
            .iter()
            .map(|s| s.container.clone())
            .collect();
        let mut ready_patched = false;
        let mut logs: BTreeMap<usize, tokio::task::JoinHandle<()>> = BTreeMap::new();
        let mut log_done: BTreeMap<usize, tokio::sync::watch::Receiver<bool>> = BTreeMap::new();
        let mut last: Option<Arc<Pod>> = None;
        let mut stopped: Option<Stop> = None;
        loop {
            let current = seen.borrow_and_update().clone();
            if let Some(pod) = &current.pod {
                last = Some(pod.clone());
                if !ready_patched && !current.deleted && stopped.is_none() {
                    if has_ready_annotation(pod) {
                        ready_patched = true;
                    } else if sidecars_ready(pod) {
                        ready_patched = true;
                        let patch = serde_json::json!({"metadata": {"annotations": {tkc_pods::READY_ANNOTATION: "READY"}}});
                        let merge = &Patch::Merge(&patch);
                        let r = retry::retrying(|| {
                            self.traffic.patch.fetch_add(1, Ordering::Relaxed);
                            pods.patch(pod_name, &PATCH, merge)
                        })
                        .await;
                        if let Err(e) = r
                            && retry::code(&e) != Some(404)
                        {
                            self.delete_pod(&pods, pod_name).await;
                            return AttemptOutcome::failed(
                                POD_CREATION_FAILED,
                                format!(
                                    "cannot mark pod \"{pod_name}\" ready: {}",
                                    retry::message(&e)
                                ),
                            );
                        }
                    }
                }
                for (i, step) in attempt.plan.pod.steps.iter().enumerate() {
                    if !logs.contains_key(&i) && container_started(pod, &step.container) {
                        let (done, done_rx) = tokio::sync::watch::channel(false);
                        let previous = i.checked_sub(1).and_then(|p| log_done.get(&p).cloned());
                        log_done.insert(i, done_rx);
                        logs.insert(
                            i,
                            self.stream_log(&pods, pod_name, step, attempt, events, previous, done),
                        );
                    }
                }
                if terminal(pod) {
                    break;
                }
                // A pending pod whose container cannot get its configuration (a missing
                // Secret, ConfigMap or key) fails the TaskRun at once: Tekton's
                // `isPodHitConfigError` (pkg/pod/status.go); the kubelet's message follows.
                if let Some(message) = config_error(pod) {
                    self.delete_pod(&pods, pod_name).await;
                    for (_, handle) in logs {
                        handle.abort();
                    }
                    return AttemptOutcome::config_error(&message);
                }
                // Without sidecars the kubelet ends the pod itself once its steps are done
                // (and its phase says whether it was evicted meanwhile); with sidecars,
                // Tekton's `stopSidecars`: the steps are done, the sidecars must go.
                if !sidecars.is_empty() && steps_done(pod, &attempt.plan.pod.steps) {
                    if stopped.is_none() {
                        self.delete_pod(&pods, pod_name).await;
                    }
                    break;
                }
            }
            if current.deleted {
                break;
            }
            tokio::select! {
                changed = seen.changed() => if changed.is_err() { break },
                _ = stop.changed(), if stopped.is_none() => {
                    stopped = *stop.borrow();
                    if stopped.is_some() {
                        self.delete_pod(&pods, pod_name).await;
                    }
                }
            }
        }
        // The logs end with their containers; bounded, so a stuck stream cannot hold the run.
        for (_, handle) in logs {
            let abort = handle.abort_handle();
            if tokio::time::timeout(Duration::from_secs(10), handle)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let stop_kind = stopped.or(*stop.borrow());
        self.outcome(attempt, last.as_deref(), stop_kind)
    }

    async fn delete_pod(&self, pods: &Api<Pod>, name: &str) {
        let params = DeleteParams {
            grace_period_seconds: Some(STOP_GRACE_SECONDS as u32),
            ..DeleteParams::default()
        };
        let _ = retry::retrying(|| {
            self.traffic.delete.fetch_add(1, Ordering::Relaxed);
            pods.delete(name, &params)
        })
        .await;
    }

    /// Follows a step container's log. Its lines are shown after the previous step's (as
    /// the steps ran): held back until that stream has ended.
    #[allow(clippy::too_many_arguments)]
    fn stream_log(
        &self,
        pods: &Api<Pod>,
        pod: &str,
        step: &tkc_compiler::plan::Step,
        attempt: &Attempt,
        events: &EventSink,
        mut previous: Option<tokio::sync::watch::Receiver<bool>>,
        done: tokio::sync::watch::Sender<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let pods = pods.clone();
        let (pod, container, step) = (pod.to_string(), step.container.clone(), step.name.clone());
        let task = attempt.task.clone();
        let events = events.clone();
        let traffic = self.traffic.clone();
        tokio::spawn(async move {
            // Through the log budget, as the local backend's logs: a step that writes fast
            // waits for the printer instead of filling memory.
            let emit =
                |line: String| events.emit_log(task.clone(), step.clone(), Stream::Stdout, line);
            let params = LogParams {
                container: Some(container),
                follow: true,
                ..LogParams::default()
            };
            let stream = retry::retrying(|| {
                traffic.log.fetch_add(1, Ordering::Relaxed);
                pods.log_stream(&pod, &params)
            })
            .await;
            // Lines that arrive before the previous step's have all been passed on wait, up to
            // MAX_HELD bytes (then order gives way to memory).
            let mut held = Vec::new();
            let mut held_bytes = 0;
            if let Ok(stream) = stream {
                let mut lines = std::pin::pin!(log_lines(stream));
                loop {
                    tokio::select! {
                        line = lines.next() => match line {
                            Some(line) if previous.is_some() && held_bytes < MAX_HELD => {
                                held_bytes += line.len();
                                held.push(line);
                            }
                            Some(line) => emit(line).await,
                            None => break,
                        },
                        _ = previous_ended(&mut previous), if previous.is_some() => {
                            previous = None;
                            for line in held.drain(..) {
                                emit(line).await;
                            }
                        }
                    }
                }
            }
            if previous.is_some() {
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), previous_ended(&mut previous))
                        .await;
            }
            for line in held {
                emit(line).await;
            }
            done.send_replace(true);
        })
    }

    /// The attempt's outcome from its pod's last state, through the shared derivation.
    fn outcome(&self, attempt: &Attempt, pod: Option<&Pod>, stop: Option<Stop>) -> AttemptOutcome {
        let steps = &attempt.plan.pod.steps;
        let statuses = pod
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.container_statuses.as_ref());
        let ends: Vec<StepEnd> = steps
            .iter()
            .map(|step| {
                let terminated = statuses
                    .and_then(|all| all.iter().find(|c| c.name == step.container))
                    .and_then(|c| c.state.as_ref())
                    .and_then(|s| s.terminated.as_ref());
                match terminated {
                    Some(t) => StepEnd {
                        // A container killed by a signal (128 + n) when the run stopped it
                        // was killed, not failed, as the local backend reports it.
                        exit_code: Some(t.exit_code).filter(|c| stop.is_none() || *c < 128),
                        message: outcome::parse_message(t.message.as_deref().unwrap_or("")),
                    },
                    None => StepEnd::default(),
                }
            })
            .collect();
        let mut out = outcome::attempt_outcome(steps, &attempt.plan.pod.results, &ends, stop);
        let status = pod.and_then(|p| p.status.as_ref());
        if stop.is_none() {
            // A sidecar that ended on its own with a failure (not killed when tkc deleted the
            // pod after the steps: a signal's 128 + n) fails the attempt, as locally.
            let sidecar_ends: Vec<(String, Option<i32>)> = attempt
                .plan
                .pod
                .sidecars
                .iter()
                .map(|sidecar| {
                    let code = statuses
                        .and_then(|all| all.iter().find(|c| c.name == sidecar.container))
                        .and_then(|c| c.state.as_ref()?.terminated.as_ref())
                        .map(|t| t.exit_code)
                        .filter(|c| *c < 128);
                    (sidecar.container.clone(), code)
                })
                .collect();
            outcome::apply_sidecars(&mut out, &sidecar_ends);
            if let Some(s) = status.filter(|s| s.reason.as_deref() == Some("Evicted")) {
                out.failure = Some((
                    POD_EVICTED.to_string(),
                    s.message
                        .clone()
                        .unwrap_or_else(|| "The pod was evicted".into()),
                ));
            } else if pod.is_none()
                || status.and_then(|s| s.phase.as_deref()) == Some("Failed")
                    && out.failure.is_none()
            {
                let message = status.and_then(|s| s.message.clone()).unwrap_or_else(|| {
                    format!(
                        "pod \"{}\" was deleted",
                        tkc_pods::pod_name(&attempt.task_run, attempt.retry)
                    )
                });
                out.failure = Some(("Failed".to_string(), message));
            }
        }
        out
    }
}

/// How much of a step's log waits for the previous step's to end.
const MAX_HELD: usize = 1 << 20;

/// A container's log as lines cut as the local backend cuts them ([`LogLines`]): a step that
/// writes without newlines, or bytes that are not UTF-8, cannot hold tkc's memory or end the
/// stream early.
fn log_lines(
    stream: impl futures_util::AsyncBufRead + Send,
) -> impl futures_util::Stream<Item = String> + Send {
    let state = (Box::pin(stream), LogLines::default(), false);
    futures_util::stream::unfold(state, |(mut reader, mut cut, ended)| async move {
        if ended {
            return None;
        }
        loop {
            let (took, line) = match reader.fill_buf().await {
                Ok(chunk) if !chunk.is_empty() => cut.take(chunk),
                _ => return cut.finish().map(|line| (line, (reader, cut, true))),
            };
            reader.consume_unpin(took);
            if let Some(line) = line {
                return Some((line, (reader, cut, false)));
            }
        }
    })
}

/// Until the previous step's log stream has ended (or its task is gone).
async fn previous_ended(previous: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    if let Some(rx) = previous {
        let _ = rx.wait_for(|done| *done).await;
    }
}

fn has_ready_annotation(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(tkc_pods::READY_ANNOTATION))
        .is_some_and(|v| v == "READY")
}

/// Tekton's `SidecarsReady` (`pkg/pod/status.go`): the pod runs, and every container that is
/// not a step is running and ready, or has terminated.
fn sidecars_ready(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    if status.phase.as_deref() != Some("Running") {
        return false;
    }
    status.container_statuses.iter().flatten().all(|c| {
        if c.name.starts_with("step-") {
            return true;
        }
        let state = c.state.as_ref();
        (state.is_some_and(|s| s.running.is_some()) && c.ready)
            || state.is_some_and(|s| s.terminated.is_some())
    })
}

/// Every step's container has terminated (Tekton's `areContainersCompleted`).
fn steps_done(pod: &Pod, steps: &[tkc_compiler::plan::Step]) -> bool {
    let Some(all) = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
    else {
        return false;
    };
    steps.iter().all(|step| {
        all.iter()
            .find(|c| c.name == step.container)
            .and_then(|c| c.state.as_ref())
            .is_some_and(|s| s.terminated.is_some())
    })
}

fn container_started(pod: &Pod, container: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|all| all.iter().find(|c| c.name == container))
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
}

/// The waiting message of a container of a pending pod in `CreateContainerConfigError`, but
/// for a subPath directory not made yet, which Tekton waits for (`isPodHitConfigError`,
/// `isSubPathDirectoryError` in pkg/pod/status.go).
fn config_error(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Pending") {
        return None;
    }
    status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .find(|w| {
            w.reason.as_deref() == Some("CreateContainerConfigError")
                && !w
                    .message
                    .as_deref()
                    .unwrap_or_default()
                    .contains("failed to create subPath directory")
        })
        .map(|w| w.message.clone().unwrap_or_default())
}

fn terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}, "status": status}))
            .unwrap()
    }

    #[test]
    fn a_pending_container_without_its_configuration_fails_the_attempt() {
        let waiting = |message: &str| {
            pod(
                serde_json::json!({"phase": "Pending", "containerStatuses": [
                    {"name": "step-a", "ready": false, "restartCount": 0, "image": "", "imageID": "",
                     "state": {"waiting": {"reason": "CreateContainerConfigError", "message": message}}}
                ]}),
            )
        };
        assert_eq!(
            config_error(&waiting("couldn't find key token in Secret default/creds")).as_deref(),
            Some("couldn't find key token in Secret default/creds")
        );
        // Tekton waits for a subPath directory to be made.
        assert_eq!(
            config_error(&waiting(
                "failed to create subPath directory for volumeMount"
            )),
            None
        );
        assert_eq!(
            config_error(&pod(serde_json::json!({"phase": "Running"}))),
            None
        );
    }

    #[test]
    fn outcomes_round_trip_through_the_owner_object() {
        let outcome = AttemptOutcome {
            steps: vec![tkc_runtime::backend::StepOutcome {
                name: "s".into(),
                exit_code: Some(3),
                status: "Failed".into(),
            }],
            results: BTreeMap::from([("r".to_string(), ParamValue::String("v".into()))]),
            failure: Some(("StepFailed".into(), "\"step-s\" exited with code 3".into())),
        };
        assert_eq!(read_outcome(&write_outcome(&outcome)), Some(outcome));
        let ok = AttemptOutcome::default();
        assert_eq!(read_outcome(&write_outcome(&ok)), Some(ok));
        assert_eq!(read_outcome("not json"), None);
    }

    #[test]
    fn sidecars_are_ready_as_tekton_decides() {
        // Not running yet: not ready, whatever the containers say.
        assert!(!sidecars_ready(&pod(
            serde_json::json!({"phase": "Pending"})
        )));
        // Steps do not count; a running sidecar must be ready; a terminated one is done.
        let running = |ready: bool| {
            pod(
                serde_json::json!({"phase": "Running", "containerStatuses": [
                    {"name": "step-a", "ready": false, "restartCount": 0, "image": "", "imageID": "", "state": {"waiting": {}}},
                    {"name": "sidecar-db", "ready": ready, "restartCount": 0, "image": "", "imageID": "", "state": {"running": {}}},
                    {"name": "sidecar-once", "ready": false, "restartCount": 0, "image": "", "imageID": "", "state": {"terminated": {"exitCode": 0}}},
                ]}),
            )
        };
        assert!(sidecars_ready(&running(true)));
        assert!(!sidecars_ready(&running(false)));
        // No sidecars: ready once running.
        assert!(sidecars_ready(&pod(
            serde_json::json!({"phase": "Running"})
        )));
    }

    /// `deploy/rbac.yaml` grants exactly what the preflight asks for: no verb tkc never uses
    /// (the cluster's admin would grant it for nothing), none it uses and does not check.
    #[test]
    fn the_role_grants_exactly_the_preflights_permissions() {
        use std::collections::BTreeSet;
        use tkc_compiler::syntax::{node_to_json, yaml};
        let text = include_str!("../../deploy/rbac.yaml");
        let parsed = yaml::parse(tkc_compiler::source::FileId::default(), text);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let role = parsed
            .documents
            .iter()
            .map(node_to_json)
            .find(|d| d["kind"] == "Role")
            .unwrap();
        let mut granted = BTreeSet::new();
        for rule in role["rules"].as_array().unwrap() {
            assert_eq!(rule["apiGroups"], serde_json::json!([""]), "{rule}");
            for resource in rule["resources"].as_array().unwrap() {
                for verb in rule["verbs"].as_array().unwrap() {
                    let pair = (resource.as_str().unwrap(), verb.as_str().unwrap());
                    assert!(granted.insert(pair), "granted twice: {pair:?}");
                }
            }
        }
        let asked: BTreeSet<(&str, &str)> =
            PERMISSIONS.iter().map(|p| (p.resource, p.verb)).collect();
        assert_eq!(granted, asked);
    }

    #[test]
    fn only_transient_errors_are_retried() {
        let status = |code: u16| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                ..Default::default()
            }))
        };
        assert!(retry::worth_retry(&status(429)));
        assert!(retry::worth_retry(&status(500)));
        assert!(retry::worth_retry(&status(503)));
        assert!(!retry::worth_retry(&status(403)));
        assert!(!retry::worth_retry(&status(409)));
        assert!(!retry::worth_retry(&status(422)));
    }
}
