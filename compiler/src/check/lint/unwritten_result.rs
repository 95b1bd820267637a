//! Task results no step writes.

use crate::check::{Checker, refs, task_specs, task_strings};
use crate::declare_code;
use crate::diag::Diagnostic;
use crate::vars::RefKind;
use std::collections::HashSet;

declare_code! {
    /// # A Task result that no step writes
    ///
    /// A Task result is reported when some step writes the file `$(results.<name>.path)`
    /// (`/tekton/results/<name>`), or when the result takes its `value` from a step result.
    /// No step of this Task refers to that path, so unless the image writes the file on its
    /// own the result is missing when the TaskRun ends, and a pipeline task that uses it
    /// fails (`InvalidTaskResultReference` / `Results were missing`).
    ///
    /// A warning, not an error: an image's own program may write the file without the Task
    /// saying so. Tasks whose steps run StepActions are not checked.
    ///
    /// ## Example
    /// ```yaml
    /// results:
    ///   - name: digest
    /// steps:
    ///   - script: echo -n "$DIGEST" > $(results.digest.path)
    /// ```
    pub static UNWRITTEN_RESULT = "tkc::lint::unwritten-result", Warning;
}

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for task in task_specs(world) {
        let spec = task.spec;
        if spec.results.is_empty() || spec.steps.iter().any(|s| s.r#ref.is_some()) {
            continue;
        }
        let mut written: HashSet<String> = HashSet::new();
        let mut dynamic = false;
        let mut literal_text = String::new();
        for s in task_strings(spec) {
            if s.text.text.contains("/tekton/results") {
                literal_text.push_str(s.text.text);
                literal_text.push('\n');
            }
            if !s.text.text.contains("$(") {
                continue;
            }
            for (r, _) in &refs(world, s.text) {
                if let RefKind::ResultPath { result } = &r.kind {
                    if result.contains(['$', '{', '`']) {
                        dynamic = true;
                    }
                    written.insert(result.clone());
                }
            }
        }
        // A script that builds the path (`$(results.digest-${i}.path)`, a loop over
        // /tekton/results) may write any of them.
        if dynamic
            || literal_text.contains("/tekton/results/$")
            || literal_text.contains("/tekton/results/\"")
        {
            continue;
        }
        for result in &spec.results {
            let name = result.name.as_str();
            if result.value.is_some()
                || written.contains(name)
                || literal_text.contains(&format!("/tekton/results/{name}"))
            {
                continue;
            }
            cx.report(
                Diagnostic::new(
                    &UNWRITTEN_RESULT,
                    format!("no step writes result `{name}`"),
                )
                .with_label(result.name.span, "declared, but no step refers to its path")
                .with_help(format!(
                    "write it in a step: `echo -n \"$VALUE\" > $(results.{name}.path)`; ignore this if the image writes /tekton/results/{name} itself"
                )),
            );
        }
    }
}
