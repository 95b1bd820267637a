//! The same resources written in YAML and in KDL decode to the same model.
//!
//! Pairs come from three places: `testdata/kdl-equivalence/<name>.{yaml,kdl}`, the example
//! `examples/build-and-test{,-kdl}/pipeline.{yaml,kdl}` (whose KDL resources' names end in
//! `-kdl`, so that the two can be checked together), and every ```yaml block of `docs/kdl.md`
//! followed by a ```kdl block (so the documentation cannot drift from the implementation).
//! Both sides must decode without errors; their documents, as canonical v1 JSON
//! ([`document_to_json`]), must be equal.

use std::path::{Path, PathBuf};
use tkc_compiler::diag::Severity;
use tkc_compiler::model::encode::document_to_json;
use tkc_compiler::source::SourceMap;
use tkc_compiler::{Options, decode_files};

mod common;
use common::workspace_root;

/// Decodes one text; the documents as JSON, or the problems found.
fn decode(name: &str, text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut sources = SourceMap::new();
    let file = sources.add(name, text);
    let options = Options {
        api_fields: tkc_compiler::model::ApiFields::Alpha,
        ..Options::default()
    };
    let (documents, diagnostics) = decode_files(&sources, &[file], &options);
    let problems: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Advice)
        .map(|d| {
            let at = d
                .primary_span()
                .map(|s| {
                    let lc = sources.get(s.file).line_col(s.start);
                    format!("{name}:{}:{}", lc.line, lc.column)
                })
                .unwrap_or_else(|| name.to_string());
            format!("{at}: {} [{}]", d.message, d.code.name)
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    Ok(documents.iter().map(document_to_json).collect())
}

/// Compares one pair; a description of the difference if they differ.
fn compare(label: &str, yaml: &str, kdl: &str) -> Option<String> {
    let yaml_docs = match decode(&format!("{label}.yaml"), yaml) {
        Ok(docs) => docs,
        Err(problems) => return Some(format!("{label}: the YAML has problems:\n{problems}")),
    };
    let kdl_docs = match decode(&format!("{label}.kdl"), kdl) {
        Ok(docs) => docs,
        Err(problems) => return Some(format!("{label}: the KDL has problems:\n{problems}")),
    };
    if yaml_docs.is_empty() {
        return Some(format!("{label}: the YAML holds no Tekton document"));
    }
    if yaml_docs == kdl_docs {
        return None;
    }
    let pretty = |docs: &[serde_json::Value]| {
        serde_json::to_string_pretty(docs).unwrap_or_else(|e| e.to_string())
    };
    Some(format!(
        "{label}: YAML and KDL differ\n--- YAML model ---\n{}\n--- KDL model ---\n{}",
        pretty(&yaml_docs),
        pretty(&kdl_docs)
    ))
}

/// `(name, yaml, kdl)` of every `<name>.yaml` with a `<name>.kdl` beside it in `dir`.
fn file_pairs(dir: &Path) -> Vec<(String, String, String)> {
    let mut pairs = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return pairs;
    };
    let mut yamls: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    yamls.sort();
    for yaml in yamls {
        let kdl = yaml.with_extension("kdl");
        if let (Ok(y), Ok(k)) = (
            std::fs::read_to_string(&yaml),
            std::fs::read_to_string(&kdl),
        ) {
            pairs.push((yaml.display().to_string(), y, k));
        }
    }
    pairs
}

/// Every ```yaml block of a Markdown text that is followed by a ```kdl block (only HTML
/// table markup and blank lines between them), with the line of the YAML block.
fn markdown_pairs(text: &str) -> Vec<(usize, String, String)> {
    let mut blocks: Vec<(usize, String, String, usize)> = Vec::new(); // (line, lang, body, end)
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        if let Some(lang) = line.strip_prefix("```")
            && !lang.is_empty()
        {
            let start = i;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                body.push_str(lines[i]);
                body.push('\n');
                i += 1;
            }
            blocks.push((start + 1, lang.trim().to_string(), body, i));
        }
        i += 1;
    }
    let between_is_markup = |from: usize, to: usize| {
        lines[from + 1..to].iter().all(|l| {
            let l = l.trim();
            l.is_empty() || (l.starts_with('<') && l.ends_with('>'))
        })
    };
    blocks
        .windows(2)
        .filter(|w| w[0].1 == "yaml" && w[1].1 == "kdl" && between_is_markup(w[0].3, w[1].0 - 1))
        .map(|w| (w[0].0, w[0].2.clone(), w[1].2.clone()))
        .collect()
}

#[test]
fn fixture_pairs_are_equivalent() {
    let root = workspace_root();
    let pairs = file_pairs(&root.join("testdata/kdl-equivalence"));
    assert!(
        pairs.len() >= 7,
        "expected the pairs of testdata/kdl-equivalence"
    );
    let failures: Vec<String> = pairs
        .iter()
        .filter_map(|(name, y, k)| compare(name, y, k))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn example_pipeline_is_the_same_in_both_syntaxes() {
    let root = workspace_root();
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap_or_default();
    let yaml = read("examples/build-and-test/pipeline.yaml");
    let kdl = read("examples/build-and-test-kdl/pipeline.kdl");
    assert!(
        !yaml.is_empty() && !kdl.is_empty(),
        "examples/build-and-test{{,-kdl}}"
    );
    // The twin differs only in its resources' names (`build` → `build-kdl`, in definitions and
    // references alike): strip the suffix, then the models must be equal.
    let kdl = kdl.replace("-kdl\"", "\"").replace("-kdl-\"", "-\"");
    let failures = compare("examples/build-and-test/pipeline", &yaml, &kdl);
    assert!(failures.is_none(), "{}", failures.unwrap_or_default());
}

#[test]
fn documentation_examples_are_equivalent() {
    let root = workspace_root();
    let text = std::fs::read_to_string(root.join("docs/kdl.md")).unwrap_or_default();
    let pairs = markdown_pairs(&text);
    assert!(pairs.len() >= 10, "docs/kdl.md has side-by-side examples");
    let failures: Vec<String> = pairs
        .iter()
        .filter_map(|(line, y, k)| compare(&format!("docs/kdl.md:{line}"), y, k))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn markdown_pairs_need_adjacent_blocks() {
    let text = "```yaml\na: 1\n```\n\n<td>\n\n```kdl\na 1\n```\n\n```yaml\nb: 2\n```\ntext\n```kdl\nb 2\n```\n";
    let pairs = markdown_pairs(text);
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].1, "a: 1\n");
}
