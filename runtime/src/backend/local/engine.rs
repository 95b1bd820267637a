//! Containers for the local backend (`tkc run --backend podman|docker|container`): each step
//! and sidecar of an attempt runs in its own image, through the engine's command line.
//!
//! The attempt is the same directory as on the host ([`super`]), seen through bind mounts at
//! Tekton's paths: `/tekton` (the attempt's `tekton/`), `/workspace`, each workspace and
//! volume at its mount path, and the static `tkc-entrypoint` read-only at
//! `/tekton/bin/entrypoint`, which is each container's entrypoint. So the containers of an
//! attempt are chained by the same wait and post files as host processes are, and nothing is
//! kept in the engine but the containers themselves: no named volume, no pod object.
//!
//! Containers of one attempt share one network namespace, as in a pod, when the attempt has
//! sidecars: an *infra* container (the entrypoint waiting for a file that never comes, in the
//! first container's image) holds it, and the others join it with `--network container:`.
//! Without sidecars each container has its own (`none` unless the run asks for the network),
//! since steps run one after the other and a step's processes end with it.
//!
//! Every container is started with `--rm` and labelled `tkc.run-dir=<run directory>`: the end
//! of a run removes whatever still carries its label, and the next run removes the containers
//! of runs whose directory is gone (their tkc died and its directory was reaped).
//!
//! Why the CLI and not the Docker API through a client crate: `docs/containers.md`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::process::Command;
use tokio::sync::OnceCell;

/// The label every container of a run carries: the run directory.
pub const RUN_LABEL: &str = "tkc.run-dir";

/// Which engine's command line.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Podman,
    Docker,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Podman => "podman",
            EngineKind::Docker => "docker",
        }
    }
}

/// The first engine that answers: podman (which needs no daemon), else docker whose daemon
/// answers `docker version`. `None`: either. Errors say what to install.
pub fn detect(wanted: Option<EngineKind>) -> Result<(EngineKind, PathBuf), String> {
    let candidates: &[EngineKind] = match wanted {
        Some(EngineKind::Podman) => &[EngineKind::Podman],
        Some(EngineKind::Docker) => &[EngineKind::Docker],
        None => &[EngineKind::Podman, EngineKind::Docker],
    };
    let mut why = vec![];
    for kind in candidates {
        let Some(program) = super::which(kind.name()) else {
            why.push(format!("{} is not on PATH", kind.name()));
            continue;
        };
        // podman needs no daemon: asked for by name, it is there once it is installed (a
        // broken setup shows in the first container's error).
        if wanted == Some(EngineKind::Podman) {
            return Ok((*kind, program));
        }
        let probe = std::process::Command::new(&program)
            .args(["version", "--format", "{{.Server.Version}}"])
            .stdin(Stdio::null())
            .output();
        match probe {
            Ok(o) if o.status.success() => return Ok((*kind, program)),
            Ok(o) => why.push(format!(
                "`{} version` failed: {}",
                kind.name(),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => why.push(format!("cannot run {}: {e}", program.display())),
        }
    }
    Err(format!(
        "no container engine: {} (install podman: apt-get install podman; see docs/containers.md)",
        why.join("; ")
    ))
}

/// What an image runs by default (`Config.Entrypoint`, `Config.Cmd`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageInfo {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
}

impl ImageInfo {
    /// The command of a step that gives none, as Tekton resolves it from the image
    /// (`imageInfo` in `pkg/pod/entrypoint_lookup_impl.go`): the image's entrypoint, with its
    /// `Cmd` appended when the step has no args; or, without an entrypoint, its `Cmd`.
    pub fn command(&self, has_args: bool) -> Vec<String> {
        if self.entrypoint.is_empty() {
            self.cmd.clone()
        } else if has_args {
            self.entrypoint.clone()
        } else {
            let mut all = self.entrypoint.clone();
            all.extend(self.cmd.iter().cloned());
            all
        }
    }
}

/// When an image is pulled (a container's `imagePullPolicy`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PullPolicy {
    Never,
    IfNotPresent,
    Always,
}

impl PullPolicy {
    /// The policy as written, else Kubernetes' default (`SetDefaults_Container` in
    /// `pkg/apis/core/v1/defaults.go`): `Always` for an image tagged `latest` or not tagged
    /// (and not pinned by digest), otherwise `IfNotPresent`. `None` for an unknown value.
    pub fn of(written: Option<&str>, image: &str) -> Option<PullPolicy> {
        match written.filter(|p| !p.is_empty()) {
            Some("Always") => Some(PullPolicy::Always),
            Some("IfNotPresent") => Some(PullPolicy::IfNotPresent),
            Some("Never") => Some(PullPolicy::Never),
            Some(_) => None,
            None => {
                let last = image.rsplit('/').next().unwrap_or(image);
                let tag = last.split_once(':').map(|(_, t)| t);
                if image.contains('@') || tag.is_some_and(|t| t != "latest") {
                    Some(PullPolicy::IfNotPresent)
                } else {
                    Some(PullPolicy::Always)
                }
            }
        }
    }
}

/// Settings of the container engine for one run.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub kind: EngineKind,
    /// The `podman` or `docker` executable.
    pub program: PathBuf,
    /// The static `tkc-entrypoint` on this machine, mounted into every container.
    pub entrypoint: PathBuf,
    /// Image replacements, in order: (image as written, or `*` for every image; the image to
    /// run instead). The first that matches applies.
    pub image_map: Vec<(String, String)>,
}

type Resolved = Arc<OnceCell<Result<ImageInfo, String>>>;

/// A container engine in use by one run.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    /// The run directory: the value of [`RUN_LABEL`] on every container of the run.
    owner: String,
    /// Each image once per run (pulled as its policy says, then inspected).
    images: Mutex<BTreeMap<String, Resolved>>,
}

impl Engine {
    pub fn new(config: EngineConfig, run_dir: &Path) -> Engine {
        Engine {
            config,
            owner: run_dir.to_string_lossy().into_owned(),
            images: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn kind(&self) -> EngineKind {
        self.config.kind
    }

    pub fn entrypoint(&self) -> &Path {
        &self.config.entrypoint
    }

    /// The image that runs for `image` as written (after `--image` replacements).
    pub fn map_image(&self, image: &str) -> String {
        self.config
            .image_map
            .iter()
            .find(|(from, _)| from == "*" || from == image)
            .map_or_else(|| image.to_string(), |(_, to)| to.clone())
    }

    fn cell(&self, image: &str) -> Resolved {
        let mut images = self.images.lock().unwrap_or_else(|e| e.into_inner());
        images.entry(image.to_string()).or_default().clone()
    }

    /// Makes `image` (already mapped) present as `policy` says, once per run, and reads what
    /// it runs by default. `progress` receives the pull's output lines.
    pub async fn image(
        &self,
        image: &str,
        policy: PullPolicy,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<ImageInfo, String> {
        if let Some(message) = invalid_image(image) {
            return Err(message);
        }
        self.cell(image)
            .get_or_init(|| self.resolve(image, policy, progress))
            .await
            .clone()
    }

    async fn resolve(
        &self,
        image: &str,
        policy: PullPolicy,
        progress: &(dyn Fn(String) + Sync),
    ) -> Result<ImageInfo, String> {
        let present = self.inspect(image).await;
        match (policy, present) {
            (PullPolicy::Never, Ok(info)) | (PullPolicy::IfNotPresent, Ok(info)) => Ok(info),
            // Kubernetes' message (`ErrImageNeverPull`, pkg/kubelet/images/image_manager.go).
            (PullPolicy::Never, Err(_)) => Err(format!(
                "Container image \"{image}\" is not present with pull policy of Never"
            )),
            (PullPolicy::IfNotPresent, Err(_)) | (PullPolicy::Always, _) => {
                progress(format!("pulling image {image}"));
                match self.pull(image, progress).await {
                    Ok(()) => self.inspect(image).await,
                    Err(e) => Err(format!("Back-off pulling image \"{image}\": {e}")),
                }
            }
        }
    }

    /// Pulls `image`, handing each line the engine prints to `progress` as it comes.
    async fn pull(&self, image: &str, progress: &(dyn Fn(String) + Sync)) -> Result<(), String> {
        use tokio::io::AsyncBufReadExt;
        let mut child = self
            .cli()
            .args(["pull", image])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.config.program.display()))?;
        let mut last = String::new();
        if let Some(err) = child.stderr.take() {
            let mut lines = tokio::io::BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if !line.trim().is_empty() {
                    last.clone_from(&line);
                    progress(line);
                }
            }
        }
        match child.wait().await {
            Ok(status) if status.success() => Ok(()),
            Ok(_) if !last.is_empty() => Err(last),
            Ok(status) => Err(format!("the pull failed ({status})")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Pulls the images the plan names without run-time values, before the run starts:
    /// each once, with the strongest policy any of its containers asks for. Images named
    /// by params are pulled when their first attempt starts. Failures are kept for the
    /// attempts that use the image, which fail with them.
    pub async fn prefetch(
        &self,
        plan: &tkc_compiler::plan::Plan,
        progress: &(dyn Fn(String) + Sync),
    ) {
        let mut wanted: BTreeMap<String, PullPolicy> = BTreeMap::new();
        for task in &plan.tasks {
            let sidecars = task.pod.sidecars.iter().map(|s| {
                let policy = s.extra.get("imagePullPolicy").and_then(|p| p.as_str());
                (&s.image, policy)
            });
            let steps = task
                .pod
                .steps
                .iter()
                .map(|s| (&s.image, s.image_pull_policy.as_deref()));
            for (image, policy) in steps.chain(sidecars) {
                if !image.refs().is_empty() {
                    continue;
                }
                let image = self.map_image(image.text());
                if let Some(policy) = PullPolicy::of(policy, &image) {
                    let entry = wanted.entry(image).or_insert(policy);
                    *entry = (*entry).max(policy);
                }
            }
        }
        for (image, policy) in wanted {
            let _ = self.image(&image, policy, progress).await;
        }
    }

    async fn inspect(&self, image: &str) -> Result<ImageInfo, String> {
        let out = self
            .cli()
            .args(["image", "inspect", "--format", "{{json .Config}}", image])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.config.program.display()))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let list = |key: &str| -> Vec<String> {
            config
                .get(key)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(ImageInfo {
            entrypoint: list("Entrypoint"),
            cmd: list("Cmd"),
        })
    }

    /// The engine's command, with nothing of the run's in its environment.
    fn cli(&self) -> Command {
        let mut cmd = Command::new(&self.config.program);
        cmd.kill_on_drop(true);
        cmd
    }

    /// `run --rm` of one container of an attempt, attached (its output is the process's),
    /// labelled with the run. `spec.argv[0]` is the entrypoint inside the container.
    pub fn run_command(&self, spec: &ContainerSpec<'_>) -> Command {
        if let Some(message) = invalid_spec(spec) {
            // Never handed to the engine: the step fails with the reason in its log.
            let mut cmd = Command::new("/bin/sh");
            cmd.args(["-c", "printf '%s\\n' \"$1\" >&2; exit 1", "tkc", &message]);
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            return cmd;
        }
        let mut cmd = self.cli();
        cmd.args(self.run_args(spec, false));
        // Values that must not show in the process list (from Secrets) reach the container
        // through the engine's environment (`-e NAME` without a value).
        cmd.envs(
            spec.hidden_env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.process_group(0);
        cmd
    }

    /// `run -d --rm` of an attempt's infra container, which holds the network namespace the
    /// others join: the entrypoint, waiting for a file nobody writes, with cancel off.
    pub async fn start_infra(&self, spec: &ContainerSpec<'_>) -> Result<(), String> {
        if let Some(message) = invalid_spec(spec) {
            return Err(message);
        }
        let out = self
            .cli()
            .args(self.run_args(spec, true))
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.config.program.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "cannot start the pod's network holder: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn run_args(&self, spec: &ContainerSpec<'_>, detached: bool) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["run".into(), "--rm".into()];
        if detached {
            a.push("-d".into());
        }
        let mut flag = |f: &str, v: &str| {
            a.push(f.into());
            a.push(v.into());
        };
        flag("--name", spec.name);
        flag("--label", &format!("{RUN_LABEL}={}", self.owner));
        flag("--network", spec.network);
        flag("--pull", "never");
        if let Some(w) = spec.workdir {
            flag("--workdir", w);
        }
        if let Some(user) = spec.user {
            flag("--user", user);
        }
        for (k, v) in spec.env {
            flag("--env", &format!("{k}={v}"));
        }
        for (k, _) in spec.hidden_env {
            flag("--env", k);
        }
        let Some((entrypoint, args)) = spec.argv.split_first() else {
            return a;
        };
        flag("--entrypoint", entrypoint);
        for (host, inside, read_only) in spec.mounts {
            let mut v = OsString::from(host.as_os_str());
            v.push(":");
            v.push(inside);
            if *read_only {
                v.push(":ro");
            }
            a.push("--volume".into());
            a.push(v);
        }
        a.push(spec.image.into());
        a.extend(args.iter().map(OsString::from));
        a
    }

    /// `exec` of a command in a running container (a sidecar's probe); its exit status.
    pub fn exec_command(&self, container: &str, workdir: Option<&str>, argv: &[String]) -> Command {
        let mut cmd = self.cli();
        cmd.arg("exec");
        if let Some(w) = workdir {
            cmd.args(["--workdir", w]);
        }
        cmd.arg(container).args(argv);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// Removes containers at once (SIGKILL), whatever their state; a missing one is no error.
    pub async fn remove(&self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let mut cmd = self.cli();
        cmd.args(["rm", "--force"]);
        if self.config.kind == EngineKind::Podman {
            cmd.args(["--time", "0", "--ignore"]);
        }
        cmd.args(names)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = cmd.status().await;
    }

    /// Removes every container of this run that is left.
    pub fn sweep_run(&self) {
        let owner = self.owner.clone();
        sweep(&self.config, |dir| dir == owner);
    }
}

/// Removes the containers of this user's runs (below `runs_base`) whose run directory is
/// gone (their tkc died and the directory was reaped). Returns how many.
pub fn sweep_dead_runs(config: &EngineConfig, runs_base: &Path) -> usize {
    // Only runs of this user's base: another user's run directory cannot be seen from here,
    // and its containers are not ours to judge.
    sweep(config, |dir| {
        let dir = Path::new(dir);
        dir.starts_with(runs_base) && std::fs::symlink_metadata(dir).is_err()
    })
}

/// Removes the labelled containers whose run directory `doomed` picks, again while some are
/// left: the engine refuses to remove an infra container before the containers that joined
/// its network, and a removal can race the engine's own `--rm` cleanup. Returns how many
/// there were.
fn sweep(config: &EngineConfig, doomed: impl Fn(&str) -> bool) -> usize {
    let list = || -> Vec<String> {
        list_labelled(config)
            .into_iter()
            .filter(|(_, dir)| doomed(dir))
            .map(|(id, _)| id)
            .collect()
    };
    let mut ids = list();
    let found = ids.len();
    for _ in 0..3 {
        if ids.is_empty() {
            break;
        }
        remove_now(config, &ids);
        ids = list();
    }
    found
}

fn remove_now(config: &EngineConfig, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let mut cmd = std::process::Command::new(&config.program);
    cmd.args(["rm", "--force"]);
    if config.kind == EngineKind::Podman {
        cmd.args(["--time", "0", "--ignore"]);
    }
    let _ = cmd
        .args(ids)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// (id, run directory) of the containers labelled by tkc runs.
fn list_labelled(config: &EngineConfig) -> Vec<(String, String)> {
    let filter = format!("label={RUN_LABEL}");
    // The label's value: a template function in docker, a map in podman.
    let label = match config.kind {
        EngineKind::Docker => format!("{{{{.Label \"{RUN_LABEL}\"}}}}"),
        EngineKind::Podman => format!("{{{{index .Labels \"{RUN_LABEL}\"}}}}"),
    };
    let out = std::process::Command::new(&config.program)
        .args(["ps", "--all", "--no-trunc", "--filter", &filter])
        .args(["--format", &format!("{{{{.ID}}}} {label}")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else {
        return vec![];
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (id, dir) = l.trim().split_once(' ')?;
            Some((id.to_string(), dir.to_string()))
        })
        .collect()
}

/// One container of an attempt.
#[derive(Debug)]
pub struct ContainerSpec<'a> {
    /// The engine's name for it (unique on the machine).
    pub name: &'a str,
    /// The image, mapped and present.
    pub image: &'a str,
    /// The entrypoint inside the container, then its arguments.
    pub argv: &'a [String],
    pub env: &'a [(String, String)],
    /// Variables passed through the engine's environment.
    pub hidden_env: &'a [(String, String)],
    pub workdir: Option<&'a str>,
    /// `none`, `bridge` or `container:<infra>`.
    pub network: &'a str,
    /// (host path, path inside, read-only).
    pub mounts: &'a [(PathBuf, String, bool)],
    /// `--user`, from the container's `securityContext` (`runAsUser[:runAsGroup]`).
    pub user: Option<&'a str>,
}

/// Why `image` cannot be handed to the engine's command line: a name that is empty, holds
/// blanks, or starts with `-` would be read as an option (`--privileged`). Kubernetes refuses
/// such a reference too (`InvalidImageName`, pkg/kubelet/images).
pub fn invalid_image(image: &str) -> Option<String> {
    (image.is_empty() || image.starts_with('-') || image.chars().any(char::is_whitespace)).then(
        || format!("InvalidImageName: Failed to apply default image tag {image:?}: couldn't parse image reference"),
    )
}

/// Why a container cannot be run safely through `--volume HOST:INSIDE[:ro]`: a `:` in either
/// path would add engine options (`/src:U` chowns the host directory) or mount another path.
fn invalid_spec(spec: &ContainerSpec<'_>) -> Option<String> {
    if let Some(message) = invalid_image(spec.image) {
        return Some(message);
    }
    spec.mounts.iter().find_map(|(host, inside, _)| {
        (host.to_string_lossy().contains(':') || inside.contains(':')).then(|| {
            format!(
                "cannot mount {} at {inside}: a container backend cannot mount a path holding `:`",
                host.display()
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_defaults_as_kubernetes() {
        let of = |p, i| PullPolicy::of(p, i);
        assert_eq!(of(None, "alpine"), Some(PullPolicy::Always));
        assert_eq!(of(None, "alpine:latest"), Some(PullPolicy::Always));
        assert_eq!(of(None, "alpine:3.20"), Some(PullPolicy::IfNotPresent));
        assert_eq!(of(None, "localhost:5000/x"), Some(PullPolicy::Always));
        assert_eq!(
            of(None, "localhost:5000/x:1"),
            Some(PullPolicy::IfNotPresent)
        );
        assert_eq!(of(None, "x@sha256:00"), Some(PullPolicy::IfNotPresent));
        assert_eq!(of(Some("Never"), "alpine"), Some(PullPolicy::Never));
        assert_eq!(of(Some("Sometimes"), "alpine"), None);
    }

    #[test]
    fn a_container_runs_the_entrypoint_in_its_image_with_the_pods_mounts() {
        let engine = Engine::new(
            EngineConfig {
                kind: EngineKind::Docker,
                program: PathBuf::from("docker"),
                entrypoint: PathBuf::from("/ep"),
                image_map: vec![("alpine".into(), "localhost/a:1".into())],
            },
            Path::new("/runs/r-1"),
        );
        assert_eq!(engine.map_image("alpine"), "localhost/a:1");
        assert_eq!(engine.map_image("golang:1.22"), "golang:1.22");
        let argv = [
            "/tekton/bin/entrypoint".to_string(),
            "-post_file".into(),
            "/p".into(),
        ];
        let spec = ContainerSpec {
            name: "tkc-0-step-a",
            image: "localhost/a:1",
            argv: &argv,
            env: &[("A".into(), "1".into())],
            hidden_env: &[("TOKEN".into(), "secret".into())],
            workdir: Some("/workspace"),
            network: "none",
            mounts: &[(PathBuf::from("/runs/r-1/p/tekton"), "/tekton".into(), false)],
            user: Some("1000"),
        };
        let args: Vec<String> = engine
            .run_args(&spec, false)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "run --rm --name tkc-0-step-a --label tkc.run-dir=/runs/r-1 --network none \
             --pull never --workdir /workspace --user 1000 --env A=1 --env TOKEN \
             --entrypoint /tekton/bin/entrypoint --volume /runs/r-1/p/tekton:/tekton \
             localhost/a:1 -post_file /p"
        );
        assert!(!args.iter().any(|a| a.contains("secret")));
    }

    #[test]
    fn image_command_follows_tekton() {
        let info = ImageInfo {
            entrypoint: vec!["/ep".into()],
            cmd: vec!["--serve".into()],
        };
        assert_eq!(info.command(false), ["/ep", "--serve"]);
        assert_eq!(info.command(true), ["/ep"]);
        let cmd_only = ImageInfo {
            entrypoint: vec![],
            cmd: vec!["/bin/sh".into()],
        };
        assert_eq!(cmd_only.command(true), ["/bin/sh"]);
    }

    #[test]
    fn images_and_mounts_that_would_be_engine_options_are_refused() {
        assert!(invalid_image("--privileged").is_some());
        assert!(invalid_image("busybox --volume=/:/h").is_some());
        assert!(invalid_image("").is_some());
        assert!(invalid_image("localhost/a:1").is_none());
        let spec = |inside: &'static str| ContainerSpec {
            name: "c",
            image: "localhost/a:1",
            argv: &[],
            env: &[],
            hidden_env: &[],
            workdir: None,
            network: "none",
            mounts: Box::leak(Box::new([(
                PathBuf::from("/runs/r/ws"),
                inside.to_string(),
                false,
            )])),
            user: None,
        };
        assert!(invalid_spec(&spec("/src:U")).is_some());
        assert!(invalid_spec(&spec("/src")).is_none());
    }
}
