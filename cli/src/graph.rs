//! `tkc graph`: the task graph of a pipeline, as Graphviz `dot` or Mermaid.

use crate::compile::{report, write_output};
use crate::project::{Project, SourceArgs};
use crate::{ColorChoice, exit};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use tkc_compiler::diag::Severity;
use tkc_compiler::graph::{self, TaskGraph};
use tkc_compiler::suggest::did_you_mean;

/// The drawing languages of `tkc graph`.
#[derive(Copy, Clone, Debug, Default, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz (`tkc graph p.yaml | dot -Tsvg > p.svg`).
    #[default]
    Dot,
    /// A Mermaid flowchart (renders in GitHub and GitLab Markdown).
    Mermaid,
}

#[derive(Args)]
pub struct GraphArgs {
    /// Files or directories (walked for *.yaml, *.yml, *.kdl); `-` reads stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The Pipeline (or PipelineRun) to draw. Needed when the inputs hold several.
    #[arg(long, value_name = "NAME")]
    pipeline: Option<String>,
    /// The drawing language.
    #[arg(long, value_enum, default_value_t)]
    format: GraphFormat,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// When to colour the diagnostics (written to stderr).
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
    #[command(flatten)]
    source: SourceArgs,
}

pub fn run(args: GraphArgs) -> u8 {
    let project = match Project::load(&args.paths, &args.source, args.color) {
        Ok(project) => project,
        Err(code) => return code,
    };
    let found = tkc_compiler::task_graphs(
        &project.sources,
        &project.inputs.files,
        &project.inputs.library,
        &project.options,
    );
    let diagnostics = crate::project::with_input_findings(
        found.diagnostics,
        project.inputs.diagnostics.iter().cloned(),
        &project.options,
    )
    .into_vec();
    report(&project.sources, &diagnostics, args.color);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return exit::FAILED;
    }
    let graph = match choose(found.graphs, args.pipeline.as_deref()) {
        Ok(graph) => graph,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let text = match args.format {
        GraphFormat::Dot => graph::dot(&graph),
        GraphFormat::Mermaid => graph::mermaid(&graph),
    };
    write_output(args.output.as_deref(), &text)
}

/// The graph named `wanted`; without a name, the only one (a PipelineRun's referenced
/// Pipeline counts once, as the Pipeline).
fn choose(graphs: Vec<TaskGraph>, wanted: Option<&str>) -> Result<TaskGraph, String> {
    let Some(name) = wanted else {
        let mut own: Vec<TaskGraph> = graphs
            .iter()
            .filter(|g| g.references.is_none())
            .cloned()
            .collect();
        if own.is_empty() {
            own = graphs;
        }
        let listed = list(&own);
        return match <[TaskGraph; 1]>::try_from(own) {
            Ok([graph]) => Ok(graph),
            Err(none) if none.is_empty() => {
                Err("the inputs hold no Pipeline or PipelineRun to draw".into())
            }
            Err(several) => Err(format!(
                "the inputs hold {} pipelines ({listed}); choose one with --pipeline",
                several.len()
            )),
        };
    };
    let close = did_you_mean(name, graphs.iter().map(|g| g.name.as_str())).map(str::to_owned);
    let listed = list(&graphs);
    let empty = graphs.is_empty();
    graphs
        .into_iter()
        .find(|g| g.name == name)
        .ok_or_else(|| match close {
            Some(close) => format!("there is no pipeline `{name}`; did you mean `{close}`?"),
            None if empty => format!("there is no pipeline `{name}`: the inputs hold none"),
            None => format!("there is no pipeline `{name}`; the inputs hold {listed}"),
        })
}

/// `` `a`, `b` ``
fn list(graphs: &[TaskGraph]) -> String {
    graphs
        .iter()
        .map(|g| format!("`{}`", g.name))
        .collect::<Vec<_>>()
        .join(", ")
}
