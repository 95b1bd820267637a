//! Issue 17: what a hostile or careless pipeline must not be able to do to the machine that
//! runs `tkc run` (docs/security.md is the threat model). One test per finding, each with
//! the real `tkc`, the real entrypoint and real processes; every wait is bounded, so a
//! regression fails instead of hanging CI.
//!
//! Item 1 (the sandbox) needs bubblewrap that can make namespaces, and root for the
//! capability tests; those skip cleanly elsewhere. Item 2 (names as paths) is tested on the
//! backend itself in `runtime/tests/local_paths.rs` and by the `testdata/run` fixtures
//! `sub-path-once.yaml` and `unique-task-dirs.yaml`.

// A test that cannot start `tkc` has nothing left to check.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

/// A scratch directory per test, holding its pipeline, its run directories
/// (`XDG_RUNTIME_DIR`) and its state directory; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tkc-sec-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(dir.join("xdg"));
        let _ = std::fs::create_dir_all(dir.join("state"));
        Scratch(dir)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        let _ = std::fs::write(&p, text);
        p
    }

    /// `tkc` in this directory, with its run and state directories inside it.
    fn tkc(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
        cmd.current_dir(&self.0)
            .env("NO_COLOR", "1")
            .env("TKC_ENTRYPOINT", common::entrypoint())
            .env("XDG_RUNTIME_DIR", self.path("xdg"))
            .env("TKC_STATE_DIR", self.path("state"))
            .stdin(Stdio::null());
        cmd
    }

    /// `tkc` as [`Scratch::tkc`], with `name` set to `value` in its environment.
    fn tkc_with(&self, name: &str, value: &str) -> Command {
        let mut cmd = self.tkc();
        cmd.env(name, value);
        cmd
    }

    /// The run directories left in this scratch directory's run base.
    fn run_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.path("xdg/tkc"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits for `child` at most `limit`; kills it (and fails) past that.
fn finish_within(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tkc run did not finish within {limit:?}");
            }
        }
    }
    match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => panic!("cannot read tkc's output: {e}"),
    }
}

/// Runs `tkc <args>` to its end (at most `limit`), stdout and stderr captured.
fn run_within(mut cmd: Command, args: &[&str], limit: Duration) -> Output {
    let child = cmd
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    match child {
        Ok(child) => finish_within(child, limit),
        Err(e) => panic!("cannot start tkc: {e}"),
    }
}

fn summary(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_default()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Pids of processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut out = vec![];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if pid != me && String::from_utf8_lossy(&cmdline).contains(marker) {
            // A zombie runs nothing.
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
            if !zombie {
                out.push(pid);
            }
        }
    }
    out
}

/// Waits until at least `n` processes carry `marker`, at most 10 s.
fn wait_for_processes(marker: &str, n: usize) {
    let start = Instant::now();
    while processes_with(marker).len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the run's processes did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until no process carries `marker`, at most 5 s.
fn assert_none_left(marker: &str) {
    let start = Instant::now();
    while !processes_with(marker).is_empty() {
        if start.elapsed() > Duration::from_secs(5) {
            let left = processes_with(marker);
            for p in &left {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
            panic!("processes left behind: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

// ---- Item 1: the sandbox holds as root -------------------------------------------------

/// Run by root under `--isolate`, a step can neither mount nor remount `/usr` (nor
/// `/proc/sys`), write a host sysctl, set the host name, see `/etc/shadow`, reach the network,
/// inject into tkc's terminal (its own session), nor use a descriptor tkc inherited.
#[test]
fn an_isolated_root_step_has_no_power_over_the_host() {
    if common::bwrap_works().is_none() || !is_root() {
        common::skip("this needs root and a bwrap that can make namespaces");
        return;
    }
    let s = Scratch::new("root");
    s.write(
        "p.yaml",
        r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: escape-attempts
spec:
  taskSpec:
    steps:
      - name: try
        image: alpine:3.20
        script: |
          #!/bin/bash
          bad=0
          fail() { echo "ESCAPED: $*"; bad=1; }
          mount -o remount,rw /usr 2>/dev/null && fail "remounted /usr read-write"
          touch /usr/tkc-escape-probe 2>/dev/null && { rm -f /usr/tkc-escape-probe; fail "wrote /usr"; }
          mkdir -p /tmp/m && mount -t tmpfs none /tmp/m 2>/dev/null && fail "mounted a tmpfs"
          mount --bind /tmp /usr 2>/dev/null && fail "bind-mounted over /usr"
          mount -o remount,rw /proc/sys 2>/dev/null && fail "remounted /proc/sys read-write"
          echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && fail "wrote a host sysctl"
          hostname tkc-escape 2>/dev/null && fail "set the host name"
          test -e /etc/shadow && fail "/etc/shadow is visible"
          test -e /etc/gshadow && fail "/etc/gshadow is visible"
          test "$(grep -c : /proc/net/dev)" -gt 1 && fail "the host's network is visible"
          test -e /proc/self/fd/7 && fail "descriptor 7 of tkc reached the step"
          test "$(cut -d' ' -f6 /proc/$$/stat)" = "$$" || fail "the step is not in a session of its own"
          grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status || fail "capabilities: $(grep CapEff /proc/self/status)"
          exit $bad
"#,
    );
    // Descriptor 7 is open in the shell that starts tkc, and not close-on-exec.
    let tkc = env!("CARGO_BIN_EXE_tkc");
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        &format!("exec 7</dev/null; exec '{tkc}' run --isolate --output json p.yaml"),
    ]);
    let envs: Vec<(String, String)> = s
        .tkc()
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.into(), v?.to_str()?.into())))
        .collect();
    cmd.current_dir(&s.0).envs(envs).stdin(Stdio::null());
    let o = run_within(cmd, &[], Duration::from_secs(60));
    assert_eq!(
        summary(&o)["status"],
        "Succeeded",
        "the step escaped:\n{}",
        stderr(&o)
    );
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
        "tkc-escape\n"
    );
}

/// Isolation is the default (no flag): a step can write its own directories and `/tmp`,
/// but not `/etc`, `/root`, the user's `$HOME`, another run's directory, nor the host's `/tmp`.
#[test]
fn isolated_by_default_a_step_cannot_write_etc_home_or_another_run() {
    if common::bwrap_works().is_none() {
        common::skip("bwrap cannot make namespaces here");
        return;
    }
    let s = Scratch::new("default");
    let home = s.path("home");
    let other = s.path("xdg/tkc/other-run-bcdfg");
    let _ = std::fs::create_dir_all(&home);
    let _ = std::fs::create_dir_all(&other);
    let _ = Command::new("chmod")
        .args(["0700"])
        .arg(s.path("xdg/tkc"))
        .status();
    let marker = format!("tkc-default-{}", std::process::id());
    let targets = [
        format!("/etc/{marker}"),
        format!("/root/{marker}"),
        format!("{}/{marker}", home.display()),
        format!("{}/{marker}", other.display()),
    ];
    let mut script = String::new();
    for t in &targets {
        script.push_str(&format!(
            "          if (echo x > '{t}') 2>/dev/null; then echo 'WROTE {t}'; fi\n"
        ));
    }
    script.push_str(&format!(
        "          echo x > /tmp/{marker} && echo x > $(workspaces.out.path)/ok && echo own-ok\n"
    ));
    s.write(
        "p.yaml",
        &format!(
            "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: default\nspec:\n  workspaces: [{{name: out, emptyDir: {{}}}}]\n  taskSpec:\n    workspaces: [{{name: out}}]\n    steps:\n      - name: try\n        image: alpine:3.20\n        script: |\n{script}"
        ),
    );
    let o = run_within(
        s.tkc_with("HOME", &home.to_string_lossy()),
        &["run", "p.yaml"],
        Duration::from_secs(60),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("own-ok"), "{out}\n{}", stderr(&o));
    assert!(!out.contains("WROTE"), "{out}");
    for t in &targets {
        assert!(!Path::new(t).exists(), "{t} was written on the host");
    }
    assert!(
        !Path::new(&format!("/tmp/{marker}")).exists(),
        "the step's /tmp is the host's"
    );
}

/// Without isolation (no bwrap, or one that cannot make namespaces), root is refused unless
/// `--host` says so, with how to install bubblewrap; `--isolate` insists; anyone else is warned
/// and runs on the host.
#[test]
fn without_isolation_root_is_refused_unless_host() {
    let s = Scratch::new("nobwrap");
    s.write(
        "p.yaml",
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: plain\nspec:\n  taskSpec:\n    steps: [{name: s, image: alpine:3.20, script: 'echo ran'}]\n",
    );
    let _ = std::fs::create_dir_all(s.path("bin"));
    // A bwrap that cannot make namespaces, as in a container without user namespaces.
    s.write(
        "bin/bwrap",
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n",
    );
    let _ = Command::new("chmod")
        .args(["0755"])
        .arg(s.path("bin/bwrap"))
        .status();
    let path = format!("{}:/usr/bin:/bin", s.path("bin").display());
    for (label, path) in [
        ("no bwrap", "/nonexistent"),
        ("broken bwrap", path.as_str()),
    ] {
        let o = run_within(
            s.tkc_with("PATH", path),
            &["run", "--output", "json", "p.yaml"],
            Duration::from_secs(30),
        );
        let err = stderr(&o);
        assert!(err.contains("apt-get install bubblewrap"), "{label}: {err}");
        if is_root() {
            assert_eq!(o.status.code(), Some(2), "{label}: {err}");
            assert!(err.contains("refusing to run as root"), "{label}: {err}");
            assert!(o.stdout.is_empty(), "{label}: something ran");
        } else {
            assert!(
                err.contains("warning: the steps run on the host"),
                "{label}: {err}"
            );
            assert_eq!(summary(&o)["status"], "Succeeded", "{label}: {err}");
        }
        let o = run_within(
            s.tkc_with("PATH", path),
            &["run", "--isolate", "--output", "json", "p.yaml"],
            Duration::from_secs(30),
        );
        assert_eq!(o.status.code(), Some(2), "{label}: {}", stderr(&o));
        assert!(stderr(&o).contains("cannot isolate"), "{label}");
        let o = run_within(
            s.tkc_with("PATH", path),
            &["run", "--host", "--output", "json", "p.yaml"],
            Duration::from_secs(30),
        );
        assert_eq!(
            summary(&o)["status"],
            "Succeeded",
            "{label}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("warning"), "{label}: {}", stderr(&o));
    }
}

/// `--network` gives isolated steps the host's network back; without it they have none.
#[test]
fn isolated_steps_have_no_network_unless_asked() {
    if common::bwrap_works().is_none() {
        common::skip("bwrap cannot make namespaces here");
        return;
    }
    let s = Scratch::new("net");
    s.write(
        "p.yaml",
        r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: net
spec:
  taskSpec:
    results: [{name: devices}]
    steps:
      - name: count
        image: alpine:3.20
        script: |
          grep -c : /proc/net/dev | tr -d '\n' > $(results.devices.path)
"#,
    );
    let without = run_within(
        s.tkc(),
        &["run", "--isolate", "--output", "json", "p.yaml"],
        Duration::from_secs(60),
    );
    assert_eq!(
        summary(&without)["tasks"][0]["results"]["devices"],
        "1",
        "{}",
        stderr(&without)
    );
    let with = run_within(
        s.tkc(),
        &[
            "run",
            "--isolate",
            "--network",
            "--output",
            "json",
            "p.yaml",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(summary(&with)["status"], "Succeeded", "{}", stderr(&with));
}

/// A `hostPath` volume would bind any directory of the machine into the sandbox: refused
/// under `--isolate` unless `--allow-host-path` says so.
#[test]
fn host_path_volumes_are_refused_under_isolation() {
    if common::bwrap_works().is_none() {
        common::skip("bwrap cannot make namespaces here");
        return;
    }
    let s = Scratch::new("hostpath");
    s.write(
        "p.yaml",
        r#"apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: hostpath
spec:
  taskSpec:
    volumes:
      - name: host-etc
        hostPath: {path: /etc}
    steps:
      - name: read
        image: alpine:3.20
        volumeMounts: [{name: host-etc, mountPath: /host-etc, readOnly: true}]
        script: test -e /host-etc/hostname
"#,
    );
    let refused = run_within(
        s.tkc(),
        &["run", "--isolate", "--output", "json", "p.yaml"],
        Duration::from_secs(60),
    );
    assert_eq!(summary(&refused)["status"], "Failed");
    assert!(
        stderr(&refused).contains("--allow-host-path"),
        "{}",
        stderr(&refused)
    );
    let allowed = run_within(
        s.tkc(),
        &[
            "run",
            "--isolate",
            "--allow-host-path",
            "--output",
            "json",
            "p.yaml",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(
        summary(&allowed)["status"],
        "Succeeded",
        "{}",
        stderr(&allowed)
    );
}

// ---- Item 3: files written and read safely -----------------------------------------------

const SECRET_RUN: &str = r#"apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  token: s3cr3t-token
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: files
spec:
  workspaces:
    - name: creds
      secret: {secretName: creds}
    - name: cfg
      configMap: {name: settings}
  taskSpec:
    workspaces: [{name: creds}, {name: cfg}]
    steps:
      - name: check
        image: alpine:3.20
        script: |
          test "$(cat $(workspaces.creds.path)/token)" = s3cr3t-token
          case "$(stat -c %a $(workspaces.creds.path)/token)" in
            ?00) ;; *) echo "secret file mode $(stat -c %a $(workspaces.creds.path)/token)"; exit 1 ;;
          esac
          case "$(stat -c %a $(workspaces.cfg.path)/mode)" in
            *[2367]*) echo "configMap file is writable"; exit 1 ;;
          esac
          run_dir=$(cd ../.. && pwd)
          test "$(stat -c %a "$run_dir")" = 700 || { echo "run dir mode $(stat -c %a "$run_dir")"; exit 1; }
"#;

/// The run directory is fresh and 0700, Secret files are readable by their owner only,
/// ConfigMap files are read-only, and `--keep` warns that the Secrets' files are kept.
#[test]
fn run_files_are_private_and_keep_warns_about_secrets() {
    let s = Scratch::new("files");
    s.write("p.yaml", SECRET_RUN);
    let o = run_within(
        s.tkc(),
        &["run", "--host", "--output", "json", "p.yaml"],
        Duration::from_secs(60),
    );
    assert_eq!(summary(&o)["status"], "Succeeded", "{}", stderr(&o));
    assert!(s.run_dirs().is_empty(), "the run directory was not removed");
    let kept = run_within(
        s.tkc(),
        &["run", "--host", "--keep", "--output", "json", "p.yaml"],
        Duration::from_secs(60),
    );
    assert_eq!(summary(&kept)["status"], "Succeeded", "{}", stderr(&kept));
    assert!(
        stderr(&kept).contains("warning: it holds the files of Secret creds"),
        "{}",
        stderr(&kept)
    );
    assert_eq!(s.run_dirs().len(), 1);
    // `--keep` keeps the attempt's directory, which attempts otherwise lose as they end.
    let attempt = s.run_dirs()[0].join("files-pod");
    assert!(attempt.join("ws/creds/token").is_file(), "{attempt:?}");
    assert!(attempt.join("tekton/run/0/termination").is_file());
    // Only the directories the attempt uses: no volumes, no entrypoint mount point on the host.
    assert!(attempt.join("tekton/scripts").is_dir());
    assert!(!attempt.join("volumes").exists());
    assert!(!attempt.join("tekton/bin").exists());
    // A later run does not take the kept directory for a dead run's and reap it.
    let later = run_within(
        s.tkc(),
        &["run", "--host", "--output", "json", "p.yaml"],
        Duration::from_secs(60),
    );
    assert_eq!(summary(&later)["status"], "Succeeded", "{}", stderr(&later));
    assert!(
        attempt.join("ws/creds/token").is_file(),
        "the kept run was reaped"
    );
}

/// Under `--isolate` ConfigMap and Secret workspaces are read-only mounts: even root cannot
/// write them.
#[test]
fn isolated_config_map_and_secret_workspaces_are_read_only() {
    if common::bwrap_works().is_none() {
        common::skip("bwrap cannot make namespaces here");
        return;
    }
    let s = Scratch::new("ro");
    s.write(
        "p.yaml",
        &SECRET_RUN.replace(
            "          run_dir=$(cd ../.. && pwd)\n          test \"$(stat -c %a \"$run_dir\")\" = 700 || { echo \"run dir mode $(stat -c %a \"$run_dir\")\"; exit 1; }\n",
            "          if echo x > $(workspaces.cfg.path)/mode; then echo wrote the configMap; exit 1; fi\n          if echo x > $(workspaces.creds.path)/new; then echo wrote the secret; exit 1; fi\n",
        ),
    );
    let o = run_within(
        s.tkc(),
        &["run", "--isolate", "--output", "json", "p.yaml"],
        Duration::from_secs(60),
    );
    assert_eq!(summary(&o)["status"], "Succeeded", "{}", stderr(&o));
}

/// A step that replaces a ConfigMap file with a link to a host file, then fails: the retry
/// gets the ConfigMap's files afresh, and tkc never writes through the link.
#[test]
fn a_retry_never_writes_through_a_link_a_step_left() {
    let s = Scratch::new("retry-link");
    let target = s.write("escape-target", "original\n");
    let first = s.path("first-attempt-done");
    s.write(
        "p.yaml",
        &format!(
            r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: retry-link
spec:
  retries: 1
  workspaces:
    - name: cfg
      configMap: {{name: settings}}
  taskSpec:
    workspaces: [{{name: cfg}}]
    steps:
      - name: plant
        image: alpine:3.20
        script: |
          if [ ! -e {first} ]; then
            touch {first}
            chmod u+w $(workspaces.cfg.path)
            rm -f $(workspaces.cfg.path)/mode
            ln -s {target} $(workspaces.cfg.path)/mode
            exit 1
          fi
          test ! -L $(workspaces.cfg.path)/mode && test "$(cat $(workspaces.cfg.path)/mode)" = fast
"#,
            first = first.display(),
            target = target.display()
        ),
    );
    let o = run_within(
        s.tkc(),
        &["run", "--host", "--output", "json", "p.yaml"],
        Duration::from_secs(60),
    );
    let sum = summary(&o);
    assert_eq!(sum["tasks"][0]["attempts"], 2, "{sum}\n{}", stderr(&o));
    assert_eq!(sum["status"], "Succeeded", "{sum}\n{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap_or_default(),
        "original\n",
        "tkc wrote through the link"
    );
}

/// A result that is a FIFO, or a link to `/dev/zero` or to a host file: the run ends, the
/// task fails, and nothing of the linked file shows up in the results.
#[test]
fn planted_result_files_neither_hang_nor_leak() {
    let s = Scratch::new("results");
    let secret = s.write("host-secret", "host-secret-content");
    for (name, plant) in [
        ("fifo", "mkfifo $(results.r.path)".to_string()),
        ("zero", "ln -s /dev/zero $(results.r.path)".to_string()),
        (
            "link",
            format!("ln -s {} $(results.r.path)", secret.display()),
        ),
        (
            "step-link",
            format!("ln -s {} $(step.results.r.path)", secret.display()),
        ),
    ] {
        let results = if name == "step-link" {
            "    steps:\n      - name: plant\n        image: alpine:3.20\n        results: [{name: r}]\n"
        } else {
            "    results: [{name: r}]\n    steps:\n      - name: plant\n        image: alpine:3.20\n"
        };
        s.write(
            "p.yaml",
            &format!(
                "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: {name}\nspec:\n  taskSpec:\n{results}        script: {plant}\n"
            ),
        );
        let o = run_within(
            s.tkc(),
            &["run", "--output", "json", "p.yaml"],
            Duration::from_secs(30),
        );
        let sum = summary(&o);
        assert_eq!(sum["status"], "Failed", "{name}: {sum}\n{}", stderr(&o));
        assert!(
            !o.stdout.windows(19).any(|w| w == b"host-secret-content"),
            "{name}: {sum}"
        );
    }
}

/// Run directories live in a directory of the user's own; one another user could have
/// planted (writable by others, or owned by someone else) is refused, as is such a state
/// directory.
#[test]
fn planted_run_and_state_directories_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("planted");
    s.write(
        "p.yaml",
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: t\nspec:\n  workspaces:\n    - name: w\n      persistentVolumeClaim: {claimName: data}\n  taskSpec:\n    workspaces: [{name: w}]\n    steps: [{name: s, image: alpine:3.20, script: 'true'}]\n",
    );
    let base = s.path("xdg/tkc");
    let _ = std::fs::create_dir_all(&base);
    let _ = std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777));
    let o = run_within(
        s.tkc(),
        &["run", "--output", "json", "p.yaml"],
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("writable by other users"),
        "{}",
        stderr(&o)
    );

    let _ = std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700));
    let _ = std::fs::set_permissions(s.path("state"), std::fs::Permissions::from_mode(0o777));
    let o = run_within(
        s.tkc(),
        &["run", "--output", "json", "p.yaml"],
        Duration::from_secs(30),
    );
    assert_eq!(summary(&o)["status"], "Failed", "{}", stderr(&o));
    assert!(
        stderr(&o).contains("writable by other users"),
        "{}",
        stderr(&o)
    );

    if is_root() {
        // Owned by another user, mode 0755.
        let _ = std::fs::set_permissions(s.path("state"), std::fs::Permissions::from_mode(0o755));
        let _ = Command::new("chown")
            .arg("12345")
            .arg(s.path("state"))
            .status();
        let o = run_within(
            s.tkc(),
            &["run", "--output", "json", "p.yaml"],
            Duration::from_secs(30),
        );
        assert!(
            stderr(&o).contains("belongs to uid 12345"),
            "{}",
            stderr(&o)
        );
    }
}

// ---- Item 4: nothing hangs, nothing is left ------------------------------------------------

/// A step that leaves a `setsid` daemon holding its stdout: the run still ends (it used to
/// wait for the pipe past every timeout and SIGTERM), and the daemon is gone.
#[test]
fn a_setsid_daemon_holding_stdout_does_not_hang_the_run() {
    let s = Scratch::new("setsid");
    let marker = format!("tkc-daemon-marker-{}", std::process::id());
    s.write(
        "p.yaml",
        &format!(
            "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: daemon\nspec:\n  taskSpec:\n    steps:\n      - name: leave\n        image: alpine:3.20\n        script: |\n          setsid sh -c 'sleep 300; echo {marker}' &\n          sleep 0.2\n"
        ),
    );
    let o = run_within(
        s.tkc(),
        &["run", "--output", "json", "p.yaml"],
        Duration::from_secs(20),
    );
    assert_eq!(summary(&o)["status"], "Succeeded", "{}", stderr(&o));
    assert_none_left(&marker);
}

/// SIGHUP (the terminal closed) and SIGQUIT cancel a run as SIGTERM and Ctrl-C do: exit 130,
/// every step stopped.
#[test]
fn sighup_and_sigquit_cancel_like_sigterm() {
    for signal in ["HUP", "QUIT"] {
        let s = Scratch::new(&format!("sig-{signal}"));
        let marker = format!("tkc-sig-marker-{signal}-{}", std::process::id());
        s.write(
            "p.yaml",
            &format!(
                "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: sig\nspec:\n  taskSpec:\n    steps:\n      - name: wait\n        image: alpine:3.20\n        script: sh -c 'sleep 300; echo {marker}'\n"
            ),
        );
        let child = s
            .tkc()
            .args(["run", "--output", "json", "p.yaml"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            panic!("cannot start tkc");
        };
        wait_for_processes(&marker, 1);
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
        let o = finish_within(child, Duration::from_secs(15));
        assert_eq!(o.status.code(), Some(130), "SIG{signal}");
        assert_eq!(summary(&o)["status"], "Cancelled", "SIG{signal}");
        assert_none_left(&marker);
        assert!(s.run_dirs().is_empty(), "SIG{signal}: run directory left");
    }
}

/// SIGKILLed, tkc cannot clean up: its steps, their daemons and its sidecars die with it
/// (isolated: bwrap's `--die-with-parent` and the sandbox's PID namespace), and the next
/// `tkc run` removes the directory it left.
#[test]
fn sidecars_and_steps_die_with_tkc_and_its_directory_is_reaped() {
    if common::bwrap_works().is_none() {
        common::skip("bwrap cannot make namespaces here");
        return;
    }
    killed_tkc_leaves_nothing("kill", &[]);
}

/// On the host too (`--host`): the entrypoint asks for SIGTERM when tkc dies
/// (`PR_SET_PDEATHSIG`) and ends everything below it, `setsid` daemons included.
#[test]
fn with_host_too_nothing_survives_a_sigkilled_tkc() {
    killed_tkc_leaves_nothing("kill-host", &["--host"]);
}

/// SIGKILLs a `tkc run <extra>` whose step, step daemon and sidecar are running; asserts
/// that none of them is left, and that the next run reaps the directory.
fn killed_tkc_leaves_nothing(tag: &str, extra: &[&str]) {
    let s = Scratch::new(tag);
    let marker = format!("tkc-{tag}-marker-{}", std::process::id());
    s.write(
        "p.yaml",
        &format!(
            "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: killed\nspec:\n  taskSpec:\n    sidecars:\n      - name: side\n        image: alpine:3.20\n        script: sh -c 'sleep 301; echo {marker}'\n    steps:\n      - name: wait\n        image: alpine:3.20\n        script: |\n          setsid sh -c 'sleep 303; echo {marker}' </dev/null >/dev/null 2>&1 &\n          sh -c 'sleep 302; echo {marker}'\n"
        ),
    );
    let child = s
        .tkc()
        .arg("run")
        .args(extra)
        .args(["--output", "json", "p.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        panic!("cannot start tkc");
    };
    wait_for_processes(&marker, 3);
    let _ = child.kill();
    let _ = child.wait();
    assert_none_left(&marker);
    assert_eq!(s.run_dirs().len(), 1, "the killed run left its directory");
    s.write(
        "q.yaml",
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: next\nspec:\n  taskSpec:\n    steps: [{name: s, image: alpine:3.20, script: 'true'}]\n",
    );
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend(["--output", "json", "q.yaml"]);
    let o = run_within(s.tkc(), &args, Duration::from_secs(30));
    assert_eq!(summary(&o)["status"], "Succeeded", "{}", stderr(&o));
    assert!(
        s.run_dirs().is_empty(),
        "the dead run's directory was not reaped"
    );
}

/// An entrypoint that ends without writing its post file (disk full, a bad path) fails its
/// step at once; the next step used to wait for it until the task's timeout (an hour).
#[test]
fn a_missing_post_file_fails_the_step_at_once() {
    let s = Scratch::new("post");
    let wrapper = s.write(
        "entrypoint.sh",
        &format!(
            "#!/bin/sh\n# Step 0's entrypoint dies before posting; the others are the real one.\ncase \"$*\" in *-post_file\\ */run/0/out\\ *) exit 3 ;; esac\nexec '{}' \"$@\"\n",
            common::entrypoint().display()
        ),
    );
    let _ = Command::new("chmod").arg("+x").arg(&wrapper).status();
    s.write(
        "p.yaml",
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: post\nspec:\n  taskSpec:\n    steps:\n      - {name: first, image: alpine:3.20, script: 'true'}\n      - {name: second, image: alpine:3.20, script: 'true'}\n",
    );
    let mut cmd = s.tkc();
    cmd.env("TKC_ENTRYPOINT", &wrapper);
    let o = run_within(
        cmd,
        &["run", "--host", "--output", "json", "p.yaml"],
        Duration::from_secs(20),
    );
    let sum = summary(&o);
    assert_eq!(sum["status"], "Failed", "{sum}");
    assert_eq!(sum["tasks"][0]["steps"][1]["status"], "Skipped", "{sum}");
}

/// An entrypoint that ignores SIGTERM and the cancel file, whose step left its group with
/// `setsid`: stopping the attempt (its timeout) kills the step's own group too, not only the
/// entrypoint's, and nothing is left.
#[test]
fn stop_kills_the_steps_own_group_not_only_the_entrypoints() {
    let s = Scratch::new("stop-group");
    let marker = format!("tkc-stop-marker-{}", std::process::id());
    let fake = s.write(
        "entrypoint.sh",
        &format!(
            "#!/bin/sh\nsetsid sh -c 'sleep 300; echo {marker}' &\ntrap '' TERM INT\nwhile :; do sleep 0.1; done\n"
        ),
    );
    let _ = Command::new("chmod").arg("+x").arg(&fake).status();
    s.write(
        "p.yaml",
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: stop\nspec:\n  timeout: 1s\n  taskSpec:\n    steps: [{name: s, image: alpine:3.20, script: 'true'}]\n",
    );
    let mut cmd = s.tkc();
    cmd.env("TKC_ENTRYPOINT", &fake);
    let o = run_within(
        cmd,
        &["run", "--output", "json", "p.yaml"],
        Duration::from_secs(20),
    );
    assert_eq!(summary(&o)["reason"], "TaskRunTimeout", "{}", stderr(&o));
    assert_none_left(&marker);
}

/// Reading a step's output is bounded: an entrypoint that posts and exits while a daemon it
/// started holds the output pipe does not keep the run waiting, and the daemon is killed when
/// the run ends.
#[test]
fn reading_output_held_by_a_leftover_is_bounded() {
    let s = Scratch::new("drain");
    let marker = format!("tkc-drain-marker-{}", std::process::id());
    let fake = s.write(
        "entrypoint.sh",
        &format!(
            "#!/bin/sh\npost=\nwhile [ $# -gt 0 ]; do case \"$1\" in -post_file) post=\"$2\"; shift ;; esac; shift; done\nsetsid sh -c 'sleep 300; echo {marker}' &\n: > \"$post\"\nexit 0\n"
        ),
    );
    let _ = Command::new("chmod").arg("+x").arg(&fake).status();
    s.write(
        "p.yaml",
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: drain\nspec:\n  taskSpec:\n    steps: [{name: s, image: alpine:3.20, script: 'true'}]\n",
    );
    let mut cmd = s.tkc();
    cmd.env("TKC_ENTRYPOINT", &fake);
    let o = run_within(
        cmd,
        &["run", "--host", "--output", "json", "p.yaml"],
        Duration::from_secs(15),
    );
    assert_eq!(summary(&o)["status"], "Succeeded", "{}", stderr(&o));
    assert!(
        stderr(&o).contains("still holds its output open"),
        "{}",
        stderr(&o)
    );
    assert_none_left(&marker);
}

/// On the host (`--host`), steps keep `PATH`, the proxies and the user's toolchain variables,
/// and find rustup's and cargo's homes under the user's `HOME` though theirs is replaced.
#[test]
fn host_steps_keep_the_toolchain_and_proxy_variables() {
    let s = Scratch::new("toolchain");
    let home = s.path("home");
    let _ = std::fs::create_dir_all(home.join(".cargo"));
    let _ = std::fs::create_dir_all(home.join(".rustup"));
    s.write(
        "p.yaml",
        "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: env\nspec:\n  taskSpec:\n    steps:\n      - name: show\n        image: rust:1\n        script: |\n          echo \"CARGO_HOME=$CARGO_HOME\"\n          echo \"RUSTUP_HOME=$RUSTUP_HOME\"\n          echo \"GOPATH=$GOPATH\"\n          echo \"https_proxy=$https_proxy\"\n          echo \"NO_PROXY=$NO_PROXY\"\n",
    );
    let mut cmd = s.tkc_with("HOME", &home.to_string_lossy());
    cmd.env_remove("CARGO_HOME")
        .env_remove("RUSTUP_HOME")
        .env("GOPATH", "/opt/go-path")
        .env("https_proxy", "http://proxy.invalid:3128")
        .env("NO_PROXY", "localhost");
    let o = run_within(cmd, &["run", "--host", "p.yaml"], Duration::from_secs(60));
    let out = String::from_utf8_lossy(&o.stdout);
    for want in [
        format!("CARGO_HOME={}", home.join(".cargo").display()),
        format!("RUSTUP_HOME={}", home.join(".rustup").display()),
        "GOPATH=/opt/go-path".to_string(),
        "https_proxy=http://proxy.invalid:3128".to_string(),
        "NO_PROXY=localhost".to_string(),
    ] {
        assert!(
            out.contains(&want),
            "{want} missing:\n{out}\n{}",
            stderr(&o)
        );
    }
}
