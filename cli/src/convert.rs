//! `tkc convert`: Tekton YAML to KDL and back. The output decodes to the same model as the
//! input (v1beta1 input comes out as v1), keeps the input's comments, and its fields in the
//! order they were written (see `tkc_compiler::emit::layout`).

use crate::compile::{report, write_output};
use crate::project::{Project, SourceArgs};
use crate::{ColorChoice, exit};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use tkc_compiler::diag::Severity;
use tkc_compiler::emit::layout::{self, Layout};
use tkc_compiler::emit::{kdl, yaml};
use tkc_compiler::model::ApiFields;
use tkc_compiler::model::Document;
use tkc_compiler::source::{FileId, SourceMap, Syntax};

/// The syntax to write.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum To {
    Kdl,
    Yaml,
}

#[derive(Args)]
pub struct ConvertArgs {
    /// Files or directories; `-` reads stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The syntax to write [default: KDL for YAML input, YAML for KDL input].
    #[arg(long, value_enum)]
    to: Option<To>,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// The name to give stdin (its extension picks YAML or KDL; without it, KDL is recognised
    /// by its first node).
    #[arg(long, value_name = "NAME")]
    stdin_filename: Option<String>,
    /// When to colour the diagnostics (written to stderr).
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
}

pub fn run(args: ConvertArgs) -> u8 {
    let source = SourceArgs {
        stdin_filename: args.stdin_filename.clone(),
        ..SourceArgs::default()
    };
    let Project {
        sources, inputs, ..
    } = match Project::load(&args.paths, &source, args.color) {
        Ok(project) => project,
        Err(code) => return code,
    };
    let to = match args.to {
        Some(to) => to,
        None => {
            let kdl_input = inputs
                .files
                .iter()
                .all(|f| sources.get(*f).syntax() == Syntax::Kdl);
            let yaml_input = inputs
                .files
                .iter()
                .all(|f| sources.get(*f).syntax() == Syntax::Yaml);
            match (kdl_input, yaml_input) {
                (true, false) => To::Yaml,
                (false, true) => To::Kdl,
                _ => {
                    eprintln!(
                        "error: the inputs mix YAML and KDL; say which to write with `--to kdl` or `--to yaml`"
                    );
                    return exit::USAGE;
                }
            }
        }
    };
    // Every field is accepted: conversion keeps what is written, gated or not.
    let options = tkc_compiler::Options {
        api_fields: ApiFields::Alpha,
        ..tkc_compiler::Options::default()
    };
    let (documents, mut diagnostics) =
        tkc_compiler::decode_files(&sources, &inputs.files, &options);
    diagnostics.extend(inputs.diagnostics.iter().cloned());
    diagnostics.sort();
    let diagnostics = diagnostics.into_vec();
    report(&sources, &diagnostics, args.color);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return exit::FAILED;
    }
    warn_skipped(&sources, &inputs.files);
    // The author's field order and comments, file by file (documents come in file order).
    let mut layouts: Vec<Option<Layout>> = Vec::with_capacity(documents.len());
    for &file in &inputs.files {
        let of_file: Vec<&Document> = documents.iter().filter(|d| d.file() == file).collect();
        layouts.extend(layout::file_layouts(&sources, file, &of_file));
    }
    let text = match to {
        To::Kdl => {
            let laid_out: Vec<(&Document, Option<&Layout>)> = documents
                .iter()
                .zip(&layouts)
                .map(|(d, l)| (d, l.as_ref()))
                .collect();
            kdl::to_kdl_laid_out(&laid_out)
        }
        To::Yaml => {
            let data: Vec<(yaml::Data, Option<&Layout>)> = documents
                .iter()
                .zip(&layouts)
                .map(|(d, l)| {
                    let mut data = kdl::ordered(d);
                    if let Some(l) = l {
                        l.reorder(&mut data);
                    }
                    (data, l.as_ref())
                })
                .collect();
            yaml::to_yaml_stream_laid_out(&data)
        }
    };
    write_output(args.output.as_deref(), &text)
}

/// Says which documents are left out: tkc converts the Tekton resources it models, and
/// ConfigMaps and Secrets; other Kubernetes objects (RBAC, PVCs, ...) are not written.
fn warn_skipped(sources: &SourceMap, files: &[FileId]) {
    for &file in files {
        let parsed = tkc_compiler::syntax::parse_file(sources, file);
        for doc in &parsed.documents {
            let field = |key: &str| doc.get(key).and_then(|n| n.as_str()).unwrap_or_default();
            let (api_version, kind) = (field("apiVersion"), field("kind"));
            let modeled = match api_version.split_once('/') {
                Some(("tekton.dev", _)) => matches!(
                    kind,
                    "Task" | "ClusterTask" | "Pipeline" | "TaskRun" | "PipelineRun" | "StepAction"
                ),
                _ => matches!(kind, "ConfigMap" | "Secret") && api_version == "v1",
            };
            if !modeled {
                let meta = doc.get("metadata");
                let name = ["name", "generateName"]
                    .iter()
                    .find_map(|k| meta.and_then(|m| m.get(k)).and_then(|n| n.as_str()))
                    .unwrap_or_default();
                let line = sources.get(file).line_col(doc.span.start).line;
                eprintln!(
                    "warning: {}:{line}: {kind} `{name}` is not converted (tkc converts Tekton resources, ConfigMaps and Secrets)",
                    sources.get(file).name()
                );
            }
        }
    }
}
