//! `tkc run --backend kube` end to end on the Kubernetes API test server (`tkc-kubetest`:
//! a real `kube::Client` talks HTTP to it; its kubelet runs the pods under bubblewrap with the
//! real static entrypoint mounted from its ConfigMap).
//!
//! - Parity: every `testdata/run/` fixture gives the same JSON summary and exit code as its
//!   local snapshot (`cli/tests/run_fixtures.rs`, same redaction), and leaves nothing of the
//!   run behind (no pods, ConfigMaps, Secrets or claims; the shared entrypoint ConfigMap
//!   stays). A fixture that differs runs once more: sub-second timeouts race a pod's start
//!   on a loaded machine, and a real difference repeats.
//! - Faults: watches dropped and the API server restarted mid-run, an evicted pod (retried),
//!   creates failing with 429/500; Ctrl-C cancellation cleans up.
//! - Traffic: requests per task attempt, by verb.
//!
//! Skipped (with a note) where bubblewrap cannot make namespaces, as kubetest's own tests are.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{header_args, redact, workspace_root};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use kube::Api;
use kube::api::ListParams;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tkc_kubetest::{Options, Server};

/// Every test ends within this, whatever happens.
const BOUND: Duration = Duration::from_secs(240);

/// A test server with a kubelet, or `None` (and why) where pods cannot run here.
async fn server(dir: &Path) -> Option<(Server, PathBuf)> {
    let server = Server::start(Options::default())
        .await
        .expect("server starts");
    if let Some(why) = server.pods_unavailable() {
        common::skip(&format!("the test kubelet cannot run pods here: {why}"));
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    server.kubeconfig(&kubeconfig).unwrap();
    Some((server, kubeconfig))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tkc-kube-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tkc(kubeconfig: &Path, namespace: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tkc"));
    cmd.current_dir(workspace_root())
        .env("NO_COLOR", "1")
        .env(
            "TKC_KUBE_ENTRYPOINT",
            common::static_entrypoint()
                .expect("entrypoint/build-static.sh builds the static entrypoint"),
        )
        .env("TKC_KUBE_TRAFFIC", "1")
        .args(["run", "--backend", "kube", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--namespace", namespace])
        .kill_on_drop(true);
    cmd
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

/// What is left of runs in a namespace: pods, ConfigMaps other than the shared entrypoint,
/// Secrets and claims.
async fn leftovers(client: &kube::Client, ns: &str) -> Vec<String> {
    let lp = ListParams::default();
    let mut left = vec![];
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for p in pods.list(&lp).await.unwrap().items {
        left.push(format!("pod/{}", p.metadata.name.unwrap_or_default()));
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    for c in cms.list(&lp).await.unwrap().items {
        let name = c.metadata.name.unwrap_or_default();
        if !name.starts_with("tkc-entrypoint-") {
            left.push(format!("configmap/{name}"));
        }
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    for s in secrets.list(&lp).await.unwrap().items {
        left.push(format!("secret/{}", s.metadata.name.unwrap_or_default()));
    }
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    for c in pvcs.list(&lp).await.unwrap().items {
        left.push(format!("pvc/{}", c.metadata.name.unwrap_or_default()));
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_fixture_gives_the_local_summary() {
    tokio::time::timeout(BOUND, async {
        let dir = scratch("fixtures");
        let Some((server, kubeconfig)) = server(&dir).await else {
            return;
        };
        let client = kube::Client::try_from(server.client_config()).unwrap();
        let root = workspace_root();
        let mut fixtures: Vec<PathBuf> = std::fs::read_dir(root.join("testdata/run"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        fixtures.sort();
        let mut failures = vec![];
        for fixture in &fixtures {
            let stem = fixture.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(fixture).unwrap();
            let relative = fixture.strip_prefix(&root).unwrap();
            let want = local_snapshot(fixture);
            let run = || async {
                let out = tkc(&kubeconfig, &stem)
                    .args(header_args(&text))
                    .args(["--output", "json"])
                    .arg(relative)
                    .output()
                    .await
                    .unwrap();
                let got = (
                    out.status.code().map_or("none".into(), |c| c.to_string()),
                    redact(&out.stdout),
                );
                (got, String::from_utf8_lossy(&out.stderr).into_owned())
            };
            // Once more after a difference (as container_fixtures.rs does): sub-second
            // timeouts race a pod's start on a loaded machine; a real difference repeats. Not
            // when the first run left objects behind: that is a failure of its own.
            let (mut got, mut stderr) = run().await;
            if got != want && leftovers(&client, &stem).await.is_empty() {
                eprintln!("{stem}: differed once; running it again");
                (got, stderr) = run().await;
            }
            if got != want {
                failures.push(format!(
                    "{stem}: kube gave exit {} and\n{}\nlocal: exit {} and\n{}\nstderr:\n{}",
                    got.0, got.1, want.0, want.1, stderr
                ));
            }
            let left = leftovers(&client, &stem).await;
            if !left.is_empty() {
                failures.push(format!("{stem}: left behind {left:?}"));
            }
        }
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    })
    .await
    .expect("bounded");
}

/// A pipeline file in `dir`; the run is named `name`.
fn write_pipeline(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!("apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: {name}\nspec:\n  pipelineSpec:\n{body}"),
    )
    .unwrap();
    path
}

/// Waits (polling from the test, not from tkc) until pod `name` runs.
async fn running(client: &kube::Client, ns: &str, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    loop {
        if let Ok(p) = pods.get(name).await
            && p.status.and_then(|s| s.phase).as_deref() == Some("Running")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The parsed JSON summary and the `traffic:` line of a finished run.
fn summary(out: &std::process::Output) -> (serde_json::Value, serde_json::Value) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let traffic = stderr
        .lines()
        .find_map(|l| l.strip_prefix("traffic: "))
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    (summary, traffic)
}

const THREE_SLOW_TASKS: &str = "    tasks:
      - name: a
        taskSpec:
          results: [{name: out}]
          steps:
            - name: s
              image: alpine
              script: sleep 1; printf one > $(results.out.path)
      - name: b
        runAfter: [a]
        params: [{name: in, value: $(tasks.a.results.out)}]
        taskSpec:
          params: [{name: in}]
          results: [{name: out}]
          steps:
            - name: s
              image: alpine
              script: sleep 1; printf '%s-two' $(params.in) > $(results.out.path)
      - name: c
        runAfter: [b]
        params: [{name: in, value: $(tasks.b.results.out)}]
        taskSpec:
          params: [{name: in}]
          steps:
            - name: s
              image: alpine
              script: test $(params.in) = one-two
";

/// Watches dropped twice and the API server restarted while tasks run: the run's watch
/// resumes (relisting after `410 Gone`) and no attempt misses its pod's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_watches_and_a_restarted_api_server_lose_nothing() {
    tokio::time::timeout(BOUND, async {
        let dir = scratch("faults");
        let Some((server, kubeconfig)) = server(&dir).await else {
            return;
        };
        let client = kube::Client::try_from(server.client_config()).unwrap();
        let file = write_pipeline(&dir, "faults", THREE_SLOW_TASKS);
        let child = tkc(&kubeconfig, "faults")
            .args(["--output", "json"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        running(&client, "faults", "faults-a-pod").await;
        server.drop_watches();
        running(&client, "faults", "faults-b-pod").await;
        server.restart().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.drop_watches();
        let out = child.wait_with_output().await.unwrap();
        let (summary, _) = summary(&out);
        assert_eq!(
            summary["status"],
            "Succeeded",
            "{summary:#}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let attempts: Vec<_> = summary["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["attempts"].clone())
            .collect();
        assert_eq!(attempts, vec![serde_json::json!(1); 3]);
        assert!(leftovers(&client, "faults").await.is_empty());
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

/// An evicted pod fails its attempt as Tekton reports an evicted pod (`PodEvicted`), and the
/// retry runs in a new pod named as Tekton names it (`-pod-retry1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicted_pod_is_retried() {
    tokio::time::timeout(BOUND, async {
        let dir = scratch("evict");
        let Some((server, kubeconfig)) = server(&dir).await else {
            return;
        };
        let client = kube::Client::try_from(server.client_config()).unwrap();
        let file = write_pipeline(
            &dir,
            "evict",
            "    tasks:
      - name: a
        retries: 1
        taskSpec:
          steps:
            - name: s
              image: alpine
              script: sleep 1
",
        );
        let child = tkc(&kubeconfig, "evict")
            .args(["--keep", "--output", "json"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        running(&client, "evict", "evict-a-pod").await;
        assert!(server.evict("evict", "evict-a-pod"));
        let out = child.wait_with_output().await.unwrap();
        let (summary, _) = summary(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(summary["status"], "Succeeded", "{summary:#}\n{stderr}");
        assert_eq!(summary["tasks"][0]["attempts"], 2, "{summary:#}\n{stderr}");
        assert!(stderr.contains("PodEvicted"), "{stderr}");
        // --keep: the owner object holds each attempt's outcome.
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "evict");
        let owner = cms.get("tkc-run-evict").await.unwrap();
        let data = owner.data.unwrap_or_default();
        assert!(
            data["attempt.evict-a-pod"].contains("PodEvicted"),
            "{data:?}"
        );
        assert!(data.contains_key("attempt.evict-a-pod-retry1"), "{data:?}");
        assert!(data.contains_key("plan.json"));
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

/// Creates that fail with 429 and then 500 for a while are retried with backoff; the run
/// succeeds as if nothing happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_creates_are_retried() {
    tokio::time::timeout(BOUND, async {
        let dir = scratch("creates");
        let Some((server, kubeconfig)) = server(&dir).await else {
            return;
        };
        let client = kube::Client::try_from(server.client_config()).unwrap();
        let file = write_pipeline(&dir, "creates", THREE_SLOW_TASKS);
        server.fail_next_creates(3, 429);
        server.fail_next_creates(3, 500);
        let out = tkc(&kubeconfig, "creates")
            .args(["--output", "json"])
            .arg(&file)
            .output()
            .await
            .unwrap();
        let (summary, traffic) = summary(&out);
        assert_eq!(
            summary["status"],
            "Succeeded",
            "{summary:#}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(traffic["create"].as_u64().unwrap() >= 6 + 4, "{traffic}");
        assert!(leftovers(&client, "creates").await.is_empty());
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

/// Ctrl-C cancels as Tekton's `Cancelled` does: the pods are deleted, the summary printed
/// (exit 130), and nothing of the run is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_deletes_everything_of_the_run() {
    tokio::time::timeout(BOUND, async {
        let dir = scratch("cancel");
        let Some((server, kubeconfig)) = server(&dir).await else {
            return;
        };
        let client = kube::Client::try_from(server.client_config()).unwrap();
        let file = write_pipeline(
            &dir,
            "cancel",
            "    workspaces: [{name: w}]
    tasks:
      - name: a
        workspaces: [{name: w}]
        taskSpec:
          workspaces: [{name: w}]
          steps:
            - name: s
              image: alpine
              script: sleep 300
      - name: b
        taskSpec:
          steps:
            - name: s
              image: alpine
              script: sleep 300
    finally:
      - name: f
        taskSpec:
          steps:
            - name: s
              image: alpine
              script: echo finally
  workspaces:
    - name: w
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Mi}}
",
        );
        let child = tkc(&kubeconfig, "cancel")
            .args(["--output", "json"])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        running(&client, "cancel", "cancel-a-pod").await;
        running(&client, "cancel", "cancel-b-pod").await;
        let pid = child.id().unwrap();
        let killed = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().await.unwrap();
        assert_eq!(
            out.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (summary, _) = summary(&out);
        assert_eq!(summary["status"], "Cancelled", "{summary:#}");
        assert_eq!(leftovers(&client, "cancel").await, Vec::<String>::new());
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

/// The API traffic of a run, per task attempt: one create for the pod and one for its scripts
/// ConfigMap, one patch for the ready annotation and one to record the outcome, one log
/// stream per step, no get (nothing polls: everything else comes from the run's one watch),
/// and a bounded number of watch events; per run, two creates (the owner object and the
/// shared entrypoint ConfigMap), one patch (the final status) and one delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_traffic_per_attempt_is_bounded_and_nothing_polls() {
    tokio::time::timeout(BOUND, async {
        let dir = scratch("traffic");
        let Some((server, kubeconfig)) = server(&dir).await else {
            return;
        };
        let mut body = String::from("    tasks:\n");
        for i in 0..10 {
            body.push_str(&format!(
                "      - name: t{i}\n        taskSpec:\n          steps:\n            - name: s\n              image: alpine\n              script: echo {i}\n"
            ));
        }
        let file = write_pipeline(&dir, "traffic", &body);
        let out = tkc(&kubeconfig, "traffic")
            .args(["--output", "json"])
            .arg(&file)
            .output()
            .await
            .unwrap();
        let (summary, traffic) = summary(&out);
        assert_eq!(summary["status"], "Succeeded");
        eprintln!("traffic of 10 attempts: {traffic}");
        let n = |k: &str| traffic[k].as_u64().unwrap();
        assert_eq!(n("attempts"), 10);
        assert_eq!(n("create"), 2 + 2 * 10);
        assert_eq!(n("patch"), 2 * 10 + 1);
        assert_eq!(n("delete"), 1);
        assert_eq!(n("log"), 10);
        assert_eq!(n("get"), 0);
        assert!(n("watch_events") <= 12 * 10, "{traffic}");
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

/// `tkc` SIGKILLed mid-run; `tkc run --attach` finishes the run from the cluster's state,
/// each task run exactly once (the pods of the tasks that had started are the same objects),
/// and `tkc runs` lists it with its status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_finishes_a_run_whose_tkc_was_killed() {
    tokio::time::timeout(BOUND, async {
        let dir = scratch("attach");
        let Some((server, kubeconfig)) = server(&dir).await else {
            return;
        };
        let client = kube::Client::try_from(server.client_config()).unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "attach");
        let file = write_pipeline(&dir, "attach", THREE_SLOW_TASKS);
        let mut child = tkc(&kubeconfig, "attach")
            .args(["--output", "json"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        running(&client, "attach", "attach-b-pod").await;
        child.kill().await.unwrap(); // SIGKILL
        let uid = |p: Pod| p.metadata.uid.unwrap_or_default();
        let a = uid(pods.get("attach-a-pod").await.unwrap());
        let b = uid(pods.get("attach-b-pod").await.unwrap());

        let runs = tkc_runs(&kubeconfig).await;
        assert_eq!(runs[0]["name"], "attach");
        assert_eq!(runs[0]["status"], "Running");
        assert_eq!(runs[0]["attempts_ended"], 1);

        let out = tkc(&kubeconfig, "attach")
            .args(["--attach", "attach", "--keep", "--output", "json"])
            .output()
            .await
            .unwrap();
        let (summary, _) = summary(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(summary["status"], "Succeeded", "{summary:#}\n{stderr}");
        let attempts: Vec<_> = summary["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["attempts"].clone())
            .collect();
        assert_eq!(attempts, vec![serde_json::json!(1); 3]);
        let mut names: Vec<String> = pods
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|p| p.metadata.name.unwrap_or_default())
            .collect();
        names.sort();
        assert_eq!(names, ["attach-a-pod", "attach-b-pod", "attach-c-pod"]);
        assert_eq!(uid(pods.get("attach-a-pod").await.unwrap()), a);
        assert_eq!(uid(pods.get("attach-b-pod").await.unwrap()), b);

        let runs = tkc_runs(&kubeconfig).await;
        assert_eq!(runs[0]["status"], "Succeeded");
        assert_eq!(runs[0]["attempts_ended"], 3);
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

/// A partial run (`--until b`) whose `tkc` was killed: `--attach` reads its selection from
/// the run's owner object and still leaves c out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_keeps_the_selection_of_a_partial_run() {
    tokio::time::timeout(BOUND, async {
        let dir = scratch("attach-partial");
        let Some((server, kubeconfig)) = server(&dir).await else {
            return;
        };
        let client = kube::Client::try_from(server.client_config()).unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "partial");
        let file = write_pipeline(&dir, "partial", THREE_SLOW_TASKS);
        let mut child = tkc(&kubeconfig, "partial")
            .args(["--until", "b", "--output", "json"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        running(&client, "partial", "partial-b-pod").await;
        child.kill().await.unwrap(); // SIGKILL
        let out = tkc(&kubeconfig, "partial")
            .args(["--attach", "partial", "--output", "json"])
            .output()
            .await
            .unwrap();
        let (summary, _) = summary(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(summary["status"], "Succeeded", "{summary:#}\n{stderr}");
        assert_eq!(summary["partial"]["flags"][0], "--until b");
        let statuses: Vec<_> = summary["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].clone())
            .collect();
        assert_eq!(statuses, ["Succeeded", "Succeeded", "NotRun"]);
        assert!(pods.get("partial-c-pod").await.is_err());
        server.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}

async fn tkc_runs(kubeconfig: &Path) -> Vec<serde_json::Value> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tkc"))
        .args([
            "runs",
            "--namespace",
            "attach",
            "--output",
            "json",
            "--kubeconfig",
        ])
        .arg(kubeconfig)
        .output()
        .await
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
}

/// The preflight says what is missing before anything is created: a ConfigMap and a claim
/// that workspaces name and the namespace lacks, a host directory, verbs that
/// SelfSubjectAccessReviews deny; and an unreachable cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_reports_what_is_missing_and_creates_nothing() {
    tokio::time::timeout(BOUND, async {
        let dir = scratch("preflight");
        let Some((server, kubeconfig)) = server(&dir).await else {
            return;
        };
        let client = kube::Client::try_from(server.client_config()).unwrap();
        let file = dir.join("run.yaml");
        std::fs::write(
            &file,
            "apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: pre
spec:
  workspaces:
    - name: conf
      configMap: {name: absent-config}
    - name: data
      persistentVolumeClaim: {claimName: absent-claim}
  pipelineSpec:
    workspaces: [{name: conf}, {name: data}]
    tasks:
      - name: a
        workspaces: [{name: conf}, {name: data}]
        taskSpec:
          workspaces: [{name: conf}, {name: data}]
          steps:
            - name: s
              image: alpine
              script: echo hi
",
        )
        .unwrap();
        let out = tkc(&kubeconfig, "preflight")
            .arg(&file)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("ConfigMap `absent-config`"), "{stderr}");
        assert!(
            stderr.contains("PersistentVolumeClaim `absent-claim`"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "preflight");
        assert!(
            cms.list(&ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );

        // A host directory has no meaning on a cluster.
        let out = tkc(&kubeconfig, "preflight")
            .args(["-w", "conf=dir:.", "-w", "data=emptyDir"])
            .arg(&file)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("host directory"), "{stderr}");

        // Verbs the SelfSubjectAccessReviews deny.
        server.deny("create", "pods");
        server.deny("get", "pods/log");
        let out = tkc(&kubeconfig, "preflight")
            .args(["-w", "conf=emptyDir", "-w", "data=emptyDir"])
            .arg(&file)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("forbidden: `create` on pods in namespace `preflight`"),
            "{stderr}"
        );
        assert!(stderr.contains("forbidden: `get` on pods/log"), "{stderr}");
        assert!(
            cms.list(&ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );

        // Nothing listens there any more: a clear error, not a stack trace.
        server.stop().await;
        let out = tkc(&kubeconfig, "preflight")
            .arg(&file)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("cannot reach the cluster"), "{stderr}");
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .expect("bounded");
}
