//! The real `kubectl` against the test server, through a kubeconfig the server writes:
//! `get -o json`, `logs`, `delete` (which waits for the pod to go) and a NotFound error.
//! Skipped without `kubectl` on PATH, unless `TKC_REQUIRE_KUBECTL` is set (CI installs it).
// Tests fail by panicking.
#![allow(clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{bounded, can_run_pods, finished, server, wait_pod};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

/// A scratch directory for the kubeconfig and kubectl's cache (its HOME, too).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tkc-kubetest-kubectl-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

async fn kubectl(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    let out = tokio::process::Command::new(bin)
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args)
        .env("HOME", dir)
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(30), out).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => panic!("cannot run kubectl: {e}"),
        Err(_) => panic!("kubectl {args:?} timed out"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn kubectl_gets_lists_as_json_and_reports_not_found() {
    let Some(bin) = tkc_kubetest::kubectl_for_tests() else {
        return;
    };
    let (server, client) = server().await;
    let dir = scratch("get");
    assert!(server.kubeconfig(&dir.join("kubeconfig")).is_ok());
    bounded(60, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": "conf", "labels": {"app": "k"}}, "data": {"a": "1"}}),
        )
        .unwrap_or_default();
        assert!(cms.create(&PostParams::default(), &cm).await.is_ok());
        let out = kubectl(
            &bin,
            &dir,
            &["get", "configmaps", "-l", "app=k", "-o", "json"],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_eq!(list["items"][0]["metadata"]["name"], "conf");
        assert_eq!(list["items"][0]["data"]["a"], "1");
        let out = kubectl(&bin, &dir, &["get", "pod", "nope", "-o", "json"]).await;
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("pods \"nope\" not found"),
            "{}",
            text(&out.stderr)
        );
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn kubectl_get_logs_delete_a_pod() {
    let Some(bin) = tkc_kubetest::kubectl_for_tests() else {
        return;
    };
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    let dir = scratch("pod");
    assert!(server.kubeconfig(&dir.join("kubeconfig")).is_ok());
    bounded(60, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: hello}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: c, image: busybox, command: [sh, -c, 'echo hi; echo there']}\n";
        let _ = std::fs::write(dir.join("pod.yaml"), manifest);
        // `--validate=false`: kubectl 1.20 validates on the client, from an OpenAPI v2 document
        // this server does not publish (newer ones ask the server to, see README).
        let file = dir.join("pod.yaml").to_string_lossy().into_owned();
        let out = kubectl(&bin, &dir, &["create", "--validate=false", "-f", &file]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        wait_pod(&pods, "hello", finished).await;

        // The table `kubectl get` prints without `-o`.
        let out = kubectl(&bin, &dir, &["get", "pods"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let table = text(&out.stdout);
        let mut lines = table.lines().map(|l| l.split_whitespace().collect::<Vec<_>>());
        assert_eq!(lines.next(), Some(vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"]), "{table}");
        assert_eq!(lines.next().map(|l| l[..4].to_vec()), Some(vec!["hello", "0/1", "Completed", "0"]), "{table}");

        let out = kubectl(&bin, &dir, &["get", "pods", "-o", "json"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_eq!(list["items"][0]["metadata"]["name"], "hello");
        assert_eq!(list["items"][0]["status"]["phase"], "Succeeded");
        assert_eq!(list["items"][0]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 0);

        let out = kubectl(&bin, &dir, &["logs", "hello"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "hi\nthere\n");

        let out = kubectl(&bin, &dir, &["delete", "pod", "hello"]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "pod \"hello\" deleted");
        assert!(pods.get_opt("hello").await.is_ok_and(|p| p.is_none()));
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}
