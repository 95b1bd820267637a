//! The objects `tkc compile --emit pods` writes run on a Kubernetes API server: the output for
//! `testdata/pods/three-steps.yaml`, with the static entrypoint's ConfigMap, is created on the
//! API test server (`kubetest/`, strict admission) through a real `kube::Client`; its kubelet
//! runs the pod; nothing ends before the test patches the `tekton.dev/ready` annotation as
//! Tekton's controller does; the pod reaches `Succeeded`, each step's termination message
//! carries the results (a step result passed to the next step's env included), and the steps
//! ran in order, chained by the real tkc-entrypoint.
//!
//! Needs the static (musl) entrypoint, which a ConfigMap can hold: `TKC_STATIC_ENTRYPOINT`
//! names it (`.ci/run` builds it first), else `entrypoint/build-static.sh` builds it here.
//! Skips with a note where it cannot be built or bubblewrap cannot make namespaces, except
//! where `CI` is set.

#![allow(clippy::panic)]

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tkc_compiler::source::FileId;
use tkc_compiler::syntax::{node_to_json, yaml};
use tkc_kubetest::{Options, Server};

mod common;
use common::{skip, workspace_root};

/// The emitted YAML stream as JSON documents.
fn documents(yaml_text: &str) -> Vec<serde_json::Value> {
    let parsed = yaml::parse(FileId::default(), yaml_text);
    assert!(
        parsed.diagnostics.is_empty(),
        "tkc's own output does not parse: {:?}",
        parsed.diagnostics
    );
    parsed.documents.iter().map(node_to_json).collect()
}

fn typed<T: serde::de::DeserializeOwned>(doc: serde_json::Value) -> T {
    match serde_json::from_value(doc) {
        Ok(v) => v,
        Err(e) => panic!("an emitted object does not decode: {e}"),
    }
}

fn terminated(pod: &Pod, container: &str) -> k8s_openapi::api::core::v1::ContainerStateTerminated {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container))
        .and_then(|c| c.state.as_ref()?.terminated.clone())
        .unwrap_or_else(|| panic!("{container} has not terminated: {:?}", pod.status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emitted_pod_runs_to_success_on_the_api_test_server() {
    let root = workspace_root();
    let Some(entrypoint) = common::static_entrypoint() else {
        return skip("the static entrypoint cannot be built (entrypoint/build-static.sh)");
    };
    let server = match Server::start(Options::default()).await {
        Ok(s) => s,
        Err(e) => panic!("cannot start the API test server: {e}"),
    };
    if let Some(why) = server.pods_unavailable() {
        return skip(&format!(
            "the test server's kubelet cannot run pods here: {why}"
        ));
    }

    let out = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .current_dir(&root)
        .args([
            "compile",
            "--emit",
            "pods",
            "testdata/pods/three-steps.yaml",
        ])
        .arg("--entrypoint-binary")
        .arg(&entrypoint)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("cannot run tkc: {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let client = match kube::Client::try_from(server.client_config()) {
        Ok(c) => c,
        Err(e) => panic!("cannot make a client: {e}"),
    };
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let mut pod_name = None;
    let created = async {
        for doc in documents(&String::from_utf8_lossy(&out.stdout)) {
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            let result = match kind.as_str() {
                "ConfigMap" => Api::<ConfigMap>::default_namespaced(client.clone())
                    .create(&PostParams::default(), &typed(doc))
                    .await
                    .map(drop),
                "PersistentVolumeClaim" => {
                    Api::<PersistentVolumeClaim>::default_namespaced(client.clone())
                        .create(&PostParams::default(), &typed(doc))
                        .await
                        .map(drop)
                }
                "Pod" => {
                    let pod: Pod = typed(doc);
                    pod_name = pod.metadata.name.clone();
                    pods.create(&PostParams::default(), &pod).await.map(drop)
                }
                other => panic!("unexpected kind {other} in --emit pods output"),
            };
            if let Err(e) = result {
                panic!("the API server refused an emitted {kind}: {e}");
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), created)
        .await
        .unwrap_or_else(|_| panic!("creating the objects took over 30 s"));
    let Some(name) = pod_name else {
        panic!("no Pod in the output")
    };

    // The first step waits for the annotation, as on a cluster: all steps run, and none ends
    // until the gate opens. Tekton's controller sets it once the sidecars are ready (here
    // there are none).
    let gated = async {
        loop {
            if let Ok(p) = pods.get(&name).await
                && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), gated)
        .await
        .unwrap_or_else(|_| panic!("the pod did not run within 30 s"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = pods.get(&name).await.ok();
    let ended: Vec<String> = waiting
        .iter()
        .filter_map(|p| p.status.as_ref()?.container_statuses.clone())
        .flatten()
        .filter(|c| c.state.as_ref().is_some_and(|s| s.terminated.is_some()))
        .map(|c| c.name)
        .collect();
    assert!(
        ended.is_empty(),
        "steps ended before the gate opened: {ended:?}"
    );
    let ready = serde_json::json!({"metadata": {"annotations": {"tekton.dev/ready": "READY"}}});
    if let Err(e) = pods
        .patch(&name, &PatchParams::default(), &Patch::Merge(&ready))
        .await
    {
        panic!("cannot patch the ready annotation: {e}");
    }

    let finished = async {
        loop {
            if let Ok(p) = pods.get(&name).await {
                let phase = p.status.as_ref().and_then(|s| s.phase.clone());
                if matches!(phase.as_deref(), Some("Succeeded" | "Failed")) {
                    return p;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let pod = tokio::time::timeout(Duration::from_secs(60), finished)
        .await
        .unwrap_or_else(|_| panic!("the pod did not finish within 60 s"));
    let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
    assert_eq!(phase.as_deref(), Some("Succeeded"), "{:?}", pod.status);

    // All containers start together, as in a pod; the entrypoint holds each step's command
    // until its predecessor posts. Their times have whole-second resolution, so the order
    // is shown by the `order` result below, which each step extends.
    for step in ["step-first", "step-second", "step-third"] {
        let t = terminated(&pod, step);
        assert_eq!(t.exit_code, 0, "{step}: {t:?}");
    }
    let message = terminated(&pod, "step-third").message.unwrap_or_default();
    let entries: serde_json::Value = serde_json::from_str(&message)
        .unwrap_or_else(|e| panic!("the termination message is not JSON ({e}): {message}"));
    let result = |key: &str| {
        entries
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["key"] == key && e["type"] == 1)
            .and_then(|e| e["value"].as_str())
            .map(str::to_string)
    };
    assert_eq!(result("order").as_deref(), Some("first second third"));
    // The first step's result reached the second through its env: the entrypoint substitutes
    // `$(steps.first.results.word)` at run time, as Tekton's does.
    assert_eq!(result("greeting").as_deref(), Some("hello world"));
    let first = terminated(&pod, "step-first").message.unwrap_or_default();
    assert!(first.contains(r#""key":"word","value":"hello""#), "{first}");
    server.stop().await;
}
