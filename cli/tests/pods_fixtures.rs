//! `tkc compile --emit pods`.
//!
//! - `testdata/pods/**`: every fixture's output (the YAML stream), diagnostics and exit code
//!   are an insta snapshot beside it (`<fixture>.snap`), as in `compile_fixtures.rs`.
//! - Every object emitted for those fixtures and for every Tekton example that compiles
//!   validates against the Kubernetes 1.33 schema in strict mode (unknown fields rejected),
//!   with `kubernetes-validate` from PyPI (`.ci/run` installs it). Without the tool the
//!   validation tests pass with a note, unless `CI` is set: there its absence fails them.

#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{corpus, files_below, fixture_report, snapshot_fixtures, workspace_root};

const FIXTURES: &str = "testdata/pods";
const VALIDATOR: &str = "kubernetes-validate";

#[test]
fn pods_fixtures() {
    snapshot_fixtures(FIXTURES, |root, relative| {
        fixture_report(root, relative, "compile", &["--emit", "pods"])
    });
}

/// Is `kubernetes-validate` there? Its absence skips the validation, except in CI.
fn validator_present() -> bool {
    let found = Command::new(VALIDATOR)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but `{VALIDATOR}` is not installed (pip install kubernetes-validate)"
        );
        eprintln!("skipped: `{VALIDATOR}` is not installed (pip install kubernetes-validate)");
    }
    found
}

/// A scratch directory for this test, empty.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tkc-pods-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot make {}: {e}", dir.display());
    }
    dir
}

/// `tkc compile --emit pods` of `file` (with the fixture's or the corpus's extra arguments);
/// `None` when the run does not compile (errors, resolvers, custom tasks). Offline, with a
/// cache of its own that stays empty: a reference through a resolver (git, hub, bundles,
/// cluster in Tekton's examples) reaches no network and no cluster, and does not compile.
fn emit(file: &Path, extra: &[String]) -> Option<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .args(["compile", "--offline", "--emit", "pods"])
        .args(extra)
        .arg(file)
        .env("NO_COLOR", "1")
        .env(
            "TKC_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("pods-fixtures-no-cache"),
        )
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (!stdout.is_empty()).then(|| (stdout, String::from_utf8_lossy(&out.stderr).into_owned()))
}

/// Validates every file in strict mode against Kubernetes 1.33; the failures, if any.
fn validate(files: &[PathBuf]) -> Option<String> {
    let out = match Command::new(VALIDATOR)
        .args(["--strict", "--quiet", "-k", "1.33.0"])
        .args(files)
        .output()
    {
        Ok(out) => out,
        Err(e) => return Some(format!("cannot run {VALIDATOR}: {e}")),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (!out.status.success() || text.contains("ERROR")).then_some(text)
}

#[test]
fn fixture_pods_validate_against_kubernetes() {
    if !validator_present() {
        return;
    }
    let root = workspace_root();
    let dir = scratch("fixtures");
    let mut files = Vec::new();
    for fixture in files_below(&root.join(FIXTURES), &["yaml"]) {
        let text = std::fs::read_to_string(&fixture).unwrap_or_default();
        let Some((yaml, _)) = emit(&fixture, &common::header_args(&text)) else {
            panic!("{}: no output", fixture.display());
        };
        let path = dir.join(fixture.file_name().unwrap_or_default());
        if let Err(e) = std::fs::write(&path, yaml) {
            panic!("cannot write {}: {e}", path.display());
        }
        files.push(path);
    }
    assert!(files.len() >= 5, "expected the pod fixtures");
    let failures = validate(&files);
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(failures) = failures {
        panic!("generated objects do not validate:\n{failures}");
    }
}

/// Every Tekton example that compiles to a plan gives objects the API server's schema
/// accepts; attempts that cannot be built (steps that rely on the image's entrypoint) are
/// counted, not failed.
#[test]
fn tekton_example_pods_validate_against_kubernetes() {
    let Some(root) = corpus() else {
        return;
    };
    if !validator_present() {
        return;
    }
    let dir = scratch("corpus");
    let mut files = Vec::new();
    let mut unbuilt = 0;
    let examples = files_below(&root, &["yaml"]);
    for file in &examples {
        let extra: Vec<String> = if file.components().any(|c| c.as_os_str() == "alpha") {
            vec!["--enable-api-fields".into(), "alpha".into()]
        } else {
            Vec::new()
        };
        let Some((yaml, stderr)) = emit(file, &extra) else {
            continue;
        };
        unbuilt += stderr
            .lines()
            .filter(|l| l.starts_with("error: task"))
            .count();
        // Named after the example, so that a failure says which one.
        let name = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        let path = dir.join(name.replace('/', "__"));
        if let Err(e) = std::fs::write(&path, yaml) {
            panic!("cannot write {}: {e}", path.display());
        }
        files.push(path);
    }
    eprintln!(
        "{} of {} examples compiled; {unbuilt} attempts could not be built",
        files.len(),
        examples.len()
    );
    assert!(
        files.len() >= 100,
        "expected most Tekton examples to compile, got {}",
        files.len()
    );
    let failures = validate(&files);
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(failures) = failures {
        panic!("generated objects do not validate:\n{failures}");
    }
}

/// A minimal static 64-bit ELF header for `machine` (0x3e x86-64, 0xb7 aarch64), with one
/// `PT_LOAD` program header (`PT_INTERP`, 3, makes it dynamic).
fn fake_elf(machine: u16, ptype: u32) -> Vec<u8> {
    let mut b = vec![0u8; 64 + 56];
    b[..6].copy_from_slice(b"\x7fELF\x02\x01");
    b[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
    b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
    b[64..68].copy_from_slice(&ptype.to_le_bytes());
    b
}

/// `--entrypoint-binary`: one ConfigMap per architecture, named by content; pods mount the
/// first binary and are pinned to its architecture, unless their pod template pins the other.
#[test]
fn entrypoint_binaries_become_config_maps_per_architecture() {
    let dir = scratch("binaries");
    let amd64 = dir.join("amd64");
    let arm64 = dir.join("arm64");
    let dynamic = dir.join("dynamic");
    for (path, bytes) in [
        (&amd64, fake_elf(0x3e, 1)),
        (&arm64, fake_elf(0xb7, 1)),
        (&dynamic, fake_elf(0x3e, 3)),
    ] {
        if let Err(e) = std::fs::write(path, bytes) {
            panic!("cannot write {}: {e}", path.display());
        }
    }
    let fixture = workspace_root().join(FIXTURES).join("cannot-build.yaml");
    let tkc = |binaries: &[&Path]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tkc"));
        cmd.args(["compile", "--emit", "pods"]);
        for b in binaries {
            cmd.arg("--entrypoint-binary").arg(b);
        }
        match cmd.arg(&fixture).output() {
            Ok(out) => out,
            Err(e) => panic!("cannot run tkc: {e}"),
        }
    };

    let out = tkc(&[&amd64, &arm64]);
    let yaml = String::from_utf8_lossy(&out.stdout).into_owned();
    // The pinned task now has its binary; the image-entrypoint one still cannot be built.
    assert_eq!(out.status.code(), Some(1), "{yaml}");
    let names: Vec<&str> = yaml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name: tkc-entrypoint-"))
        .collect();
    let amd = names.iter().find(|n| n.starts_with("amd64-"));
    let arm = names.iter().find(|n| n.starts_with("arm64-"));
    assert!(amd.is_some() && arm.is_some(), "{yaml}");
    assert!(yaml.contains("kubernetes.io/arch: arm64"), "{yaml}");
    assert!(yaml.contains("binaryData:"), "{yaml}");
    assert!(!yaml.contains("no pod: the pod template selects"), "{yaml}");
    let path = dir.join("with-binaries.yaml");
    if let Err(e) = std::fs::write(&path, &yaml) {
        panic!("cannot write {}: {e}", path.display());
    }
    if validator_present()
        && let Some(failures) = validate(&[path])
    {
        panic!("generated objects do not validate:\n{failures}");
    }

    let out = tkc(&[&dynamic]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("dynamically linked"), "{stderr}");
    let out = tkc(&[&amd64, &amd64]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
