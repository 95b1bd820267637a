//! Issue 17, item 2: names in a run never become host paths. Each test compiles a valid run,
//! then puts a traversal (`../..`) or an absolute path into one field of its plan, the way a
//! run the checks do not catch (or a future plan format) could, and runs it on the local
//! backend. The attempt must fail with a message naming the field, and nothing may appear
//! outside the run's directories.
//!
//! The entrypoint is `/bin/true`: nothing here needs a step to run, and a backend that let a
//! name through would have written its files before any step starts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tkc_compiler::lower::RunRequest;
use tkc_compiler::plan::{Binding, Plan, Template, WorkspaceSource};
use tkc_compiler::source::SourceMap;
use tkc_runtime::backend::local::{LocalBackend, LocalConfig};
use tkc_runtime::{EventSink, RunOptions, RunSummary};

/// A scratch directory: `run/` is the run directory, `state/` the state directory; every
/// escape lands elsewhere in it (or at an absolute path inside it).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tkc-paths-it-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("deep/er")).unwrap();
        Scratch(dir)
    }

    fn root(&self) -> PathBuf {
        self.0.join("deep/er/run")
    }

    /// Every path below the scratch directory whose name contains `escape`.
    fn escapes(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if e.file_name().to_string_lossy().contains("escape") {
                    out.push(p.clone());
                }
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&p, out);
                }
            }
        }
        let mut out = vec![];
        walk(&self.0, &mut out);
        out
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        tkc_runtime::backend::local::make_removable(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn plan_of(yaml: &str) -> Plan {
    let mut sources = SourceMap::new();
    let file = sources.add("run.yaml", yaml);
    let compiled = tkc_compiler::compile(
        &sources,
        &[file],
        &[],
        &RunRequest::default(),
        &Default::default(),
    );
    compiled.plan.expect("the fixture compiles")
}

fn run(
    scratch: &Scratch,
    plan: &Plan,
    secrets: BTreeMap<String, BTreeMap<String, String>>,
) -> RunSummary {
    let config = LocalConfig {
        entrypoint: PathBuf::from("/bin/true"),
        entrypoint_args: vec![],
        root: scratch.root(),
        state_dir: scratch.0.join("deep/er/state"),
        bwrap: None,
        network: false,
        allow_host_paths: false,
        secrets,
        env: vec![],
        engine: None,
        keep: false,
        workspaces_from: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (_cancel_tx, cancel) = tokio::sync::watch::channel(false);
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let options = RunOptions {
            name: plan.run.name.clone(),
            uid: "uid".into(),
            parallel: 1,
            cancel,
            partial: Default::default(),
        };
        tkc_runtime::run(
            plan,
            Arc::new(LocalBackend::new(config)),
            options,
            EventSink::new(tx),
        )
        .await
    })
}

/// The run failed, its message (or its task's) names `field`, and nothing escaped.
fn assert_refused(scratch: &Scratch, summary: &RunSummary, field: &str) {
    let messages: Vec<&str> = std::iter::once(summary.message.as_str())
        .chain(summary.tasks.iter().map(|t| t.message.as_str()))
        .collect();
    assert_eq!(summary.status, "Failed", "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains(field)),
        "no message names {field}: {messages:?}"
    );
    assert_eq!(scratch.escapes(), Vec::<PathBuf>::new(), "{field}");
}

const PIPELINE: &str = r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: p
spec:
  workspaces:
    - name: shared
      volumeClaimTemplate: {spec: {}}
  pipelineSpec:
    workspaces: [{name: shared}]
    tasks:
      - name: t
        workspaces: [{name: w, workspace: shared}]
        taskSpec:
          workspaces: [{name: w}]
          steps: [{name: s, image: alpine:3, script: "true"}]
"#;

const TASK_RUN: &str = r#"
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: tr
spec:
  workspaces:
    - name: w
      emptyDir: {}
  taskSpec:
    workspaces: [{name: w}]
    volumes: [{name: v, emptyDir: {}}]
    sidecars: [{name: side, image: alpine:3, script: "true"}]
    steps: [{name: s, image: alpine:3, script: "true"}]
"#;

#[test]
fn pipeline_and_binding_workspace_names() {
    let scratch = Scratch::new("run-ws");
    let mut plan = plan_of(PIPELINE);
    let evil = "../../escape-ws".to_string();
    plan.workspaces[0].name = evil.clone();
    for w in &mut plan.tasks[0].pod.workspaces {
        w.source = Some(WorkspaceSource::Run(evil.clone()));
    }
    let summary = run(&scratch, &plan, BTreeMap::new());
    assert_refused(&scratch, &summary, "workspace name");
}

#[test]
fn task_workspace_names() {
    let scratch = Scratch::new("task-ws");
    let mut plan = plan_of(TASK_RUN);
    plan.tasks[0].pod.workspaces[0].name = "../../../escape-task-ws".into();
    let summary = run(&scratch, &plan, BTreeMap::new());
    assert_refused(&scratch, &summary, "workspace name");
}

#[test]
fn volume_names() {
    let scratch = Scratch::new("volume");
    let mut plan = plan_of(TASK_RUN);
    plan.tasks[0].pod.volumes[0].name = "../../../escape-volume".into();
    let summary = run(&scratch, &plan, BTreeMap::new());
    assert_refused(&scratch, &summary, "volume name");
}

/// Sidecar names only ever name containers, never files: a traversal in one changes nothing
/// on the host (the run itself may succeed).
#[test]
fn sidecar_names() {
    let scratch = Scratch::new("sidecar");
    let mut plan = plan_of(TASK_RUN);
    plan.tasks[0].pod.sidecars[0].name = "../../../escape-sidecar".into();
    plan.tasks[0].pod.sidecars[0].container = "sidecar-../../../escape-sidecar".into();
    let _ = run(&scratch, &plan, BTreeMap::new());
    assert_eq!(scratch.escapes(), Vec::<PathBuf>::new());
}

#[test]
fn claim_names() {
    let scratch = Scratch::new("claim");
    let mut plan = plan_of(TASK_RUN);
    plan.tasks[0].pod.workspaces[0].source =
        Some(WorkspaceSource::Binding(Binding::PersistentVolumeClaim {
            claim_name: "../../escape-claim".into(),
            read_only: false,
        }));
    let summary = run(&scratch, &plan, BTreeMap::new());
    assert_refused(&scratch, &summary, "claimName");
}

fn with_config_map(plan: &mut Plan, data: &[(&str, &str)], items: Option<serde_json::Value>) {
    plan.config_maps.insert(
        "cm".into(),
        data.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    plan.tasks[0].pod.workspaces[0].source = Some(WorkspaceSource::Binding(Binding::ConfigMap {
        name: "cm".into(),
        items,
    }));
}

#[test]
fn config_map_keys() {
    let scratch = Scratch::new("cm-key");
    let mut plan = plan_of(TASK_RUN);
    with_config_map(&mut plan, &[("../../../escape-key", "x")], None);
    let summary = run(&scratch, &plan, BTreeMap::new());
    assert_refused(&scratch, &summary, "key");
}

#[test]
fn secret_keys() {
    let scratch = Scratch::new("secret-key");
    let mut plan = plan_of(TASK_RUN);
    plan.tasks[0].pod.workspaces[0].source = Some(WorkspaceSource::Binding(Binding::Secret {
        secret_name: "s".into(),
        items: None,
    }));
    let secrets = BTreeMap::from([(
        "s".to_string(),
        BTreeMap::from([("../../../escape-secret".to_string(), "x".to_string())]),
    )]);
    let summary = run(&scratch, &plan, secrets);
    assert_refused(&scratch, &summary, "key");
}

#[test]
fn item_paths_relative_and_absolute() {
    for (tag, path) in [
        ("rel", "../../../escape-item".to_string()),
        ("abs", String::new()),
    ] {
        let scratch = Scratch::new(&format!("item-{tag}"));
        let path = if path.is_empty() {
            scratch
                .0
                .join("escape-absolute")
                .to_string_lossy()
                .into_owned()
        } else {
            path
        };
        let mut plan = plan_of(TASK_RUN);
        let items = serde_json::json!([{"key": "a", "path": path}]);
        with_config_map(&mut plan, &[("a", "x")], Some(items));
        let summary = run(&scratch, &plan, BTreeMap::new());
        assert_refused(&scratch, &summary, "items[].path");
    }
}

#[test]
fn volume_item_paths() {
    let scratch = Scratch::new("vol-item");
    let mut plan = plan_of(TASK_RUN);
    plan.config_maps
        .insert("cm".into(), BTreeMap::from([("a".into(), "x".into())]));
    let abs = scratch.0.join("escape-volume-item");
    plan.tasks[0].pod.volumes[0].source = serde_json::json!({
        "configMap": {"name": "cm", "items": [{"key": "a", "path": abs.to_string_lossy()}]}
    });
    let summary = run(&scratch, &plan, BTreeMap::new());
    assert_refused(&scratch, &summary, "items[].path");
}

#[test]
fn sub_paths_of_task_and_run_bindings() {
    for (tag, sub) in [("rel", "../../../escape-sub"), ("abs", "/escape-abs-sub")] {
        let scratch = Scratch::new(&format!("sub-{tag}"));
        let mut plan = plan_of(PIPELINE);
        plan.workspaces[0].sub_path = Some(sub.to_string());
        plan.tasks[0].pod.workspaces[0].sub_path = Some(Template::Text(sub.to_string()));
        let summary = run(&scratch, &plan, BTreeMap::new());
        assert_refused(&scratch, &summary, "subPath");
    }
}

/// A directory a step left behind as a link (a claim outlives its run) is never followed
/// when a later run's `subPath` goes through it.
#[test]
fn sub_paths_do_not_follow_links_left_in_a_claim() {
    let scratch = Scratch::new("sub-link");
    let claim = scratch.0.join("deep/er/state/claims/data");
    std::fs::create_dir_all(&claim).unwrap();
    std::fs::create_dir_all(scratch.0.join("outside")).unwrap();
    std::os::unix::fs::symlink(scratch.0.join("outside"), claim.join("link")).unwrap();
    let mut plan = plan_of(TASK_RUN);
    let w = &mut plan.tasks[0].pod.workspaces[0];
    w.source = Some(WorkspaceSource::Binding(Binding::PersistentVolumeClaim {
        claim_name: "data".into(),
        read_only: false,
    }));
    w.sub_path = Some(Template::Text("link/escape-through-link".into()));
    let summary = run(&scratch, &plan, BTreeMap::new());
    assert_refused(&scratch, &summary, "subPath");
}
