//! `tkc run --backend podman` end to end, with Debian's podman and an image built here from
//! Debian's `busybox-static` (no registry is reachable, so nothing is pulled).
//!
//! - Parity: every `testdata/run/` fixture gives the same JSON summary and exit code as its
//!   local snapshot (`cli/tests/run_fixtures.rs`, same redaction; every image mapped to the
//!   test image with `--image '*=...'`), and leaves no container behind.
//! - `imagePullPolicy: Never` with a missing image fails the task as Tekton does, and a step
//!   without a command runs its image's own entrypoint and command.
//! - A step reaches its sidecar on `localhost`; a Secret's value is on no command line.
//! - The containers of a SIGKILLed tkc are removed by the next run.
//!
//! Docker shares the code path (`runtime/src/backend/local/engine.rs`) but is not tested here:
//! there is no docker daemon on these machines.
//!
//! The engine's configuration is the one `docs/containers.md` gives for hosts without
//! systemd and with hard rlimits below podman's defaults: `CONTAINERS_CONF` points at a file
//! of the test's (runc, cgroupfs, the test's own rlimits), unless it is set already.
//!
//! Skipped (with a note) without podman or busybox-static, except where `CI` is set.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{header_args, redact, workspace_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Fixtures whose summary differs in containers, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "pipeline-result-over-timeout",
        "its timeouts.tasks (500ms) is shorter than a container's start (0.3-0.5 s)",
    ),
    (
        "tasks-timeout-at-end",
        "its timeouts.tasks (500ms) is shorter than a container's start (0.3-0.5 s)",
    ),
    (
        "timeout-no-results",
        "its task timeout (500ms) must let the first step finish, its container's start \
         included, which a loaded machine makes slower than that",
    ),
];

/// How many fixtures run at once.
const PARALLEL: usize = 4;

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tkc-podman-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The hard limit of `what` (a line of `/proc/self/limits`) for this process.
fn hard_limit(what: &str) -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with(what))?;
    line[what.len()..].split_whitespace().nth(1)?.parse().ok()
}

/// A podman that can run containers here, with a test image; `None` (skipped) otherwise.
struct Podman {
    program: PathBuf,
    /// `CONTAINERS_CONF`, if the test set it.
    conf: Option<PathBuf>,
    image: String,
    /// The test's scratch directory (its containers.conf, the image's rootfs): removed on drop.
    scratch: PathBuf,
}

impl Podman {
    /// `test`: a name for the test's image and files (tests run at once, each with its own).
    fn start(test: &str) -> Option<Podman> {
        let Some(program) = which("podman") else {
            common::skip("podman is not installed (apt-get install podman runc)");
            return None;
        };
        let busybox = Path::new("/bin/busybox");
        if !busybox.is_file() {
            common::skip("busybox-static is not installed (apt-get install busybox-static)");
            return None;
        }
        let dir = scratch(test);
        let conf = if std::env::var_os("CONTAINERS_CONF").is_some() {
            None
        } else {
            let nofile = hard_limit("Max open files").unwrap_or(1024);
            let nproc = hard_limit("Max processes").unwrap_or(4096).min(32768);
            let path = dir.join("containers.conf");
            std::fs::write(
                &path,
                format!(
                    "[containers]\ndefault_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc={nproc}:{nproc}\"]\n\
                     [engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
                ),
            )
            .unwrap();
            Some(path)
        };
        let image = format!("localhost/tkc-test-busybox:{}-{test}", std::process::id());
        let podman = Podman {
            program,
            conf,
            image,
            scratch: dir.clone(),
        };
        podman.build_image(&dir, busybox);
        // The image runs: the engine works here.
        let out = podman
            .cmd()
            .args(["run", "--rm", "--network", "none", &podman.image, "true"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman cannot run a container here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(podman)
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        if let Some(conf) = &self.conf {
            cmd.env("CONTAINERS_CONF", conf);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// A 2 MB image: busybox and its applets, `/etc/passwd`, the mount points.
    fn build_image(&self, dir: &Path, busybox: &Path) {
        let root = dir.join("rootfs");
        for d in ["bin", "etc", "tmp", "proc", "dev", "sys", "root"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        let list = Command::new(busybox).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" && !applet.is_empty() {
                std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
            }
        }
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let archive = tar.stdout.take().unwrap();
        let out = self
            .cmd()
            .args([
                "import",
                "--change",
                "ENV=PATH=/bin",
                "--change",
                "CMD=[\"/bin/sh\"]",
                "-",
                &self.image,
            ])
            .stdin(archive)
            .output()
            .unwrap();
        assert!(tar.wait().unwrap().success(), "tar failed");
        assert!(
            out.status.success(),
            "podman import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `tkc run --backend podman` with every image mapped to the test image.
    fn tkc(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
        cmd.current_dir(workspace_root())
            .env("NO_COLOR", "1")
            .env(
                "TKC_STATIC_ENTRYPOINT",
                common::static_entrypoint()
                    .expect("entrypoint/build-static.sh builds the static entrypoint"),
            )
            .env("TKC_STATE_DIR", std::env::temp_dir().join("tkc-test-state"))
            .args(["run", "--backend", "podman", "--output", "json"])
            .args(["--image", &format!("*={}", self.image)]);
        if let Some(conf) = &self.conf {
            cmd.env("CONTAINERS_CONF", conf);
        }
        cmd
    }

    /// Names of the containers of the test image that are left.
    fn leftovers(&self) -> Vec<String> {
        let out = self
            .cmd()
            .args(["ps", "--all", "--format", "{{.Names}}"])
            .args(["--filter", &format!("ancestor={}", self.image)])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rmi", "--force", &self.image]).output();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// A directory removed when the test ends (kept when it panics, for a look).
struct Gone(PathBuf);

impl Drop for Gone {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The exit code and redacted summary of a local snapshot.
fn local_snapshot(fixture: &Path) -> (String, String) {
    let snap = std::fs::read_to_string(fixture.with_extension("yaml.snap")).unwrap();
    let body = snap.splitn(3, "---\n").nth(2).unwrap_or_default();
    let code = body
        .lines()
        .find_map(|l| l.strip_prefix("exit code: "))
        .unwrap_or_default()
        .to_string();
    let json = body
        .find("\n{")
        .map(|i| body[i + 1..].trim_end().to_string())
        .unwrap_or_default();
    (code, json)
}

#[test]
fn every_run_fixture_gives_the_local_summary_in_podman() {
    let Some(podman) = Podman::start("fixtures") else {
        return;
    };
    let root = workspace_root();
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(root.join("testdata/run"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy();
            match KNOWN_DIFFERENCES.iter().find(|(n, _)| *n == stem) {
                Some((_, why)) => {
                    eprintln!("{stem}: not compared ({why})");
                    false
                }
                None => true,
            }
        })
        .collect();
    fixtures.sort();
    let queue = Mutex::new(fixtures);
    let failures = Mutex::new(vec![]);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| {
                loop {
                    let Some(fixture) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let stem = fixture.file_stem().unwrap().to_string_lossy().into_owned();
                    let text = std::fs::read_to_string(&fixture).unwrap();
                    let relative = fixture.strip_prefix(&root).unwrap();
                    let want = local_snapshot(&fixture);
                    let run = || {
                        let out = podman
                            .tkc()
                            .args(header_args(&text))
                            .arg(relative)
                            .output()
                            .unwrap();
                        let got = (
                            out.status.code().map_or("none".into(), |c| c.to_string()),
                            redact(&out.stdout),
                        );
                        (got, out)
                    };
                    // Once more after a difference: sub-second timeouts and the hand-off
                    // between steps race the machine's load (a container's start takes
                    // several times longer on a loaded machine); a real difference repeats.
                    let (mut got, mut out) = run();
                    if got != want {
                        eprintln!("{stem}: differed once; running it again");
                        (got, out) = run();
                    }
                    if got != want {
                        failures.lock().unwrap().push(format!(
                            "{stem}: podman gave exit {} and\n{}\nlocal: exit {} and\n{}\nstderr:\n{}",
                            got.0,
                            got.1,
                            want.0,
                            want.1,
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let left = podman.leftovers();
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

/// A fixture written on the fly.
fn write_fixture(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn images_follow_their_pull_policy_and_entrypoint() {
    let Some(podman) = Podman::start("images") else {
        return;
    };
    let dir = scratch("images-runs");
    let _gone = Gone(dir.clone());
    // `Never` and an image that is not here: the task fails as Tekton fails it, without
    // trying a registry. The mapping applies to the other step only.
    let never = write_fixture(
        &dir,
        "never.yaml",
        r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: never
spec:
  taskSpec:
    steps:
      - name: absent
        image: localhost/tkc-test-absent:1
        imagePullPolicy: Never
        script: "true"
"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .env("NO_COLOR", "1")
        .env(
            "TKC_STATIC_ENTRYPOINT",
            common::static_entrypoint()
                .expect("entrypoint/build-static.sh builds the static entrypoint"),
        )
        .envs(podman.conf.iter().map(|c| ("CONTAINERS_CONF", c)))
        .args(["run", "--backend", "podman", "--output", "json"])
        .arg(&never)
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(summary["reason"], "TaskRunImagePullFailed", "{summary:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "failed to pull the image \"localhost/tkc-test-absent:1\". The pod errored with the message: \"Container image \"localhost/tkc-test-absent:1\" is not present with pull policy of Never.\""
        ),
        "{stderr}"
    );

    // A step without command or script runs its image's command (the test image's is
    // `/bin/sh`, given `-c` by the args), as Tekton resolves it from the image's config.
    let own = write_fixture(
        &dir,
        "own.yaml",
        r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: own-command
spec:
  taskSpec:
    results: [{name: shell}]
    steps:
      - name: default
        image: busybox
        args: ["-c", "echo -n $0 > $(results.shell.path)"]
"#,
    );
    let out = podman.tkc().arg(&own).output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["status"],
        "Succeeded",
        "{summary:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary["tasks"][0]["results"]["shell"], "/bin/sh");
    assert!(podman.leftovers().is_empty());
}

/// A run whose tkc is SIGKILLed leaves its containers running (the engine, not tkc, is
/// their parent); the next run removes them, as it reaps the dead run's directory.
#[test]
fn the_next_run_removes_the_containers_of_a_killed_one() {
    let Some(podman) = Podman::start("killed") else {
        return;
    };
    let dir = scratch("killed-runs");
    let _gone = Gone(dir.clone());
    let slow = write_fixture(
        &dir,
        "slow.yaml",
        r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: killed
spec:
  taskSpec:
    sidecars:
      - name: side
        image: busybox
        script: sleep 60
    steps:
      - name: sleep
        image: busybox
        script: sleep 60
"#,
    );
    let mut child = podman
        .tkc()
        .arg(&slow)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !podman
        .leftovers()
        .iter()
        .any(|n| n.ends_with("-step-sleep"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the step never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!podman.leftovers().is_empty(), "the containers outlive tkc");
    let quick = write_fixture(
        &dir,
        "quick.yaml",
        r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: quick
spec:
  taskSpec:
    steps:
      - name: hello
        image: busybox
        script: echo hello
"#,
    );
    let out = podman.tkc().arg(&quick).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let left = podman.leftovers();
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

/// The command lines of all processes, NUL-separated arguments.
fn command_lines() -> Vec<Vec<u8>> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A step reaches its sidecar on `localhost` (the attempt's containers share one network
/// namespace, as a pod's do), after the sidecar's exec readiness probe passed in its own
/// container; an image named by a param is pulled at the attempt; and a Secret's value
/// reaches the step without appearing on any command line.
#[test]
fn a_pod_shares_its_network_and_secrets_stay_off_command_lines() {
    let Some(podman) = Podman::start("pod") else {
        return;
    };
    let dir = scratch("pod-runs");
    let _gone = Gone(dir.clone());
    let run = write_fixture(
        &dir,
        "pod.yaml",
        r#"apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: tkc-test-s3cret}
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: pod-network}
spec:
  params: [{name: img, value: busybox}]
  taskSpec:
    params: [{name: img}]
    results: [{name: page}, {name: token}]
    sidecars:
      - name: web
        image: $(params.img)
        script: |
          sleep 0.5
          mkdir -p /tmp/www && echo served > /tmp/www/index.html
          exec httpd -f -p 8080 -h /tmp/www
        readinessProbe:
          exec:
            command: ["wget", "-q", "-O", "/dev/null", "http://localhost:8080/"]
    steps:
      - name: fetch
        image: $(params.img)
        env:
          - name: TOKEN
            valueFrom: {secretKeyRef: {name: creds, key: token}}
        script: |
          wget -q -O - http://localhost:8080/ | tr -d '\n' > $(results.page.path)
          printf %s "$TOKEN" > $(results.token.path)
          sleep 1
"#,
    );
    let mut child = podman
        .tkc()
        .arg(&run)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut seen_step, mut leaked) = (false, false);
    while child.try_wait().unwrap().is_none() {
        for line in command_lines() {
            seen_step |= contains(&line, b"--env\0TOKEN\0");
            leaked |= contains(&line, b"tkc-test-s3cret");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["status"],
        "Succeeded",
        "{summary:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary["results"]["page"], "served");
    assert_eq!(summary["results"]["token"], "tkc-test-s3cret");
    assert!(seen_step, "the step's `podman run` was never seen");
    assert!(!leaked, "the Secret's value was on a command line");
    assert!(podman.leftovers().is_empty());
}

/// Steps that run as other users (`securityContext.runAsUser`) write `/tekton`, `/workspace`
/// and a run-scoped workspace, as on a cluster where these are emptyDirs (mode 0777).
#[test]
fn steps_of_any_user_write_the_pods_directories() {
    let Some(podman) = Podman::start("users") else {
        return;
    };
    let dir = scratch("users-runs");
    let _gone = Gone(dir.clone());
    let run = write_fixture(
        &dir,
        "users.yaml",
        r#"apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: users}
spec:
  workspaces:
    - name: shared
      volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}}
  pipelineSpec:
    workspaces: [{name: shared}]
    results: [{name: who, value: $(tasks.read.results.who)}]
    tasks:
      - name: write
        workspaces: [{name: shared}]
        taskSpec:
          workspaces: [{name: shared}]
          steps:
            - name: write
              image: busybox
              securityContext: {runAsUser: 1000, runAsGroup: 1000}
              script: |
                echo hello > $(workspaces.shared.path)/greeting
                touch /workspace/mine
      - name: read
        runAfter: [write]
        workspaces: [{name: shared}]
        taskSpec:
          workspaces: [{name: shared}]
          results: [{name: who}]
          steps:
            - name: read
              image: busybox
              securityContext: {runAsUser: 2000}
              script: |
                printf '%s:%s' "$(id -u)" "$(cat $(workspaces.shared.path)/greeting)" > $(results.who.path)
"#,
    );
    let out = podman.tkc().arg(&run).output().unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["status"],
        "Succeeded",
        "{summary:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary["results"]["who"], "2000:hello");
}
