//! A catalog-style tree checked at once (`task/<name>/<version>/` with `samples/` and
//! `tests/`, one Task name in several versions): only true findings (issue 11, item 3).
//! Each run resolves to the version beside it, and the versions do not collide; a run equally
//! far from both versions is ambiguous, reported once and not checked against either.

use std::path::Path;
use std::process::Command;

fn task(params: &str, args: &str) -> String {
    format!(
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: git-clone\nspec:\n  params:\n{params}  steps:\n    - name: clone\n      image: alpine/git:2.45\n      args: [{args}]\n"
    )
}

const RUN: &str = "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: git-clone-run\nspec:\n  taskRef:\n    name: git-clone\n  params:\n    - name: url\n      value: https://example.com/x.git\n";

fn write(root: &Path, path: &str, text: &str) -> std::io::Result<()> {
    let path = root.join(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

#[test]
fn a_catalog_tree_gives_only_true_findings() -> std::io::Result<()> {
    let root = std::env::temp_dir().join(format!("tkc-catalog-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    // 0.1 takes `url`; 0.2 also requires `revision`, which its sample forgets.
    write(
        &root,
        "task/git-clone/0.1/git-clone.yaml",
        &task("    - name: url\n", "\"$(params.url)\""),
    )?;
    write(
        &root,
        "task/git-clone/0.2/git-clone.yaml",
        &task(
            "    - name: url\n    - name: revision\n",
            "\"$(params.url)\", \"$(params.revision)\"",
        ),
    )?;
    write(&root, "task/git-clone/0.1/samples/run.yaml", RUN)?;
    write(&root, "task/git-clone/0.1/tests/run.yaml", RUN)?;
    write(
        &root,
        "task/git-clone/0.2/tests/run.yaml",
        &format!("{RUN}    - name: revision\n      value: main\n"),
    )?;
    write(&root, "task/git-clone/0.2/samples/run.yaml", RUN)?;
    // Outside both versions, equally far from each: ambiguous, said once, and not checked
    // against either copy (0.2 would want `revision`).
    write(&root, "runs/git-clone-run.yaml", RUN)?;
    let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .args(["check", ".", "--format", "short"])
        .current_dir(&root)
        .output()?;
    let _ = std::fs::remove_dir_all(&root);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let findings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(": error[") || l.contains(": warning["))
        .collect();
    assert_eq!(
        findings,
        [
            "./runs/git-clone-run.yaml:7:11: warning[tkc::resolve::ambiguous-ref] Task `git-clone` is defined in 2 files, none nearer than the others",
            "./task/git-clone/0.2/samples/run.yaml:7:11: error[tkc::params::taskrun-invalid] the TaskRun does not give param `revision` that Task `git-clone` requires",
        ],
        "{stdout}"
    );
    Ok(())
}
