//! A Pipeline checked alone gets its bindings checked against Tasks that live in other files
//! (search paths, given to `check` as library files); findings inside those files are not
//! reported.

use tkc_compiler::source::SourceMap;
use tkc_compiler::{Options, check};

const TASK: &str = "\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: build
spec:
  params:
    - name: image
    - name: unused
      default: x
  results:
    - name: digest
  workspaces:
    - name: source
  steps:
    - name: build
      image: alpine:3.20
      args: [\"$(params.image)\", \"$(params.nope)\"]
      script: echo -n x > $(results.digest.path)
";

const PIPELINE: &str = "\
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: release
spec:
  workspaces:
    - name: shared
  tasks:
    - name: build
      taskRef:
        name: build
      workspaces:
        - name: source
          workspace: shared
    - name: deploy
      taskRef:
        name: build
      params:
        - name: image
          value: $(tasks.build.results.digst)
      workspaces:
        - name: source
          workspace: shared
";

fn codes(
    sources: &SourceMap,
    files: &[tkc_compiler::source::FileId],
    library: &[tkc_compiler::source::FileId],
) -> Vec<String> {
    let result = check(sources, files, library, &Options::default());
    result
        .diagnostics
        .into_vec()
        .into_iter()
        .map(|d| {
            format!(
                "{}:{}",
                sources
                    .get(d.primary_span().map_or_else(Default::default, |s| s.file))
                    .name(),
                d.code.name
            )
        })
        .collect()
}

#[test]
fn bindings_use_tasks_from_library_files() {
    let mut sources = SourceMap::new();
    let pipeline = sources.add("pipeline.yaml", PIPELINE);
    let task = sources.add("tasks/build.yaml", TASK);
    let found = codes(&sources, &[pipeline], &[task]);
    assert_eq!(
        found,
        [
            "pipeline.yaml:tkc::params::missing",
            "pipeline.yaml:tkc::results::unknown-task-result",
        ],
        "{found:?}"
    );
}

#[test]
fn without_the_library_the_task_is_not_found_and_bindings_are_skipped() {
    let mut sources = SourceMap::new();
    let pipeline = sources.add("pipeline.yaml", PIPELINE);
    let found = codes(&sources, &[pipeline], &[]);
    assert!(
        found
            .iter()
            .all(|c| !c.contains("params::") && !c.contains("results::")),
        "{found:?}"
    );
}
