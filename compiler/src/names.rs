//! The names Tekton's controller gives a run's children, shared by every part of tkc that names
//! them (the scheduler's TaskRuns, the pods the kube backend creates and `--emit pods` shows),
//! so that a name is the same wherever it appears and the same as on a cluster with Tekton.

use md5::{Digest as _, Md5};

/// Kubernetes' limit on a DNS label (pod and TaskRun names as Tekton makes them).
const LONGEST: usize = 63;
/// The length of an md5 in hex.
const MD5_LEN: usize = 32;
/// How much of a parent is kept beside its hash (`kmeta`'s `head`).
const HEAD: usize = LONGEST - MD5_LEN;

/// The md5 of `text`, in hex (32 characters).
pub fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// knative's `kmeta.ChildName` (`knative.dev/pkg/kmeta/names.go`), which Tekton names its
/// children with (TaskRuns `<run>-<task>`, pods `<taskRun>-pod`): `parent + suffix` when that
/// fits in 63 characters; else the first `31 - len(suffix)` characters of the parent, the md5
/// of the parent and the suffix; and when the suffix leaves no room for that, the parent's
/// first 31 characters, the md5 of both and what fits of the suffix, without a trailing
/// character that is not alphanumeric (`makeValidName`).
pub fn child_name(parent: &str, suffix: &str) -> String {
    if parent.len() + suffix.len() <= LONGEST {
        return format!("{parent}{suffix}");
    }
    if HEAD <= suffix.len() {
        let mut out = format!(
            "{}{}",
            prefix(parent, HEAD),
            md5_hex(&format!("{parent}{suffix}"))
        );
        let room = LONGEST.saturating_sub(out.len());
        out.push_str(prefix(suffix, room));
        let valid = out.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        return valid.to_string();
    }
    format!(
        "{}{}{suffix}",
        prefix(parent, HEAD - suffix.len()),
        md5_hex(parent)
    )
}

/// The names of a pipeline task's TaskRuns, one per matrix combination (`count` is 1 for a
/// task without a matrix), as Tekton's `getNewRunNames`
/// (`pkg/reconciler/pipelinerun/resources/pipelinerunresolution.go`) makes them:
/// `ChildName(run, "-<task>")` for one, else `ChildName(run, "-<task>-<i>")`, and where the
/// hash swallowed that `-<i>`, `ChildName(run, "-<task>")` cut short enough to end in `-<i>`.
pub fn task_run_names(run: &str, task: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| task_run_name(run, task, i, count))
        .collect()
}

/// The name of TaskRun `index` of the `count` a pipeline task has (see [`task_run_names`]).
pub fn task_run_name(run: &str, task: &str, index: usize, count: usize) -> String {
    if count <= 1 {
        return child_name(run, &format!("-{task}"));
    }
    let suffix = format!("-{index}");
    let name = child_name(run, &format!("-{task}{suffix}"));
    if name.ends_with(&suffix) {
        return name;
    }
    let longest = LONGEST.saturating_sub(format!("-{count}").len());
    let base = child_name(run, &format!("-{task}"));
    format!("{}{suffix}", prefix(&base, longest))
}

/// At most `n` bytes of `s`, cut at a character boundary.
fn prefix(s: &str, n: usize) -> &str {
    let mut cut = n.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_parent_and_suffix() {
        assert_eq!(child_name("run-build", "-pod"), "run-build-pod");
        assert_eq!(task_run_names("run", "build", 1), ["run-build"]);
        assert_eq!(
            task_run_names("run", "build", 2),
            ["run-build-0", "run-build-1"]
        );
    }

    /// The expected names were computed with `md5sum` following `kmeta.ChildName` by hand.
    #[test]
    fn long_names_follow_kmeta() {
        let parent = "a-pipeline-run-with-a-rather-long-name-that-goes-on-and-on";
        assert_eq!(
            child_name(parent, "-build"),
            "a-pipeline-run-with-a-rat57334c7d823a16bb7f16d422ec277b21-build"
        );
        // A suffix of 31 characters or more: the md5 of both and no room for the suffix.
        assert_eq!(
            child_name(parent, "-a-pipeline-task-name-of-forty-characters"),
            "a-pipeline-run-with-a-rather-lo9b9c22ae4cc88dc142d1dd94e5fab0d3"
        );
        // A short parent leaves room for the suffix's head, which ends alphanumeric.
        let name = child_name(
            "p",
            "-t-------------------------------------------------------------x",
        );
        assert!(
            name.ends_with(|c: char| c.is_ascii_alphanumeric()),
            "{name}"
        );
        assert!(name.len() <= 63);
    }

    #[test]
    fn matrix_names_keep_their_index() {
        let run = "r".repeat(40);
        let task = "t".repeat(40);
        let names = task_run_names(&run, &task, 12);
        assert_eq!(names.len(), 12);
        for (i, name) in names.iter().enumerate() {
            assert!(name.ends_with(&format!("-{i}")), "{name}");
            assert!(name.len() <= 63, "{name}");
        }
        let base = child_name(&run, &format!("-{task}"));
        assert_eq!(names[11], format!("{}-11", &base[..60]));
    }
}
