//! The `cluster` resolver's fetch against the Kubernetes API test server (`kubetest/`), which
//! stores Tekton's Tasks, Pipelines and StepActions as custom resources: what it reads, and
//! what it says when it cannot (not found, unsupported kind, absent namespace). The timeout is
//! tested against a listener that never answers, and a Task applied with the real `kubectl`
//! is read back (skipped without `kubectl` on PATH unless `TKC_REQUIRE_KUBECTL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kube::Api;
use kube::Client;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tkc_compiler::remote::ClusterSource;
use tkc_kubetest::{Options, Server};
use tkc_remote::cache::Entry;
use tkc_remote::cluster::read;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A scratch directory for kubeconfigs (and kubectl's cache and HOME), removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "tkc-cluster-resolver-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The test server (no kubelet: nothing here runs a pod) and a client connected to it
/// through a kubeconfig, as `kubectl` connects.
async fn cluster(scratch: &Scratch) -> (Server, Client) {
    let server = Server::start(Options {
        kubelet: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let kubeconfig = scratch.0.join("kubeconfig");
    server.kubeconfig(&kubeconfig).unwrap();
    (server, client(&kubeconfig).await)
}

async fn client(kubeconfig: &Path) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// The cluster resolver's read of `kind` `name` in `namespace`.
async fn fetch(
    client: &Client,
    kind: &str,
    name: &str,
    namespace: &str,
    timeout: Duration,
) -> Result<Entry, String> {
    let source = ClusterSource {
        kind: kind.into(),
        name: name.into(),
        namespace: namespace.into(),
    };
    read(client, &source, timeout).await
}

/// Stores a Tekton object through the API, as `kubectl create` would.
async fn create(cluster: &Client, version: &str, kind: &str, plural: &str, object: Value) {
    let gvk = GroupVersionKind::gvk("tekton.dev", version, kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, plural);
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.clone(), "team", &resource);
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

fn parsed(yaml: &[u8]) -> Value {
    serde_json::from_slice(yaml).unwrap()
}

#[tokio::test]
async fn fetches_tasks_pipelines_and_step_actions() {
    let scratch = Scratch::new("fetch");
    let (_server, cluster) = cluster(&scratch).await;
    create(
        &cluster,
        "v1",
        "Task",
        "tasks",
        json!({"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "hello"},
            "spec": {"steps": [{"name": "say", "image": "busybox:1.36", "script": "echo hello"}]}}),
    )
    .await;
    create(
        &cluster,
        "v1",
        "Pipeline",
        "pipelines",
        json!({"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": {"name": "greet"},
            "spec": {"tasks": [{"name": "hi", "taskRef": {"name": "hello"}}]}}),
    )
    .await;
    create(
        &cluster,
        "v1beta1",
        "StepAction",
        "stepactions",
        json!({"apiVersion": "tekton.dev/v1beta1", "kind": "StepAction", "metadata": {"name": "say"},
            "spec": {"image": "busybox:1.36", "script": "echo from a step action"}}),
    )
    .await;

    let task = fetch(&cluster, "task", "hello", "team", TIMEOUT)
        .await
        .unwrap();
    let json = parsed(&task.bytes);
    assert_eq!(json["kind"], "Task");
    assert_eq!(json["apiVersion"], "tekton.dev/v1");
    assert_eq!(json["spec"]["steps"][0]["script"], "echo hello");
    let uid = json["metadata"]["uid"].as_str().unwrap();
    let version = json["metadata"]["resourceVersion"].as_str().unwrap();
    assert_eq!(
        task.origin,
        format!("/apis/tekton.dev/v1/namespaces/team/task/hello@{uid}?resourceVersion={version}")
    );
    let again = fetch(&cluster, "task", "hello", "team", TIMEOUT)
        .await
        .unwrap();
    assert_eq!(again, task, "the same object, the same document");

    let pipeline = fetch(&cluster, "pipeline", "greet", "team", TIMEOUT)
        .await
        .unwrap();
    let json = parsed(&pipeline.bytes);
    assert_eq!(json["kind"], "Pipeline");
    assert_eq!(json["spec"]["tasks"][0]["taskRef"]["name"], "hello");

    let step = fetch(&cluster, "stepaction", "say", "team", TIMEOUT)
        .await
        .unwrap();
    let json = parsed(&step.bytes);
    assert_eq!(json["kind"], "StepAction");
    assert_eq!(json["apiVersion"], "tekton.dev/v1beta1");
    assert_eq!(json["spec"]["script"], "echo from a step action");
}

#[tokio::test]
async fn says_why_it_cannot_fetch() {
    let scratch = Scratch::new("errors");
    let (_server, cluster) = cluster(&scratch).await;
    create(
        &cluster,
        "v1",
        "Task",
        "tasks",
        json!({"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "hello"},
            "spec": {"steps": [{"name": "say", "image": "busybox", "script": "echo hello"}]}}),
    )
    .await;

    let cases = [
        (
            ("task", "nope", "team"),
            "failed to load task nope from namespace team: tasks.tekton.dev \"nope\" not found",
        ),
        // A Task is read from its own namespace only.
        (
            ("task", "hello", "other"),
            "failed to load task hello from namespace other: tasks.tekton.dev \"hello\" not found",
        ),
        // A Pipeline of the Task's name is not the Task.
        (
            ("pipeline", "hello", "team"),
            "failed to load pipeline hello from namespace team: pipelines.tekton.dev \"hello\" not found",
        ),
        // No namespace can have this name, so none exists.
        (
            ("task", "hello", "No_Such"),
            "failed to load task hello from namespace No_Such: namespaces \"No_Such\" not found",
        ),
        (
            ("taskrun", "x", "team"),
            "unknown or unsupported resource kind 'taskrun'",
        ),
    ];
    for ((kind, name, namespace), expected) in cases {
        let error = fetch(&cluster, kind, name, namespace, TIMEOUT)
            .await
            .unwrap_err();
        assert_eq!(error, expected, "{kind} {name} in {namespace}");
    }
}

#[tokio::test]
async fn gives_up_on_a_server_that_never_answers() {
    // Bound and listening but never accepting: the kernel completes the connection and
    // takes the request, and no answer ever comes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let scratch = Scratch::new("silent");
    let kubeconfig = scratch.0.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
             contexts:\n- name: c\n  context:\n    cluster: c\n    namespace: default\n    user: u\n\
             current-context: c\nusers:\n- name: u\n  user: {{}}\n"
        ),
    )
    .unwrap();
    let cluster = client(&kubeconfig).await;
    let started = Instant::now();
    let slow = fetch(&cluster, "task", "slow", "team", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        slow,
        "failed to load task slow from namespace team: timed out after 0.3s"
    );
    drop(silent);
}

/// `kubectl apply -f task.yaml` against the test server, in `dir` (its HOME and cache too).
async fn kubectl_apply(kubectl: &Path, dir: &Path, manifest: &Path) -> std::process::Output {
    let run = tokio::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(["apply", "--namespace", "team", "-f"])
        .arg(manifest)
        .env("HOME", dir)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("kubectl apply timed out")
        .expect("cannot run kubectl")
}

/// A Task written as a user writes it, applied with `kubectl`, created then updated, and
/// read back by the resolver as applied.
#[tokio::test]
async fn fetches_a_task_kubectl_applied() {
    let Some(kubectl) = tkc_kubetest::kubectl_for_tests() else {
        return;
    };
    let scratch = Scratch::new("kubectl");
    let (_server, cluster) = cluster(&scratch).await;
    let manifest = scratch.0.join("task.yaml");
    let task = |script: &str| {
        format!(
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: hello\nspec:\n  steps:\n  \
             - name: say\n    image: busybox:1.36\n    script: {script}\n"
        )
    };
    std::fs::write(&manifest, task("echo hello")).unwrap();
    let out = kubectl_apply(&kubectl, &scratch.0, &manifest).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "task.tekton.dev/hello created");
    let first = fetch(&cluster, "task", "hello", "team", TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        parsed(&first.bytes)["spec"]["steps"][0]["script"],
        "echo hello"
    );

    std::fs::write(&manifest, task("echo again")).unwrap();
    let out = kubectl_apply(&kubectl, &scratch.0, &manifest).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "task.tekton.dev/hello configured");
    let second = fetch(&cluster, "task", "hello", "team", TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        parsed(&second.bytes)["spec"]["steps"][0]["script"],
        "echo again"
    );
    assert_ne!(first.origin, second.origin, "a new resourceVersion");
}

/// `tkc_remote::cluster::fetch` reads the cluster its settings name (`tkc run --kubeconfig`,
/// `--context`), not only the default one, and says so when the context does not exist.
#[tokio::test]
async fn reads_the_cluster_the_settings_name() {
    let scratch = Scratch::new("target");
    let (_server, cluster) = cluster(&scratch).await;
    create(
        &cluster,
        "v1",
        "Task",
        "tasks",
        json!({"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "hello"},
            "spec": {"steps": [{"name": "say", "image": "busybox", "script": "echo hello"}]}}),
    )
    .await;
    let source = ClusterSource {
        kind: "task".into(),
        name: "hello".into(),
        namespace: "team".into(),
    };
    let mut settings = tkc_remote::Settings::from_env(false);
    settings.timeout = TIMEOUT;
    settings.cluster.kubeconfig = Some(scratch.0.join("kubeconfig"));
    let read = {
        let (source, settings) = (source.clone(), settings.clone());
        tokio::task::spawn_blocking(move || tkc_remote::cluster::fetch(&source, &settings))
    };
    let entry = read.await.unwrap().unwrap();
    assert_eq!(
        parsed(&entry.bytes)["spec"]["steps"][0]["script"],
        "echo hello"
    );

    settings.cluster.context = Some("elsewhere".into());
    let read = tokio::task::spawn_blocking(move || tkc_remote::cluster::fetch(&source, &settings));
    let error = read.await.unwrap().unwrap_err();
    assert!(error.contains("elsewhere"), "{error}");
}
