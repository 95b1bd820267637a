//! `tkc_pods::build` through its API, as the kube backend calls it: values of the run fill
//! the references, options change the gate, errors are values.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use k8s_openapi::api::core::v1::{Container, Pod};
use std::collections::BTreeMap;
use tkc_compiler::lower::RunRequest;
use tkc_compiler::plan::{Binding, ParamValue, Plan, RunValue};
use tkc_compiler::source::SourceMap;
use tkc_pods::{
    Arch, AttemptInput, BuildError, EntrypointBinary, Identity, ImageConfig, Options, PodObjects,
    Resolve,
};

fn plan(yaml: &str, workspaces: Vec<(String, Binding)>) -> Plan {
    let mut sources = SourceMap::new();
    let file = sources.add("test.yaml", yaml);
    let request = RunRequest {
        workspaces,
        ..RunRequest::default()
    };
    let compiled = tkc_compiler::compile(
        &sources,
        &[file],
        &[],
        &request,
        &tkc_compiler::Options::default(),
    );
    compiled
        .plan
        .unwrap_or_else(|| panic!("no plan: {:?}", compiled.diagnostics))
}

/// The values a run knows: results of finished tasks, its context.
struct RunValues {
    results: BTreeMap<(String, String), ParamValue>,
    context: BTreeMap<String, String>,
}

impl Resolve for RunValues {
    fn value(&self, value: &RunValue) -> Option<ParamValue> {
        match value {
            RunValue::TaskResult { task, result, .. } => {
                self.results.get(&(task.clone(), result.clone())).cloned()
            }
            RunValue::Context { variable } => self
                .context
                .get(variable)
                .map(|v| ParamValue::String(v.clone())),
            _ => None,
        }
    }
}

fn identity(task_run: &str, retry: u32) -> Identity {
    Identity {
        run: "r".into(),
        run_uid: "0a1b2c3d".into(),
        namespace: "ns".into(),
        task_run: task_run.into(),
        retry,
    }
}

fn build(
    plan: &Plan,
    task: usize,
    id: &Identity,
    values: &dyn Resolve,
    options: &Options,
) -> Result<PodObjects, BuildError> {
    let binaries = [EntrypointBinary::unbuilt(Arch::Amd64)];
    tkc_pods::build(&AttemptInput {
        plan,
        task: &plan.tasks[task],
        identity: id,
        values,
        entrypoints: &binaries,
        options,
    })
}

fn step<'a>(pod: &'a Pod, name: &str) -> &'a Container {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == name))
        .unwrap_or_else(|| panic!("no container {name}"))
}

const PIPELINE: &str = r#"
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: r
spec:
  pipelineSpec:
    tasks:
      - name: produce
        taskSpec:
          results:
            - name: files
              type: array
          steps:
            - name: s
              image: alpine
              command: ["true"]
      - name: consume
        taskSpec:
          params:
            - name: files
              type: array
            - name: first
          steps:
            - name: s
              image: alpine
              command: ["ls"]
              args: ["$(params.files[*])", "$(params.first)", "$(context.taskRun.name)"]
        params:
          - name: files
            value: $(tasks.produce.results.files[*])
          - name: first
            value: $(tasks.produce.results.files[0])
"#;

#[test]
fn run_values_fill_references_and_arrays_splice() {
    let plan = plan(PIPELINE, Vec::new());
    let values = RunValues {
        results: BTreeMap::from([(
            ("produce".into(), "files".into()),
            ParamValue::Array(vec!["a".into(), "b".into()]),
        )]),
        context: BTreeMap::from([("taskRun.name".into(), "r-consume".into())]),
    };
    let objects = build(
        &plan,
        1,
        &identity("r-consume", 0),
        &values,
        &Options::default(),
    )
    .unwrap();
    let args = step(&objects.pod, "step-s")
        .args
        .clone()
        .unwrap_or_default();
    let tail: Vec<&str> = args
        .iter()
        .skip_while(|a| *a != "--")
        .map(String::as_str)
        .collect();
    assert_eq!(tail[..3], ["--", "a", "b"], "{args:?}");
    assert_eq!(tail.last(), Some(&"r-consume"));
    // Same input, same objects.
    let again = build(
        &plan,
        1,
        &identity("r-consume", 0),
        &values,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(objects, again);
}

#[test]
fn retries_and_the_readiness_gate() {
    let plan = plan(PIPELINE, Vec::new());
    let none = RunValues {
        results: BTreeMap::new(),
        context: BTreeMap::new(),
    };
    let gated = build(
        &plan,
        0,
        &identity("r-produce", 2),
        &none,
        &Options::default(),
    )
    .unwrap();
    let meta = &gated.pod.metadata;
    assert_eq!(meta.name.as_deref(), Some("r-produce-pod-retry2"));
    let labels = meta.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("tkc.dev/attempt").map(String::as_str), Some("2"));
    assert_eq!(
        labels.get("tekton.dev/pipelineTask").map(String::as_str),
        Some("produce")
    );
    assert!(meta.annotations.is_none());
    let args = step(&gated.pod, "step-s").args.clone().unwrap_or_default();
    assert_eq!(
        args[..3],
        ["-wait_file", "/tekton/downward/ready", "-wait_file_content"]
    );

    // No sidecars and none injected: Tekton's pod is born READY and nothing waits.
    let ungated = Options {
        injected_sidecars: false,
        ..Options::default()
    };
    let ready = build(&plan, 0, &identity("r-produce", 0), &none, &ungated).unwrap();
    let annotations = ready.pod.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.get("tekton.dev/ready").map(String::as_str),
        Some("READY")
    );
    let args = step(&ready.pod, "step-s").args.clone().unwrap_or_default();
    assert_eq!(args[0], "-post_file");
    let volumes = ready.pod.spec.and_then(|s| s.volumes).unwrap_or_default();
    assert!(!volumes.iter().any(|v| v.name == "tekton-internal-downward"));
}

#[test]
fn what_a_cluster_cannot_do_is_an_error() {
    let task = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: t
spec:
  workspaces:
    - name: src
  steps:
    - name: s
      image: alpine
      command: ["ls"]
"#;
    let none = RunValues {
        results: BTreeMap::new(),
        context: BTreeMap::new(),
    };
    let local = plan(
        task,
        vec![(
            "src".into(),
            Binding::Dir {
                path: "/home/me/src".into(),
            },
        )],
    );
    let err = build(&local, 0, &identity("t", 0), &none, &Options::default()).unwrap_err();
    assert!(matches!(err, BuildError::HostDirectory { .. }), "{err}");

    let fine = plan(task, vec![("src".into(), Binding::EmptyDir {})]);
    let id = identity("t", 0);
    let no_binary = tkc_pods::build(&AttemptInput {
        plan: &fine,
        task: &fine.tasks[0],
        identity: &id,
        values: &none,
        entrypoints: &[],
        options: &Options::default(),
    });
    assert_eq!(no_binary.unwrap_err(), BuildError::NoEntrypoint);

    let clash = task.replace(
        "  steps:",
        "  volumes:\n    - name: tekton-internal-home\n      emptyDir: {}\n  steps:",
    );
    let clash = plan(&clash, vec![("src".into(), Binding::EmptyDir {})]);
    let err = build(&clash, 0, &id, &none, &Options::default()).unwrap_err();
    assert_eq!(
        err,
        BuildError::DuplicateVolume("tekton-internal-home".into())
    );
}

/// A backend that knows images' configs (from their registry).
struct Registry;

impl Resolve for Registry {
    fn value(&self, _: &RunValue) -> Option<ParamValue> {
        None
    }

    fn image_config(&self, image: &str) -> Option<ImageConfig> {
        (image == "tool").then(|| ImageConfig {
            entrypoint: vec!["/bin/tool".into(), "--quiet".into()],
            cmd: vec!["help".into()],
        })
    }
}

#[test]
fn steps_without_command_run_the_image_entrypoint_when_the_backend_knows_it() {
    let task = r#"
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: t
spec:
  steps:
    - name: bare
      image: tool
    - name: with-args
      image: tool
      args: ["run"]
"#;
    let plan = plan(task, Vec::new());
    let objects = build(&plan, 0, &identity("t", 0), &Registry, &Options::default()).unwrap();
    let tail = |name: &str| -> Vec<String> {
        let args = step(&objects.pod, name).args.clone().unwrap_or_default();
        let at = args.iter().position(|a| a == "-entrypoint").unwrap();
        args[at..].to_vec()
    };
    // Tekton's imageInfo: Entrypoint + Cmd without args, Entrypoint + the step's args.
    assert_eq!(
        tail("step-bare"),
        ["-entrypoint", "/bin/tool", "--", "--quiet", "help"]
    );
    assert_eq!(
        tail("step-with-args"),
        ["-entrypoint", "/bin/tool", "--", "--quiet", "run"]
    );

    let none = RunValues {
        results: BTreeMap::new(),
        context: BTreeMap::new(),
    };
    let err = build(&plan, 0, &identity("t", 0), &none, &Options::default()).unwrap_err();
    assert!(matches!(err, BuildError::ImageEntrypoint { .. }), "{err}");
}
