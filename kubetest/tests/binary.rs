//! `tkc-kubetest serve --kubeconfig FILE`: one line saying where it serves, a kubeconfig a
//! client can use (context `tkc-kubetest`, namespace `default`), and on SIGTERM a clean exit
//! that leaves no container running.
// Tests fail by panicking.
#![allow(clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bounded, finished, phase, pod, wait_pod};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_tkc-kubetest"))
        .args(["serve"])
        .output();
    let Ok(out) = out else {
        panic!("cannot run tkc-kubetest")
    };
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kubeconfig FILE is required"));
}

#[tokio::test]
async fn serve_writes_a_kubeconfig_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("tkc-kubetest-bin-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let kubeconfig = dir.join("kubeconfig");
    let child = Command::new(env!("CARGO_BIN_EXE_tkc-kubetest"))
        .arg("serve")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let Ok(mut child) = child else {
        panic!("cannot start tkc-kubetest")
    };
    // The first line, read on a thread so that a server that never prints fails the test.
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
    }
    let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
        let _ = child.kill();
        panic!("tkc-kubetest printed nothing");
    };
    assert!(
        line.starts_with("tkc-kubetest: serving http://127.0.0.1:"),
        "{line}"
    );
    assert!(
        line.contains("context tkc-kubetest, namespace default"),
        "{line}"
    );
    let pods_run = !line.contains("pods will not run");
    let marker = format!("kubetest-bin-marker-{}", std::process::id());
    bounded(30, async {
        let Ok(config) = Kubeconfig::read_from(&kubeconfig) else { panic!("bad kubeconfig") };
        assert_eq!(config.current_context.as_deref(), Some("tkc-kubetest"));
        let config = kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default()).await;
        let Ok(config) = config else { panic!("unusable kubeconfig") };
        assert_eq!(config.default_namespace, "default");
        let Ok(client) = kube::Client::try_from(config) else { panic!("client") };
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(json!({"metadata": {"name": "lingering"}, "spec": {
            "containers": [{"name": "c", "image": "x", "command": ["sh", "-c", format!("sleep 1000; echo {marker}")]}]}}));
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        if pods_run {
            wait_pod(&pods, "lingering", |p| phase(p) == "Running" || finished(p)).await;
            while !running(&marker) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
    .await;
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("tkc-kubetest did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    while running(&marker) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "a container outlived the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn running(marker: &str) -> bool {
    std::fs::read_dir("/proc").is_ok_and(|d| {
        d.flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
    })
}
