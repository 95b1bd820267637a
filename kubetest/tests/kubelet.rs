//! The kubelet runs pods for real: init containers then containers sharing volumes,
//! termination messages, exit codes, logs (followed, with timestamps), deadlines, graceful
//! deletion, the downward API updated live, claims that outlive pods, eviction, a delayed
//! kubelet, and nothing left running once the server stops. Skipped (with a message) where
//! bubblewrap cannot create namespaces.
// Tests fail by panicking.
#![allow(clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{
    bounded, can_run_pods, finished, phase, pod, server, server_with, terminated, wait_pod,
};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use kube::api::{
    DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Api, ResourceExt};
use serde_json::json;
use tkc_kubetest::Options;

fn condition(p: &Pod, kind: &str) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.clone())
}

#[tokio::test]
async fn init_then_containers_share_an_empty_dir() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(json!({
            "metadata": {"name": "share"},
            "spec": {
                "restartPolicy": "Never",
                "volumes": [{"name": "data", "emptyDir": {}}],
                "initContainers": [{"name": "init", "image": "busybox",
                    "command": ["sh", "-c", "echo seeded > /data/seed"],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                "containers": [
                    {"name": "ok", "image": "busybox",
                        "command": ["sh", "-c"],
                        "args": ["test \"$(cat /data/seed)\" = seeded && printf '[{\"key\":\"r\",\"value\":\"v\"}]' > /dev/termination-log; echo $GREETING"],
                        // `$(VAR)` sees only the variables listed before it, as in Kubernetes.
                        "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                {"name": "GREETING", "value": "hello from $(POD), not $(LATER)"},
                                {"name": "LATER", "value": "x"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                    {"name": "fails", "image": "busybox",
                        "command": ["sh", "-c", "echo last words; exit 3"],
                        "terminationMessagePolicy": "FallbackToLogsOnError"}
                ]
            }
        }));
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        let done = wait_pod(&pods, "share", finished).await;
        assert_eq!(phase(&done), "Failed");
        let init = terminated(&done, "init");
        assert!(init.is_some_and(|t| t.exit_code == 0 && t.reason.as_deref() == Some("Completed")));
        let ok = terminated(&done, "ok");
        let Some(ok) = ok else { panic!("no status for ok") };
        assert_eq!(ok.exit_code, 0);
        assert_eq!(ok.message.as_deref(), Some("[{\"key\":\"r\",\"value\":\"v\"}]"));
        assert!(ok.started_at.is_some() && ok.finished_at.is_some());
        let fails = terminated(&done, "fails");
        assert!(fails.is_some_and(|t| t.exit_code == 3
            && t.reason.as_deref() == Some("Error")
            && t.message.as_deref() == Some("last words")));
        assert_eq!(condition(&done, "Initialized").as_deref(), Some("True"));
        assert_eq!(condition(&done, "Ready").as_deref(), Some("False"));
        assert_eq!(done.spec.as_ref().and_then(|s| s.node_name.as_deref()), Some("tkc-kubetest"));
        let lp = LogParams { container: Some("ok".into()), ..LogParams::default() };
        assert_eq!(pods.logs("share", &lp).await.ok().as_deref(), Some("hello from share, not $(LATER)\n"));
        // The kubelet's and the scheduler's events, found as kubectl describe finds them.
        let events: Api<k8s_openapi::api::core::v1::Event> = Api::default_namespaced(pods.clone().into_client());
        let listed = events.list(&ListParams::default().fields("involvedObject.name=share")).await;
        let reasons: Vec<String> = listed
            .map(|l| l.items.into_iter().filter_map(|e| e.reason).collect())
            .unwrap_or_default();
        assert_eq!(reasons, ["Scheduled", "Started", "Started", "Started"], "{reasons:?}");
        // Two containers and no `container`: 400, as the API server says.
        let e = pods.logs("share", &LogParams::default()).await.err().map(common::api_error);
        assert_eq!(
            e,
            Some((400, "BadRequest".into(), "a container name must be specified for pod share, choose one of: [ok fails] or one of the init containers: [init]".into()))
        );
    })
    .await;
}

/// A symlink one container leaves in a shared volume does not take a later `subPath` mount
/// out of the volume (the kubelet's subpath checks).
#[tokio::test]
async fn sub_path_stays_inside_its_volume() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(json!({"metadata": {"name": "escape"}, "spec": {"restartPolicy": "Never",
            "volumes": [{"name": "data", "emptyDir": {}}],
            "initContainers": [{"name": "link", "image": "x", "command": ["ln", "-s", "/", "/data/out"],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "containers": [{"name": "c", "image": "x", "command": ["touch", "/host/owned"],
                "volumeMounts": [{"name": "data", "mountPath": "/host", "subPath": "out"}]}]}}));
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        let stuck = wait_pod(&pods, "escape", |p| {
            p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).is_some_and(|cs| {
                cs.iter().any(|c| c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()) == Some("CreateContainerConfigError"))
            })
        })
        .await;
        assert_ne!(phase(&stuck), "Succeeded");
        assert!(!std::path::Path::new("/owned").exists());
    })
    .await;
}

#[tokio::test]
async fn logs_follow_with_timestamps() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(
            json!({"metadata": {"name": "talk"}, "spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "x",
                "command": ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.2; done"]}]}}),
        );
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        wait_pod(&pods, "talk", |p| phase(p) != "Pending").await;
        let lp = LogParams {
            follow: true,
            timestamps: true,
            ..LogParams::default()
        };
        let Ok(stream) = pods.log_stream("talk", &lp).await else {
            panic!("log stream")
        };
        let lines: Vec<String> = stream.lines().try_collect().await.unwrap_or_default();
        assert_eq!(lines.len(), 3, "{lines:?}");
        for (n, line) in lines.iter().enumerate() {
            let (ts, text) = line.split_once(' ').unwrap_or_default();
            assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
            assert_eq!(text, format!("line {}", n + 1));
        }
        // `sinceTime`: from the second line's own timestamp on.
        let since = lines[1]
            .split_once(' ')
            .map(|(ts, _)| ts.to_string())
            .unwrap_or_default();
        let req = http::Request::get(format!(
            "/api/v1/namespaces/default/pods/talk/log?sinceTime={since}"
        ))
        .body(Vec::new());
        let Ok(req) = req else { panic!("request") };
        let client = pods.clone().into_client();
        assert_eq!(
            client.request_text(req).await.ok().as_deref(),
            Some("line 2\nline 3\n")
        );
        let previous = LogParams {
            previous: true,
            ..LogParams::default()
        };
        let e = pods
            .logs("talk", &previous)
            .await
            .err()
            .map(common::api_error);
        assert!(e.is_some_and(|(code, _, _)| code == 400));
        let tail = LogParams {
            tail_lines: Some(1),
            ..LogParams::default()
        };
        assert_eq!(
            pods.logs("talk", &tail).await.ok().as_deref(),
            Some("line 3\n")
        );
    })
    .await;
}

#[tokio::test]
async fn active_deadline_fails_the_pod() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(
            json!({"metadata": {"name": "slow"}, "spec": {"restartPolicy": "Never",
            "activeDeadlineSeconds": 1, "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "x", "command": ["sleep", "60"]}]}}),
        );
        let start = Instant::now();
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        let done = wait_pod(&pods, "slow", finished).await;
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(phase(&done), "Failed");
        let status = done.status.clone().unwrap_or_default();
        assert_eq!(status.reason.as_deref(), Some("DeadlineExceeded"));
        assert!(terminated(&done, "c").is_some_and(|t| t.exit_code != 0));
    })
    .await;
}

#[tokio::test]
async fn delete_sends_sigterm_then_sigkill_after_the_grace_period() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(json!({"metadata": {"name": "term"}, "spec": {
        "terminationGracePeriodSeconds": 2,
        "containers": [
            {"name": "polite", "image": "x", "command": ["sh", "-c",
                "trap 'echo got TERM; exit 7' TERM; echo up; while true; do sleep 0.05; done"]},
            {"name": "stubborn", "image": "x", "command": ["sh", "-c",
                "trap '' TERM; echo up; while true; do sleep 0.05; done"]}
        ]}}));
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        let running = wait_pod(&pods, "term", |p| {
            condition(p, "Ready").as_deref() == Some("True")
        })
        .await;
        // Both shells have trapped before the delete.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rv = running.resource_version().unwrap_or_default();
        let Ok(events) = pods
            .watch(&WatchParams::default().fields("metadata.name=term"), &rv)
            .await
        else {
            panic!("watch")
        };
        let start = Instant::now();
        let deleted = pods.delete("term", &DeleteParams::default()).await;
        assert!(deleted.is_ok_and(|d| {
            d.left()
                .is_some_and(|p| p.metadata.deletion_timestamp.is_some())
        }));
        let mut events = Box::pin(events);
        let mut last = None;
        while let Some(Ok(e)) = events.next().await {
            match e {
                WatchEvent::Modified(p) => last = Some(p),
                WatchEvent::Deleted(p) => {
                    last = Some(p);
                    break;
                }
                _ => {}
            }
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
            "{took:?}"
        );
        let Some(last) = last else {
            panic!("no DELETED event")
        };
        assert_eq!(terminated(&last, "polite").map(|t| t.exit_code), Some(7));
        assert_eq!(
            terminated(&last, "stubborn").map(|t| t.exit_code),
            Some(137)
        );
        assert!(pods.get_opt("term").await.is_ok_and(|p| p.is_none()));
    })
    .await;
}

#[tokio::test]
async fn downward_annotation_updates_live() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(json!({"metadata": {"name": "gate", "labels": {"app": "x"}}, "spec": {"restartPolicy": "Never",
            "volumes": [{"name": "downward", "downwardAPI": {"items": [
                {"path": "ready", "fieldRef": {"fieldPath": "metadata.annotations['tekton.dev/ready']"}},
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}],
            "containers": [{"name": "c", "image": "x",
                "command": ["sh", "-c", "until [ -s /d/ready ]; do sleep 0.02; done; cat /d/ready /d/labels > /dev/termination-log"],
                "volumeMounts": [{"name": "downward", "mountPath": "/d"}]}]}}));
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        wait_pod(&pods, "gate", |p| phase(p) == "Running").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(phase(&wait_pod(&pods, "gate", |_| true).await), "Running", "gated until the patch");
        let patch = json!({"metadata": {"annotations": {"tekton.dev/ready": "READY"}}});
        assert!(pods.patch("gate", &PatchParams::default(), &Patch::Strategic(&patch)).await.is_ok());
        let done = wait_pod(&pods, "gate", finished).await;
        assert_eq!(phase(&done), "Succeeded");
        assert_eq!(terminated(&done, "c").and_then(|t| t.message).as_deref(), Some("READYapp=\"x\""));
    })
    .await;
}

#[tokio::test]
async fn claims_outlive_pods_and_gate_scheduling() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client.clone());
        let pvcs: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
        let using = |name: &str, script: &str| {
            pod(json!({"metadata": {"name": name}, "spec": {"restartPolicy": "Never",
                "volumes": [{"name": "ws", "persistentVolumeClaim": {"claimName": "claim"}}],
                "containers": [{"name": "c", "image": "x", "command": ["sh", "-c", script],
                    "volumeMounts": [{"name": "ws", "mountPath": "/workspace/ws", "subPath": "sub"}]}]}}))
        };
        assert!(pods.create(&PostParams::default(), &using("writer", "echo kept > /workspace/ws/f")).await.is_ok());
        let pending = wait_pod(&pods, "writer", |p| condition(p, "PodScheduled").is_some()).await;
        assert_eq!(phase(&pending), "Pending");
        assert_eq!(condition(&pending, "PodScheduled").as_deref(), Some("False"));
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "claim"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
        .unwrap_or_default();
        assert!(pvcs.create(&PostParams::default(), &claim).await.is_ok());
        let written = wait_pod(&pods, "writer", finished).await;
        let logs = pods.logs("writer", &LogParams::default()).await;
        assert_eq!(phase(&written), "Succeeded", "{logs:?}");
        assert!(pods.delete("writer", &DeleteParams::default()).await.is_ok());
        assert!(pods.create(&PostParams::default(), &using("reader", "cat /workspace/ws/f > /dev/termination-log")).await.is_ok());
        let read = wait_pod(&pods, "reader", finished).await;
        assert_eq!(terminated(&read, "c").and_then(|t| t.message).as_deref(), Some("kept\n"));
    })
    .await;
}

/// A pod whose nodeSelector the node does not satisfy stays Pending, Unschedulable.
#[tokio::test]
async fn node_selectors_are_matched_against_the_node() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let selected = |name: &str, os: &str| {
            pod(
                json!({"metadata": {"name": name}, "spec": {"restartPolicy": "Never",
                "nodeSelector": {"kubernetes.io/os": os},
                "containers": [{"name": "c", "image": "x", "command": ["true"]}]}}),
            )
        };
        assert!(
            pods.create(&PostParams::default(), &selected("linux", "linux"))
                .await
                .is_ok()
        );
        assert!(
            pods.create(&PostParams::default(), &selected("windows", "windows"))
                .await
                .is_ok()
        );
        assert_eq!(
            phase(&wait_pod(&pods, "linux", finished).await),
            "Succeeded"
        );
        let stuck = wait_pod(&pods, "windows", |p| condition(p, "PodScheduled").is_some()).await;
        assert_eq!(condition(&stuck, "PodScheduled").as_deref(), Some("False"));
        assert_eq!(phase(&stuck), "Pending");
    })
    .await;
}

#[tokio::test]
async fn config_maps_and_secrets_as_files_and_env() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
        let secrets: Api<Secret> = Api::default_namespaced(client.clone());
        let pods: Api<Pod> = Api::default_namespaced(client.clone());
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "cfg"},
            "data": {"greeting": "hi"}, "binaryData": {"tool": "IyEvYmluL3NoCmVjaG8gdG9vbAo="}}))
        .unwrap_or_default();
        let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "creds"},
            "stringData": {"token": "s3cret"}})).unwrap_or_default();
        assert!(cms.create(&PostParams::default(), &cm).await.is_ok());
        assert!(secrets.create(&PostParams::default(), &secret).await.is_ok());
        let p = pod(json!({"metadata": {"name": "files"}, "spec": {"restartPolicy": "Never",
            "volumes": [
                {"name": "bin", "configMap": {"name": "cfg", "defaultMode": 0o755, "items": [{"key": "tool", "path": "tool"}]}},
                {"name": "sec", "secret": {"secretName": "creds", "items": [{"key": "token", "path": "t", "mode": 0o400}]}}
            ],
            "containers": [{"name": "c", "image": "x", "workingDir": "/usr/local/kubetest-workdir",
                "command": ["sh", "-c", "/bin-cm/tool; stat -L -c %a /bin-cm/tool /sec/t; cat /sec/t; echo; echo $greeting $TOKEN; pwd; touch /bin-cm/x 2>/dev/null || echo read-only"],
                "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}],
                "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": ""}],
                "volumeMounts": [{"name": "bin", "mountPath": "/bin-cm"}, {"name": "sec", "mountPath": "/sec"}]}]}}));
        let Ok(_) = pods.create(&PostParams::default(), &p).await else { panic!("create") };
        let done = wait_pod(&pods, "files", finished).await;
        let logs = pods.logs("files", &LogParams::default()).await.unwrap_or_default();
        assert_eq!(phase(&done), "Succeeded", "{logs}");
        assert_eq!(logs, "tool\n755\n400\ns3cret\nhi s3cret\n/usr/local/kubetest-workdir\nread-only\n");
    })
    .await;
}

/// Deleting an owner stops the pods it owns: in the background, or in the foreground, where
/// the owner stays (deletionTimestamp, `foregroundDeletion`) until its pods are gone.
#[tokio::test]
async fn deleting_an_owner_stops_its_pods() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
        let pods: Api<Pod> = Api::default_namespaced(client.clone());
        for policy in [
            kube::api::PropagationPolicy::Background,
            kube::api::PropagationPolicy::Foreground,
        ] {
            let owner: ConfigMap =
                serde_json::from_value(json!({"metadata": {"name": "run"}})).unwrap_or_default();
            let Ok(owner) = cms.create(&PostParams::default(), &owner).await else {
                panic!("owner")
            };
            let refs = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "run",
                "uid": owner.uid().unwrap_or_default(), "blockOwnerDeletion": true}]);
            let p = pod(
                json!({"metadata": {"name": "owned", "ownerReferences": refs},
                "spec": {"terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "c", "image": "x", "command": ["sleep", "60"]}]}}),
            );
            assert!(pods.create(&PostParams::default(), &p).await.is_ok());
            wait_pod(&pods, "owned", |p| phase(p) == "Running").await;
            let dp = DeleteParams {
                propagation_policy: Some(policy.clone()),
                ..DeleteParams::default()
            };
            assert!(cms.delete("run", &dp).await.is_ok());
            if policy == kube::api::PropagationPolicy::Foreground {
                let held = cms.get("run").await;
                assert!(held.is_ok_and(|o| o.metadata.deletion_timestamp.is_some()
                    && o.finalizers().iter().any(|f| f == "foregroundDeletion")));
            }
            while pods.get_opt("owned").await.ok().flatten().is_some() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            while cms.get_opt("run").await.ok().flatten().is_some() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn eviction_and_a_container_without_command() {
    let images = [(
        "tkc.dev/echo".to_string(),
        tkc_kubetest::ImageConfig {
            entrypoint: vec!["echo".into()],
            cmd: vec!["from the image cmd".into()],
        },
    )];
    let (server, client) = server_with(Options {
        images: images.into(),
        ..Options::default()
    })
    .await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(
            json!({"metadata": {"name": "victim"}, "spec": {"terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "x", "command": ["sleep", "60"]}]}}),
        );
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        wait_pod(&pods, "victim", |p| phase(p) == "Running").await;
        assert!(server.evict("default", "victim"));
        let done = wait_pod(&pods, "victim", finished).await;
        assert_eq!(phase(&done), "Failed");
        assert_eq!(
            done.status.and_then(|s| s.reason).as_deref(),
            Some("Evicted")
        );

        let p = pod(json!({"metadata": {"name": "nocmd"}, "spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "alpine"},
                           {"name": "known", "image": "tkc.dev/echo"},
                           {"name": "known-args", "image": "tkc.dev/echo", "args": ["own", "args"]}]}}));
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        let stuck = wait_pod(&pods, "nocmd", |p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.state
                            .as_ref()
                            .and_then(|s| s.waiting.as_ref())
                            .and_then(|w| w.reason.as_deref())
                            == Some("CreateContainerError")
                    })
                })
        })
        .await;
        assert_eq!(phase(&stuck), "Pending", "a container that cannot start keeps the pod Pending");
        // Images the kubelet was told about (Options::images) run their entrypoint and cmd.
        let lp = |c: &str| LogParams { container: Some(c.into()), ..LogParams::default() };
        let done = wait_pod(&pods, "nocmd", |p| terminated(p, "known-args").is_some() && terminated(p, "known").is_some()).await;
        assert_eq!(terminated(&done, "known").map(|t| t.exit_code), Some(0));
        assert_eq!(pods.logs("nocmd", &lp("known")).await.ok().as_deref(), Some("from the image cmd\n"));
        assert_eq!(pods.logs("nocmd", &lp("known-args")).await.ok().as_deref(), Some("own args\n"));
    })
    .await;
}

#[tokio::test]
async fn a_delayed_kubelet_leaves_pods_unscheduled_for_a_while() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        server.delay_kubelet(Duration::from_millis(700));
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(
            json!({"metadata": {"name": "late"}, "spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "x", "command": ["true"]}]}}),
        );
        let start = Instant::now();
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let early = pods.get("late").await;
        assert!(early.is_ok_and(|p| p.spec.and_then(|s| s.node_name).is_none()));
        assert_eq!(phase(&wait_pod(&pods, "late", finished).await), "Succeeded");
        assert!(start.elapsed() >= Duration::from_millis(700));
    })
    .await;
}

/// Stopping the server kills what its kubelet started: nothing outlives it.
#[tokio::test]
async fn nothing_outlives_the_server() {
    let (server, client) = server_with(Options::default()).await;
    if !can_run_pods(&server) {
        return;
    }
    let marker = format!("kubetest-marker-{}", std::process::id());
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(json!({"metadata": {"name": "forever"}, "spec": {
            "containers": [{"name": "c", "image": "x", "command": ["sh", "-c", format!("sleep 1000; echo {marker}")]}]}}));
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        wait_pod(&pods, "forever", |p| phase(p) == "Running").await;
        // Running is reported once the process is forked; its command line follows its exec.
        while pids_with(&marker).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let list = pods.list(&ListParams::default()).await;
        assert!(list.is_ok_and(|l| l.items.len() == 1));
        server.stop().await;
        let start = Instant::now();
        while !pids_with(&marker).is_empty() {
            assert!(start.elapsed() < Duration::from_secs(5), "left behind: {:?}", pids_with(&marker));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Processes whose command line mentions `marker`.
fn pids_with(marker: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| *pid != me)
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether container `name` of the pod is ready.
fn ready(p: &Pod, name: &str) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|all| all.iter().find(|c| c.name == name))
        .is_some_and(|c| c.ready)
}

/// An HTTP server for probes, in the test: `/ok` answers 200, anything else 500.
async fn probe_target() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
        panic!("bind")
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let status = if request.starts_with("GET /ok ")
                    && request.contains("User-Agent: kube-probe/")
                {
                    "200 OK"
                } else {
                    "500 Internal Server Error"
                };
                let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

/// Readiness probes as the kubelet's prober runs them: a container with a probe is not ready
/// until the probe passes (exec in the container's sandbox, httpGet, tcpSocket on a named
/// port), not before `initialDelaySeconds`, and not ready again after `failureThreshold`
/// failures in a row; the pod's `ContainersReady`/`Ready` conditions name the unready ones; a
/// failing probe is an `Unhealthy` event; a container without a probe is ready once it runs.
#[tokio::test]
async fn readiness_probes_follow_the_kubelets_prober() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(60, async {
        let port = probe_target().await;
        let pods: Api<Pod> = Api::default_namespaced(client);
        let sleeper = |name: &str, probe: serde_json::Value| {
            json!({"name": name, "image": "x", "command": ["sleep", "60"],
                "ports": [{"name": "svc", "containerPort": port}], "readinessProbe": probe})
        };
        let p = pod(json!({"metadata": {"name": "probed"}, "spec": {"restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {"name": "exec", "image": "x", "env": [{"name": "FILE", "value": "/tmp/up"}],
                    "command": ["sh", "-c", "sleep 0.5; touch /tmp/up; sleep 2; rm /tmp/up; sleep 60"],
                    "readinessProbe": {"exec": {"command": ["test", "-f", "$(FILE)"]},
                        "periodSeconds": 1, "failureThreshold": 2}},
                sleeper("http", json!({"httpGet": {"path": "/ok", "port": port},
                    "initialDelaySeconds": 2, "periodSeconds": 1})),
                sleeper("tcp", json!({"tcpSocket": {"port": "svc"}, "periodSeconds": 1})),
                sleeper("bad", json!({"httpGet": {"path": "/bad", "port": port}, "periodSeconds": 1})),
                {"name": "none", "image": "x", "command": ["sleep", "60"]},
            ]}}));
        let created = Instant::now();
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        // Running, and ready only where no probe stands in the way yet.
        let running = wait_pod(&pods, "probed", |p| phase(p) == "Running" && ready(p, "none")).await;
        assert!(!ready(&running, "http"));
        assert!(!ready(&running, "bad"));
        wait_pod(&pods, "probed", |p| ready(p, "exec")).await;
        wait_pod(&pods, "probed", |p| ready(p, "http")).await;
        assert!(created.elapsed() >= Duration::from_secs(2), "initialDelaySeconds: 2");
        let up = wait_pod(&pods, "probed", |p| ready(p, "tcp") && ready(p, "http")).await;
        assert!(!ready(&up, "bad"));
        let conditions = |p: &Pod, kind: &str| {
            p.status.as_ref().and_then(|s| s.conditions.as_ref()).and_then(|cs| {
                cs.iter().find(|c| c.type_ == kind).map(|c| (c.status.clone(), c.message.clone()))
            })
        };
        let msg = Some("containers with unready status: [bad]".to_string());
        assert_eq!(conditions(&up, "ContainersReady"), Some(("False".into(), msg.clone())));
        assert_eq!(conditions(&up, "Ready"), Some(("False".into(), msg)));
        // The file is gone 2.5 s in: two failures a second apart make the container unready.
        let down = wait_pod(&pods, "probed", |p| !ready(p, "exec")).await;
        assert!(created.elapsed() >= Duration::from_millis(3500), "failureThreshold: 2");
        assert_eq!(phase(&down), "Running");
        let events: Api<k8s_openapi::api::core::v1::Event> = Api::default_namespaced(pods.clone().into_client());
        let listed = events.list(&ListParams::default().fields("involvedObject.name=probed")).await;
        let unhealthy: Vec<String> = listed
            .map(|l| l.items.into_iter().filter(|e| e.reason.as_deref() == Some("Unhealthy"))
                .filter_map(|e| e.message).collect())
            .unwrap_or_default();
        assert!(
            unhealthy.iter().any(|m| m == "Readiness probe failed: HTTP probe failed with statuscode: 500"),
            "{unhealthy:?}"
        );
        let _ = pods.delete("probed", &DeleteParams::default()).await;
    })
    .await;
}

/// A line of 200 KB is logged and served whole, though neither the kubelet nor `pods/log`
/// ever holds it whole (CRI partial records of 16 KiB, read a chunk at a time): plain,
/// followed, its tail and `limitBytes`.
#[tokio::test]
async fn a_long_line_is_logged_whole() {
    let (server, client) = server().await;
    if !can_run_pods(&server) {
        return;
    }
    bounded(30, async {
        let pods: Api<Pod> = Api::default_namespaced(client);
        let p = pod(
            json!({"metadata": {"name": "long"}, "spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "x", "command": ["sh", "-c",
                "head -c 200000 /dev/zero | tr '\\0' x; echo; echo end"]}]}}),
        );
        assert!(pods.create(&PostParams::default(), &p).await.is_ok());
        let follow = LogParams {
            follow: true,
            ..LogParams::default()
        };
        let Ok(stream) = pods.log_stream("long", &follow).await else {
            panic!("log stream")
        };
        let lines: Vec<String> = stream.lines().try_collect().await.unwrap_or_default();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 200_000);
        assert!(lines[0].bytes().all(|b| b == b'x'));
        assert_eq!(lines[1], "end");
        wait_pod(&pods, "long", finished).await;
        let all = pods
            .logs("long", &LogParams::default())
            .await
            .unwrap_or_default();
        assert_eq!(all, format!("{}\nend\n", "x".repeat(200_000)));
        let tail = LogParams {
            tail_lines: Some(1),
            ..LogParams::default()
        };
        assert_eq!(
            pods.logs("long", &tail).await.ok().as_deref(),
            Some("end\n")
        );
        let limited = LogParams {
            limit_bytes: Some(5),
            ..LogParams::default()
        };
        assert_eq!(
            pods.logs("long", &limited).await.ok().as_deref(),
            Some("xxxxx")
        );
    })
    .await;
}
