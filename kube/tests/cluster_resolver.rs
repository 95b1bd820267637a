//! The `cluster` resolver's fetch against a stand-in API server. The Kubernetes API test
//! server (`kubetest/`) serves only core `v1` resources, not Tekton's CRDs, so this test
//! answers the three requests the resolver makes with fixed responses in the API server's
//! shapes: a Task, a `404 NotFound` Status, and silence (for the timeout).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tkc_kube::cluster_resolver::fetch;
use tkc_kube::{ConnectOptions, connect};

const TASK: &str = r#"{"apiVersion":"tekton.dev/v1","kind":"Task","metadata":{"name":"hello","namespace":"team","uid":"0b5c6a1e-1","resourceVersion":"7","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"steps":[{"name":"say","image":"busybox:1.36","script":"echo hello"}]}}"#;

const NOT_FOUND: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"tasks.tekton.dev \"nope\" not found","reason":"NotFound","details":{"name":"nope","group":"tekton.dev","kind":"tasks"},"code":404}"#;

/// Serves until the test ends: the Task at its path, silence for the `slow` one, 404 else.
fn serve(listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        std::thread::spawn(move || answer(stream));
    }
}

fn answer(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or_default();
    if path.starts_with("/apis/tekton.dev/v1/namespaces/team/tasks/slow") {
        std::thread::sleep(Duration::from_secs(5));
        return;
    }
    let (status, body) = if path.starts_with("/apis/tekton.dev/v1/namespaces/team/tasks/hello") {
        ("200 OK", TASK)
    } else {
        ("404 Not Found", NOT_FOUND)
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn kubeconfig(port: u16) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "tkc-cluster-resolver-{}-{port}.kubeconfig",
        std::process::id()
    ));
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    namespace: default\n    user: u\n\
         current-context: c\nusers:\n- name: u\n  user: {{}}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn fetches_a_task_and_says_why_it_cannot() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve(listener));
    let config = kubeconfig(port);
    let cluster = connect(&ConnectOptions {
        kubeconfig: Some(config.clone()),
        ..ConnectOptions::default()
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&config);
    let timeout = Duration::from_secs(10);

    let fetched = fetch(&cluster, "task", "hello", "team", timeout)
        .await
        .unwrap();
    assert_eq!(
        fetched.origin,
        "/apis/tekton.dev/v1/namespaces/team/task/hello@0b5c6a1e-1"
    );
    let json: serde_json::Value = serde_json::from_slice(&fetched.yaml).unwrap();
    assert_eq!(json["kind"], "Task");
    assert_eq!(json["apiVersion"], "tekton.dev/v1");
    assert_eq!(json["spec"]["steps"][0]["script"], "echo hello");
    assert!(fetched.digest.starts_with("sha256:") && fetched.digest.len() == 71);

    let missing = fetch(&cluster, "task", "nope", "team", timeout)
        .await
        .unwrap_err();
    assert_eq!(
        missing,
        "failed to load task nope from namespace team: tasks.tekton.dev \"nope\" not found"
    );

    let kind = fetch(&cluster, "taskrun", "x", "team", timeout)
        .await
        .unwrap_err();
    assert_eq!(kind, "unknown or unsupported resource kind 'taskrun'");

    let started = Instant::now();
    let slow = fetch(&cluster, "task", "slow", "team", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        slow,
        "failed to load task slow from namespace team: timed out after 0.3s"
    );
}
