//! What the test server's tests share: a server, a client, bounded waits.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client};
use serde_json::Value;
use tkc_kubetest::{Options, Server};

/// Every test is bounded: a hung server or kubelet fails it instead of hanging CI.
pub async fn bounded<T>(secs: u64, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs}s"),
    }
}

pub async fn server() -> (Server, Client) {
    server_with(Options::default()).await
}

pub async fn server_with(opts: Options) -> (Server, Client) {
    let server = match Server::start(opts).await {
        Ok(s) => s,
        Err(e) => panic!("cannot start the test server: {e}"),
    };
    let client = match Client::try_from(server.client_config()) {
        Ok(c) => c,
        Err(e) => panic!("cannot make a client: {e}"),
    };
    (server, client)
}

/// The server's kubelet can run containers here; else the test says why and skips.
pub fn can_run_pods(server: &Server) -> bool {
    match server.pods_unavailable() {
        None => true,
        Some(why) => {
            // `.ci/run` installs bubblewrap: there its absence fails the test.
            assert!(std::env::var_os("CI").is_none(), "CI is set, but {why}");
            eprintln!("skipped: {why}");
            false
        }
    }
}

pub fn pod(json: Value) -> Pod {
    match serde_json::from_value(json) {
        Ok(p) => p,
        Err(e) => panic!("bad pod in test: {e}"),
    }
}

/// Polls the pod until `f` holds (every 20 ms), bounded by the caller's `bounded`.
pub async fn wait_pod(pods: &Api<Pod>, name: &str, f: impl Fn(&Pod) -> bool) -> Pod {
    loop {
        if let Ok(p) = pods.get(name).await
            && f(&p)
        {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub fn finished(p: &Pod) -> bool {
    matches!(phase(p), "Succeeded" | "Failed")
}

/// The terminated state of a container.
pub fn terminated(
    p: &Pod,
    name: &str,
) -> Option<k8s_openapi::api::core::v1::ContainerStateTerminated> {
    let s = p.status.as_ref()?;
    s.container_statuses
        .iter()
        .flatten()
        .chain(s.init_container_statuses.iter().flatten())
        .find(|c| c.name == name)?
        .state
        .as_ref()?
        .terminated
        .clone()
}

pub fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("not an API error: {other}"),
    }
}
