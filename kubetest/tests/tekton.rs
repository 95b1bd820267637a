//! A Tekton-like pod on the test server: three steps run by the real `tkc-entrypoint`,
//! mounted from a ConfigMap's `binaryData` (mode 0755) as Tekton's pods get it, ordered by
//! `-wait_file`/`-post_file`, the first gated by the downward API's `tekton.dev/ready`
//! annotation that the test patches (as the TaskRun controller does), results reported in
//! termination messages, and the pod `Succeeded`.
// Tests fail by panicking.
#![allow(clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{bounded, can_run_pods, finished, phase, pod, server, terminated, wait_pod};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// The size-optimised entrypoint (`--profile entrypoint`): the debug one is too big for the
/// 1 MiB a ConfigMap may hold. `TKC_KUBETEST_ENTRYPOINT` names another.
fn small_entrypoint() -> PathBuf {
    if let Some(p) = std::env::var_os("TKC_KUBETEST_ENTRYPOINT") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--profile", "entrypoint", "-p", "tkc-entrypoint"])
        .current_dir(&root)
        .status();
    assert!(
        built.is_ok_and(|s| s.success()),
        "cannot build tkc-entrypoint"
    );
    target.join("entrypoint").join("tkc-entrypoint")
}

fn step(n: usize, wait: &[&str], results: &str, script: &str) -> Value {
    let mut args = vec![];
    for w in wait {
        args.extend(["-wait_file".to_string(), w.to_string()]);
    }
    if n == 0 {
        args.push("-wait_file_content".into());
    }
    args.extend([
        "-post_file".into(),
        format!("/tekton/run/{n}/out"),
        "-termination_path".into(),
        "/tekton/termination".into(),
        "-step_metadata_dir".into(),
        format!("/tekton/run/{n}/status"),
    ]);
    if !results.is_empty() {
        args.extend(["-results".into(), results.into()]);
    }
    args.extend([
        "-entrypoint".into(),
        "sh".into(),
        "--".into(),
        "-c".into(),
        script.into(),
    ]);
    let mut mounts = vec![
        json!({"name": "tekton-internal-bin", "mountPath": "/tekton/bin", "readOnly": true}),
        json!({"name": "tekton-internal-results", "mountPath": "/tekton/results"}),
        json!({"name": "workspace", "mountPath": "/workspace"}),
    ];
    for i in 0..3 {
        mounts.push(json!({"name": format!("tekton-internal-run-{i}"), "mountPath": format!("/tekton/run/{i}"), "readOnly": i != n}));
    }
    if n == 0 {
        mounts.push(json!({"name": "tekton-internal-downward", "mountPath": "/tekton/downward"}));
    }
    json!({
        "name": format!("step-{n}"),
        "image": "alpine",
        "command": ["/tekton/bin/entrypoint"],
        "args": args,
        "workingDir": "/workspace",
        "terminationMessagePath": "/tekton/termination",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
    })
}

fn result(p: &Pod, step: &str, key: &str) -> Option<String> {
    let message = terminated(p, step)?.message?;
    let entries: Vec<Value> = serde_json::from_str(&message).ok()?;
    entries
        .iter()
        .find(|e| e["key"] == key)
        .and_then(|e| e["value"].as_str().map(String::from))
}

#[tokio::test]
async fn three_steps_through_the_real_entrypoint() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    let binary = small_entrypoint();
    let bytes = match std::fs::read(&binary) {
        Ok(b) => b,
        Err(e) => panic!("cannot read {}: {e}", binary.display()),
    };
    bounded(60, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
        let pods: Api<Pod> = Api::default_namespaced(client.clone());
        let cm = ConfigMap {
            metadata: kube::api::ObjectMeta { name: Some("tekton-entrypoint".into()), ..Default::default() },
            binary_data: Some([("entrypoint".to_string(), ByteString(bytes))].into()),
            ..Default::default()
        };
        let created = cms.create(&PostParams::default(), &cm).await;
        assert!(created.is_ok(), "{created:?}");
        let mut volumes = vec![
            json!({"name": "tekton-internal-bin", "configMap": {"name": "tekton-entrypoint", "defaultMode": 0o755}}),
            json!({"name": "tekton-internal-results", "emptyDir": {}}),
            json!({"name": "workspace", "emptyDir": {}}),
            json!({"name": "tekton-internal-downward", "downwardAPI": {"items": [
                {"path": "ready", "fieldRef": {"fieldPath": "metadata.annotations['tekton.dev/ready']"}}]}}),
        ];
        for i in 0..3 {
            volumes.push(json!({"name": format!("tekton-internal-run-{i}"), "emptyDir": {}}));
        }
        let p = pod(json!({
            "metadata": {"name": "run-task-pod", "labels": {"tekton.dev/taskRun": "run-task"}},
            "spec": {
                "restartPolicy": "Never",
                "volumes": volumes,
                "containers": [
                    step(0, &["/tekton/downward/ready"], "greeting",
                        "printf hello > /tekton/results/greeting; echo one > /workspace/order"),
                    step(1, &["/tekton/run/0/out"], "",
                        "echo two >> /workspace/order"),
                    step(2, &["/tekton/run/1/out"], "order",
                        "echo three >> /workspace/order; tr '\\n' , < /workspace/order > /tekton/results/order"),
                ]
            }
        }));
        let created = pods.create(&PostParams::default(), &p).await;
        assert!(created.is_ok(), "{created:?}");
        // All three containers start together and wait; nothing runs before the gate opens.
        wait_pod(&pods, "run-task-pod", |p| phase(p) == "Running").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let still = wait_pod(&pods, "run-task-pod", |_| true).await;
        assert_eq!(phase(&still), "Running");
        let ready = json!({"metadata": {"annotations": {"tekton.dev/ready": "READY"}}});
        let patched = pods
            .patch("run-task-pod", &PatchParams::default(), &Patch::Merge(&ready))
            .await;
        assert!(patched.is_ok());
        let done = wait_pod(&pods, "run-task-pod", finished).await;
        let logs = |c: &str| format!("{c}: {:?}", terminated(&done, c));
        assert_eq!(phase(&done), "Succeeded", "{} {} {}", logs("step-0"), logs("step-1"), logs("step-2"));
        assert_eq!(result(&done, "step-0", "greeting").as_deref(), Some("hello"));
        assert_eq!(result(&done, "step-2", "order").as_deref(), Some("one,two,three,"));
        for s in ["step-0", "step-1", "step-2"] {
            assert_eq!(terminated(&done, s).map(|t| t.exit_code), Some(0), "{s}");
        }
    })
    .await;
}
