//! The kubelet: runs each pod on this machine, as a node's kubelet would.
//!
//! A pod is scheduled once the claims it mounts exist (else it stays `Pending`,
//! `Unschedulable`, as the scheduler leaves it), bound to the node `tkc-kubetest`, its volumes
//! are made as directories under the state directory (`emptyDir`; `configMap`, `secret`,
//! `downwardAPI` and `projected` written as the kubelet's `AtomicWriter` does, with a `..data`
//! symlink swapped on update, so the downward API follows annotation patches live;
//! `persistentVolumeClaim` as one directory per claim that outlives the pod), its init
//! containers run one after the other, then its containers all at once. A container is its
//! `command` + `args` run under bubblewrap (images are ignored: host programs, as the local
//! backend runs them), with its volumes at their `mountPath`s over a read-only view of the
//! host, a private `/tmp` (a directory of its own), `/dev` and `/proc`, and its
//! `terminationMessagePath` bound to a file that becomes `state.terminated.message`. A
//! container's `ready` follows its readiness probe (`prober`), and the pod's `ContainersReady`
//! and `Ready` conditions follow its containers'. Deletion sends SIGTERM to the container's
//! processes and SIGKILL after the grace period; `activeDeadlineSeconds` fails the pod with
//! reason `DeadlineExceeded`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodIP, PodStatus, Secret,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::prober;
use crate::store::{ChangeType, Kind, meta_str};
use crate::{Shared, relock};

/// The node every pod is bound to.
pub const NODE_NAME: &str = "tkc-kubetest";
/// `kubecontainer.MaxContainerTerminationMessageLength` and the log fallback's limits.
const MAX_MESSAGE: usize = 4096;
const FALLBACK_LINES: usize = 80;
const FALLBACK_BYTES: usize = 2048;

/// The kubelet's part of the shared state.
pub struct State {
    bwrap: Result<PathBuf, String>,
    allow_host_path: bool,
    images: BTreeMap<String, crate::ImageConfig>,
    /// Process groups of running containers, to kill them all when the server stops.
    groups: Mutex<BTreeMap<u64, i32>>,
    next: AtomicU64,
    /// Evictions requested for (namespace, pod), to the worker of the pod with that uid.
    evictions: Mutex<BTreeMap<(String, String), Evictor>>,
}

/// A pod worker's uid and the channel that tells it to evict its pod.
type Evictor = (String, mpsc::UnboundedSender<()>);

impl State {
    pub fn new(
        bwrap: Result<PathBuf, String>,
        allow_host_path: bool,
        images: BTreeMap<String, crate::ImageConfig>,
    ) -> State {
        State {
            bwrap,
            allow_host_path,
            images,
            groups: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
            evictions: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn unavailable(&self) -> Option<String> {
        self.bwrap.as_ref().err().cloned()
    }

    pub fn evict(&self, ns: &str, pod: &str) -> bool {
        relock(&self.evictions)
            .get(&(ns.to_string(), pod.to_string()))
            .is_some_and(|(_, tx)| tx.send(()).is_ok())
    }

    /// SIGKILL to every container process group (the server is stopping).
    pub fn kill_all(&self) {
        for pgid in relock(&self.groups).values() {
            if let Some(pid) = rustix::process::Pid::from_raw(*pgid) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
    }

    fn register(&self, pgid: i32) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        relock(&self.groups).insert(id, pgid);
        id
    }

    fn unregister(&self, id: u64) {
        relock(&self.groups).remove(&id);
    }
}

/// `bwrap` (given, or on `PATH`) if it can create the namespaces containers need here.
pub fn find_bwrap(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    let bwrap = match explicit {
        Some(b) => b,
        None => std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join("bwrap"))
            .find(|p| p.is_file())
            .ok_or("bubblewrap (bwrap) is not installed: the kubelet cannot run containers")?,
    };
    let works = std::process::Command::new(&bwrap)
        .args([
            "--ro-bind",
            "/",
            "/",
            "--unshare-pid",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "true",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        Ok(bwrap)
    } else {
        Err(format!(
            "{} cannot create namespaces here: the kubelet cannot run containers",
            bwrap.display()
        ))
    }
}

/// Starts the kubelet's sync loop on the current runtime.
pub fn start(shared: Arc<Shared>) {
    tokio::spawn(sync_loop(shared));
}

async fn sync_loop(shared: Arc<Shared>) {
    let mut changes = shared.store.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    let mut workers: BTreeMap<String, watch::Sender<Option<Value>>> = BTreeMap::new();
    loop {
        let change = tokio::select! {
            c = changes.recv() => c,
            _ = shutdown.changed() => return,
        };
        match change {
            Ok(c) if c.kind == Kind::Pod => {
                let uid = meta_str(&c.object, "uid").to_string();
                if c.change == ChangeType::Deleted {
                    if let Some(w) = workers.remove(&uid) {
                        w.send_replace(None);
                    }
                } else if let Some(w) = workers.get(&uid) {
                    w.send_replace(Some(c.object.clone()));
                } else {
                    let (tx, rx) = watch::channel(Some(c.object.clone()));
                    workers.insert(uid, tx);
                    tokio::spawn(run_pod(shared.clone(), c.object.clone(), rx));
                }
            }
            Ok(c) if c.kind == Kind::PersistentVolumeClaim && c.change == ChangeType::Deleted => {
                let dir = claim_dir(&shared, &c.namespace, &c.object);
                let _ = tokio::fs::remove_dir_all(dir).await;
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Resynchronise from the store, as a kubelet relists.
                let (pods, _) = shared.store.list(Kind::Pod, None);
                let live: BTreeSet<String> = pods
                    .iter()
                    .map(|p| meta_str(p, "uid").to_string())
                    .collect();
                workers.retain(|uid, w| {
                    let keep = live.contains(uid);
                    if !keep {
                        w.send_replace(None);
                    }
                    keep
                });
                for pod in pods {
                    let uid = meta_str(&pod, "uid").to_string();
                    match workers.get(&uid) {
                        Some(w) => {
                            w.send_replace(Some(pod));
                        }
                        None => {
                            let (tx, rx) = watch::channel(Some(pod.clone()));
                            workers.insert(uid, tx);
                            tokio::spawn(run_pod(shared.clone(), pod, rx));
                        }
                    }
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn claim_dir(shared: &Shared, ns: &str, pvc: &Value) -> PathBuf {
    shared.state_dir.join("claims").join(format!(
        "{ns}_{}_{}",
        meta_str(pvc, "name"),
        meta_str(pvc, "uid")
    ))
}

/// How a container ended.
struct Exit {
    code: i32,
    signal: Option<i32>,
}

/// A running container.
struct Proc {
    pid: i32,
    registry: u64,
}

/// Why the pod's containers are being stopped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Deleted,
    Deadline,
    Evicted,
}

/// What woke the pod worker.
enum Wake {
    Exit(String, Exit),
    Updated,
    Gone,
    Deadline,
    Evict,
    Shutdown,
    Tick,
    Probe(prober::Report),
}

struct PodRun {
    shared: Arc<Shared>,
    ns: String,
    name: String,
    uid: String,
    pod: Value,
    spec: Pod,
    updates: watch::Receiver<Option<Value>>,
    shutdown: watch::Receiver<bool>,
    evictions: mpsc::UnboundedReceiver<()>,
    exits_tx: mpsc::UnboundedSender<(String, Exit)>,
    exits: mpsc::UnboundedReceiver<(String, Exit)>,
    dir: PathBuf,
    status: PodStatus,
    volumes: BTreeMap<String, PathBuf>,
    running: BTreeMap<String, Proc>,
    deadline: Option<tokio::time::Instant>,
    gone: bool,
    /// Warnings already reported (a retried failure is one event, as the recorder counts it).
    reported: BTreeSet<String>,
    /// The readiness probe workers of running containers, by container.
    probes: BTreeMap<String, prober::Worker>,
    probe_tx: mpsc::UnboundedSender<prober::Report>,
    probe_rx: mpsc::UnboundedReceiver<prober::Report>,
}

async fn run_pod(shared: Arc<Shared>, pod: Value, updates: watch::Receiver<Option<Value>>) {
    let ns = meta_str(&pod, "namespace").to_string();
    let name = meta_str(&pod, "name").to_string();
    let uid = meta_str(&pod, "uid").to_string();
    let Ok(spec) = serde_json::from_value::<Pod>(pod.clone()) else {
        return;
    };
    let (evict_tx, evictions) = mpsc::unbounded_channel();
    relock(&shared.kubelet.evictions).insert((ns.clone(), name.clone()), (uid.clone(), evict_tx));
    let (exits_tx, exits) = mpsc::unbounded_channel();
    let status = spec.status.clone().unwrap_or_default();
    let (probe_tx, probe_rx) = mpsc::unbounded_channel();
    let mut run = PodRun {
        dir: shared.pod_dir(&ns, &name, &uid),
        shutdown: shared.shutdown.subscribe(),
        shared: shared.clone(),
        ns: ns.clone(),
        name: name.clone(),
        uid,
        pod,
        spec,
        updates,
        evictions,
        exits_tx,
        exits,
        status,
        volumes: BTreeMap::new(),
        running: BTreeMap::new(),
        deadline: None,
        gone: false,
        reported: BTreeSet::new(),
        probes: BTreeMap::new(),
        probe_tx,
        probe_rx,
    };
    run.run().await;
    run.kill_everything().await;
    if run.gone {
        // The pod is gone: its directories (emptyDirs, logs) go with it; claims stay.
        let _ = tokio::fs::remove_dir_all(&run.dir).await;
    }
    // A new pod of the same name may have taken the slot already.
    let mut ev = relock(&shared.kubelet.evictions);
    if ev
        .get(&(ns.clone(), name.clone()))
        .is_some_and(|(u, _)| *u == run.uid)
    {
        ev.remove(&(ns, name));
    }
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message,
        }),
        ..Default::default()
    }
}

impl PodRun {
    fn deleting(&self) -> bool {
        self.pod
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
    }

    fn containers(&self, init: bool) -> Vec<Container> {
        let spec = self.spec.spec.clone().unwrap_or_default();
        if init {
            spec.init_containers.unwrap_or_default()
        } else {
            spec.containers
        }
    }

    async fn run(&mut self) {
        let delay = self.shared.kubelet_delay();
        if !delay.is_zero() && self.sleep_or_gone(delay).await {
            return;
        }
        // Scheduling: every claim the pod mounts must exist.
        loop {
            if self.gone {
                return;
            }
            if self.deleting() {
                self.confirm_deleted();
                return;
            }
            let message = match (self.missing_claim(), self.selector_mismatch()) {
                (Some(claim), _) => format!(
                    "0/1 nodes are available: persistentvolumeclaim {claim:?} not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
                ),
                (None, true) => "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".to_string(),
                (None, false) => break,
            };
            self.event_once(
                "Warning",
                "FailedScheduling",
                &message,
                None,
                "default-scheduler",
            );
            self.set_condition("PodScheduled", false, Some("Unschedulable"), Some(message));
            self.publish();
            if self.sleep_or_gone(Duration::from_millis(100)).await {
                return;
            }
        }
        self.bind();
        let assigned = format!(
            "Successfully assigned {}/{} to {NODE_NAME}",
            self.ns, self.name
        );
        self.event("Normal", "Scheduled", &assigned, None, "default-scheduler");
        // Volumes, retried while what they need is missing (ContainerCreating).
        loop {
            if self.gone {
                return;
            }
            if self.deleting() {
                self.confirm_deleted();
                return;
            }
            match self.make_volumes() {
                Ok(()) => break,
                Err(message) => {
                    self.event_once("Warning", "FailedMount", &message, None, "kubelet");
                    self.set_all_waiting("ContainerCreating", Some(message));
                    self.publish();
                    if self.sleep_or_gone(Duration::from_millis(100)).await {
                        return;
                    }
                }
            }
        }
        self.set_condition("PodReadyToStartContainers", true, None, None);
        if let Some(secs) = self
            .spec
            .spec
            .as_ref()
            .and_then(|s| s.active_deadline_seconds)
        {
            self.deadline =
                Some(tokio::time::Instant::now() + Duration::from_secs(secs.max(0).unsigned_abs()));
        }
        if let Some(reason) = self.shared.kubelet.unavailable() {
            self.set_all_waiting("CreateContainerError", Some(reason));
            self.publish();
            self.idle_until_deleted().await;
            return;
        }
        let mut stop = None;
        for c in self.containers(true) {
            match self.start(&c, true) {
                Ok(()) => {}
                Err((reason, message)) => {
                    self.event(
                        "Warning",
                        "Failed",
                        &format!("Error: {message}"),
                        Some(container_path(&c.name, true)),
                        "kubelet",
                    );
                    self.set_state(&c.name, true, waiting(reason, Some(message)));
                    self.publish();
                    self.idle_until_deleted().await;
                    return;
                }
            }
            self.publish();
            stop = self.wait_running().await;
            let failed = self
                .container_status(&c.name, true)
                .and_then(|s| {
                    s.state
                        .as_ref()?
                        .terminated
                        .as_ref()
                        .map(|t| t.exit_code != 0)
                })
                .unwrap_or(true);
            if stop.is_some() || failed {
                break;
            }
        }
        let inits_ok = stop.is_none()
            && self.containers(true).iter().all(|c| {
                self.container_status(&c.name, true)
                    .and_then(|s| {
                        s.state
                            .as_ref()?
                            .terminated
                            .as_ref()
                            .map(|t| t.exit_code == 0)
                    })
                    .unwrap_or(false)
            });
        if inits_ok {
            self.set_condition("Initialized", true, None, None);
            let mut started = false;
            for c in self.containers(false) {
                match self.start(&c, false) {
                    Ok(()) => started = true,
                    Err((reason, message)) => {
                        self.event(
                            "Warning",
                            "Failed",
                            &format!("Error: {message}"),
                            Some(container_path(&c.name, false)),
                            "kubelet",
                        );
                        self.set_state(&c.name, false, waiting(reason, Some(message)))
                    }
                }
            }
            self.update_phase();
            self.publish();
            if started {
                stop = self.wait_running().await;
            }
            if !self.running.is_empty() || self.any_waiting() {
                // A container that could not start keeps the pod here until it is deleted.
                self.idle_until_deleted().await;
                return;
            }
        }
        self.finish(stop);
        self.publish();
        self.idle_until_deleted().await;
    }

    /// Records an Event about the pod, as the kubelet's (or the scheduler's) recorder does.
    fn event(
        &self,
        kind: &str,
        reason: &str,
        message: &str,
        field: Option<String>,
        component: &str,
    ) {
        if self.gone {
            return;
        }
        let n = EVENTS.fetch_add(1, Ordering::Relaxed);
        let now = crate::time::now_seconds();
        let mut involved = json!({"apiVersion": "v1", "kind": "Pod", "name": self.name,
            "namespace": self.ns, "uid": self.uid});
        if let Some(f) = field {
            involved["fieldPath"] = json!(f);
        }
        let event = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{}.{:016x}", self.name, n), "namespace": self.ns},
            "involvedObject": involved,
            "reason": reason, "message": message, "type": kind,
            "source": {"component": component, "host": NODE_NAME},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": component, "reportingInstance": NODE_NAME,
        });
        let _ = self.shared.store.create(Kind::Event, &self.ns, event);
    }

    fn event_once(
        &mut self,
        kind: &str,
        reason: &str,
        message: &str,
        field: Option<String>,
        component: &str,
    ) {
        if self.reported.insert(format!("{reason}\n{message}")) {
            self.event(kind, reason, message, field, component);
        }
    }

    fn any_waiting(&self) -> bool {
        self.status
            .container_statuses
            .iter()
            .flatten()
            .any(|s| s.state.as_ref().is_some_and(|st| st.waiting.is_some()))
    }

    /// The final phase and conditions once no container runs.
    fn finish(&mut self, stop: Option<Stop>) {
        let all = || {
            self.status
                .init_container_statuses
                .iter()
                .flatten()
                .chain(self.status.container_statuses.iter().flatten())
        };
        let ok = all().all(|s| {
            s.state
                .as_ref()
                .and_then(|st| st.terminated.as_ref())
                .is_some_and(|t| t.exit_code == 0)
        });
        self.status.phase = Some(
            if ok && stop.is_none() {
                "Succeeded"
            } else {
                "Failed"
            }
            .into(),
        );
        match stop {
            Some(Stop::Deadline) => {
                self.event(
                    "Normal",
                    "DeadlineExceeded",
                    "Pod was active on the node longer than the specified deadline",
                    None,
                    "kubelet",
                );
                self.status.reason = Some("DeadlineExceeded".into());
                self.status.message =
                    Some("Pod was active on the node longer than the specified deadline".into());
            }
            Some(Stop::Evicted) => {
                self.event(
                    "Warning",
                    "Evicted",
                    "The node was low on resource: memory.",
                    None,
                    "kubelet",
                );
                self.status.reason = Some("Evicted".into());
                self.status.message = Some(
                    "The node was low on resource: memory. Threshold quantity: 100Mi, available: 0Ki. "
                        .into(),
                );
                self.set_condition(
                    "DisruptionTarget",
                    true,
                    Some("TerminationByKubelet"),
                    Some("The node was low on resource: memory.".into()),
                );
            }
            _ => {}
        }
        self.set_condition("PodReadyToStartContainers", false, None, None);
        self.set_condition("ContainersReady", false, Some("PodCompleted"), None);
        self.set_condition("Ready", false, Some("PodCompleted"), None);
    }

    /// The pod's `nodeSelector` asks for a label the node lacks (node affinity is not read).
    fn selector_mismatch(&self) -> bool {
        let labels = node_labels();
        self.spec
            .spec
            .as_ref()
            .and_then(|s| s.node_selector.as_ref())
            .is_some_and(|sel| {
                sel.iter()
                    .any(|(k, v)| labels.get(k.as_str()) != Some(&v.as_str()))
            })
    }

    fn missing_claim(&self) -> Option<String> {
        let spec = self.spec.spec.as_ref()?;
        for v in spec.volumes.iter().flatten() {
            if let Some(pvc) = &v.persistent_volume_claim
                && self
                    .shared
                    .store
                    .get(Kind::PersistentVolumeClaim, &self.ns, &pvc.claim_name)
                    .is_none_or(|p| {
                        p.pointer("/metadata/deletionTimestamp")
                            .is_some_and(|d| !d.is_null())
                    })
            {
                return Some(pvc.claim_name.clone());
            }
        }
        None
    }

    fn bind(&mut self) {
        let ip = "127.0.0.1".to_string();
        self.status.host_ip = Some(ip.clone());
        self.status.host_ips = Some(vec![k8s_openapi::api::core::v1::HostIP { ip: ip.clone() }]);
        self.status.pod_ip = Some(ip.clone());
        self.status.pod_ips = Some(vec![PodIP { ip }]);
        self.status.start_time = Some(now());
        self.status.phase = Some("Pending".into());
        self.set_condition("PodScheduled", true, None, None);
        self.set_condition("PodReadyToStartContainers", false, None, None);
        let has_init = !self.containers(true).is_empty();
        self.set_condition(
            "Initialized",
            !has_init,
            has_init.then_some("ContainersNotInitialized"),
            has_init.then(|| "containers with incomplete status: [init]".into()),
        );
        self.set_condition("ContainersReady", false, Some("ContainersNotReady"), None);
        self.set_condition("Ready", false, Some("ContainersNotReady"), None);
        for c in self.containers(true) {
            self.set_state(&c.name, true, waiting("PodInitializing", None));
        }
        for c in self.containers(false) {
            let reason = if has_init {
                "PodInitializing"
            } else {
                "ContainerCreating"
            };
            self.set_state(&c.name, false, waiting(reason, None));
        }
        let (ns, name, uid) = (self.ns.clone(), self.name.clone(), self.uid.clone());
        let status = serde_json::to_value(&self.status).unwrap_or(Value::Null);
        let result = self.shared.store.update(Kind::Pod, &ns, &name, |old| {
            if meta_str(old, "uid") != uid {
                return Err(crate::status::ApiError::not_found(Kind::Pod, &name));
            }
            let mut new = old.clone();
            new["spec"]["nodeName"] = json!(NODE_NAME);
            new["status"] = status.clone();
            Ok(new)
        });
        if let Ok(p) = result {
            self.pod = p;
        }
    }

    /// Writes the pod's status to the store (a no-op when unchanged), and has the probe of
    /// every running container that is not ready run now, as `UpdatePodStatus` does on each
    /// status sync.
    fn publish(&mut self) {
        if self.gone {
            return;
        }
        for (name, worker) in &self.probes {
            let running = self
                .container_status(name, false)
                .is_some_and(|s| s.state.as_ref().is_some_and(|st| st.running.is_some()));
            if running && !worker.ready {
                worker.trigger();
            }
        }
        let (ns, name, uid) = (self.ns.clone(), self.name.clone(), self.uid.clone());
        let status = serde_json::to_value(&self.status).unwrap_or(Value::Null);
        let result = self.shared.store.update(Kind::Pod, &ns, &name, |old| {
            if meta_str(old, "uid") != uid {
                return Err(crate::status::ApiError::not_found(Kind::Pod, &name));
            }
            let mut new = old.clone();
            new["status"] = status.clone();
            Ok(new)
        });
        if let Ok(p) = result {
            self.pod = p;
        }
    }

    fn confirm_deleted(&mut self) {
        self.shared
            .store
            .confirm_pod_deleted(&self.ns, &self.name, &self.uid);
        self.gone = true;
    }

    fn set_condition(
        &mut self,
        kind: &str,
        value: bool,
        reason: Option<&str>,
        message: Option<String>,
    ) {
        let conditions = self.status.conditions.get_or_insert_with(Vec::new);
        let status = if value { "True" } else { "False" };
        match conditions.iter_mut().find(|c| c.type_ == kind) {
            Some(c) => {
                if c.status != status {
                    c.last_transition_time = Some(now());
                }
                c.status = status.into();
                c.reason = reason.map(String::from);
                c.message = message;
            }
            None => conditions.push(PodCondition {
                type_: kind.into(),
                status: status.into(),
                reason: reason.map(String::from),
                message,
                last_transition_time: Some(now()),
                last_probe_time: None,
                observed_generation: None,
            }),
        }
    }

    fn container_status(&self, name: &str, init: bool) -> Option<&ContainerStatus> {
        let list = if init {
            &self.status.init_container_statuses
        } else {
            &self.status.container_statuses
        };
        list.iter().flatten().find(|s| s.name == name)
    }

    fn set_state(&mut self, name: &str, init: bool, state: ContainerState) {
        let image = self
            .containers(init)
            .into_iter()
            .find(|c| c.name == name)
            .and_then(|c| c.image)
            .unwrap_or_default();
        let probe_ready = self.probes.get(name).is_none_or(|w| w.ready);
        let list = if init {
            self.status
                .init_container_statuses
                .get_or_insert_with(Vec::new)
        } else {
            self.status.container_statuses.get_or_insert_with(Vec::new)
        };
        let running = state.running.is_some();
        let done = state.terminated.is_some();
        let exit_ok = state.terminated.as_ref().is_some_and(|t| t.exit_code == 0);
        let started = state.waiting.is_none();
        if !list.iter().any(|s| s.name == name) {
            list.push(ContainerStatus {
                name: name.into(),
                image: image.clone(),
                image_id: String::new(),
                ..Default::default()
            });
            // `kubetypes.SortedContainerStatuses`: containers by name; init containers keep
            // their order (`SortInitContainerStatuses`), as they were added in it.
            if !init {
                list.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
        let Some(s) = list.iter_mut().find(|s| s.name == name) else {
            return;
        };
        s.state = Some(state);
        // `UpdatePodStatus`: an init container is ready once it succeeded; a container once it
        // runs and, if it has a readiness probe, that probe has succeeded.
        s.ready = if init {
            done && exit_ok
        } else {
            running && probe_ready
        };
        s.started = Some(started && running);
        if started && s.container_id.is_none() {
            s.container_id = Some(format!("tkc://{}-{name}", self.uid));
            s.image_id = format!("tkc-kubetest://{image}");
        }
    }

    fn set_all_waiting(&mut self, reason: &str, message: Option<String>) {
        for c in self.containers(false) {
            self.set_state(&c.name, false, waiting(reason, message.clone()));
        }
    }

    fn update_phase(&mut self) {
        let statuses: Vec<&ContainerStatus> =
            self.status.container_statuses.iter().flatten().collect();
        // `getPhase`: a container not yet started keeps the pod Pending; else one that
        // runs (or has run, the others still running) makes it Running.
        let any_waiting = statuses
            .iter()
            .any(|s| s.state.as_ref().is_none_or(|st| st.waiting.is_some()));
        let any_started = statuses.iter().any(|s| {
            s.state
                .as_ref()
                .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
        });
        self.status.phase = Some(
            if any_started && !any_waiting {
                "Running"
            } else {
                "Pending"
            }
            .into(),
        );
        // `GenerateContainersReadyCondition` / `GeneratePodReadyCondition`: ready when every
        // container is, else the unready ones in the spec's order.
        let not_ready: Vec<String> = self
            .containers(false)
            .into_iter()
            .filter(|c| !statuses.iter().any(|s| s.name == c.name && s.ready))
            .map(|c| c.name)
            .collect();
        if not_ready.is_empty() {
            self.set_condition("ContainersReady", true, None, None);
            self.set_condition("Ready", true, None, None);
        } else {
            let msg = format!("containers with unready status: [{}]", not_ready.join(" "));
            self.set_condition(
                "ContainersReady",
                false,
                Some("ContainersNotReady"),
                Some(msg.clone()),
            );
            self.set_condition("Ready", false, Some("ContainersNotReady"), Some(msg));
        }
    }

    /// A probe worker's report: the container's readiness (and the pod's conditions) follow
    /// it while the container runs; a failure is a Warning `Unhealthy` event.
    fn probed(&mut self, report: prober::Report) {
        match report {
            prober::Report::Unhealthy(name, message) => self.event_once(
                "Warning",
                "Unhealthy",
                &message,
                Some(container_path(&name, false)),
                "kubelet",
            ),
            prober::Report::Ready(name, ready) => {
                let Some(worker) = self.probes.get_mut(&name) else {
                    return;
                };
                worker.ready = ready;
                let Some(state) = self
                    .container_status(&name, false)
                    .and_then(|s| s.state.clone())
                else {
                    return;
                };
                self.set_state(&name, false, state);
                self.update_phase();
                self.publish();
            }
        }
    }

    /// Waits until no container runs; stops them on deletion, deadline or eviction.
    async fn wait_running(&mut self) -> Option<Stop> {
        let mut stop = None;
        while !self.running.is_empty() {
            match self.next_wake().await {
                Wake::Exit(name, exit) => self.record_exit(&name, exit),
                Wake::Updated => {
                    self.refresh_downward();
                    if self.deleting() && stop.is_none() {
                        stop = Some(Stop::Deleted);
                        self.stop_all(self.grace()).await;
                    }
                }
                Wake::Gone => {
                    stop = Some(Stop::Deleted);
                    self.stop_all(0).await;
                }
                Wake::Deadline => {
                    self.deadline = None;
                    if stop.is_none() {
                        stop = Some(Stop::Deadline);
                        self.stop_all(self.grace()).await;
                    }
                }
                Wake::Evict => {
                    if stop.is_none() {
                        stop = Some(Stop::Evicted);
                        self.stop_all(self.grace()).await;
                    }
                }
                Wake::Shutdown => {
                    self.kill_everything().await;
                    return Some(Stop::Deleted);
                }
                Wake::Probe(report) => self.probed(report),
                Wake::Tick => {}
            }
        }
        stop
    }

    /// After the pod has ended (or cannot start): wait for its deletion, then confirm it.
    async fn idle_until_deleted(&mut self) {
        loop {
            if self.gone {
                return;
            }
            if self.deleting() {
                self.stop_all(self.grace()).await;
                self.confirm_deleted();
                return;
            }
            match self.next_wake().await {
                Wake::Updated => self.refresh_downward(),
                Wake::Exit(name, exit) => self.record_exit(&name, exit),
                Wake::Gone | Wake::Shutdown => return,
                Wake::Evict => {
                    if self.status.phase.as_deref() != Some("Succeeded")
                        && self.status.phase.as_deref() != Some("Failed")
                    {
                        self.stop_all(self.grace()).await;
                        self.finish(Some(Stop::Evicted));
                        self.publish();
                    }
                }
                Wake::Deadline => {
                    self.deadline = None;
                    if self.status.phase.as_deref() != Some("Succeeded")
                        && self.status.phase.as_deref() != Some("Failed")
                    {
                        self.stop_all(self.grace()).await;
                        self.finish(Some(Stop::Deadline));
                        self.publish();
                    }
                }
                Wake::Probe(report) => self.probed(report),
                Wake::Tick => {}
            }
        }
    }

    /// The grace period: the deletion's, else the pod's.
    fn grace(&self) -> i64 {
        self.pod
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .or_else(|| {
                self.pod
                    .pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(30)
    }

    async fn sleep_or_gone(&mut self, d: Duration) -> bool {
        let until = tokio::time::Instant::now() + d;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return self.gone,
                r = self.updates.changed() => {
                    if r.is_err() {
                        self.gone = true;
                        return true;
                    }
                    match self.updates.borrow_and_update().clone() {
                        Some(p) => self.pod = p,
                        None => { self.gone = true; return true; }
                    }
                    if self.deleting() { return false; }
                }
                _ = self.shutdown.changed() => { self.gone = true; return true; }
            }
        }
    }

    async fn next_wake(&mut self) -> Wake {
        let deadline = self.deadline;
        tokio::select! {
            Some((name, exit)) = self.exits.recv() => Wake::Exit(name, exit),
            r = self.updates.changed() => {
                if r.is_err() {
                    self.gone = true;
                    return Wake::Gone;
                }
                let latest = self.updates.borrow_and_update().clone();
                match latest {
                    Some(p) => { self.pod = p; Wake::Updated }
                    None => { self.gone = true; Wake::Gone }
                }
            }
            _ = sleep_until(deadline) => Wake::Deadline,
            Some(()) = self.evictions.recv() => Wake::Evict,
            Some(report) = self.probe_rx.recv() => Wake::Probe(report),
            _ = self.shutdown.changed() => Wake::Shutdown,
            _ = tokio::time::sleep(Duration::from_secs(1)) => Wake::Tick,
        }
    }

    fn record_exit(&mut self, name: &str, exit: Exit) {
        let Some(proc_) = self.running.remove(name) else {
            return;
        };
        self.shared.kubelet.unregister(proc_.registry);
        // A container that will not restart is not probed again (`doProbe` returns false).
        self.probes.remove(name);
        let init = self.containers(true).iter().any(|c| c.name == name);
        let container = self
            .containers(init)
            .into_iter()
            .find(|c| c.name == name)
            .unwrap_or_default();
        let code = exit.code;
        let dir = self.dir.join("containers").join(name);
        // The container wrote this file: read no more than the kubelet's limit of it.
        let message = read_head(&dir.join("termination-log"), MAX_MESSAGE as u64);
        let mut message = String::from_utf8_lossy(&message).into_owned();
        if message.is_empty()
            && code != 0
            && container.termination_message_policy.as_deref() == Some("FallbackToLogsOnError")
        {
            let log = self.shared.log_path(&self.ns, &self.name, &self.uid, name);
            message = crate::logs::fallback_tail(&log, FALLBACK_LINES, FALLBACK_BYTES);
        }
        let started_at = self
            .container_status(name, init)
            .and_then(|s| s.state.as_ref()?.running.as_ref()?.started_at.clone());
        let terminated = ContainerStateTerminated {
            exit_code: code,
            signal: exit.signal,
            reason: Some(if code == 0 { "Completed" } else { "Error" }.into()),
            message: (!message.is_empty()).then_some(message),
            started_at,
            finished_at: Some(now()),
            container_id: Some(format!("tkc://{}-{name}", self.uid)),
        };
        self.set_state(
            name,
            init,
            ContainerState {
                terminated: Some(terminated),
                ..Default::default()
            },
        );
        if !init {
            self.update_phase();
        }
        self.publish();
    }

    /// SIGTERM to every running container's processes, SIGKILL after `grace` seconds.
    async fn stop_all(&mut self, grace: i64) {
        if self.running.is_empty() {
            return;
        }
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let init = self.containers(true).iter().any(|c| c.name == name);
            let message = format!("Stopping container {name}");
            self.event(
                "Normal",
                "Killing",
                &message,
                Some(container_path(&name, init)),
                "kubelet",
            );
        }
        for p in self.running.values() {
            terminate(p.pid);
        }
        let until = tokio::time::Instant::now() + Duration::from_secs(grace.max(0).unsigned_abs());
        while !self.running.is_empty() {
            tokio::select! {
                Some((name, exit)) = self.exits.recv() => self.record_exit(&name, exit),
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        self.kill_everything().await;
    }

    /// SIGKILL to what still runs, and wait (bounded) for the exits.
    async fn kill_everything(&mut self) {
        for p in self.running.values() {
            if let Some(pid) = rustix::process::Pid::from_raw(p.pid) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.running.is_empty() {
            tokio::select! {
                Some((name, exit)) = self.exits.recv() => self.record_exit(&name, exit),
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        for p in std::mem::take(&mut self.running).into_values() {
            self.shared.kubelet.unregister(p.registry);
        }
        self.probes.clear();
    }

    /// Makes every volume's directory.
    fn make_volumes(&mut self) -> Result<(), String> {
        let Some(spec) = self.spec.spec.clone() else {
            return Ok(());
        };
        for v in spec.volumes.iter().flatten() {
            let dir = self.dir.join("volumes").join(&v.name);
            let host = if v.empty_dir.is_some() {
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                dir
            } else if let Some(pvc) = &v.persistent_volume_claim {
                let claim = self
                    .shared
                    .store
                    .get(Kind::PersistentVolumeClaim, &self.ns, &pvc.claim_name)
                    .ok_or_else(|| {
                        format!("persistentvolumeclaim {:?} not found", pvc.claim_name)
                    })?;
                let d = claim_dir(&self.shared, &self.ns, &claim);
                std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
                d
            } else if let Some(hp) = &v.host_path {
                if !self.shared.kubelet.allow_host_path {
                    return Err(format!(
                        "hostPath volume {:?} refused: tkc-kubetest allows hostPath only with Options::allow_host_path",
                        v.name
                    ));
                }
                PathBuf::from(&hp.path)
            } else {
                let files = self.projected_files(v)?;
                atomic_write(&dir, &files).map_err(|e| {
                    format!("MountVolume.SetUp failed for volume {:?}: {e}", v.name)
                })?;
                dir
            };
            self.volumes.insert(v.name.clone(), host);
        }
        Ok(())
    }

    /// The files of a configMap, secret, downwardAPI or projected volume.
    fn projected_files(
        &self,
        v: &k8s_openapi::api::core::v1::Volume,
    ) -> Result<BTreeMap<String, (Vec<u8>, u32)>, String> {
        let mut files = BTreeMap::new();
        if let Some(cm) = &v.config_map {
            let mode = cm.default_mode.unwrap_or(0o644);
            self.config_map_files(&cm.name, cm.items.as_deref(), cm.optional, mode, &mut files)?;
        } else if let Some(s) = &v.secret {
            let mode = s.default_mode.unwrap_or(0o644);
            let name = s.secret_name.clone().unwrap_or_default();
            self.secret_files(&name, s.items.as_deref(), s.optional, mode, &mut files)?;
        } else if let Some(d) = &v.downward_api {
            let mode = d.default_mode.unwrap_or(0o644);
            for item in d.items.iter().flatten() {
                let content =
                    self.downward_item(item.field_ref.as_ref().map(|f| f.field_path.as_str()))?;
                files.insert(
                    item.path.clone(),
                    (content.into_bytes(), item.mode.unwrap_or(mode) as u32),
                );
            }
        } else if let Some(p) = &v.projected {
            let mode = p.default_mode.unwrap_or(0o644);
            for source in p.sources.iter().flatten() {
                if let Some(cm) = &source.config_map {
                    self.config_map_files(
                        &cm.name,
                        cm.items.as_deref(),
                        cm.optional,
                        mode,
                        &mut files,
                    )?;
                }
                if let Some(s) = &source.secret {
                    self.secret_files(&s.name, s.items.as_deref(), s.optional, mode, &mut files)?;
                }
                if let Some(d) = &source.downward_api {
                    for item in d.items.iter().flatten() {
                        let content = self.downward_item(
                            item.field_ref.as_ref().map(|f| f.field_path.as_str()),
                        )?;
                        files.insert(
                            item.path.clone(),
                            (content.into_bytes(), item.mode.unwrap_or(mode) as u32),
                        );
                    }
                }
                if let Some(t) = &source.service_account_token {
                    files.insert(
                        t.path.clone(),
                        (b"tkc-kubetest-token".to_vec(), mode as u32),
                    );
                }
            }
        } else {
            return Err(format!(
                "volume {:?}: tkc-kubetest supports emptyDir, configMap, secret, downwardAPI, projected, persistentVolumeClaim and (when allowed) hostPath volumes",
                v.name
            ));
        }
        Ok(files)
    }

    fn config_map_files(
        &self,
        name: &str,
        items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
        optional: Option<bool>,
        mode: i32,
        files: &mut BTreeMap<String, (Vec<u8>, u32)>,
    ) -> Result<(), String> {
        let Some(cm) = self.shared.store.get(Kind::ConfigMap, &self.ns, name) else {
            if optional == Some(true) {
                return Ok(());
            }
            return Err(format!("configmap {name:?} not found"));
        };
        let cm: ConfigMap = serde_json::from_value(cm).map_err(|e| e.to_string())?;
        let mut data: BTreeMap<String, Vec<u8>> = cm
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect();
        for (k, v) in cm.binary_data.unwrap_or_default() {
            data.insert(k, v.0);
        }
        select_items(
            data,
            items,
            optional,
            mode,
            files,
            &format!("configmap {name:?}"),
        )
    }

    fn secret_files(
        &self,
        name: &str,
        items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
        optional: Option<bool>,
        mode: i32,
        files: &mut BTreeMap<String, (Vec<u8>, u32)>,
    ) -> Result<(), String> {
        let Some(s) = self.shared.store.get(Kind::Secret, &self.ns, name) else {
            if optional == Some(true) {
                return Ok(());
            }
            return Err(format!("secret {name:?} not found"));
        };
        let s: Secret = serde_json::from_value(s).map_err(|e| e.to_string())?;
        let data = s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        select_items(
            data,
            items,
            optional,
            mode,
            files,
            &format!("secret {name:?}"),
        )
    }

    /// A downward API value (`fieldpath.ExtractFieldPathAsString`): labels and annotations
    /// as `key="value"` lines, sorted.
    fn downward_item(&self, path: Option<&str>) -> Result<String, String> {
        let path = path.unwrap_or("");
        let map = |field: &str| -> BTreeMap<String, String> {
            self.pod
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default()
        };
        for field in ["labels", "annotations"] {
            if path == format!("metadata.{field}") {
                return Ok(map(field)
                    .iter()
                    .map(|(k, v)| format!("{k}={}", crate::status::go_quote(v)))
                    .collect::<Vec<_>>()
                    .join("\n"));
            }
            if let Some(key) = path
                .strip_prefix(&format!("metadata.{field}['"))
                .and_then(|r| r.strip_suffix("']"))
            {
                return Ok(map(field).get(key).cloned().unwrap_or_default());
            }
        }
        self.field_value(path)
            .ok_or_else(|| format!("unsupported fieldPath: {path}"))
    }

    /// `podutil.ConvertDownwardAPIFieldLabel` values for env and files.
    fn field_value(&self, path: &str) -> Option<String> {
        let s = |p: &str| {
            self.pod
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Some(match path {
            "metadata.name" => self.name.clone(),
            "metadata.namespace" => self.ns.clone(),
            "metadata.uid" => self.uid.clone(),
            "spec.nodeName" => NODE_NAME.into(),
            "spec.serviceAccountName" => s("/spec/serviceAccountName"),
            "status.hostIP" | "status.hostIPs" | "status.podIP" | "status.podIPs" => {
                "127.0.0.1".into()
            }
            p if p.starts_with("metadata.labels['") || p.starts_with("metadata.annotations['") => {
                return self.downward_item(Some(p)).ok();
            }
            _ => return None,
        })
    }

    /// Rewrites downwardAPI (and projected downwardAPI) volumes after a metadata change.
    fn refresh_downward(&mut self) {
        if let Ok(p) = serde_json::from_value::<Pod>(self.pod.clone()) {
            // Only metadata may change the files; the spec is immutable.
            self.spec.metadata = p.metadata;
        }
        let Some(spec) = self.spec.spec.clone() else {
            return;
        };
        for v in spec.volumes.iter().flatten() {
            let downward = v.downward_api.is_some()
                || v.projected
                    .as_ref()
                    .is_some_and(|p| p.sources.iter().flatten().any(|s| s.downward_api.is_some()));
            if !downward {
                continue;
            }
            if let Ok(files) = self.projected_files(v) {
                let _ = atomic_write(&self.dir.join("volumes").join(&v.name), &files);
            }
        }
    }

    /// The environment of a container (`kubecontainer.MakeEnvironmentVariables`).
    fn environment(&self, c: &Container) -> Result<Vec<(String, String)>, (&'static str, String)> {
        let config = |m: String| ("CreateContainerConfigError", m);
        let mut env: Vec<(String, String)> = vec![
            (
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ),
            ("HOSTNAME".into(), self.name.clone()),
            ("HOME".into(), "/root".into()),
            ("KUBERNETES_SERVICE_HOST".into(), "127.0.0.1".into()),
            (
                "KUBERNETES_SERVICE_PORT".into(),
                self.shared.addr().port().to_string(),
            ),
        ];
        let set = |env: &mut Vec<(String, String)>, k: String, v: String| {
            env.retain(|(n, _)| *n != k);
            env.push((k, v));
        };
        for from in c.env_from.iter().flatten() {
            let prefix = from.prefix.clone().unwrap_or_default();
            let data: BTreeMap<String, String> = if let Some(r) = &from.config_map_ref {
                match self.shared.store.get(Kind::ConfigMap, &self.ns, &r.name) {
                    Some(cm) => serde_json::from_value::<ConfigMap>(cm)
                        .ok()
                        .and_then(|c| c.data)
                        .unwrap_or_default(),
                    None if r.optional == Some(true) => BTreeMap::new(),
                    None => return Err(config(format!("configmap {:?} not found", r.name))),
                }
            } else if let Some(r) = &from.secret_ref {
                match self.shared.store.get(Kind::Secret, &self.ns, &r.name) {
                    Some(s) => serde_json::from_value::<Secret>(s)
                        .ok()
                        .and_then(|s| s.data)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                        .collect(),
                    None if r.optional == Some(true) => BTreeMap::new(),
                    None => return Err(config(format!("secret {:?} not found", r.name))),
                }
            } else {
                BTreeMap::new()
            };
            for (k, v) in data {
                set(&mut env, format!("{prefix}{k}"), v);
            }
        }
        for e in c.env.iter().flatten() {
            let value = if let Some(from) = &e.value_from {
                if let Some(f) = &from.field_ref {
                    self.field_value(&f.field_path)
                        .ok_or_else(|| config(format!("unsupported fieldPath: {}", f.field_path)))?
                } else if let Some(r) = &from.config_map_key_ref {
                    let cm = self.shared.store.get(Kind::ConfigMap, &self.ns, &r.name);
                    let value = cm
                        .as_ref()
                        .and_then(|cm| {
                            cm.pointer(&format!(
                                "/data/{}",
                                r.key.replace('~', "~0").replace('/', "~1")
                            ))
                        })
                        .and_then(Value::as_str)
                        .map(String::from);
                    match (cm.is_some(), value) {
                        (_, Some(v)) => v,
                        _ if r.optional == Some(true) => continue,
                        (false, None) => {
                            return Err(config(format!("configmap {:?} not found", r.name)));
                        }
                        (true, None) => {
                            return Err(config(format!(
                                "couldn't find key {} in ConfigMap {}/{}",
                                r.key, self.ns, r.name
                            )));
                        }
                    }
                } else if let Some(r) = &from.secret_key_ref {
                    let s = self
                        .shared
                        .store
                        .get(Kind::Secret, &self.ns, &r.name)
                        .and_then(|s| serde_json::from_value::<Secret>(s).ok());
                    let value = s
                        .as_ref()
                        .and_then(|s| s.data.as_ref()?.get(&r.key))
                        .map(|v| String::from_utf8_lossy(&v.0).into_owned());
                    match (s.is_some(), value) {
                        (_, Some(v)) => v,
                        _ if r.optional == Some(true) => continue,
                        (false, None) => {
                            return Err(config(format!("secret {:?} not found", r.name)));
                        }
                        (true, None) => {
                            return Err(config(format!(
                                "couldn't find key {} in Secret {}/{}",
                                r.key, self.ns, r.name
                            )));
                        }
                    }
                } else {
                    String::new()
                }
            } else {
                let known: BTreeMap<String, String> = env.iter().cloned().collect();
                expand(e.value.as_deref().unwrap_or(""), &known)
            };
            set(&mut env, e.name.clone(), value);
        }
        Ok(env)
    }

    /// Starts one container under bubblewrap.
    fn start(&mut self, c: &Container, init: bool) -> Result<(), (&'static str, String)> {
        let Some(bwrap) = self.shared.kubelet.bwrap.as_ref().ok().cloned() else {
            return Err((
                "CreateContainerError",
                self.shared.kubelet.unavailable().unwrap_or_default(),
            ));
        };
        // The image's entrypoint and cmd fill in what the container leaves out, as a container
        // runtime does: no command => ENTRYPOINT, and CMD too when there are no args either.
        let command = c.command.clone().unwrap_or_default();
        let args = c.args.clone().unwrap_or_default();
        let image = c
            .image
            .as_deref()
            .and_then(|i| self.shared.kubelet.images.get(i));
        let (command, args) = match (command.is_empty(), image) {
            (false, _) => (command, args),
            (true, Some(image)) if args.is_empty() => (image.entrypoint.clone(), image.cmd.clone()),
            (true, Some(image)) => (image.entrypoint.clone(), args),
            (true, None) => (Vec::new(), args),
        };
        if command.is_empty() {
            return Err((
                "CreateContainerError",
                format!(
                    "container {:?} has no command: tkc-kubetest runs host programs and knows no entrypoint for image {:?} (Options::images)",
                    c.name,
                    c.image.as_deref().unwrap_or("")
                ),
            ));
        }
        let env = self.environment(c)?;
        let known: BTreeMap<String, String> = env.iter().cloned().collect();
        let argv: Vec<String> = command
            .iter()
            .chain(args.iter())
            .map(|a| expand(a, &known))
            .collect();
        let err = |e: std::io::Error| ("RunContainerError", e.to_string());
        let cdir = self.dir.join("containers").join(&c.name);
        std::fs::create_dir_all(&cdir).map_err(err)?;
        let term = cdir.join("termination-log");
        std::fs::write(&term, b"").map_err(err)?;
        let log = self
            .shared
            .log_path(&self.ns, &self.name, &self.uid, &c.name);
        let log_file = std::fs::File::create(&log).map_err(err)?;

        // The sandbox's arguments are kept: the container's exec probes run in one like it.
        let mut cmd = Args::default();
        cmd.args([
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
        ]);
        cmd.args(["--hostname", &self.name]);
        let mut mounts: Vec<(String, PathBuf, bool)> = Vec::new();
        let spec = self.spec.spec.clone().unwrap_or_default();
        for m in c.volume_mounts.iter().flatten() {
            let Some(host) = self.volumes.get(&m.name) else {
                return Err((
                    "CreateContainerConfigError",
                    format!("volume {:?} not found", m.name),
                ));
            };
            let source_ro = spec
                .volumes
                .iter()
                .flatten()
                .find(|v| v.name == m.name)
                .is_some_and(|v| {
                    v.config_map.is_some()
                        || v.secret.is_some()
                        || v.downward_api.is_some()
                        || v.projected.is_some()
                });
            let mut host = host.clone();
            if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                let base = host.canonicalize().map_err(err)?;
                // A symlink a container left in a shared volume must not carry a later mount,
                // nor the directories made for it, out of the volume (Kubernetes'
                // `doSafeMakeDir`): missing components are made one at a time, never through
                // a link.
                for component in Path::new(sub).components() {
                    host.push(component);
                    match std::fs::symlink_metadata(&host) {
                        Ok(meta) if meta.file_type().is_symlink() => {
                            let target = host.canonicalize().map_err(err)?;
                            if !target.starts_with(&base) {
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => std::fs::create_dir(&host).map_err(err)?,
                    }
                }
                let real = host.canonicalize().map_err(err)?;
                if !real.starts_with(&base) {
                    return Err((
                        "CreateContainerConfigError",
                        format!(
                            "failed to prepare subPath for volumeMount {:?} of container {:?}: subpath {:?} not within volume path",
                            m.name, c.name, sub
                        ),
                    ));
                }
                host = real;
            }
            mounts.push((
                m.mount_path.clone(),
                host,
                m.read_only == Some(true) || source_ro,
            ));
        }
        mounts.sort_by_key(|(p, _, _)| Path::new(p).components().count());
        let term_path = c
            .termination_message_path
            .clone()
            .unwrap_or_else(|| "/dev/termination-log".into());
        let mut targets: Vec<PathBuf> = mounts.iter().map(|(p, _, _)| PathBuf::from(p)).collect();
        targets.push(PathBuf::from(&term_path));
        if let Some(w) = c.working_dir.as_deref().filter(|w| !w.is_empty()) {
            targets.push(PathBuf::from(w));
        }
        host_view(&mut cmd, Path::new("/"), &targets);
        // The container's own `/tmp` (on disk, as an image's writable layer is), which its
        // exec probes see too.
        let tmp = cdir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(err)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).map_err(err)?;
        }
        cmd.args(["--proc", "/proc", "--dev", "/dev"]);
        cmd.arg("--bind").arg(&tmp).arg("/tmp");
        for (path, host, ro) in &mounts {
            cmd.arg(if *ro { "--ro-bind" } else { "--bind" })
                .arg(host)
                .arg(path);
        }
        cmd.arg("--bind").arg(&term).arg(&term_path);
        if let Some(w) = c.working_dir.as_deref().filter(|w| !w.is_empty()) {
            cmd.args(["--dir", w, "--chdir", w]);
        } else {
            cmd.args(["--chdir", "/"]);
        }
        let sandbox = prober::Sandbox {
            bwrap: bwrap.clone(),
            args: cmd.0,
            env,
        };
        let mut cmd = tokio::process::Command::new(&bwrap);
        cmd.args(&sandbox.args);
        cmd.arg("--");
        cmd.args(&argv);
        cmd.env_clear();
        cmd.envs(sandbox.env.iter().cloned());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            (
                "RunContainerError",
                format!("cannot start {}: {e}", bwrap.display()),
            )
        })?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        let registry = self.shared.kubelet.register(pid);
        let log_file = Arc::new(Mutex::new(log_file));
        let out = child
            .stdout
            .take()
            .map(|s| tokio::spawn(crate::logs::pump(s, "stdout", log_file.clone())));
        let errs = child
            .stderr
            .take()
            .map(|s| tokio::spawn(crate::logs::pump(s, "stderr", log_file.clone())));
        let tx = self.exits_tx.clone();
        let name = c.name.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            for p in [out, errs].into_iter().flatten() {
                let _ = tokio::time::timeout(Duration::from_secs(2), p).await;
            }
            use std::os::unix::process::ExitStatusExt;
            let exit = match status {
                Ok(s) => match (s.code(), s.signal()) {
                    (Some(c), _) => Exit {
                        code: c,
                        signal: None,
                    },
                    (None, Some(sig)) => Exit {
                        code: 128 + sig,
                        signal: Some(sig),
                    },
                    _ => Exit {
                        code: 1,
                        signal: None,
                    },
                },
                Err(_) => Exit {
                    code: 1,
                    signal: None,
                },
            };
            let _ = tx.send((name, exit));
        });
        self.running.insert(c.name.clone(), Proc { pid, registry });
        if !init && let Some(worker) = prober::Worker::start(c, sandbox, self.probe_tx.clone()) {
            self.probes.insert(c.name.clone(), worker);
        }
        let started = format!("Started container {}", c.name);
        self.event(
            "Normal",
            "Started",
            &started,
            Some(container_path(&c.name, init)),
            "kubelet",
        );
        self.set_state(
            &c.name,
            init,
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(now()),
                }),
                ..Default::default()
            },
        );
        Ok(())
    }
}

/// The host's file system, read-only, as the container's root: each entry of `dir` is bound
/// read-only (symlinks copied), except where a mount target lies inside it: such a directory
/// is made afresh and its entries bound one by one, so that the target's mount point can be
/// created without writing to the host, and a host directory that happens to share a
/// mount's path (`/workspace`) is hidden by the mount as an image's would be. `/proc`, `/dev`,
/// `/tmp` and `/sys` are the container's own.
fn host_view(cmd: &mut Args, dir: &Path, targets: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if dir == Path::new("/")
            && ["/proc", "/dev", "/tmp", "/sys"]
                .iter()
                .any(|s| p == Path::new(s))
        {
            continue;
        }
        let inside = targets.iter().any(|t| t.starts_with(&p));
        let link = std::fs::read_link(&p);
        match (inside, link) {
            (false, Ok(target)) => {
                cmd.arg("--symlink").arg(target).arg(&p);
            }
            (false, Err(_)) => {
                cmd.arg("--ro-bind").arg(&p).arg(&p);
            }
            // A mount lands exactly here, or under a symlink or file: the mount replaces it.
            (true, Ok(_)) => {}
            (true, Err(_)) if targets.contains(&p) || !p.is_dir() => {}
            (true, Err(_)) => {
                cmd.arg("--dir").arg(&p);
                host_view(cmd, &p, targets);
            }
        }
    }
}

/// Arguments being collected for a command (bubblewrap's, for a container's sandbox).
#[derive(Default)]
struct Args(Vec<std::ffi::OsString>);

impl Args {
    fn arg(&mut self, a: impl AsRef<std::ffi::OsStr>) -> &mut Args {
        self.0.push(a.as_ref().to_os_string());
        self
    }

    fn args<A: AsRef<std::ffi::OsStr>>(&mut self, all: impl IntoIterator<Item = A>) -> &mut Args {
        for a in all {
            self.arg(a);
        }
        self
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// SIGTERM to the processes of a container (the bubblewrap monitor `pid` excluded: it would
/// die of it and take the sandbox with it at once, leaving no grace period). The
/// sandbox's init ignores it, as a PID namespace's init does; the container's processes get it.
fn terminate(pid: i32) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(other) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if other == pid {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold anything, so split after its ')'.
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|g| g.parse::<i32>().ok());
        if pgrp == Some(pid)
            && let Some(p) = rustix::process::Pid::from_raw(other)
        {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
        }
    }
}

/// At most the first `limit` bytes of a file a container wrote (nothing if it cannot be read).
fn read_head(path: &Path, limit: u64) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    // The container wrote it: only a regular file, never through a link (a FIFO there would
    // block the pod's worker, a link would read a host file).
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
        return out;
    }
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(limit).read_to_end(&mut out);
    }
    out
}

/// The files of a configMap or secret: every key, or the items listed.
fn select_items(
    data: BTreeMap<String, Vec<u8>>,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
    optional: Option<bool>,
    mode: i32,
    files: &mut BTreeMap<String, (Vec<u8>, u32)>,
    what: &str,
) -> Result<(), String> {
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                match data.get(&item.key) {
                    Some(bytes) => {
                        files.insert(
                            item.path.clone(),
                            (bytes.clone(), item.mode.unwrap_or(mode) as u32),
                        );
                    }
                    None if optional == Some(true) => {}
                    None => {
                        return Err(format!(
                            "configuration for {what} has no key {:?}",
                            item.key
                        ));
                    }
                }
            }
        }
        _ => {
            for (k, bytes) in data {
                files.insert(k, (bytes, mode as u32));
            }
        }
    }
    Ok(())
}

/// `expansion.Expand`: `$(VAR)` becomes VAR's value when VAR is defined, `$$` a `$`.
pub(crate) fn expand(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(') {
            match body.find(')') {
                Some(end) => {
                    let name = &body[..end];
                    match env.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = body;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

static WRITES: AtomicU64 = AtomicU64::new(0);
static EVENTS: AtomicU64 = AtomicU64::new(0);

/// The node's labels, as a kubelet registers them (`kubernetes.io/arch` in Go's spelling).
pub fn node_labels() -> BTreeMap<&'static str, &'static str> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    };
    BTreeMap::from([
        ("kubernetes.io/arch", arch),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/hostname", NODE_NAME),
        ("beta.kubernetes.io/arch", arch),
        ("beta.kubernetes.io/os", "linux"),
    ])
}

/// An event's `fieldPath` for a container.
fn container_path(name: &str, init: bool) -> String {
    if init {
        format!("spec.initContainers{{{name}}}")
    } else {
        format!("spec.containers{{{name}}}")
    }
}

/// `volume/util.AtomicWriter`: the files go to a fresh `..TIMESTAMP` directory, `..data`
/// is swapped to it by a rename, and each top-level name is a symlink through `..data`, so
/// a reader sees the old set or the new one, never a mix.
fn atomic_write(dir: &Path, files: &BTreeMap<String, (Vec<u8>, u32)>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let stamp = format!(
        "..{}_{}.{n}",
        jiff::Timestamp::now().strftime("%Y_%m_%d_%H_%M_%S"),
        std::process::id()
    );
    let fresh = dir.join(&stamp);
    std::fs::create_dir_all(&fresh)?;
    for (path, (bytes, mode)) in files {
        let target = fresh.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode & 0o7777))?;
    }
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&stamp, &tmp)?;
    std::fs::rename(&tmp, dir.join("..data"))?;
    let tops: BTreeSet<String> = files
        .keys()
        .filter_map(|p| p.split('/').next().map(String::from))
        .collect();
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(top), &link)?;
        }
    }
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") {
            if name != "..data" && name != stamp {
                let _ = std::fs::remove_dir_all(e.path());
            }
        } else if !tops.contains(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_kubernetes() {
        let env: BTreeMap<String, String> = [("A".to_string(), "x".to_string())].into();
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &env), "x-$(B)-$(A)-$");
        assert_eq!(expand("$(A", &env), "$(A");
    }

    #[test]
    fn atomic_writer_swaps_data() {
        let dir = std::env::temp_dir().join(format!("tkc-kubetest-aw-{}", std::process::id()));
        let mut files = BTreeMap::new();
        files.insert("ready".to_string(), (b"".to_vec(), 0o644));
        files.insert("sub/x".to_string(), (b"1".to_vec(), 0o755));
        assert!(atomic_write(&dir, &files).is_ok());
        files.insert("ready".to_string(), (b"READY".to_vec(), 0o644));
        files.remove("sub/x");
        assert!(atomic_write(&dir, &files).is_ok());
        assert_eq!(
            std::fs::read(dir.join("ready")).ok(),
            Some(b"READY".to_vec())
        );
        assert!(!dir.join("sub").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
