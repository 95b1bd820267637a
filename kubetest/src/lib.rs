//! A Kubernetes API test server for tkc's tests and benches: a real HTTP server on 127.0.0.1
//! that `kube::Client` and `kubectl` talk to, whose kubelet runs pods on this machine.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = tkc_kubetest::Server::start(tkc_kubetest::Options::default()).await?;
//! let client = kube::Client::try_from(server.client_config()).map_err(std::io::Error::other)?;
//! server.kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?; // for kubectl
//! # let _ = client;
//! server.stop().await; // kills every process its kubelet started
//! # Ok(()) }
//! ```
//!
//! See `kubetest/README.md` for what it models and what it does not.
#![forbid(unsafe_code)]

mod admission;
mod api;
mod discovery;
mod kubelet;
mod logs;
mod patch;
mod prober;
mod selector;
mod status;
mod store;
mod time;

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use admission::FieldValidation;

/// The `kubectl` on `PATH`, for tests that drive the server with the real client: `None` (and
/// a note on stderr) when it is not installed, so the test skips, unless
/// `TKC_REQUIRE_KUBECTL` is set (CI installs it), which makes a missing one a failure.
pub fn kubectl_for_tests() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("TKC_REQUIRE_KUBECTL").is_none(),
            "kubectl is required (TKC_REQUIRE_KUBECTL) but not on PATH"
        );
        eprintln!("skipped: kubectl is not installed");
    }
    found
}

/// How to start a [`Server`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Where volumes, PVC directories and container logs live. Default: a new temporary
    /// directory, removed when the server stops.
    pub state_dir: Option<PathBuf>,
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Run pods (the kubelet). Without it pods stay `Pending`, as on a cluster without nodes.
    pub kubelet: bool,
    /// The `bwrap` binary containers run under; default: `bwrap` on `PATH`, if it can create
    /// namespaces here.
    pub bwrap: Option<PathBuf>,
    /// How many changes watches may resume from before `410 Gone`.
    pub watch_window: usize,
    /// How often a watch that allows bookmarks gets one (the real server: about a minute).
    pub bookmark_interval: Duration,
    /// What a write without `fieldValidation` does with unknown fields. The real server's
    /// default is `Warn`; the test server's is `Strict`, so that a client's mistake shows.
    pub field_validation: FieldValidation,
    /// Allow `hostPath` volumes (refused by default: a pod may touch only its own directories).
    pub allow_host_path: bool,
    /// What the kubelet knows of images, by the `image` string of a container: the entrypoint
    /// and cmd a container without `command` (or `args`) runs. Images are otherwise ignored.
    pub images: BTreeMap<String, ImageConfig>,
}

/// The part of an image's config the kubelet uses (`Entrypoint` and `Cmd`), host programs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// `Entrypoint`: what runs when the container gives no `command`.
    pub entrypoint: Vec<String>,
    /// `Cmd`: its arguments when the container gives neither `command` nor `args`.
    pub cmd: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            state_dir: None,
            port: 0,
            kubelet: true,
            bwrap: None,
            watch_window: 1000,
            bookmark_interval: Duration::from_secs(1),
            field_validation: FieldValidation::Strict,
            allow_host_path: false,
            images: BTreeMap::new(),
        }
    }
}

#[derive(Default)]
struct Faults {
    /// HTTP codes the next creates fail with, one each.
    failing_creates: VecDeque<u16>,
    kubelet_delay: Duration,
    /// `(verb, resource)` that SelfSubjectAccessReviews answer as not allowed.
    denied: Vec<(String, String)>,
}

/// What the API handlers and the kubelet share.
pub(crate) struct Shared {
    store: store::Store,
    field_validation: FieldValidation,
    bookmark_interval: Duration,
    /// Bumped to end every open watch.
    watch_epoch: watch::Sender<u64>,
    /// Bumped to close every open connection (restart).
    conn_epoch: watch::Sender<u64>,
    /// Set when the server stops: everything ends.
    shutdown: watch::Sender<bool>,
    addr: Mutex<SocketAddr>,
    state_dir: PathBuf,
    faults: Mutex<Faults>,
    kubelet: kubelet::State,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn addr(&self) -> SocketAddr {
        *relock(&self.addr)
    }

    fn store_rv(&self) -> u64 {
        self.store.resource_version()
    }

    fn take_injected_failure(&self) -> Option<u16> {
        relock(&self.faults).failing_creates.pop_front()
    }

    fn denied(&self, verb: &str, resource: &str) -> bool {
        relock(&self.faults)
            .denied
            .iter()
            .any(|(v, r)| v == verb && r == resource)
    }

    fn kubelet_delay(&self) -> Duration {
        relock(&self.faults).kubelet_delay
    }

    /// A container's log file, as the kubelet writes it (`/var/log/pods/NS_NAME_UID/`).
    fn log_path(&self, ns: &str, name: &str, uid: &str, container: &str) -> PathBuf {
        self.pod_dir(ns, name, uid).join(format!("{container}.log"))
    }

    fn pod_dir(&self, ns: &str, name: &str, uid: &str) -> PathBuf {
        self.state_dir
            .join("pods")
            .join(format!("{ns}_{name}_{uid}"))
    }
}

/// A running test server and its kubelet.
pub struct Server {
    shared: Arc<Shared>,
    accept: Mutex<Option<JoinHandle<()>>>,
    /// The state directory the server made, removed when it stops.
    own_state_dir: bool,
}

impl Server {
    /// Starts the API server on 127.0.0.1 and its kubelet, on the current tokio runtime.
    pub async fn start(opts: Options) -> io::Result<Server> {
        let (state_dir, own_state_dir) = match &opts.state_dir {
            Some(d) => (d.clone(), false),
            None => {
                static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let d =
                    std::env::temp_dir().join(format!("tkc-kubetest-{}-{n}", std::process::id()));
                (d, true)
            }
        };
        // The server's own directory is made fresh and private (0700): Secret volumes and pod
        // logs go there, and a directory someone planted at that predictable name is refused.
        // A directory the user names is theirs, and may exist.
        let made = if own_state_dir {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().mode(0o700).create(&state_dir)
        } else {
            std::fs::create_dir_all(&state_dir)
        };
        made.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create {}: {e}", state_dir.display()),
            )
        })?;
        let bwrap = if opts.kubelet {
            kubelet::find_bwrap(opts.bwrap.clone())
        } else {
            Err("the kubelet is disabled".into())
        };
        let listener = TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            store: store::Store::new(opts.watch_window),
            field_validation: opts.field_validation,
            bookmark_interval: opts.bookmark_interval.max(Duration::from_millis(10)),
            watch_epoch: watch::channel(0).0,
            conn_epoch: watch::channel(0).0,
            shutdown: watch::channel(false).0,
            addr: Mutex::new(addr),
            state_dir,
            faults: Mutex::new(Faults::default()),
            kubelet: kubelet::State::new(bwrap, opts.allow_host_path, opts.images.clone()),
        });
        if opts.kubelet {
            kubelet::start(shared.clone());
        }
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Server {
            shared,
            accept: Mutex::new(Some(accept)),
            own_state_dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr())
    }

    /// The address it listens on (127.0.0.1 and its port).
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr()
    }

    /// Where the server keeps volumes, claims and logs.
    pub fn state_dir(&self) -> &Path {
        &self.shared.state_dir
    }

    /// Whether the kubelet can run containers here, and if not, why (no `bwrap`, or it
    /// cannot create namespaces in this container).
    pub fn pods_unavailable(&self) -> Option<String> {
        self.shared.kubelet.unavailable()
    }

    /// A `kube::Config` for this server, default namespace `default`.
    pub fn client_config(&self) -> kube::Config {
        let url = self.url().parse().unwrap_or_default();
        let mut config = kube::Config::new(url);
        config.default_namespace = "default".into();
        config.read_timeout = Some(Duration::from_secs(295));
        config
    }

    /// Writes a kubeconfig for this server (context `tkc-kubetest`, namespace `default`).
    pub fn kubeconfig(&self, path: &Path) -> io::Result<()> {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: tkc-kubetest\n  cluster:\n    server: {}\ncontexts:\n- name: tkc-kubetest\n  context:\n    cluster: tkc-kubetest\n    namespace: default\n    user: tkc-kubetest\ncurrent-context: tkc-kubetest\nusers:\n- name: tkc-kubetest\n  user: {{}}\n",
            self.url()
        );
        std::fs::write(path, text)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
    }

    /// Fault: ends every open watch (clients resume from their last resourceVersion).
    pub fn drop_watches(&self) {
        self.shared.watch_epoch.send_modify(|e| *e += 1);
    }

    /// Fault: restarts the API server with its state: every connection is closed, the watch
    /// history is lost (a watch from an older resourceVersion gets `410 Gone`), and it listens
    /// again on the same port (a new one only if that cannot be had: see [`Server::url`]).
    /// The kubelet and its pods carry on, as a node does while its API server restarts.
    pub async fn restart(&self) -> io::Result<()> {
        let old = relock(&self.accept).take();
        if let Some(h) = old {
            h.abort();
            let _ = h.await;
        }
        self.shared.conn_epoch.send_modify(|e| *e += 1);
        self.shared.watch_epoch.send_modify(|e| *e += 1);
        self.shared.store.forget_history();
        let addr = self.shared.addr();
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind(("127.0.0.1", 0)).await?,
        };
        *relock(&self.shared.addr) = listener.local_addr()?;
        *relock(&self.accept) = Some(tokio::spawn(accept_loop(listener, self.shared.clone())));
        Ok(())
    }

    /// Fault: the kubelet evicts a pod (node pressure): its containers are stopped and it
    /// ends `Failed` with reason `Evicted`. False if no such pod runs.
    pub fn evict(&self, namespace: &str, pod: &str) -> bool {
        self.shared.kubelet.evict(namespace, pod)
    }

    /// Fault: the kubelet waits this long before it acts on a new pod.
    pub fn delay_kubelet(&self, delay: Duration) {
        relock(&self.shared.faults).kubelet_delay = delay;
    }

    /// Fault: the next `n` creates fail with `code` (429 `TooManyRequests` or 500).
    pub fn fail_next_creates(&self, n: usize, code: u16) {
        let mut f = relock(&self.shared.faults);
        f.failing_creates.extend(std::iter::repeat_n(code, n));
    }

    /// Fault: SelfSubjectAccessReviews say `verb` on `resource` (`pods`, `pods/log`, ...) is
    /// not allowed. Only the reviews: the server has no RBAC, requests themselves still pass.
    pub fn deny(&self, verb: &str, resource: &str) {
        relock(&self.shared.faults)
            .denied
            .push((verb.to_string(), resource.to_string()));
    }

    /// Stops the server: connections closed, every process the kubelet started killed.
    pub async fn stop(self) {
        self.halt();
        let handle = relock(&self.accept).take();
        if let Some(h) = handle {
            let _ = h.await;
        }
    }

    fn halt(&self) {
        if let Some(h) = relock(&self.accept).as_ref() {
            h.abort();
        }
        self.shared.shutdown.send_replace(true);
        self.shared.conn_epoch.send_modify(|e| *e += 1);
        self.shared.kubelet.kill_all();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.halt();
        if self.own_state_dir {
            let _ = std::fs::remove_dir_all(&self.shared.state_dir);
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let mut epoch = shared.conn_epoch.subscribe();
        tokio::spawn(async move {
            let service = {
                let shared = shared.clone();
                service_fn(move |req| api::handle(shared.clone(), req))
            };
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = epoch.changed() => {}
            }
        });
    }
}
