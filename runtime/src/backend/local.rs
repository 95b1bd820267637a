//! The local backend: a task attempt is a directory laid out like the volumes of Tekton's pod,
//! and its steps are host processes started through the tkc entrypoint.
//!
//! ```text
//! <run dir>/<taskrun>-pod[-retry<k>][-<n>]/   (fresh per attempt; `-<n>` if the name is taken)
//!   tekton/{bin,run/<i>,results,steps,scripts,downward,home}
//!   workspace/            (Tekton's /workspace emptyDir; the default working directory)
//!   ws/<name>/            emptyDir workspaces of this attempt, and its ConfigMap, Secret and
//!                         projected workspaces, written fresh per attempt and read-only
//!   volumes/<name>/       the Task's own volumes
//! <run dir>/workspaces/<name>/   run-scoped workspaces (volumeClaimTemplate, implicit ones)
//! <state dir>/claims/<claim>/    persistentVolumeClaim workspaces, kept across runs
//! ```
//!
//! All steps of an attempt start at once, as the containers of a pod do, and are ordered only
//! by the entrypoint's wait and post files: the protocol is the real one and a hand-off costs
//! about a millisecond. With `isolate`, each step runs under bubblewrap in a mount namespace
//! that shows these directories at Tekton's own paths (`/tekton/...`, `/workspace/...`), with
//! the host's `/usr`, `/bin`, `/lib*` and the parts of `/etc` tools need read-only, without
//! any capability (root included), in its own PID, UTS, IPC and (unless the run asks for
//! the network) network namespaces and session. `docs/security.md` is the threat model.
//!
//! With a container engine ([`engine`], `tkc run --backend podman|docker`), each step and
//! sidecar runs in its own image instead, seeing the same directories through bind mounts at
//! Tekton's paths, and chained by the same entrypoint (the static build, mounted read-only).
//!
//! Names from the run never become host paths unchecked: see [`paths`].

mod dirs;
pub mod engine;
pub mod paths;
mod procs;

pub use dirs::{
    MIN_TMPFS_FREE, OWNER_FILE, check_private, create_run_dir, make_removable, own_identity,
    owner_alive, private_dir, reap_dead_runs, remove_tree, runs_base, user_id,
};
pub use procs::{adopt_orphans, kill_own_descendants};

use super::outcome::{self, MAX_MESSAGE_BYTES, MessageEntry, StepEnd};
use super::{Attempt, AttemptOutcome, Backend, RunIdentity, Stop, StopSignal};
use crate::events::{Event, EventSink, LogLines, Stream, TaskId};
use crate::values::{self, Values};
use engine::{ContainerSpec, Engine, ImageInfo, PullPolicy};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tkc_compiler::plan::{
    Binding, EnvVar, OnError, PathRef, Plan, ResultDecl, Step, StepWorkspace, VolumeMount,
    WorkspaceSource,
};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

/// How long stopped steps get to go before their process groups are killed.
const STOP_GRACE: Duration = Duration::from_millis(1500);

/// What the stop grace adds for each step started only at the stop (see [`STEPS_AHEAD`]):
/// under bubblewrap a start takes about 10 ms of CPU.
const STOP_START_GRACE: Duration = Duration::from_millis(50);

/// How many steps' entrypoints run ahead of the step that runs, waiting for their turn. In a
/// pod all of them start at once; here they are processes of the host, and starting twenty
/// at once had them compete for the CPUs with the steps the run waits for (each takes about
/// 0.3 ms to start, bubblewrap about 10 ms). Two ahead is enough for the next one to be
/// waiting when a step ends: a 20-step run of no-op steps took 1.2 ms less on the host and
/// 17 ms less under bubblewrap (`bench/run.sh`, `docs/run.md`, *Speed*). Containers start
/// all at once, as before.
const STEPS_AHEAD: usize = 2;

/// How long a process's output is still read after it has exited. Only a process that left
/// its group and outlived its step can hold the pipe open that long; the run does not wait
/// for it.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The files and directories of `/etc` that isolated steps see: what the C library, shells,
/// TLS, locales and package tools read. Never `shadow`, `gshadow`, `sudoers`, SSH host keys.
const ETC_VISIBLE: &[&str] = &[
    "alternatives",
    "bash.bashrc",
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "environment",
    "gai.conf",
    "group",
    "host.conf",
    "hostname",
    "hosts",
    "inputrc",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "locale.alias",
    "locale.gen",
    "localtime",
    "login.defs",
    "mime.types",
    "networks",
    "nsswitch.conf",
    "os-release",
    "passwd",
    "pki",
    "profile",
    "profile.d",
    "protocols",
    "resolv.conf",
    "rpc",
    "services",
    "shells",
    "ssl",
    "timezone",
    "xattr.conf",
];

/// The bubblewrap arguments every isolated step gets: it dies with its runner, has its own
/// session (no terminal to inject input into), no capability (root included: bubblewrap keeps
/// them all for uid 0 unless told), and its own PID, UTS and IPC namespaces. `tkc run` probes
/// bubblewrap with these before it trusts it to isolate.
pub const BWRAP_SANDBOX: &[&str] = &[
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--unshare-pid",
    "--unshare-uts",
    "--unshare-ipc",
];

/// Proxy settings, both cases, that steps on this machine (host or isolated) keep.
pub const PROXY_ENV: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The toolchain variables that steps on the host (`--host`) keep from tkc's environment
/// (documented in docs/run.md). `HOME` is the attempt's own, so where rustup, cargo and Go
/// would look under the user's home, they are told: `RUSTUP_HOME`, `CARGO_HOME` and `GOPATH`
/// default to `~/.rustup`, `~/.cargo` and `~/go` when those exist.
pub const HOST_TOOLCHAIN_ENV: &[&str] = &[
    "USER",
    "LOGNAME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "CARGO_HOME",
    "CARGO_TARGET_DIR",
    "GOPATH",
    "GOROOT",
    "GOMODCACHE",
    "GOCACHE",
    "GOFLAGS",
    "GOPROXY",
    "JAVA_HOME",
    "NVM_DIR",
    "PYENV_ROOT",
    "VIRTUAL_ENV",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// [`HOST_TOOLCHAIN_ENV`] from this process's environment, with the defaults under the
/// user's home that a replaced `HOME` would hide.
fn host_toolchain_env() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = HOST_TOOLCHAIN_ENV
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let home = PathBuf::from(home);
        for (key, dir) in [
            ("RUSTUP_HOME", ".rustup"),
            ("CARGO_HOME", ".cargo"),
            ("GOPATH", "go"),
        ] {
            let path = home.join(dir);
            if !out.iter().any(|(k, _)| k == key) && path.is_dir() {
                out.push((key.to_string(), path.to_string_lossy().into_owned()));
            }
        }
    }
    out
}

/// Settings of the local backend.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// The `tkc-entrypoint` binary (or a program that acts as it given `entrypoint_args`).
    pub entrypoint: PathBuf,
    /// Arguments before the entrypoint's own (`["__entrypoint"]` when `tkc` stands in).
    pub entrypoint_args: Vec<String>,
    /// The run directory (created if missing).
    pub root: PathBuf,
    /// Where `persistentVolumeClaim` workspaces live (`<state>/claims/<claim>`).
    pub state_dir: PathBuf,
    /// `bwrap`, to run each step at Tekton's paths.
    pub bwrap: Option<PathBuf>,
    /// Isolated steps keep the host's network (otherwise they get a network namespace of
    /// their own, with only a loopback device).
    pub network: bool,
    /// Isolated steps may mount `hostPath` volumes (refused otherwise).
    pub allow_host_paths: bool,
    /// The data of the Secrets the plan names (`Plan::secrets`), which the plan never holds.
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// Variables every step and sidecar gets (`tkc run --env`), before its own `env`.
    pub env: Vec<(String, String)>,
    /// Run each step and sidecar in its image with this engine (instead of host processes).
    pub engine: Option<Arc<Engine>>,
    /// Keep each attempt's directory when the attempt ends (`--keep`). Otherwise it is
    /// removed in the background as soon as the attempt has ended ([`LocalBackend::finish`]
    /// waits for that).
    pub keep: bool,
    /// The run directory whose run-scoped workspaces ([`run_scoped_workspaces`]) this run
    /// uses instead of its own: a kept run's, whose failures `tkc run --rerun-failed` runs
    /// again on the files its succeeded tasks left.
    pub workspaces_from: Option<PathBuf>,
}

/// What backs a run workspace on this machine.
#[derive(Clone, Debug)]
enum RunWorkspace {
    /// One directory, shared by the tasks (and read-only if `.1`).
    Dir(PathBuf),
    /// Files (ConfigMap, Secret, projected) written afresh into each attempt.
    Files(Binding),
}

/// Runs attempts as host processes.
#[derive(Debug)]
pub struct LocalBackend {
    config: LocalConfig,
    /// The run's workspaces (absent: emptyDir, made per attempt).
    run_workspaces: Mutex<BTreeMap<String, RunWorkspace>>,
    config_maps: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    counter: AtomicU64,
    /// Removes the directories of ended attempts.
    sweeper: dirs::Sweeper,
    /// What every step's environment starts with ([`LocalBackend::host_env`]).
    host_env: Arc<Vec<(String, String)>>,
}

impl LocalBackend {
    pub fn new(config: LocalConfig) -> LocalBackend {
        let host_env = Arc::new(LocalBackend::host_env(&config));
        LocalBackend {
            config,
            run_workspaces: Mutex::new(BTreeMap::new()),
            config_maps: Mutex::new(BTreeMap::new()),
            counter: AtomicU64::new(0),
            sweeper: dirs::Sweeper::default(),
            host_env,
        }
    }

    /// The variables a host process step gets from tkc's own environment, read once per run
    /// (a step would otherwise pay some thirty lookups and three `stat`s): a container has
    /// its image's PATH and locale, so a host step gets the host's, and the proxies; an
    /// unisolated one the toolchains' homes too. Nothing with an engine, whose containers
    /// have their images' environment.
    fn host_env(config: &LocalConfig) -> Vec<(String, String)> {
        let mut env = vec![];
        if config.engine.is_some() {
            return env;
        }
        for key in ["PATH", "LANG", "LC_ALL", "TZ", "TERM"] {
            if let Ok(v) = std::env::var(key) {
                env.push((key.to_string(), v));
            }
        }
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()));
        }
        for key in PROXY_ENV {
            if let Ok(v) = std::env::var(key) {
                env.push((key.to_string(), v));
            }
        }
        if config.bwrap.is_none() {
            env.extend(host_toolchain_env());
        }
        env
    }

    /// Waits until the directories of ended attempts are removed. Call it before removing the
    /// run directory (which is then almost empty: the run workspaces and the owner file).
    pub fn finish(&self) {
        self.sweeper.finish();
    }

    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// What backs a binding: a directory, or (`None`) something made per attempt: an
    /// emptyDir, or the files of a ConfigMap, Secret or projected volume.
    fn bind(
        &self,
        name: &str,
        binding: &Binding,
        notes: &mut Vec<String>,
    ) -> Result<Option<PathBuf>, String> {
        if run_scoped(binding) {
            if let Binding::Other { .. } = binding {
                notes.push(format!(
                    "workspace `{name}`: this volume source has no local equivalent; it is an empty directory"
                ));
            }
            return self.run_dir(name).map(Some);
        }
        Ok(Some(match binding {
            Binding::PersistentVolumeClaim { claim_name, .. } => {
                let claims = self.config.state_dir.join("claims");
                private_dir(&self.config.state_dir)?;
                let claim = paths::component(claim_name, "claimName")?;
                paths::mkdirs_under(&self.config.state_dir, "claims", "claims")?;
                paths::mkdirs_under(&claims, claim, "claimName")?
            }
            Binding::Dir { path } => {
                let dir = PathBuf::from(path);
                if !dir.is_dir() {
                    return Err(format!("workspace `{name}`: {path} is not a directory"));
                }
                std::fs::canonicalize(&dir).unwrap_or(dir)
            }
            // emptyDir (made per attempt), the files of a ConfigMap, Secret or projected
            // volume (written into each attempt).
            _ => return Ok(None),
        }))
    }

    /// A run cannot start with a ConfigMap or Secret workspace whose object is missing.
    fn check_files_exist(&self, name: &str, binding: &Binding) -> Result<(), String> {
        match binding {
            Binding::ConfigMap { name: cm, .. } if !lock(&self.config_maps).contains_key(cm) => {
                Err(format!(
                    "workspace `{name}`: ConfigMap `{cm}` is not among the inputs"
                ))
            }
            Binding::Secret { secret_name, .. }
                if !self.config.secrets.contains_key(secret_name) =>
            {
                Err(format!(
                    "workspace `{name}`: Secret `{secret_name}` is not among the inputs"
                ))
            }
            _ => Ok(()),
        }
    }

    /// `<run dir>/workspaces/<name>`, a run-scoped workspace (in the run directory of
    /// [`LocalConfig::workspaces_from`], if set).
    fn run_dir(&self, name: &str) -> Result<PathBuf, String> {
        let name = paths::component(name, "workspace name")?;
        let root = self
            .config
            .workspaces_from
            .as_ref()
            .unwrap_or(&self.config.root);
        paths::mkdirs_under(root, "workspaces", "workspaces")?;
        paths::mkdirs_under(&root.join("workspaces"), name, "workspace name")
    }

    /// Writes the files of a ConfigMap, Secret or projected binding into `dir`, which must
    /// not exist yet (it is made fresh, so no link a step left can be followed), and makes
    /// them read-only, as Kubernetes mounts them.
    fn materialise(
        &self,
        name: &str,
        binding: &Binding,
        dir: &Path,
        notes: &mut Vec<String>,
    ) -> Result<(), String> {
        let io = |e: std::io::Error| format!("cannot create {}: {e}", dir.display());
        std::fs::create_dir(dir).map_err(io)?;
        match binding {
            Binding::ConfigMap { name: cm, items } => {
                let Some(data) = lock(&self.config_maps).get(cm).cloned() else {
                    return Err(format!(
                        "workspace `{name}`: ConfigMap `{cm}` is not among the inputs"
                    ));
                };
                write_items(dir, &data, items.as_ref(), FileKind::ConfigMap)?;
            }
            Binding::Secret { secret_name, items } => {
                let Some(data) = self.config.secrets.get(secret_name) else {
                    return Err(format!(
                        "workspace `{name}`: Secret `{secret_name}` is not among the inputs"
                    ));
                };
                write_items(dir, data, items.as_ref(), FileKind::Secret)?;
            }
            Binding::Other { source } => {
                if let Some(projected) = source.get("projected") {
                    self.project(name, dir, projected, notes)?;
                }
            }
            _ => {}
        }
        read_only(dir);
        Ok(())
    }
}

impl LocalBackend {
    /// A projected volume: the files of its ConfigMap and Secret sources in one directory.
    fn project(
        &self,
        name: &str,
        dir: &Path,
        projected: &serde_json::Value,
        notes: &mut Vec<String>,
    ) -> Result<(), String> {
        let sources = projected
            .get("sources")
            .and_then(|s| s.as_array())
            .map_or(&[][..], Vec::as_slice);
        for source in sources {
            let (data, items, what, kind) = if let Some(cm) = source.get("configMap") {
                let key = cm.get("name").and_then(|n| n.as_str()).unwrap_or_default();
                (
                    lock(&self.config_maps).get(key).cloned(),
                    cm.get("items"),
                    format!("ConfigMap `{key}`"),
                    FileKind::ConfigMap,
                )
            } else if let Some(secret) = source.get("secret") {
                let key = secret
                    .get("name")
                    .and_then(|n| n.as_str())
                    .unwrap_or_default();
                (
                    self.config.secrets.get(key).cloned(),
                    secret.get("items"),
                    format!("Secret `{key}`"),
                    FileKind::Secret,
                )
            } else {
                notes.push(format!(
                    "workspace `{name}`: only the configMap and secret sources of a projected volume are provided locally"
                ));
                continue;
            };
            match data {
                Some(data) => write_items(dir, &data, items, kind)?,
                None => notes.push(format!(
                    "workspace `{name}`: {what} is not among the inputs; its files are missing"
                )),
            }
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whose files [`write_items`] writes: Secret files are readable by their owner only.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum FileKind {
    ConfigMap,
    Secret,
}

/// Writes ConfigMap/Secret data as files below `dir` (all keys, or the `items` `{key, path}`),
/// each created new (never through a link) with mode 0644, or 0600 for a Secret. A key or
/// path that would leave `dir` is an error (Kubernetes' `validateLocalDescendingPath`).
fn write_items(
    dir: &Path,
    data: &BTreeMap<String, String>,
    items: Option<&serde_json::Value>,
    kind: FileKind,
) -> Result<(), String> {
    let pairs: Vec<(String, String)> = match items.and_then(|i| i.as_array()) {
        Some(list) => list
            .iter()
            .filter_map(|i| {
                let key = i.get("key")?.as_str()?;
                let path = i.get("path").and_then(|p| p.as_str()).unwrap_or(key);
                Some((key.to_string(), path.to_string()))
            })
            .collect(),
        None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
    };
    let mode = match kind {
        FileKind::ConfigMap => 0o644,
        FileKind::Secret => 0o600,
    };
    for (key, path) in pairs {
        let Some(value) = data.get(&key) else {
            continue;
        };
        let what = if items.is_some() {
            "items[].path"
        } else {
            "key"
        };
        let mut components = paths::relative_components(&path, what)?;
        let Some(file_name) = components.pop() else {
            return Err(format!("{what} {path:?} names no file"));
        };
        let parent = paths::mkdirs_under(dir, &components.join("/"), what)?;
        let file = parent.join(file_name);
        paths::create_new_file(&file, value.as_bytes(), mode)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    }
    Ok(())
}

/// Takes write permission away from the files below `dir`, as Kubernetes mounts ConfigMaps
/// and Secrets read-only. In isolation the mount itself is read-only; on the host this is
/// a guard against mistakes only (a step may `chmod`), and directories stay writable by
/// their owner so that a kept run directory can still be deleted.
fn read_only(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            read_only(&path);
        } else if meta.is_file() {
            let mode = meta.permissions().mode() & !0o222;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
        }
    }
}

/// The run workspaces of `plan` that live in the run directory (`<run dir>/workspaces/<name>`,
/// as [`LocalBackend`] binds them): unbound ones, `volumeClaimTemplate`s and sources with no
/// local equivalent. Their files are gone with the run directory unless it is kept.
pub fn run_scoped_workspaces(plan: &Plan) -> Vec<&str> {
    plan.workspaces
        .iter()
        .filter(|w| run_scoped(&w.binding))
        .map(|w| w.name.as_str())
        .collect()
}

/// Does the backend keep this workspace in the run directory (`<run dir>/workspaces/<name>`)?
/// The one rule [`LocalBackend::bind`] and [`run_scoped_workspaces`] (what `--rerun-failed`
/// takes up) share.
fn run_scoped(binding: &Binding) -> bool {
    match binding {
        Binding::VolumeClaimTemplate {} | Binding::RunShared {} => true,
        Binding::Other { source } => source.get("projected").is_none(),
        _ => false,
    }
}

impl Backend for LocalBackend {
    fn prepare(&self, plan: &Plan, _run: &RunIdentity) -> Result<Vec<String>, String> {
        private_dir(&self.config.root)?;
        // The engine's monitors (conmon) leave tkc's process tree on purpose: they must not be
        // adopted, and killed, as a step's leftovers.
        if self.config.engine.is_none() {
            adopt_orphans();
        }
        *lock(&self.config_maps) = plan.config_maps.clone();
        let mut notes = vec!["images are not pulled; steps run with the host's tools".to_string()];
        if let Some(engine) = &self.config.engine {
            notes[0] = format!("each step runs in its image with {}", engine.kind().name());
        } else if self.config.bwrap.is_some() {
            notes[0].push_str(" (isolated with bubblewrap at Tekton's paths)");
        }
        for w in &plan.workspaces {
            // The run binding's `subPath` is not applied here: every task workspace carries
            // it, joined with its own (`TaskWorkspace::sub_path`), and applying both would
            // nest it twice.
            let workspace = match (self.bind(&w.name, &w.binding, &mut notes)?, &w.binding) {
                (Some(dir), _) => RunWorkspace::Dir(dir),
                (None, Binding::EmptyDir {}) => continue,
                (None, binding) => {
                    self.check_files_exist(&w.name, binding)?;
                    RunWorkspace::Files(binding.clone())
                }
            };
            lock(&self.run_workspaces).insert(w.name.clone(), workspace);
        }
        if self.config.bwrap.is_none()
            && self.config.engine.is_none()
            && mentions_tekton_paths(plan)
        {
            notes.push(
                "some steps use /tekton or /workspace paths directly, which only isolated steps have (run without --host, with bubblewrap installed)"
                    .to_string(),
            );
        }
        Ok(notes)
    }

    async fn run_attempt(
        &self,
        attempt: Attempt,
        stop: StopSignal,
        events: EventSink,
    ) -> AttemptOutcome {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        match Pod::create(self, &attempt, n) {
            Ok(pod) => {
                let dir = pod.dir.clone();
                let outcome = match pod.config_error(&attempt) {
                    Some(message) => AttemptOutcome::config_error(&message),
                    None => pod.run(attempt, stop, events).await,
                };
                // Its steps and sidecars have ended and their output is read: nothing uses
                // the attempt's directory any more.
                if !self.config.keep {
                    self.sweeper.remove(dir);
                }
                outcome
            }
            Err(message) => AttemptOutcome {
                steps: vec![],
                results: BTreeMap::new(),
                failure: Some(("TaskRunValidationFailed".into(), message)),
            },
        }
    }
}

/// Does any script, arg or working dir use Tekton's fixed paths?
fn mentions_tekton_paths(plan: &Plan) -> bool {
    plan.tasks.iter().any(|t| {
        t.pod.steps.iter().any(|s| {
            s.script
                .iter()
                .chain(&s.args)
                .chain(&s.command)
                .chain(&s.working_dir)
                .any(|x| {
                    let text = x.text();
                    let without_refs = {
                        let mut out = text.to_string();
                        for r in x.refs().iter().rev() {
                            out.replace_range(r.start..r.end, "");
                        }
                        out
                    };
                    without_refs.contains("/tekton/") || without_refs.contains("/workspace/")
                })
        })
    })
}

/// One attempt's directory and how steps see it.
struct Pod {
    dir: PathBuf,
    tekton: PathBuf,
    /// Workspace name → (host dir, mount path, read-only).
    workspaces: BTreeMap<String, (PathBuf, String, bool)>,
    /// Isolated workspaces: name → the containers they are mounted into (only those).
    isolated: BTreeMap<String, Vec<String>>,
    /// Volume name → (host dir, always read-only: a ConfigMap's or Secret's files).
    volumes: BTreeMap<String, (PathBuf, bool)>,
    isolate: Option<PathBuf>,
    /// With an engine: the attempt has sidecars, so its containers share the infra
    /// container's network namespace, as a pod's do.
    pod_network: bool,
    /// The container engine, and the prefix of this attempt's container names.
    engine: Option<(Arc<Engine>, String)>,
    network: bool,
    entrypoint: PathBuf,
    entrypoint_args: Vec<String>,
    config_maps: BTreeMap<String, BTreeMap<String, String>>,
    secrets: BTreeMap<String, BTreeMap<String, String>>,
    /// `tkc run --env`.
    given_env: Vec<(String, String)>,
    /// The backend's [`LocalBackend::host_env`].
    host_env: Arc<Vec<(String, String)>>,
    salt: u64,
}

impl Pod {
    fn create(backend: &LocalBackend, attempt: &Attempt, n: u64) -> Result<Pod, String> {
        let pod_name = if attempt.retry == 0 {
            format!("{}-pod", attempt.task_run)
        } else {
            format!("{}-pod-retry{}", attempt.task_run, attempt.retry)
        };
        let dir = fresh_dir(&backend.config.root, &sanitize(&pod_name), n)?;
        let tekton = dir.join("tekton");
        // Each directory is made once, parents first, and only those every attempt needs:
        // `ws/`, `volumes/` and `tekton/scripts/` come with their first entry, `tekton/bin/`
        // (the entrypoint's mount point) only under bubblewrap. On a disk each costs about as
        // much as the step it serves.
        let mk = |p: &Path| {
            std::fs::create_dir(p).map_err(|e| format!("cannot create {}: {e}", p.display()))
        };
        mk(&tekton)?;
        for sub in ["results", "steps", "downward", "home", "run"] {
            mk(&tekton.join(sub))?;
        }
        if backend.config.bwrap.is_some() {
            mk(&tekton.join("bin"))?;
        }
        for i in 0..attempt.plan.pod.steps.len() {
            let run = tekton.join("run").join(i.to_string());
            mk(&run)?;
            mk(&run.join("status"))?;
        }
        mk(&dir.join("workspace"))?;
        let ws = dir.join("ws");
        let volumes_dir = dir.join("volumes");
        // `ws/` or `volumes/` before its first entry (nothing runs yet: no step can have
        // made it).
        let mk_parent = |p: &Path| match std::fs::create_dir(p) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                Err(format!("cannot create {}: {e}", p.display()))
            }
            _ => Ok(()),
        };
        let run_workspaces = lock(&backend.run_workspaces).clone();
        let mut workspaces = BTreeMap::new();
        let mut isolated: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut notes = vec![];
        for w in &attempt.plan.pod.workspaces {
            let name = paths::component(&w.name, "workspace name")?;
            let own = ws.join(name);
            let (host, files) = match &w.source {
                None => continue,
                Some(WorkspaceSource::Run(run)) => match run_workspaces.get(run) {
                    Some(RunWorkspace::Dir(d)) => (Some(d.clone()), false),
                    Some(RunWorkspace::Files(b)) => {
                        mk_parent(&ws)?;
                        backend.materialise(run, b, &own, &mut notes)?;
                        (Some(own.clone()), true)
                    }
                    None => (None, false),
                },
                Some(WorkspaceSource::Binding(b)) => match backend.bind(&w.name, b, &mut notes)? {
                    Some(d) => (Some(d), false),
                    None if matches!(b, Binding::EmptyDir {}) => (None, false),
                    None => {
                        mk_parent(&ws)?;
                        backend.materialise(&w.name, b, &own, &mut notes)?;
                        (Some(own.clone()), true)
                    }
                },
            };
            let mut host = match host {
                Some(h) => h,
                None => {
                    mk_parent(&ws)?;
                    mk(&own)?;
                    own
                }
            };
            if let Some(sub) = &w.sub_path {
                let sub = attempt.values.render(sub, &values::no_paths);
                let what = format!("workspace `{}`: subPath", w.name);
                host = if files {
                    paths::join_under(&host, &sub, &what)?
                } else {
                    paths::mkdirs_under(&host, &sub, &what)?
                };
            }
            // ConfigMaps and Secrets are mounted read-only, as Kubernetes does.
            let read_only = w.read_only || files;
            workspaces.insert(w.name.clone(), (host, w.mount_path.clone(), read_only));
            if !w.only_in.is_empty() {
                isolated.insert(w.name.clone(), w.only_in.clone());
            }
        }
        let config_maps = lock(&backend.config_maps).clone();
        let secrets = backend.config.secrets.clone();
        let mut volumes = BTreeMap::new();
        // The Task's volumes, then the run's podTemplate volumes (Tekton adds both to the pod).
        let template_volumes: Vec<tkc_compiler::plan::Volume> = attempt
            .plan
            .pod
            .pod_template
            .as_ref()
            .and_then(|t| t.get("volumes"))
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| {
                let name = v.get("name")?.as_str()?.to_string();
                let mut source = v.clone();
                if let Some(map) = source.as_object_mut() {
                    map.remove("name");
                }
                Some(tkc_compiler::plan::Volume { name, source })
            })
            .collect();
        for v in attempt.plan.pod.volumes.iter().chain(&template_volumes) {
            if volumes.contains_key(&v.name) {
                continue;
            }
            let host = volumes_dir.join(paths::component(&v.name, "volume name")?);
            let src = &v.source;
            if let Some(path) = src.pointer("/hostPath/path").and_then(|p| p.as_str()) {
                if backend.config.engine.is_some() && !backend.config.allow_host_paths {
                    return Err(format!(
                        "volume `{}`: hostPath volumes are refused in containers (it would bind {path} of this machine into the step); pass --allow-host-path to allow them",
                        v.name
                    ));
                }
                if backend.config.bwrap.is_some() && !backend.config.allow_host_paths {
                    return Err(format!(
                        "volume `{}`: hostPath volumes are refused in isolation (it would bind {path} of this machine into the step); pass --allow-host-path to allow them",
                        v.name
                    ));
                }
                volumes.insert(v.name.clone(), (PathBuf::from(path), false));
                continue;
            }
            let (data, kind) =
                if let Some(cm) = src.pointer("/configMap/name").and_then(|p| p.as_str()) {
                    (config_maps.get(cm), FileKind::ConfigMap)
                } else if let Some(s) = src.pointer("/secret/secretName").and_then(|p| p.as_str()) {
                    (secrets.get(s), FileKind::Secret)
                } else {
                    (None, FileKind::ConfigMap)
                };
            match data {
                Some(data) => {
                    mk_parent(&volumes_dir)?;
                    let items = src
                        .pointer("/configMap/items")
                        .or_else(|| src.pointer("/secret/items"));
                    std::fs::create_dir(&host)
                        .map_err(|e| format!("cannot create {}: {e}", host.display()))?;
                    write_items(&host, data, items, kind)
                        .map_err(|e| format!("volume `{}`: {e}", v.name))?;
                    read_only(&host);
                    volumes.insert(v.name.clone(), (host, true));
                }
                None => {
                    mk_parent(&volumes_dir)?;
                    mk(&host)?;
                    volumes.insert(v.name.clone(), (host, false));
                }
            }
        }
        if backend.config.engine.is_some() {
            // A container may run as any user (its image's, `runAsUser`): the directories it
            // writes are open to all, as Kubernetes makes emptyDirs (0777). The private run
            // and state directories above them still keep other users of the host out. The
            // user's own `dir:` workspaces and hostPath volumes are left as they are.
            let ours = |p: &Path| {
                p.starts_with(&backend.config.root)
                    || p.starts_with(backend.config.state_dir.join("claims"))
            };
            open_dirs(&tekton, true);
            open_dirs(&dir.join("workspace"), false);
            for (host, _, ro) in workspaces.values() {
                if !ro && ours(host) {
                    open_dirs(host, false);
                }
            }
            for (host, ro) in volumes.values() {
                if !ro && ours(host) {
                    open_dirs(host, false);
                }
            }
        }
        let prefix = container_prefix(&dir);
        Ok(Pod {
            dir,
            tekton,
            workspaces,
            isolated,
            volumes,
            isolate: backend.config.bwrap.clone(),
            pod_network: backend.config.engine.is_some() && !attempt.plan.pod.sidecars.is_empty(),
            engine: backend.config.engine.clone().map(|e| (e, prefix)),
            network: backend.config.network,
            entrypoint: backend.config.entrypoint.clone(),
            // The static entrypoint in a container takes no arguments of tkc's.
            entrypoint_args: if backend.config.engine.is_some() {
                vec![]
            } else {
                backend.config.entrypoint_args.clone()
            },
            config_maps,
            secrets,
            given_env: backend.config.env.clone(),
            host_env: backend.host_env.clone(),
            salt: n,
        })
    }

    /// Do the steps see Tekton's own paths (bubblewrap or containers)?
    fn at_tekton_paths(&self) -> bool {
        self.isolate.is_some() || self.engine.is_some()
    }

    /// `/tekton` as the steps see it.
    fn tekton_seen(&self) -> String {
        if self.at_tekton_paths() {
            "/tekton".to_string()
        } else {
            self.tekton.to_string_lossy().into_owned()
        }
    }

    /// A path as the steps see it, from Tekton's path.
    fn path_of(&self, path: &PathRef, tekton: &str) -> Option<String> {
        if self.at_tekton_paths() {
            return Some(tekton.to_string());
        }
        if let PathRef::Workspace { name } = path
            && let Some((host, _, _)) = self.workspaces.get(name)
        {
            return Some(host.to_string_lossy().into_owned());
        }
        Some(self.map_tekton_path(tekton))
    }

    /// Rewrites a path under `/tekton` or a workspace mount to the host directory.
    fn map_tekton_path(&self, path: &str) -> String {
        if let Some(rest) = path.strip_prefix("/tekton/") {
            return self.tekton.join(rest).to_string_lossy().into_owned();
        }
        for (host, mount, _) in self.workspaces.values() {
            if path == mount {
                return host.to_string_lossy().into_owned();
            }
            if let Some(rest) = path
                .strip_prefix(mount.as_str())
                .and_then(|r| r.strip_prefix('/'))
            {
                return host.join(rest).to_string_lossy().into_owned();
            }
        }
        if path == "/workspace" {
            return self.dir.join("workspace").to_string_lossy().into_owned();
        }
        if let Some(rest) = path.strip_prefix("/workspace/") {
            return self
                .dir
                .join("workspace")
                .join(rest)
                .to_string_lossy()
                .into_owned();
        }
        path.to_string()
    }

    async fn run(
        self,
        attempt: Attempt,
        mut stop: StopSignal,
        events: EventSink,
    ) -> AttemptOutcome {
        let plan = attempt.plan.clone();
        let steps = &plan.pod.steps;
        let paths = |p: &PathRef, t: &str| self.path_of(p, t);
        let values = &attempt.values;
        let tekton = self.tekton_seen();
        let result_names: Vec<&str> = plan
            .pod
            .results
            .iter()
            .filter(|r| r.from_step.is_none())
            .map(|r| r.name.as_str())
            .collect();
        // With an engine, every image is present (pulled as its policy says, once per run)
        // before any container starts, as a kubelet pulls a pod's images before starting it.
        let images = match self.pull_images(&attempt, &events).await {
            Ok(images) => images,
            Err(failure) => {
                return AttemptOutcome {
                    steps: vec![],
                    results: BTreeMap::new(),
                    failure: Some(failure),
                };
            }
        };
        if let Err(message) = self.start_infra(&images).await {
            return AttemptOutcome {
                steps: vec![],
                results: BTreeMap::new(),
                failure: Some(("PodCreationFailed".into(), message)),
            };
        }
        let image_of = |container: &str| images.get(container).map(|(image, _)| image);
        let info_of = |container: &str| images.get(container).map(|(_, info)| info);
        // steps/<container> and steps/<i> → run/<i>/status (Tekton's step-init), in the
        // attempt's fresh directory: no name is there yet (`step-<name>` and a number never
        // meet).
        for (i, step) in steps.iter().enumerate() {
            let target = PathBuf::from(format!("../run/{i}/status"));
            for link in [step.container.clone(), i.to_string()] {
                let at = self.tekton.join("steps").join(sanitize(&link));
                let _ = std::os::unix::fs::symlink(&target, &at);
            }
        }
        let gated = !plan.pod.sidecars.is_empty();
        let mut sidecars: Vec<StepProcess> = vec![];
        // Each started sidecar's `-started_file`, by its index in `sidecars`.
        let mut started: Vec<PathBuf> = vec![];
        let mut probes: Vec<Probe> = vec![];
        for (i, sidecar) in plan.pod.sidecars.iter().enumerate() {
            let sidecar_log = |line: String| {
                events.emit(Event::StepLog {
                    task: attempt.task.clone(),
                    step: sidecar.container.clone(),
                    stream: Stream::Stderr,
                    line,
                })
            };
            let mut argv = values.render_list(&sidecar.command, &paths);
            let args = values.render_list(&sidecar.args, &paths);
            if argv.is_empty()
                && sidecar.script.is_none()
                && let Some(info) = info_of(&sidecar.container)
            {
                argv = info.command(!args.is_empty());
            }
            argv.extend(args);
            if let Some(script) = &sidecar.script {
                match self.write_script(
                    &format!("sidecar-script-{i}"),
                    &values.render(script, &paths),
                ) {
                    Ok(path) => argv.insert(0, path),
                    Err(e) => {
                        sidecar_log(e);
                        continue;
                    }
                }
            }
            if argv.is_empty() {
                // The image's own entrypoint: nothing to run here.
                continue;
            }
            // Through the entrypoint's `sidecar` mode, which supervises it as a step (its own
            // session, killed with everything it started when tkc dies or the attempt ends).
            let mut wrapped = vec![self.entrypoint_seen()];
            wrapped.extend(self.entrypoint_args.iter().cloned());
            wrapped.extend([
                "-started_file".to_string(),
                format!("{tekton}/sidecars/{i}/started"),
                "sidecar".to_string(),
                "--".to_string(),
            ]);
            wrapped.extend(argv);
            let argv = wrapped;
            let env = self.env(&sidecar.env, values, &paths, &attempt);
            let workdir = sidecar
                .working_dir
                .as_ref()
                .map(|w| values.render(w, &paths));
            let container = Container::new(&sidecar.container, &sidecar.workspaces).in_image(
                image_of(&sidecar.container),
                &sidecar.env,
                sidecar.extra.get("securityContext"),
            );
            let mounts = own_mounts(&sidecar.volume_mounts);
            let mut cmd = self.command(&argv, &env, workdir.as_deref(), &mounts, &container);
            match cmd.spawn() {
                Ok(child) => {
                    let name = sidecar.container.clone();
                    if let Some(probe) = probe_command(sidecar) {
                        let mut argv = vec![self.entrypoint_seen()];
                        argv.extend(self.entrypoint_args.iter().cloned());
                        argv.extend(["sidecar".to_string(), "--".to_string()]);
                        argv.extend(probe.iter().cloned());
                        probes.push(Probe {
                            argv,
                            raw: probe,
                            env,
                            workdir,
                            mounts,
                            container,
                            sidecar: sidecars.len(),
                        });
                    }
                    started.push(self.tekton.join(format!("sidecars/{i}/started")));
                    sidecars.push(self.watch_output(child, &attempt.task, &name, &events));
                }
                // As a container that cannot start: terminated, which Tekton counts as ready.
                Err(e) => sidecar_log(format!("cannot start the sidecar: {e}")),
            }
        }
        if gated {
            events.emit(Event::TaskSidecars {
                task: attempt.task.clone(),
                ready: false,
            });
            // Kubernetes counts a sidecar as started once its container runs: here, once its
            // entrypoint has exec'd its command (the started file), or it has ended.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while stop.borrow().is_none()
                && tokio::time::Instant::now() < deadline
                && started.iter().zip(&mut sidecars).any(|(file, process)| {
                    !file.exists() && matches!(process.child.try_wait(), Ok(None))
                })
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // As Tekton: the first step starts once every sidecar is ready, that is once its
            // readiness (or startup) probe has succeeded, or once it has terminated. Probes
            // run every 200 ms here.
            let mut ready = vec![false; probes.len()];
            while !ready.iter().all(|r| *r) && stop.borrow().is_none() {
                for (n, probe) in probes.iter().enumerate() {
                    if ready[n] {
                        continue;
                    }
                    if matches!(sidecars[probe.sidecar].child.try_wait(), Ok(Some(_))) {
                        ready[n] = true;
                        continue;
                    }
                    let mut cmd = match &self.engine {
                        // In the sidecar's own container, as a kubelet runs an exec probe.
                        Some((engine, _)) => engine.exec_command(
                            &self.container_name(probe.container.name),
                            probe
                                .workdir
                                .as_deref()
                                .map(|w| workdir_seen(Some(w)))
                                .as_deref(),
                            &probe.raw,
                        ),
                        None => self.command(
                            &probe.argv,
                            &probe.env,
                            probe.workdir.as_deref(),
                            &probe.mounts,
                            &probe.container,
                        ),
                    };
                    cmd.stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .kill_on_drop(true);
                    let status = tokio::time::timeout(Duration::from_secs(10), cmd.status()).await;
                    ready[n] = matches!(status, Ok(Ok(s)) if s.success());
                }
                if !ready.iter().all(|r| *r) {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
            let _ = paths::create_new_file(
                &self.tekton.join("downward").join("ready"),
                b"READY",
                0o644,
            );
            events.emit(Event::TaskSidecars {
                task: attempt.task.clone(),
                ready: true,
            });
        }
        // Each step's entrypoint, once started; the commands of those not started yet. Host
        // processes (isolated or not) start [`STEPS_AHEAD`] steps ahead of the one running;
        // containers all at once.
        let ahead = if self.engine.is_some() {
            steps.len()
        } else {
            STEPS_AHEAD
        };
        let mut children: Vec<Option<StepProcess>> = Vec::with_capacity(steps.len());
        let mut later: Vec<Option<Command>> = Vec::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            let mut args: Vec<String> = vec!["-tekton_root".into(), tekton.clone()];
            if i > 0 {
                args.extend(["-wait_file".into(), format!("{tekton}/run/{}/out", i - 1)]);
            } else if gated {
                args.extend([
                    "-wait_file".into(),
                    format!("{tekton}/downward/ready"),
                    "-wait_file_content".into(),
                ]);
            }
            args.extend([
                "-post_file".into(),
                format!("{tekton}/run/{i}/out"),
                "-termination_path".into(),
                format!("{tekton}/run/{i}/termination"),
                "-step_metadata_dir".into(),
                format!("{tekton}/run/{i}/status"),
            ]);
            if let Some(t) = step.timeout.as_deref().filter(|t| !t.is_empty()) {
                args.extend(["-timeout".into(), t.to_string()]);
            }
            if step.on_error == OnError::Continue {
                args.extend(["-on_error".into(), "continue".into()]);
            }
            if !result_names.is_empty() {
                args.extend(["-results".into(), result_names.join(",")]);
            }
            if !step.results.is_empty() {
                let names: Vec<&str> = step.results.iter().map(|r| r.name.as_str()).collect();
                args.extend(["-step_results".into(), names.join(",")]);
            }
            if !step.when.is_empty() {
                args.extend([
                    "-when_expressions".into(),
                    step_when_json(step, values, &paths),
                ]);
            }
            if let Some(p) = &step.stdout_path {
                args.extend(["-stdout_path".into(), values.render(p, &paths)]);
            }
            if let Some(p) = &step.stderr_path {
                args.extend(["-stderr_path".into(), values.render(p, &paths)]);
            }
            let mut argv = values.render_list(&step.command, &paths);
            if let Some(script) = &step.script {
                match self.write_script(&format!("script-{i}"), &values.render(script, &paths)) {
                    Ok(path) => argv = vec![path],
                    Err(e) => {
                        events.emit(Event::StepLog {
                            task: attempt.task.clone(),
                            step: step.name.clone(),
                            stream: Stream::Stderr,
                            line: e,
                        });
                    }
                }
            }
            let rest = values.render_list(&step.args, &paths);
            if let Some(info) = info_of(&step.container) {
                if argv.is_empty() && step.script.is_none() {
                    argv = info.command(!rest.is_empty());
                }
            } else if argv.is_empty() && rest.first().is_some_and(|a| a.starts_with('-')) {
                let image = values.render(&step.image, &paths);
                argv = image_command(&image);
            }
            if let Some((first, more)) = argv.split_first() {
                args.extend(["-entrypoint".into(), first.clone()]);
                args.push("--".into());
                args.extend(more.iter().cloned());
            } else {
                args.push("--".into());
            }
            args.extend(rest);
            let env = self.env(&step.env, values, &paths, &attempt);
            let workdir = step.working_dir.as_ref().map(|w| values.render(w, &paths));
            let mut full = vec![self.entrypoint_seen()];
            full.extend(self.entrypoint_args.iter().cloned());
            full.extend(args);
            let mut container = Container::new(&step.container, &step.workspaces).in_image(
                image_of(&step.container),
                &step.env,
                step.security_context.as_ref(),
            );
            container.step = Some(i);
            let cmd = self.command(
                &full,
                &env,
                workdir.as_deref(),
                &own_mounts(&step.volume_mounts),
                &container,
            );
            if i > ahead {
                children.push(None);
                later.push(Some(cmd));
            } else {
                children.push(self.start_step(cmd, i, step, &attempt.task, &events));
                later.push(None);
            }
        }
        // Wait for every step, or stop them all.
        let mut codes: Vec<Option<std::process::ExitStatus>> = vec![None; children.len()];
        let mut stopped = false;
        {
            let run_dir = &self.tekton;
            let waits = async {
                let mut out = vec![];
                for i in 0..children.len() {
                    let status = match &mut children[i] {
                        Some(p) => p.wait().await,
                        None => None,
                    };
                    // An entrypoint that ended without its post file (disk full, a bad path,
                    // killed) would leave the next step waiting for its task's timeout: post
                    // its failure for it, so the next step skips at once.
                    let post = run_dir.join(format!("run/{i}/out"));
                    let err = run_dir.join(format!("run/{i}/out.err"));
                    if !post.exists() && !err.exists() {
                        let _ = paths::create_new_file(&err, b"", 0o644);
                        // The engine's own exit codes: the container never ran the entrypoint.
                        let code = status.and_then(|s| s.code());
                        if let (Some((engine, _)), Some(125..=127)) = (&self.engine, code) {
                            events.emit(Event::StepLog {
                                task: attempt.task.clone(),
                                step: steps[i].name.clone(),
                                stream: Stream::Stderr,
                                line: format!(
                                    "tkc: {} could not start this step's container (its error is above); docs/containers.md gives the settings it needs on hosts without systemd or with low rlimits",
                                    engine.kind().name()
                                ),
                            });
                        }
                    }
                    out.push(status);
                    // Step i is over: the one `ahead` steps after the next starts.
                    let next = i + ahead + 1;
                    if let Some(cmd) = later.get_mut(next).and_then(Option::take) {
                        children[next] =
                            self.start_step(cmd, next, &steps[next], &attempt.task, &events);
                    }
                }
                out
            };
            tokio::pin!(waits);
            let stop_seen = async {
                loop {
                    if stop.borrow().is_some() {
                        return;
                    }
                    if stop.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::select! {
                got = &mut waits => codes = got,
                _ = stop_seen => stopped = true,
            }
        }
        if stopped {
            let _ = paths::create_new_file(
                &self.tekton.join("downward").join("cancel"),
                b"cancel",
                0o644,
            );
            // The steps not started yet start now, and end as waiting steps do on a stop:
            // each skips once the one before it has failed (or, if that one ended just
            // before the stop, runs into the cancel file). Their start is time the grace
            // gives them on top.
            let mut starting = 0;
            for (j, cmd) in later.iter_mut().enumerate() {
                if let Some(cmd) = cmd.take() {
                    children[j] = self.start_step(cmd, j, &steps[j], &attempt.task, &events);
                    starting += 1;
                }
            }
            let deadline = tokio::time::Instant::now() + STOP_GRACE + STOP_START_GRACE * starting;
            for (i, c) in children.iter_mut().enumerate() {
                if let Some(p) = c {
                    codes[i] = match tokio::time::timeout_at(deadline, p.wait()).await {
                        Ok(code) => code,
                        Err(_) => {
                            self.remove_containers(std::slice::from_ref(&steps[i].container))
                                .await;
                            p.kill_group();
                            p.wait().await
                        }
                    };
                }
            }
        }
        // A sidecar that already ended did so on its own: its exit code counts.
        let sidecar_ends: Vec<(String, Option<i32>)> = sidecars
            .iter_mut()
            .map(|s| {
                let code = s.child.try_wait().ok().flatten().and_then(|st| st.code());
                (s.name.clone(), code)
            })
            .collect();
        let ending: Vec<String> = sidecars.iter().map(|s| s.name.clone()).collect();
        self.remove_containers(&ending).await;
        // The infra container last: the engine keeps it while others use its network.
        if self.pod_network {
            self.remove_containers(&["infra".to_string()]).await;
        }
        for s in &mut sidecars {
            s.kill_group();
            let _ = s.wait().await;
        }
        for p in children.iter_mut().flatten().chain(&mut sidecars) {
            if !p.drain(&mut stop).await {
                events.emit(Event::StepLog {
                    task: attempt.task.clone(),
                    step: p.name.clone(),
                    stream: Stream::Stderr,
                    line: "tkc: a process that outlived this container still holds its output open; it is no longer read".into(),
                });
            }
        }
        let stop_kind = *stop.borrow();
        let mut out = self.outcome(&plan.pod.steps, &plan.pod.results, &codes, stop_kind);
        if stop_kind.is_none() {
            outcome::apply_sidecars(&mut out, &sidecar_ends);
        }
        out
    }

    /// Starts step `i`'s entrypoint. One that cannot start posts the step's failure, so that
    /// the next step skips at once instead of waiting for its post file.
    fn start_step(
        &self,
        mut cmd: Command,
        i: usize,
        step: &Step,
        task: &TaskId,
        events: &EventSink,
    ) -> Option<StepProcess> {
        match cmd.spawn() {
            Ok(child) => Some(self.watch_output(child, task, &step.name, events)),
            Err(e) => {
                events.emit(Event::StepLog {
                    task: task.clone(),
                    step: step.name.clone(),
                    stream: Stream::Stderr,
                    line: format!("cannot start the entrypoint: {e}"),
                });
                let _ = paths::create_new_file(
                    &self.tekton.join(format!("run/{i}/out.err")),
                    b"",
                    0o644,
                );
                None
            }
        }
    }

    fn outcome(
        &self,
        steps: &[Step],
        decls: &[ResultDecl],
        codes: &[Option<std::process::ExitStatus>],
        stop: Option<Stop>,
    ) -> AttemptOutcome {
        let ends: Vec<StepEnd> = (0..steps.len())
            .map(|i| StepEnd {
                exit_code: codes.get(i).copied().flatten().and_then(|s| s.code()),
                message: read_termination(&self.tekton.join(format!("run/{i}/termination"))),
            })
            .collect();
        // Results come from the steps' termination messages, as on a cluster: each step's
        // entrypoint writes the results present when it ends (a bounded, no-follow read of
        // each file), so a result a later step moves away is still reported, and tkc itself
        // never reads a file a step may have made a FIFO or a device.
        let mut out = outcome::attempt_outcome(steps, decls, &ends, stop);
        if self.engine.is_none() {
            command_hint(&mut out, steps);
        }
        out
    }

    /// With an engine: the image of each step and sidecar (by container name), mapped and
    /// present, and what it runs by default. A pull that fails fails the attempt as Tekton
    /// does (`TaskRunImagePullFailed`, `checkContainerFailure` in
    /// `pkg/reconciler/taskrun/taskrun.go`).
    async fn pull_images(
        &self,
        attempt: &Attempt,
        events: &EventSink,
    ) -> Result<BTreeMap<String, (String, ImageInfo)>, (String, String)> {
        let mut out = BTreeMap::new();
        let Some((engine, _)) = &self.engine else {
            return Ok(out);
        };
        let pod = &attempt.plan.pod;
        let containers = pod
            .steps
            .iter()
            .map(|s| {
                (
                    "step",
                    &s.name,
                    &s.container,
                    &s.image,
                    s.image_pull_policy.clone(),
                )
            })
            .chain(pod.sidecars.iter().map(|s| {
                let policy = s
                    .extra
                    .get("imagePullPolicy")
                    .and_then(|p| p.as_str())
                    .map(str::to_string);
                ("sidecar", &s.name, &s.container, &s.image, policy)
            }));
        let progress = |line: String| events.emit(Event::Note(line));
        for (kind, name, container, image, policy) in containers {
            let written = attempt.values.render(image, &values::no_paths);
            let image = engine.map_image(&written);
            let failed = |message: String| {
                (
                    "TaskRunImagePullFailed".to_string(),
                    format!(
                        "the {kind} \"{name}\" in TaskRun \"{}\" failed to pull the image \"{image}\". The pod errored with the message: \"{message}.\"",
                        attempt.task_run
                    ),
                )
            };
            let Some(policy) = PullPolicy::of(policy.as_deref(), &image) else {
                return Err(failed(format!(
                    "unknown imagePullPolicy {:?}",
                    policy.unwrap_or_default()
                )));
            };
            let info = engine
                .image(&image, policy, &progress)
                .await
                .map_err(failed)?;
            out.insert(container.clone(), (image, info));
        }
        Ok(out)
    }

    /// With an engine and sidecars: the container that holds the attempt's network
    /// namespace, which the others join (a pod's infra container), in the first image.
    async fn start_infra(
        &self,
        images: &BTreeMap<String, (String, ImageInfo)>,
    ) -> Result<(), String> {
        let (Some((engine, _)), true) = (&self.engine, self.pod_network) else {
            return Ok(());
        };
        let Some((image, _)) = images.values().next() else {
            return Ok(());
        };
        let argv: Vec<String> = [
            "/tekton/bin/entrypoint",
            "-wait_file",
            "/tekton/downward/never",
            "-cancel_file",
            "",
            "-termination_path",
            "/tekton/infra-termination",
            "--",
            "true",
        ]
        .map(str::to_string)
        .to_vec();
        let mounts = [
            (self.tekton.clone(), "/tekton".to_string(), false),
            (
                engine.entrypoint().to_path_buf(),
                "/tekton/bin/entrypoint".to_string(),
                true,
            ),
        ];
        engine
            .start_infra(&ContainerSpec {
                name: &self.container_name("infra"),
                image,
                argv: &argv,
                env: &[],
                hidden_env: &[],
                workdir: None,
                network: if self.network { "bridge" } else { "none" },
                mounts: &mounts,
                user: None,
            })
            .await
    }

    /// With an engine: removes these containers of the attempt (by their pod names) at once.
    async fn remove_containers(&self, containers: &[String]) {
        if let Some((engine, _)) = &self.engine {
            let names: Vec<String> = containers.iter().map(|c| self.container_name(c)).collect();
            engine.remove(&names).await;
        }
    }

    fn entrypoint_seen(&self) -> String {
        if self.at_tekton_paths() {
            "/tekton/bin/entrypoint".into()
        } else {
            self.entrypoint.to_string_lossy().into_owned()
        }
    }

    /// Writes a script file (mode 0755) with Tekton's default shebang when it has none.
    fn write_script(&self, prefix: &str, script: &str) -> Result<String, String> {
        let body = if script.trim_start().starts_with("#!") {
            script.to_string()
        } else {
            format!("#!/bin/sh\nset -e\n{script}")
        };
        // In a container the script runs with the image's own shell.
        let body = if self.engine.is_some() {
            body
        } else {
            with_host_shell(body)
        };
        let name = format!("{prefix}-{}", rand5(self.salt, prefix));
        // Made with the first script; never through a link a step left in its place.
        let scripts = paths::mkdirs_under(&self.tekton, "scripts", "scripts")?;
        let path = scripts.join(&name);
        // A new file, never through a link a step could have left in the attempt's directory.
        paths::create_new_file(&path, body.as_bytes(), 0o755)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(format!("{}/scripts/{name}", self.tekton_seen()))
    }

    /// The environment of a step: PATH and locale from the host, HOME in the attempt, then
    /// the step's own variables.
    fn env(
        &self,
        vars: &[EnvVar],
        values: &Values,
        paths: &dyn Fn(&PathRef, &str) -> Option<String>,
        attempt: &Attempt,
    ) -> Vec<(String, String)> {
        let mut env = self.host_env.as_ref().clone();
        env.push(("HOME".into(), format!("{}/home", self.tekton_seen())));
        for (name, value) in &self.given_env {
            env.retain(|(k, _)| k != name);
            env.push((name.clone(), value.clone()));
        }
        for v in vars {
            let value = match (&v.value, &v.value_from) {
                (Some(t), _) => Some(values.render(t, paths)),
                (None, Some(from)) => self.value_from(from, attempt),
                (None, None) => Some(String::new()),
            };
            if let Some(value) = value {
                env.retain(|(k, _)| k != &v.name);
                env.push((v.name.clone(), value));
            }
        }
        env
    }

    /// The first `env.valueFrom` of a step or sidecar that names a ConfigMap, a Secret or a
    /// key that does not exist, without `optional: true`: the kubelet's message
    /// (`makeEnvironmentVariables` in pkg/kubelet/kubelet_pods.go), with which the container
    /// waits in `CreateContainerConfigError`.
    fn config_error(&self, attempt: &Attempt) -> Option<String> {
        let namespace = attempt
            .values
            .context
            .get("taskRun.namespace")
            .cloned()
            .unwrap_or_else(|| "default".into());
        let envs = attempt
            .plan
            .pod
            .steps
            .iter()
            .map(|s| &s.env)
            .chain(attempt.plan.pod.sidecars.iter().map(|s| &s.env));
        for vars in envs {
            for from in vars.iter().filter_map(|v| v.value_from.as_ref()) {
                for (field, kind, lower, data) in [
                    (
                        "configMapKeyRef",
                        "ConfigMap",
                        "configmap",
                        &self.config_maps,
                    ),
                    ("secretKeyRef", "Secret", "secret", &self.secrets),
                ] {
                    let Some(r) = from.get(field) else {
                        continue;
                    };
                    if r.get("optional").and_then(|o| o.as_bool()) == Some(true) {
                        continue;
                    }
                    let name = r.get("name").and_then(|n| n.as_str()).unwrap_or_default();
                    let key = r.get("key").and_then(|k| k.as_str()).unwrap_or_default();
                    match data.get(name) {
                        None => return Some(format!("{lower} {name:?} not found")),
                        Some(values) if !values.contains_key(key) => {
                            return Some(format!(
                                "couldn't find key {key} in {kind} {namespace}/{name}"
                            ));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        None
    }

    fn value_from(&self, from: &serde_json::Value, attempt: &Attempt) -> Option<String> {
        let key_of = |kind: &str, name_key: &str| -> Option<(String, String)> {
            let r = from.get(kind)?;
            Some((
                r.get(name_key)?.as_str()?.to_string(),
                r.get("key")?.as_str()?.to_string(),
            ))
        };
        if let Some((name, key)) = key_of("configMapKeyRef", "name") {
            return self.config_maps.get(&name)?.get(&key).cloned();
        }
        if let Some((name, key)) = key_of("secretKeyRef", "name") {
            return self.secrets.get(&name)?.get(&key).cloned();
        }
        match from
            .pointer("/fieldRef/fieldPath")
            .and_then(|p| p.as_str())?
        {
            "metadata.name" => Some(format!("{}-pod", attempt.task_run)),
            "metadata.namespace" => attempt.values.context.get("taskRun.namespace").cloned(),
            "spec.nodeName" => Some("localhost".into()),
            _ => None,
        }
    }

    /// What a process at Tekton's paths sees of the attempt: (host path, path inside,
    /// read-only), parents before what is mounted inside them.
    fn binds(
        &self,
        entrypoint: &Path,
        mounts: &[(String, String, bool)],
        container: &Container,
    ) -> Vec<(PathBuf, String, bool)> {
        let mut out = vec![
            (self.dir.join("workspace"), "/workspace".to_string(), false),
            (self.tekton.clone(), "/tekton".to_string(), false),
            (
                entrypoint.to_path_buf(),
                "/tekton/bin/entrypoint".to_string(),
                true,
            ),
        ];
        // Each step writes only its own `/tekton/run/<i>` (and so `/tekton/steps/<i>`, which
        // links there): Tekton mounts the others read-only (pkg/pod/pod.go, `runMount` and
        // `runVolume`; examples' readonly-internal-dir.yaml).
        let steps = std::fs::read_dir(self.tekton.join("run"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<usize>().ok());
        for j in steps {
            if container.step != Some(j) {
                out.push((
                    self.tekton.join("run").join(j.to_string()),
                    format!("/tekton/run/{j}"),
                    true,
                ));
            }
        }
        for (name, (host, mount, ro)) in &self.workspaces {
            // An isolated workspace is mounted only into the containers that list it, at the
            // path they give.
            let mount = match self.isolated.get(name) {
                None => mount.as_str(),
                Some(only) if only.contains(&container.name.to_string()) => container
                    .workspaces
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(mount.as_str(), |(_, p)| p.as_str()),
                Some(_) => continue,
            };
            out.push((host.clone(), mount.to_string(), *ro));
        }
        for (name, mount, ro) in mounts {
            if let Some((host, always_ro)) = self.volumes.get(name) {
                out.push((host.clone(), mount.clone(), *ro || *always_ro));
            }
        }
        out
    }

    /// `podman run` (or `docker run`) of a step or sidecar in its image.
    fn container_command(
        &self,
        engine: &Engine,
        argv: &[String],
        env: &[(String, String)],
        workdir: Option<&str>,
        mounts: &[(String, String, bool)],
        container: &Container,
    ) -> Command {
        let network = if self.pod_network {
            format!("container:{}", self.container_name("infra"))
        } else if self.network {
            "bridge".to_string()
        } else {
            "none".to_string()
        };
        let (hidden, shown): (Vec<_>, Vec<_>) = env
            .iter()
            .cloned()
            .partition(|(k, _)| container.secret_env.contains(k) && !engine_reads(k));
        let dir = workdir_seen(workdir);
        let mounts = self.binds(engine.entrypoint(), mounts, container);
        // Kubernetes creates a missing working directory (podman does not): inside a writable
        // mount, tkc makes it on the host; elsewhere in the image it is the engine's to make.
        if let Some((host, inside, _)) = mounts
            .iter()
            .filter(|(_, inside, ro)| !ro && Path::new(&dir).starts_with(inside))
            .max_by_key(|(_, inside, _)| inside.len())
            && let Ok(rel) = Path::new(&dir).strip_prefix(inside)
            && !rel.as_os_str().is_empty()
        {
            let _ = paths::mkdirs_under(host, &rel.to_string_lossy(), "workingDir");
        }
        let name = self.container_name(container.name);
        let image = container.image.as_deref().unwrap_or_default();
        engine.run_command(&ContainerSpec {
            name: &name,
            image,
            argv,
            env: &shown,
            hidden_env: &hidden,
            workdir: Some(&dir),
            network: &network,
            mounts: &mounts,
            user: container.user.as_deref(),
        })
    }

    /// The engine's name of one of this attempt's containers.
    fn container_name(&self, container: &str) -> String {
        match &self.engine {
            Some((_, prefix)) => format!("{prefix}-{container}"),
            None => container.to_string(),
        }
    }

    /// The command for a process: the host process itself, under bubblewrap, or in a
    /// container.
    fn command(
        &self,
        argv: &[String],
        env: &[(String, String)],
        workdir: Option<&str>,
        mounts: &[(String, String, bool)],
        container: &Container,
    ) -> Command {
        let mut cmd;
        let workdir = workdir.filter(|w| !w.is_empty());
        if let Some((engine, _)) = &self.engine {
            return self.container_command(engine, argv, env, workdir, mounts, container);
        }
        match &self.isolate {
            Some(bwrap) => {
                cmd = Command::new(bwrap);
                // No capability, root included (bubblewrap keeps them all for uid 0 unless
                // told): a step cannot remount what it sees, mount anything, or write the
                // host's sysctls. Its own session (no terminal to inject input into), PID,
                // UTS, IPC and network namespaces.
                cmd.args(BWRAP_SANDBOX).arg("--unshare-cgroup-try");
                if !self.network {
                    cmd.arg("--unshare-net");
                }
                cmd.args(["--proc", "/proc"]);
                // The kernel's knobs stay read-only: sysctls that are not namespaced (root
                // may write them by file mode alone, capabilities or not), the SysRq trigger.
                for knob in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"] {
                    cmd.args(["--ro-bind-try", knob, knob]);
                }
                cmd.args(["--dev", "/dev", "--tmpfs", "/tmp"]);
                cmd.args(host_view());
                for (host, inside, ro) in self.binds(&self.entrypoint, mounts, container) {
                    cmd.arg(if ro { "--ro-bind" } else { "--bind" })
                        .arg(host)
                        .arg(inside);
                }
                let dir = workdir_seen(workdir);
                // The sandbox's own root (where `/etc` and the mount points are made) is
                // read-only too: only the attempt's directories, writable workspaces and the
                // private `/tmp` can be written.
                cmd.args(["--dir", &dir, "--remount-ro", "/", "--chdir", &dir, "--"]);
                cmd.args(argv);
            }
            None => {
                let Some((first, rest)) = argv.split_first() else {
                    return Command::new("/bin/false");
                };
                cmd = Command::new(first);
                cmd.args(rest);
                let dir = match workdir {
                    Some(w) if w.starts_with('/') => PathBuf::from(self.map_tekton_path(w)),
                    Some(w) => self.dir.join("workspace").join(w),
                    None => self.dir.join("workspace"),
                };
                // Kubernetes creates a missing working directory; tkc does so only inside
                // the run's directory or a writable workspace, never elsewhere on the host.
                let bases = self.dir.parent().into_iter().chain(
                    self.workspaces
                        .values()
                        .filter(|(_, _, ro)| !ro)
                        .map(|(host, _, _)| host.as_path()),
                );
                // (The default, `workspace/`, exists.)
                for base in bases.filter(|_| workdir.is_some()) {
                    if let Ok(rel) = dir.strip_prefix(base) {
                        let _ = paths::mkdirs_under(base, &rel.to_string_lossy(), "workingDir");
                        break;
                    }
                }
                cmd.current_dir(dir);
            }
        }
        cmd.env_clear();
        cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.process_group(0);
        cmd.kill_on_drop(true);
        cmd
    }

    fn watch_output(
        &self,
        mut child: Child,
        task: &TaskId,
        step: &str,
        events: &EventSink,
    ) -> StepProcess {
        let mut readers = vec![];
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(forward(
                out,
                task.clone(),
                step.to_string(),
                Stream::Stdout,
                events.clone(),
            )));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(forward(
                err,
                task.clone(),
                step.to_string(),
                Stream::Stderr,
                events.clone(),
            )));
        }
        StepProcess {
            name: step.to_string(),
            pid: child.id(),
            child,
            readers,
        }
    }
}

/// When the failed step's command is missing on this machine (a shell's exit 127, or a
/// `command` that is not on PATH), says so in the TaskRun's message: the step was written for
/// its image, whose tools the host may not have, and a container backend runs it there.
fn command_hint(out: &mut AttemptOutcome, steps: &[Step]) {
    let Some((reason, message)) = &mut out.failure else {
        return;
    };
    if reason != crate::scheduler::STEP_FAILED {
        return;
    }
    let failed = out
        .steps
        .iter()
        .zip(steps)
        .find(|(o, _)| o.status == "Failed");
    let Some((end, step)) = failed else {
        return;
    };
    let missing = match (end.exit_code, step.command.first()) {
        (Some(127), _) => true,
        (Some(_), Some(first)) => {
            let program = first.text();
            !program.contains('$')
                && if program.contains('/') {
                    !Path::new(program).exists()
                } else {
                    !on_path(program)
                }
        }
        _ => false,
    };
    if missing {
        message.push_str(&format!(
            "; a command it runs is not on this machine: the step was written for image {}, and steps run with the host's tools (--backend container runs each step in its image, docs/containers.md)",
            step.image.text()
        ));
    }
}

/// Mode 0777 on directory `dir` (never through a link), and on every directory below it
/// with `below`.
fn open_dirs(dir: &Path, below: bool) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
    if below {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            open_dirs(&entry.path(), true);
        }
    }
}

/// The working directory at Tekton's paths: relative ones are below `/workspace`.
fn workdir_seen(workdir: Option<&str>) -> String {
    match workdir.filter(|w| !w.is_empty()) {
        Some(w) if w.starts_with('/') => w.to_string(),
        Some(w) => format!("/workspace/{w}"),
        None => "/workspace".to_string(),
    }
}

/// Variables that change how the engine program itself (podman, docker, their Go runtime,
/// the dynamic loader) behaves: a Secret's value under such a name is never put in the
/// engine's environment (it goes on the container's `--env` instead, visible in the process
/// list but powerless over the engine).
fn engine_reads(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "PATH"
            | "HOME"
            | "TMPDIR"
            | "USER"
            | "SHELL"
            | "HTTP_PROXY"
            | "HTTPS_PROXY"
            | "NO_PROXY"
            | "ALL_PROXY"
            | "TZ"
    ) || [
        "CONTAINERS_",
        "_CONTAINERS_",
        "CONTAINER_",
        "DOCKER_",
        "BUILDAH_",
        "PODMAN_",
        "CONMON",
        "CNI_",
        "XDG_",
        "REGISTRY_",
        "STORAGE_",
        "LD_",
        "GO",
        "SSL_",
        "CURL_",
        "NOTIFY_SOCKET",
        "DBUS_",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
}

/// The prefix of an attempt's container names: `tkc-` and a hash of its directory, which no
/// other attempt on this machine shares.
fn container_prefix(dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    format!("tkc-{:016x}", h.finish())
}

/// The bubblewrap arguments that show the host's system directories (`/usr`, `/bin`,
/// `/lib*`, `/opt`: read-only, links as links) and the parts of `/etc` in [`ETC_VISIBLE`].
/// Looked up once per process (some 45 system calls) rather than once per step.
fn host_view() -> &'static [std::ffi::OsString] {
    static VIEW: std::sync::OnceLock<Vec<std::ffi::OsString>> = std::sync::OnceLock::new();
    VIEW.get_or_init(|| {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        for d in [
            "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt",
        ] {
            let p = Path::new(d);
            match std::fs::read_link(p) {
                Ok(target) => {
                    args.extend(["--symlink".into(), target.into(), d.into()]);
                }
                Err(_) if p.is_dir() => {
                    args.extend(["--ro-bind".into(), d.into(), d.into()]);
                }
                Err(_) => {}
            }
        }
        // Only the parts of /etc that tools read: never shadow, sudoers or host keys.
        args.extend(["--dir".into(), "/etc".into()]);
        for name in ETC_VISIBLE {
            let host = Path::new("/etc").join(name);
            match std::fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(&host) {
                        args.extend(["--symlink".into(), target.into(), host.into()]);
                    }
                }
                Ok(_) => {
                    args.extend(["--ro-bind".into(), host.clone().into(), host.into()]);
                }
                Err(_) => {}
            }
        }
        args
    })
}

/// Is the host's `/bin/sh` dash (with bash available to stand in for an image's shell)?
fn host_sh_is_dash() -> bool {
    let dash = std::fs::canonicalize("/bin/sh")
        .ok()
        .and_then(|p| p.file_name().map(|n| n == "dash"))
        .unwrap_or(false);
    dash && Path::new("/bin/bash").is_file()
}

/// The command of a step that has none, for images whose default command is a shell
/// (locally there is no registry to read the image's config from) when its args are shell
/// options (`["-c", "..."]`); otherwise the args run as the command.
fn image_command(image: &str) -> Vec<String> {
    let name = image.split(['@', ':']).next().unwrap_or_default();
    let base = name.rsplit('/').next().unwrap_or_default();
    match base {
        "busybox" | "alpine" => vec!["sh".into()],
        "ubuntu" | "debian" | "bash" | "fedora" | "centos" => vec!["bash".into()],
        _ => vec![],
    }
}

/// The command of a sidecar's readiness probe (or, for native sidecars, its startup probe),
/// when it is an `exec` probe; HTTP and TCP probes are not run locally (the sidecar counts as
/// ready once started).
fn probe_command(sidecar: &tkc_compiler::plan::Sidecar) -> Option<Vec<String>> {
    ["readinessProbe", "startupProbe"].iter().find_map(|probe| {
        let command = sidecar
            .extra
            .get(*probe)?
            .pointer("/exec/command")?
            .as_array()?;
        let argv: Vec<String> = command
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        (!argv.is_empty()).then_some(argv)
    })
}

/// The shell a script's `#!` line asks for, as this host can give it. Images run `sh`
/// scripts with busybox ash (Alpine, busybox) or bash (Red Hat family), both of which accept
/// `[[ ]]` and `==`; where the host's `/bin/sh` is dash, which does not, bash stands in. An
/// `ash` script runs with the host's busybox ash if there is one, else likewise with bash.
fn with_host_shell(script: String) -> String {
    let Some(first) = script.lines().next() else {
        return script;
    };
    let interpreter = first.trim_start_matches("#!").trim();
    let rest = &script[first.len()..];
    let wants_sh = matches!(interpreter, "/bin/sh" | "/usr/bin/env sh");
    let wants_ash = matches!(
        interpreter,
        "/bin/ash" | "/usr/bin/env ash" | "/bin/busybox ash" | "/bin/busybox sh"
    );
    if wants_ash && !on_path("ash") {
        if let Some(busybox) = which("busybox") {
            return format!("#!{} ash{rest}", busybox.display());
        }
    } else if !(wants_sh && host_sh_is_dash()) {
        return script;
    }
    match which("bash") {
        Some(bash) => format!("#!{}{rest}", bash.display()),
        None => format!("#!/bin/sh{rest}"),
    }
}

fn on_path(name: &str) -> bool {
    which(name).is_some()
}

/// The executable `name` on `PATH`, as a shell would find it: a regular file with an execute
/// bit. The one PATH lookup of the local and container backends and of the CLI.
pub fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The container a process stands for, as the mounts see it.
struct Container<'a> {
    /// `step-<name>` or `sidecar-<name>`.
    name: &'a str,
    /// Its own workspace mount paths: (workspace, mount path).
    workspaces: Vec<(String, String)>,
    /// With an engine: the image it runs (mapped and present).
    image: Option<String>,
    /// With an engine: the variables that come from Secrets.
    secret_env: Vec<String>,
    /// With an engine: `--user`, from its `securityContext`.
    user: Option<String>,
    /// The index of the step it is (`None` for a sidecar): only its own `/tekton/run/<i>`
    /// is writable.
    step: Option<usize>,
}

/// A sidecar's readiness (or startup) probe, run as the sidecar's own process would be.
struct Probe<'a> {
    argv: Vec<String>,
    /// The probe's own command (run with `exec` in the sidecar's container).
    raw: Vec<String>,
    env: Vec<(String, String)>,
    workdir: Option<String>,
    mounts: Vec<(String, String, bool)>,
    container: Container<'a>,
    /// Its sidecar's process, an index into the attempt's sidecars.
    sidecar: usize,
}

impl<'a> Container<'a> {
    fn new(name: &'a str, workspaces: &[StepWorkspace]) -> Container<'a> {
        Container {
            name,
            workspaces: workspaces
                .iter()
                .map(|w| (w.name.clone(), w.mount_path.clone()))
                .collect(),
            image: None,
            secret_env: vec![],
            user: None,
            step: None,
        }
    }

    /// The same container in an image, for an engine.
    fn in_image(
        mut self,
        image: Option<&String>,
        env: &[EnvVar],
        security_context: Option<&serde_json::Value>,
    ) -> Container<'a> {
        self.image = image.cloned();
        self.secret_env = env
            .iter()
            .filter(|v| {
                v.value_from
                    .as_ref()
                    .is_some_and(|f| f.get("secretKeyRef").is_some())
            })
            .map(|v| v.name.clone())
            .collect();
        self.user = security_context.and_then(run_as);
        self
    }
}

/// `runAsUser[:runAsGroup]` of a `securityContext`, for `--user`.
fn run_as(context: &serde_json::Value) -> Option<String> {
    let user = context.get("runAsUser")?.as_i64()?;
    Some(match context.get("runAsGroup").and_then(|g| g.as_i64()) {
        Some(group) => format!("{user}:{group}"),
        None => user.to_string(),
    })
}

/// Mounts of a step's or sidecar's own volumes: (volume, mount path, read-only).
fn own_mounts(mounts: &[VolumeMount]) -> Vec<(String, String, bool)> {
    mounts
        .iter()
        .map(|m| (m.name.clone(), m.mount_path.text().to_string(), m.read_only))
        .collect()
}

fn step_when_json(
    step: &Step,
    values: &Values,
    paths: &dyn Fn(&PathRef, &str) -> Option<String>,
) -> String {
    let list: Vec<serde_json::Value> = step
        .when
        .iter()
        .map(|w| {
            let op = match w.operator {
                Some(tkc_compiler::plan::WhenOperator::Notin) => "notin",
                _ => "in",
            };
            serde_json::json!({
                "input": w.input.as_ref().map(|i| values.render(i, paths)).unwrap_or_default(),
                "operator": op,
                "values": values.render_list(&w.values, paths),
            })
        })
        .collect();
    serde_json::to_string(&list).unwrap_or_default()
}

/// A running process (an entrypoint or a sidecar) and its log forwarders.
struct StepProcess {
    /// The step or sidecar, for log lines.
    name: String,
    pid: Option<u32>,
    child: Child,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl StepProcess {
    async fn wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.wait().await.ok()
    }

    /// SIGKILL to the process group (the entrypoint or bubblewrap leads its own), and to
    /// the groups of everything below it: the step's own session and group, and any its
    /// processes made (see [`procs`]). They are found before the kill, while the unreaped
    /// process still holds them as its children.
    fn kill_group(&mut self) {
        let Some(pid) = self.pid.and_then(|p| i32::try_from(p).ok()) else {
            let _ = self.child.start_kill();
            return;
        };
        if matches!(self.child.try_wait(), Ok(None)) {
            let below = procs::descendants(pid);
            procs::kill_all(&[pid]);
            procs::kill_all(&below);
        }
        let _ = self.child.start_kill();
    }

    /// Waits for the logs to be forwarded, at most [`DRAIN_GRACE`] and not past a stop:
    /// `false` if a reader had to be abandoned (a leftover process holds the pipe).
    async fn drain(&mut self, stop: &mut StopSignal) -> bool {
        let deadline = tokio::time::Instant::now() + DRAIN_GRACE;
        let mut complete = true;
        for mut r in self.readers.drain(..) {
            if !complete {
                r.abort();
                continue;
            }
            let stopped = async {
                loop {
                    if stop.borrow().is_some() {
                        // Already stopped when the drain began: the grace still applies.
                        std::future::pending::<()>().await;
                    }
                    if stop.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::select! {
                _ = &mut r => {}
                _ = tokio::time::sleep_until(deadline) => { r.abort(); complete = false; }
                _ = stopped => { r.abort(); complete = false; }
            }
        }
        complete
    }
}

/// The most bytes one read of a step's output takes (a pipe holds 64 KiB by default).
const READ_CHUNK: usize = 64 * 1024;

/// Forwards one output stream of a step or sidecar as log lines.
///
/// The buffer is filled with `read_buf`, which reads into its spare capacity without zeroing
/// it first: a `BufReader` would zero its 64 KiB up front, and a run of 100 no-op tasks spent
/// 12 % of its instructions (and a page fault per 4 KiB) clearing buffers that never saw a byte.
async fn forward(
    mut stream: impl AsyncRead + Unpin,
    task: TaskId,
    step: String,
    which: Stream,
    events: EventSink,
) {
    let mut buf = Vec::with_capacity(READ_CHUNK);
    let mut lines = LogLines::default();
    let emit = |line: String| events.emit_log(task.clone(), step.clone(), which, line);
    loop {
        buf.clear();
        match stream.read_buf(&mut buf).await {
            Ok(n) if n > 0 => {}
            _ => break,
        }
        let mut chunk = buf.as_slice();
        while !chunk.is_empty() {
            let (took, line) = lines.take(chunk);
            chunk = &chunk[took..];
            if let Some(line) = line {
                emit(line).await;
            }
        }
    }
    if let Some(line) = lines.finish() {
        emit(line).await;
    }
}

/// The `Reason`/`ExitCode`/... entries of a termination message.
fn read_termination(path: &Path) -> Vec<MessageEntry> {
    match paths::read_untrusted(path, MAX_MESSAGE_BYTES) {
        Ok(Some(bytes)) => outcome::parse_message(&String::from_utf8_lossy(&bytes)),
        _ => Vec::new(),
    }
}

/// A new directory `<root>/<name>` for one attempt, or `<root>/<name>-<n>` when that name is
/// taken: TaskRun names are not unique among themselves (matrix task `t`'s first run is
/// `<run>-t-0`, as is the run of a task named `t-0`), and an attempt never shares or reuses
/// another's directory.
fn fresh_dir(root: &Path, name: &str, n: u64) -> Result<PathBuf, String> {
    let name = paths::component(name, "TaskRun name")?;
    let mut dir = root.join(name);
    for again in [false, true] {
        if again {
            dir = root.join(format!("{name}-{n}"));
        }
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if !again && e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Err(format!("cannot create {}", dir.display()))
}

/// A file-name-safe version of a name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Five lowercase letters/digits, like Tekton's script suffixes.
fn rand5(salt: u64, what: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (salt, what, std::process::id()).hash(&mut h);
    let mut n = h.finish();
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..5)
        .map(|_| {
            let c = alphabet[(n % 36) as usize] as char;
            n /= 36;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::engine_reads;

    #[test]
    fn secrets_named_like_the_engines_own_variables_stay_out_of_its_environment() {
        for name in [
            "LD_PRELOAD",
            "_CONTAINERS_USERNS_CONFIGURED",
            "https_proxy",
            "GODEBUG",
            "SSL_CERT_FILE",
            "CONTAINERS_CONF",
            "DOCKER_HOST",
        ] {
            assert!(engine_reads(name), "{name}");
        }
        for name in ["TOKEN", "API_KEY", "PASSWORD"] {
            assert!(!engine_reads(name), "{name}");
        }
    }
}
