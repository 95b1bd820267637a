//! A built pod runs: a small stand-in for the kubelet starts its containers as a node would
//! (init containers in order, then every container at once, each in a bubblewrap sandbox
//! whose only files are the pod's volumes at their mount paths and the host's system
//! directories in place of the image), and the controller's part (the `tekton.dev/ready`
//! annotation, seen through the downward volume). This checks what the schema cannot: that
//! the entrypoint accepts the flags we give it, that the `prepare` init container's links,
//! the scripts ConfigMap, the wait/post chain, the readiness gate, step results and the
//! termination message work together.
//!
//! Skipped with a note where bubblewrap is absent or cannot make namespaces (as the local
//! backend's `--isolate` tests are).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use k8s_openapi::api::core::v1::{ConfigMap, Container, Volume};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tkc_compiler::lower::RunRequest;
use tkc_compiler::plan::{ParamValue, RunValue};
use tkc_compiler::source::SourceMap;
use tkc_pods::{Arch, AttemptInput, EntrypointBinary, Identity, Options, Resolve};

const TASK_RUN: &str = r#"
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: sim
spec:
  workspaces:
    - name: out
      emptyDir: {}
  taskSpec:
    workspaces:
      - name: out
    results:
      - name: greeting
    steps:
      - name: produce
        image: alpine
        results:
          - name: word
        script: |
          echo first >> $(workspaces.out.path)/order
          printf hello > $(step.results.word.path)
      - name: consume
        image: alpine
        env:
          - name: WORD
            value: $(steps.produce.results.word)
        script: |
          echo second >> $(workspaces.out.path)/order
          printf '%s world' "$WORD" > $(results.greeting.path)
      - name: last
        image: alpine
        workingDir: $(workspaces.out.path)
        command: ["sh", "-c"]
        args: ["echo third >> order"]
"#;

struct Context;

impl Resolve for Context {
    fn value(&self, value: &RunValue) -> Option<ParamValue> {
        match value {
            RunValue::Context { variable } if variable == "taskRun.name" => {
                Some(ParamValue::String("sim".into()))
            }
            _ => None,
        }
    }
}

/// `tkc-entrypoint` of this build (built if the test run did not build it).
fn entrypoint() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap();
    let ep = dir.join("tkc-entrypoint");
    if !ep.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let _ = Command::new(cargo)
            .args(["build", "-p", "tkc-entrypoint"])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
            .status();
    }
    ep
}

fn bwrap_works() -> bool {
    Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--unshare-pid", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The host directory behind each volume, filled as the kubelet fills it.
fn volumes(
    root: &Path,
    volumes: &[Volume],
    config_maps: &[ConfigMap],
) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for v in volumes {
        let dir = root.join("volumes").join(&v.name);
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(cm) = &v.config_map {
            let mode = cm.default_mode.unwrap_or(0o644) as u32;
            let files: BTreeMap<String, Vec<u8>> = if cm.name.starts_with("tkc-entrypoint-") {
                BTreeMap::from([(
                    "entrypoint".to_string(),
                    std::fs::read(entrypoint()).unwrap(),
                )])
            } else {
                let data = config_maps
                    .iter()
                    .find(|c| c.metadata.name.as_deref() == Some(cm.name.as_str()))
                    .and_then(|c| c.data.clone())
                    .unwrap_or_default();
                data.into_iter().map(|(k, v)| (k, v.into_bytes())).collect()
            };
            for (name, bytes) in files {
                let path = dir.join(name);
                std::fs::write(&path, bytes).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        if v.downward_api.is_some() {
            // The annotation is not set yet: the file is empty.
            std::fs::write(dir.join("ready"), "").unwrap();
        }
        out.insert(v.name.clone(), dir);
    }
    out
}

/// The container in a sandbox: system directories from the host, the pod's volumes at
/// their mount paths, its own termination message file.
fn start(container: &Container, vols: &BTreeMap<String, PathBuf>, root: &Path) -> Child {
    let mut cmd = Command::new("bwrap");
    cmd.args([
        "--die-with-parent",
        "--unshare-pid",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]);
    cmd.args(["--tmpfs", "/tmp"]);
    for d in ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"] {
        let p = Path::new(d);
        match std::fs::read_link(p) {
            Ok(target) => {
                cmd.arg("--symlink").arg(target).arg(d);
            }
            Err(_) if p.is_dir() => {
                cmd.args(["--ro-bind", d, d]);
            }
            Err(_) => {}
        }
    }
    // Parents before children, as containerd's CRI sorts mounts (`sortMounts`): the pod's
    // `/workspace` must not hide a workspace at `/workspace/<name>`.
    let mut mounts: Vec<_> = container.volume_mounts.iter().flatten().collect();
    mounts.sort_by_key(|m| m.mount_path.split('/').filter(|p| !p.is_empty()).count());
    for m in mounts {
        let mut host = vols[&m.name].clone();
        if let Some(sub) = &m.sub_path {
            host = host.join(sub);
            std::fs::create_dir_all(&host).unwrap();
        }
        let how = if m.read_only == Some(true) {
            "--ro-bind"
        } else {
            "--bind"
        };
        cmd.arg(how).arg(host).arg(&m.mount_path);
    }
    if let Some(path) = &container.termination_message_path {
        let file = root.join(format!("{}.termination", container.name));
        std::fs::write(&file, "").unwrap();
        cmd.arg("--bind").arg(file).arg(path);
    }
    if let Some(dir) = &container.working_dir {
        cmd.args(["--dir", dir, "--chdir", dir]);
    }
    for e in container.env.iter().flatten() {
        cmd.args(["--setenv", &e.name, e.value.as_deref().unwrap_or_default()]);
    }
    cmd.arg("--");
    cmd.args(container.command.iter().flatten());
    cmd.args(container.args.iter().flatten());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

#[test]
fn a_built_pod_runs_through_the_entrypoint() {
    if !bwrap_works() {
        // `.ci/run` installs bubblewrap: there its absence fails the test.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set, but bubblewrap is absent or cannot make namespaces here"
        );
        eprintln!("skipped: bubblewrap is absent or cannot make namespaces here");
        return;
    }
    let mut sources = SourceMap::new();
    let file = sources.add("sim.yaml", TASK_RUN);
    let compiled = tkc_compiler::compile(
        &sources,
        &[file],
        &[],
        &RunRequest::default(),
        &tkc_compiler::Options::default(),
    );
    let plan = compiled.plan.expect("a plan");
    let identity = Identity {
        run: "sim".into(),
        run_uid: "sim".into(),
        namespace: "default".into(),
        task_run: "sim".into(),
        retry: 0,
    };
    let objects = tkc_pods::build(&AttemptInput {
        plan: &plan,
        task: &plan.tasks[0],
        identity: &identity,
        values: &Context,
        entrypoints: &[EntrypointBinary::unbuilt(Arch::Amd64)],
        options: &Options::default(),
    })
    .unwrap();
    let spec = objects.pod.spec.clone().unwrap();

    let root = std::env::temp_dir().join(format!("tkc-kubelet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let vols = volumes(
        &root,
        spec.volumes.as_deref().unwrap_or_default(),
        &objects.config_maps,
    );

    for init in spec.init_containers.iter().flatten() {
        let out = start(init, &vols, &root).wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            init.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let children: Vec<(String, Child)> = spec
        .containers
        .iter()
        .map(|c| (c.name.clone(), start(c, &vols, &root)))
        .collect();
    // The controller sees the pod running with no sidecars: it sets the annotation.
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(vols["tekton-internal-downward"].join("ready"), "READY").unwrap();
    for (name, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{name}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let workspace = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name.starts_with("ws-"))
        .map(|v| vols[&v.name].clone())
        .unwrap();
    let order = std::fs::read_to_string(workspace.join("order")).unwrap();
    assert_eq!(order, "first\nsecond\nthird\n");
    let message = std::fs::read_to_string(root.join("step-consume.termination")).unwrap();
    assert!(
        message.contains(r#""key":"greeting","value":"hello world","type":1"#),
        "{message}"
    );
    let message = std::fs::read_to_string(root.join("step-produce.termination")).unwrap();
    assert!(
        message.contains(r#""key":"word","value":"hello""#),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
