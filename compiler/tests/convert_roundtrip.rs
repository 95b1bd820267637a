//! `tkc convert` keeps the model: YAML → KDL → model and KDL → YAML → model give the
//! documents the source gave (as canonical v1 JSON), in the model's field order and in the
//! source's, with its comments (as `tkc convert` writes them).
//!
//! Inputs: the project's own YAML and KDL fixtures (`testdata/`, `examples/`) and, as an extra
//! check when it is beside the project, every Tekton example in
//! `../shared/corpus/tekton-examples`.

use std::path::Path;
use tkc_compiler::diag::Severity;
use tkc_compiler::emit::{kdl, layout, yaml};
use tkc_compiler::model::encode::document_to_json;
use tkc_compiler::model::{ApiFields, Document};
use tkc_compiler::source::SourceMap;
use tkc_compiler::{Options, decode_files};

mod common;
use common::{corpus, files_below, workspace_root};

/// Decodes a text; `None` if it has errors (fixtures of errors are not converted).
fn decode(name: &str, text: &str) -> Result<Vec<Document>, String> {
    let mut sources = SourceMap::new();
    let file = sources.add(name, text);
    let options = Options {
        api_fields: ApiFields::Alpha,
        ..Options::default()
    };
    let (documents, diagnostics) = decode_files(&sources, &[file], &options);
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let at = d
                .primary_span()
                .map_or(0, |s| sources.get(s.file).line_col(s.start).line);
            format!("{name}:{at}: {}", d.message)
        })
        .collect();
    if errors.is_empty() {
        Ok(documents)
    } else {
        Err(errors.join("\n"))
    }
}

fn json(documents: &[Document]) -> Vec<serde_json::Value> {
    documents.iter().map(document_to_json).collect()
}

/// Converts one file both ways; a description of each difference.
fn round_trip(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let name = path.display().to_string();
    let Ok(documents) = decode(&name, &text) else {
        return Vec::new();
    };
    if documents.is_empty() {
        return Vec::new();
    }
    let expected = json(&documents);
    let mut problems = Vec::new();

    let kdl_text = kdl::to_kdl(&documents);
    match decode(&format!("{name}.kdl"), &kdl_text) {
        Ok(back) if json(&back) == expected => {}
        Ok(back) => problems.push(format!(
            "{name}: YAML → KDL changed the model\n--- KDL ---\n{kdl_text}\n--- expected ---\n{}\n--- got ---\n{}",
            pretty(&expected),
            pretty(&json(&back))
        )),
        Err(e) => problems.push(format!("{name}: the KDL does not decode:\n{e}\n--- KDL ---\n{kdl_text}")),
    }

    let data: Vec<yaml::Data> = documents.iter().map(kdl::ordered).collect();
    let yaml_text = yaml::to_yaml_stream(&data);
    match decode(&format!("{name}.yaml"), &yaml_text) {
        Ok(back) if json(&back) == expected => {}
        Ok(back) => problems.push(format!(
            "{name}: → YAML changed the model\n--- YAML ---\n{yaml_text}\n--- got ---\n{}",
            pretty(&json(&back))
        )),
        Err(e) => problems.push(format!(
            "{name}: the YAML does not decode:\n{e}\n--- YAML ---\n{yaml_text}"
        )),
    }

    // As `tkc convert` writes them: in the source's field order, with its comments.
    let mut sources = SourceMap::new();
    let file = sources.add(name.as_str(), text.as_str());
    let refs: Vec<&Document> = documents.iter().collect();
    let layouts = layout::file_layouts(&sources, file, &refs);
    let laid_out: Vec<(&Document, Option<&layout::Layout>)> = documents
        .iter()
        .zip(&layouts)
        .map(|(d, l)| (d, l.as_ref()))
        .collect();
    let kdl_text = kdl::to_kdl_laid_out(&laid_out);
    match decode(&format!("{name}.kdl"), &kdl_text) {
        Ok(back) if json(&back) == expected => {}
        Ok(back) => problems.push(format!(
            "{name}: YAML → KDL in source order changed the model\n--- KDL ---\n{kdl_text}\n--- got ---\n{}",
            pretty(&json(&back))
        )),
        Err(e) => problems.push(format!(
            "{name}: the KDL in source order does not decode:\n{e}\n--- KDL ---\n{kdl_text}"
        )),
    }
    let data: Vec<(yaml::Data, Option<&layout::Layout>)> = laid_out
        .iter()
        .map(|(d, l)| {
            let mut data = kdl::ordered(d);
            if let Some(l) = l {
                l.reorder(&mut data);
            }
            (data, *l)
        })
        .collect();
    let yaml_text = yaml::to_yaml_stream_laid_out(&data);
    match decode(&format!("{name}.yaml"), &yaml_text) {
        Ok(back) if json(&back) == expected => {}
        Ok(back) => problems.push(format!(
            "{name}: → YAML in source order changed the model\n--- YAML ---\n{yaml_text}\n--- got ---\n{}",
            pretty(&json(&back))
        )),
        Err(e) => problems.push(format!(
            "{name}: the YAML in source order does not decode:\n{e}\n--- YAML ---\n{yaml_text}"
        )),
    }
    problems
}

fn pretty(docs: &[serde_json::Value]) -> String {
    serde_json::to_string_pretty(docs).unwrap_or_default()
}

#[test]
fn project_fixtures_round_trip() {
    let root = workspace_root();
    let mut paths = Vec::new();
    for dir in ["testdata", "examples"] {
        paths.extend(files_below(&root.join(dir), &["yaml", "yml", "kdl"]));
    }
    assert!(
        !paths.is_empty(),
        "no fixtures found under {}",
        root.display()
    );
    let problems: Vec<String> = paths.iter().flat_map(|p| round_trip(p)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn tekton_examples_round_trip() {
    let Some(corpus) = corpus() else {
        return;
    };
    let mut paths = Vec::new();
    paths.extend(files_below(&corpus, &["yaml", "yml", "kdl"]));
    let problems: Vec<String> = paths.iter().flat_map(|p| round_trip(p)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
