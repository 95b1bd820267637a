//! The API as `kube::Client` sees it: create, get, list by label, watch (bookmarks, 410 after
//! a restart, resuming after dropped watches), patch, delete with propagation, injected
//! failures, and admission answering as the real API server does.
// Tests fail by panicking.
#![allow(clippy::panic)]

mod common;

use std::time::Duration;

use common::{api_error, bounded, server, server_with};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    PropagationPolicy, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;
use tkc_kubetest::Options;

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    match serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": name}}),
    ) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn create_get_list_by_label() {
    let (_server, client) = server().await;
    bounded(20, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        let pp = PostParams::default();
        for (name, labels) in [
            ("a", json!({"app": "tkc", "tier": "x"})),
            ("b", json!({"app": "tkc"})),
            ("c", json!({"app": "other", "tier": "y"})),
        ] {
            let created = cms.create(&pp, &cm(name, labels)).await;
            assert!(created.is_ok_and(|c| c.uid().is_some() && c.resource_version().is_some()));
        }
        let names = |l: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
            l.items.iter().map(|c| c.name_any()).collect()
        };
        for (selector, want) in [
            ("app=tkc", vec!["a", "b"]),
            ("tier in (x,y)", vec!["a", "c"]),
            ("!tier", vec!["b"]),
            ("app!=tkc,tier", vec!["c"]),
        ] {
            let got = cms
                .list(&ListParams::default().labels(selector))
                .await
                .map(names);
            assert_eq!(
                got.ok(),
                Some(want.iter().map(|s| s.to_string()).collect()),
                "{selector}"
            );
        }
        let by_name = cms
            .list(&ListParams::default().fields("metadata.name=b"))
            .await
            .map(names);
        assert_eq!(by_name.ok(), Some(vec!["b".to_string()]));
        let got = cms.get("a").await;
        assert!(got.is_ok_and(|c| c.data.is_some_and(|d| d["k"] == "a")));
        let missing = cms.get("zzz").await.err().map(api_error);
        assert_eq!(
            missing,
            Some((
                404,
                "NotFound".into(),
                "configmaps \"zzz\" not found".into()
            ))
        );
        let again = cms
            .create(&pp, &cm("a", json!({})))
            .await
            .err()
            .map(api_error);
        assert_eq!(
            again,
            Some((
                409,
                "AlreadyExists".into(),
                "configmaps \"a\" already exists".into()
            ))
        );
        // Pagination, as kubectl's `limit=500` and kube's pager use it.
        let page = cms.list(&ListParams::default().limit(2)).await;
        let Ok(page) = page else {
            panic!("list failed")
        };
        assert_eq!(page.items.len(), 2);
        let token = page.metadata.continue_.clone().unwrap_or_default();
        let rest = cms
            .list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .map(names);
        assert_eq!(rest.ok(), Some(vec!["c".to_string()]));
    })
    .await;
}

#[tokio::test]
async fn watch_streams_changes_and_bookmarks() {
    let (_server, client) = server().await;
    bounded(20, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        let Ok(list) = cms.list(&ListParams::default()).await else {
            panic!("list")
        };
        let rv = list.metadata.resource_version.unwrap_or_default();
        let rv_before: u64 = rv.parse().unwrap_or(u64::MAX);
        let stream = cms
            .watch(&WatchParams::default().labels("app=w"), &rv)
            .await;
        let Ok(stream) = stream else { panic!("watch") };
        let mut stream = Box::pin(stream);
        let _ = cms
            .create(&PostParams::default(), &cm("w1", json!({"app": "w"})))
            .await;
        let _ = cms
            .create(&PostParams::default(), &cm("other", json!({"app": "z"})))
            .await;
        let patch = json!({"metadata": {"annotations": {"x": "1"}}});
        let _ = cms
            .patch("w1", &PatchParams::default(), &Patch::Merge(&patch))
            .await;
        // Leaving the selector is a DELETED event for this watch.
        let relabel = json!({"metadata": {"labels": {"app": "gone"}}});
        let _ = cms
            .patch("w1", &PatchParams::default(), &Patch::Merge(&relabel))
            .await;
        // Bookmarks come every second (Options::bookmark_interval), whenever that falls.
        let mut seen = Vec::new();
        let mut bookmark = None;
        while seen.len() < 3 || bookmark.is_none() {
            match stream.try_next().await {
                Ok(Some(WatchEvent::Added(c))) => seen.push(format!("ADDED {}", c.name_any())),
                Ok(Some(WatchEvent::Modified(c))) => {
                    seen.push(format!("MODIFIED {}", c.name_any()))
                }
                Ok(Some(WatchEvent::Deleted(c))) => seen.push(format!("DELETED {}", c.name_any())),
                // The one that follows the three changes must carry a newer resourceVersion.
                Ok(Some(WatchEvent::Bookmark(b))) if seen.len() == 3 => {
                    bookmark = Some(b.metadata.resource_version)
                }
                Ok(Some(WatchEvent::Bookmark(_))) => {}
                other => panic!("unexpected: {other:?}"),
            }
        }
        let rv: u64 = bookmark.and_then(|b| b.parse().ok()).unwrap_or(0);
        assert!(
            rv > rv_before,
            "a bookmark carries a current resourceVersion"
        );
        assert_eq!(seen, ["ADDED w1", "MODIFIED w1", "DELETED w1"]);
    })
    .await;
}

#[tokio::test]
async fn watch_from_a_forgotten_version_is_gone_after_restart() {
    let (server, client) = server().await;
    bounded(30, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
        let _ = cms
            .create(&PostParams::default(), &cm("before", json!({})))
            .await;
        let Ok(list) = cms.list(&ListParams::default()).await else {
            panic!("list")
        };
        let old_rv = list.metadata.resource_version.unwrap_or_default();
        let _ = cms
            .create(&PostParams::default(), &cm("between", json!({})))
            .await;

        // kube's watcher resumes across the restart: it relists after the 410.
        let mut events =
            Box::pin(watcher(cms.clone(), watcher::Config::default()).applied_objects());
        let mut names = Vec::new();
        while names.len() < 2 {
            if let Ok(Some(c)) = events.try_next().await {
                names.push(c.name_any());
            }
        }
        let url = server.url();
        assert!(server.restart().await.is_ok());
        assert_eq!(server.url(), url, "the restarted server keeps its port");

        let stream = cms.watch(&WatchParams::default(), &old_rv).await;
        let Ok(stream) = stream else { panic!("watch") };
        let first = Box::pin(stream).next().await;
        match first {
            Some(Ok(WatchEvent::Error(status))) => {
                assert_eq!(status.code, 410);
                assert_eq!(status.reason, "Expired");
                assert!(status.message.starts_with("too old resource version"));
            }
            other => panic!("expected a 410 ERROR event, got {other:?}"),
        }
        let _ = cms
            .create(&PostParams::default(), &cm("after", json!({})))
            .await;
        loop {
            if let Ok(Some(c)) = events.try_next().await
                && c.name_any() == "after"
            {
                break;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn watchers_resume_after_dropped_watches() {
    let (server, client) = server_with(Options {
        bookmark_interval: Duration::from_millis(50),
        ..Options::default()
    })
    .await;
    bounded(20, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        let mut events =
            Box::pin(watcher(cms.clone(), watcher::Config::default()).applied_objects());
        let _ = cms
            .create(&PostParams::default(), &cm("one", json!({})))
            .await;
        loop {
            if let Ok(Some(c)) = events.try_next().await
                && c.name_any() == "one"
            {
                break;
            }
        }
        server.drop_watches();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = cms
            .create(&PostParams::default(), &cm("two", json!({})))
            .await;
        loop {
            if let Ok(Some(c)) = events.try_next().await
                && c.name_any() == "two"
            {
                break;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn patch_merge_and_strategic_on_annotations_and_labels() {
    let (_server, client) = server().await;
    bounded(20, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
        let _ = cms
            .create(&PostParams::default(), &cm("p", json!({"a": "1"})))
            .await;
        let pp = PatchParams::default();
        let merge =
            json!({"metadata": {"labels": {"a": null, "b": "2"}, "annotations": {"x": "1"}}});
        let r = cms.patch("p", &pp, &Patch::Merge(&merge)).await;
        assert!(
            r.is_ok_and(|c| c.labels().get("b").map(String::as_str) == Some("2")
                && !c.labels().contains_key("a"))
        );
        let strategic = json!({"metadata": {"annotations": {"tekton.dev/ready": "READY"}}});
        let r = cms.patch("p", &pp, &Patch::Strategic(&strategic)).await;
        assert!(r.is_ok_and(
            |c| c.annotations().get("tekton.dev/ready").map(String::as_str) == Some("READY")
                && c.annotations().contains_key("x")
        ));
        // A patch that adds a field no ConfigMap has is refused (strict field validation).
        let bogus = json!({"spec": {"nope": 1}});
        let e = cms
            .patch("p", &pp, &Patch::Merge(&bogus))
            .await
            .err()
            .map(api_error);
        assert_eq!(
            e,
            Some((
                400,
                "BadRequest".into(),
                "strict decoding error: unknown field \"spec\"".into()
            ))
        );
        // A stale resourceVersion in a patch conflicts.
        let stale = json!({"metadata": {"resourceVersion": "1", "labels": {"c": "3"}}});
        let e = cms
            .patch("p", &pp, &Patch::Merge(&stale))
            .await
            .err()
            .map(api_error);
        assert!(e.is_some_and(|(code, reason, _)| code == 409 && reason == "Conflict"));
    })
    .await;
}

/// kube's `Patch::Apply` (server-side apply, approximated): creates, then merges.
#[tokio::test]
async fn server_side_apply_creates_then_merges() {
    let (_server, client) = server().await;
    bounded(20, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        let pp = PatchParams::apply("tkc").force();
        let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"a": "1"}});
        let r = cms.patch("applied", &pp, &Patch::Apply(&first)).await;
        assert!(r.is_ok_and(|c| c.data.is_some_and(|d| d["a"] == "1")));
        let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "labels": {"x": "y"}}, "data": {"b": "2"}});
        let r = cms.patch("applied", &pp, &Patch::Apply(&second)).await;
        assert!(r.is_ok_and(|c| c.labels().contains_key("x") && c.data.is_some_and(|d| d.len() == 2)));
        let e = cms
            .patch("applied", &PatchParams::default(), &Patch::Apply(&second))
            .await
            .err()
            .map(api_error);
        assert!(e.is_some_and(|(code, _, m)| code == 400 && m.contains("fieldManager")), "apply needs a field manager");
    })
    .await;
}

#[tokio::test]
async fn delete_propagates_through_owner_references() {
    let (_server, client) = server().await;
    bounded(20, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
        let secrets: Api<Secret> = Api::default_namespaced(client.clone());
        let pp = PostParams::default();
        for policy in [None, Some(PropagationPolicy::Foreground), Some(PropagationPolicy::Orphan)] {
            let Ok(owner) = cms.create(&pp, &cm("owner", json!({}))).await else {
                panic!("create owner")
            };
            let owned = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                "uid": owner.uid().unwrap_or_default()}]);
            let dep: ConfigMap = serde_json::from_value(
                json!({"metadata": {"name": "dep", "ownerReferences": owned}}),
            )
            .unwrap_or_default();
            let sec: Secret = serde_json::from_value(
                json!({"metadata": {"name": "sec", "ownerReferences": owned}, "stringData": {"a": "b"}}),
            )
            .unwrap_or_default();
            assert!(cms.create(&pp, &dep).await.is_ok());
            assert!(secrets.create(&pp, &sec).await.is_ok());
            let dp = DeleteParams {
                propagation_policy: policy.clone(),
                ..DeleteParams::default()
            };
            assert!(cms.delete("owner", &dp).await.is_ok());
            assert!(cms.get("owner").await.is_err(), "{policy:?}");
            let left = cms.get_opt("dep").await.ok().flatten();
            let sec_left = secrets.get_opt("sec").await.ok().flatten();
            if policy == Some(PropagationPolicy::Orphan) {
                assert!(left.is_some_and(|d| d.owner_references().is_empty()));
                assert!(sec_left.is_some_and(|s| s.data.is_some_and(|d| d["a"].0 == b"b")));
                let _ = cms.delete("dep", &DeleteParams::default()).await;
                let _ = secrets.delete("sec", &DeleteParams::default()).await;
            } else {
                assert!(left.is_none() && sec_left.is_none(), "{policy:?}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn delete_collection_by_label() {
    let (_server, client) = server().await;
    bounded(20, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        for (name, run) in [("a", "one"), ("b", "one"), ("c", "two")] {
            assert!(
                cms.create(&PostParams::default(), &cm(name, json!({"run": run})))
                    .await
                    .is_ok()
            );
        }
        let gone = cms
            .delete_collection(
                &DeleteParams::default(),
                &ListParams::default().labels("run=one"),
            )
            .await;
        assert!(gone.is_ok_and(|g| g.left().is_some_and(|l| l.items.len() == 2)));
        let left = cms.list(&ListParams::default()).await;
        assert!(
            left.is_ok_and(|l| l.items.iter().map(|c| c.name_any()).collect::<Vec<_>>() == ["c"])
        );
    })
    .await;
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object() {
    let (_server, client) = server().await;
    bounded(20, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        let held: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
        )
        .unwrap_or_default();
        assert!(cms.create(&PostParams::default(), &held).await.is_ok());
        let deleted = cms.delete("held", &DeleteParams::default()).await;
        assert!(deleted.is_ok_and(|d| {
            d.left()
                .is_some_and(|c| c.metadata.deletion_timestamp.is_some())
        }));
        assert!(cms.get("held").await.is_ok(), "held by its finalizer");
        let release = json!({"metadata": {"finalizers": null}});
        assert!(
            cms.patch("held", &PatchParams::default(), &Patch::Merge(&release))
                .await
                .is_ok()
        );
        assert!(cms.get_opt("held").await.is_ok_and(|c| c.is_none()));
    })
    .await;
}

#[tokio::test]
async fn injected_create_failures() {
    let (server, client) = server().await;
    bounded(20, async {
        let cms: Api<ConfigMap> = Api::default_namespaced(client);
        server.fail_next_creates(1, 500);
        let e = cms
            .create(&PostParams::default(), &cm("f", json!({})))
            .await
            .err()
            .map(api_error);
        assert!(e.is_some_and(|(code, reason, _)| code == 500 && reason == "InternalError"));
        // kube retries a 429 (after its Retry-After): the create goes through the second time.
        server.fail_next_creates(1, 429);
        assert!(
            cms.create(&PostParams::default(), &cm("g", json!({})))
                .await
                .is_ok()
        );
        // Without retries, the 429 is what the client sees.
        server.fail_next_creates(1, 429);
        let req = http::Request::post("/api/v1/namespaces/default/configmaps")
            .header("content-type", "application/json")
            .body(br#"{"metadata":{"name":"h"}}"#.to_vec());
        let Ok(req) = req else { panic!("request") };
        let mut config = server.client_config();
        config.default_retry = false;
        let Ok(plain) = kube::Client::try_from(config) else {
            panic!("client")
        };
        let e = plain.request::<ConfigMap>(req).await.err().map(api_error);
        assert!(e.is_some_and(|(code, reason, _)| code == 429 && reason == "TooManyRequests"));
        assert!(
            cms.create(&PostParams::default(), &cm("f", json!({})))
                .await
                .is_ok()
        );
    })
    .await;
}

/// What the real API server answers, from `apiserver/pkg/endpoints/handlers` and
/// `pkg/apis/core/validation`: status code, reason and message.
#[tokio::test]
async fn admission_rejects_what_the_api_server_rejects() {
    let (_server, client) = server_with(Options {
        kubelet: false,
        ..Options::default()
    })
    .await;
    bounded(20, async {
        let ar = ApiResource::erase::<Pod>(&());
        let pods: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &ar);
        // kube's PostParams sends no fieldValidation: the test server's default is Strict.
        let strict = PostParams::default();
        let obj = |name: &str, spec: serde_json::Value| {
            DynamicObject::new(name, &ar).data(json!({"spec": spec}))
        };
        let container = json!({"name": "c", "image": "alpine", "command": ["true"]});
        let cases = [
            (
                obj("unknown", json!({"containers": [container], "bogus": true})),
                (400, "BadRequest", "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.bogus\""),
            ),
            (
                obj("nested", json!({"containers": [{"name": "c", "image": "a", "commmand": ["x"]}]})),
                (400, "BadRequest", "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.containers[0].commmand\""),
            ),
            (
                obj("required", json!({"containers": [{"image": "alpine"}]})),
                (422, "Invalid", "Pod \"required\" is invalid: spec.containers[0].name: Required value"),
            ),
            (
                obj("Bad_Name", json!({"containers": [container]})),
                (422, "Invalid", "Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
            ),
            (
                obj("dup", json!({"containers": [container, container]})),
                (422, "Invalid", "Pod \"dup\" is invalid: spec.containers[1].name: Duplicate value: \"c\""),
            ),
            (
                obj("mount", json!({"containers": [{"name": "c", "image": "a", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]})),
                (422, "Invalid", "Pod \"mount\" is invalid: spec.containers[0].volumeMounts[0].name: Not found: \"v\""),
            ),
        ];
        for (o, (code, reason, message)) in cases {
            let e = pods.create(&strict, &o).await.err().map(api_error);
            assert_eq!(e, Some((code, reason.into(), message.into())), "{}", o.name_any());
        }
        // A wrong type fails the decode: 400, with the field's path.
        let typed = obj("typed", json!({"containers": [container], "activeDeadlineSeconds": "ten"}));
        let e = pods.create(&strict, &typed).await.err().map(api_error);
        assert!(e.is_some_and(|(code, _, m)| code == 400 && m.contains("spec.activeDeadlineSeconds")));
        // Under `Warn` the unknown field is dropped and the pod created.
        let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "warned"},
            "spec": {"containers": [container], "bogus": true}});
        let req = http::Request::post("/api/v1/namespaces/default/pods?fieldValidation=Warn")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap_or_default());
        let Ok(req) = req else { panic!("request") };
        let created: Result<serde_json::Value, _> = client.request(req).await;
        assert!(created.is_ok_and(|p| p["spec"].get("bogus").is_none()));

        let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
        let big: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "big"},
            "data": {"a": "x".repeat(700 * 1024), "b": "y".repeat(400 * 1024)}}))
        .unwrap_or_default();
        let e = cms.create(&PostParams::default(), &big).await.err().map(api_error);
        assert_eq!(
            e,
            Some((422, "Invalid".into(), "ConfigMap \"big\" is invalid: []: Too long: must have at most 1048576 bytes".into()))
        );
        // Just under the limit is fine.
        let fits: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "fits"},
            "data": {"a": "x".repeat(1024 * 1024 - 10)}}))
        .unwrap_or_default();
        assert!(cms.create(&PostParams::default(), &fits).await.is_ok());
    })
    .await;
}

/// Tekton's Task as a custom resource: discovery names it, and it is created, read, listed,
/// patched and deleted as any object, kept as sent, with errors naming `tasks.tekton.dev`.
#[tokio::test]
async fn tekton_tasks_are_custom_resources() {
    let (_server, client) = server().await;
    bounded(20, async {
        let groups = client.list_api_groups().await;
        let group = groups.map(|g| g.groups.into_iter().find(|g| g.name == "tekton.dev"));
        let preferred = group
            .ok()
            .flatten()
            .and_then(|g| g.preferred_version)
            .map(|v| v.group_version);
        assert_eq!(preferred.as_deref(), Some("tekton.dev/v1"));
        let resources = client.list_api_group_resources("tekton.dev/v1").await;
        let names: Vec<String> = resources
            .map(|r| r.resources.into_iter().map(|r| r.name).collect())
            .unwrap_or_default();
        assert_eq!(names, ["tasks", "pipelines"]);

        let gvk = kube::api::GroupVersionKind::gvk("tekton.dev", "v1", "Task");
        let ar = ApiResource::from_gvk_with_plural(&gvk, "tasks");
        let tasks: Api<DynamicObject> = Api::namespaced_with(client.clone(), "team", &ar);
        let spec = json!({"steps": [{"name": "say", "image": "busybox", "script": "echo hi"}],
            "anything": {"kept": true}});
        let task = DynamicObject::new("hello", &ar).data(json!({ "spec": spec }));
        let created = tasks.create(&PostParams::default(), &task).await;
        assert!(created.is_ok_and(|t| t.uid().is_some() && t.data["spec"] == spec));
        let got = tasks.get("hello").await;
        assert!(got.is_ok_and(|t| t.types.is_some_and(|t| t.api_version == "tekton.dev/v1")));
        let listed = tasks.list(&ListParams::default()).await;
        assert!(listed.is_ok_and(|l| l.items.len() == 1));

        let merge = Patch::Merge(json!({"spec": {"description": "greets"}}));
        let patched = tasks.patch("hello", &PatchParams::default(), &merge).await;
        assert!(patched.is_ok_and(|t| t.data["spec"]["description"] == "greets"));
        let strategic = Patch::Strategic(json!({"spec": {"description": "x"}}));
        let refused = tasks
            .patch("hello", &PatchParams::default(), &strategic)
            .await;
        assert_eq!(refused.map_err(api_error).err().map(|e| e.0), Some(415));

        let wrong =
            DynamicObject::new("other", &ar).data(json!({"apiVersion": "tekton.dev/v1beta1"}));
        let mismatch = tasks.create(&PostParams::default(), &wrong).await;
        assert_eq!(
            mismatch.map_err(api_error).err().map(|e| (e.0, e.2)),
            Some((400, "the apiVersion of the provided object (tekton.dev/v1beta1) does not match the expected one (tekton.dev/v1)".into()))
        );
        // Tasks are served at v1 only.
        let beta = kube::api::GroupVersionKind::gvk("tekton.dev", "v1beta1", "Task");
        let beta = ApiResource::from_gvk_with_plural(&beta, "tasks");
        let beta: Api<DynamicObject> = Api::namespaced_with(client.clone(), "team", &beta);
        let unserved = beta.get("hello").await.map_err(api_error).err();
        assert_eq!(unserved.map(|e| e.0), Some(404));

        assert!(
            tasks
                .delete("hello", &DeleteParams::default())
                .await
                .is_ok()
        );
        let gone = tasks.get("hello").await.map_err(api_error).err();
        assert_eq!(
            gone,
            Some((
                404,
                "NotFound".into(),
                "tasks.tekton.dev \"hello\" not found".into()
            ))
        );
    })
    .await;
}
