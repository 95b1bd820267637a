//! `tkc`: check, compile and run Tekton pipelines. This crate parses arguments and wires the
//! libraries together; it is the only place that prints or exits.

mod bundle;
mod check;
mod compile;
mod convert;
mod describe;
mod graph;
mod inputs;
mod manual;
mod pods;
mod project;
mod run;
mod schema;
mod shellcheck;

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

/// Check, compile and run Tekton pipelines, offline.
#[derive(Parser)]
#[command(name = "tkc", version, about, max_term_width = 100)]
#[command(after_help = manual::exit_codes_help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check Tekton YAML or KDL for errors, without a cluster.
    Check(check::CheckArgs),
    /// Explain a diagnostic code.
    Explain(check::ExplainArgs),
    /// Run a PipelineRun, TaskRun, Pipeline or Task on this machine, or on Kubernetes
    /// (`--backend kube`) with tkc as the controller.
    Run(Box<run::RunArgs>),
    /// List past runs of this machine (name, start, duration, status), or with `--backend kube`
    /// the runs in a namespace.
    Runs(run::RunsArgs),
    /// Print the step logs of a past or running local run (`-f` follows it).
    Logs(run::LogsArgs),
    /// Compile a run to its pod plan (JSON), or the sources to canonical Tekton YAML.
    Compile(compile::CompileArgs),
    /// Draw a pipeline's task graph (Graphviz dot or Mermaid).
    Graph(graph::GraphArgs),
    /// Describe a compiled run: the waves of tasks that start together, params and where
    /// their values come from, workspaces and their bindings, results.
    Describe(describe::DescribeArgs),
    /// Convert Tekton YAML to KDL, or KDL to YAML.
    Convert(convert::ConvertArgs),
    /// Write the JSON Schemas of the Tekton resources (for editors) and of the plan.
    Schema(schema::SchemaArgs),
    /// Serve the Language Server Protocol over stdio (for editors; see docs/editors.md).
    Lsp,
    /// Push Tasks, Pipelines and StepActions to a registry as a Tekton Bundle, or list one.
    Bundle(bundle::BundleArgs),
    /// Write a shell completion script to stdout (bash, elvish, fish, powershell, zsh).
    Completions(manual::CompletionsArgs),
    /// Write the man page (roff) to stdout, or every page into `--out-dir`.
    Man(manual::ManArgs),
}

/// When to colour output.
#[derive(Copy, Clone, Debug, Default, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }
}

/// Process exit codes.
pub mod exit {
    /// No errors (warnings allowed).
    pub const OK: u8 = 0;
    /// The input has errors, or the run failed.
    pub const FAILED: u8 = 1;
    /// Usage or I/O error.
    pub const USAGE: u8 = 2;
}

/// `tkc __entrypoint ...` runs the step entrypoint (see `run::locate_entrypoint`).
#[cfg(target_os = "linux")]
const ENTRYPOINT_COMMAND: &str = "__entrypoint";

/// mimalloc, not the system allocator: checking makes and frees millions of small objects on
/// several threads, where glibc's malloc took about a sixth of the instructions and kept
/// freed per-thread memory as resident (issue 11; bench/catalog.sh).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before anything else, while this is the only thread: the entrypoint blocks signals
    // for forwarding, which must hold in every thread it starts.
    #[cfg(target_os = "linux")]
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == ENTRYPOINT_COMMAND)
    {
        let args = std::env::args_os()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let code = tkc_entrypoint::main(args);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Explain(args) => check::explain(args),
        Command::Run(args) => run::run(*args),
        Command::Runs(args) => run::runs(args),
        Command::Logs(args) => run::logs(args),
        Command::Compile(args) => compile::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Describe(args) => describe::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Bundle(args) => bundle::run(args),
        // The server checks scripts as `tkc check` does, where shellcheck is installed.
        Command::Lsp => match tkc_lsp::serve_stdio(
            shellcheck::Shellcheck::find()
                .ok()
                .map(|s| Box::new(s) as Box<dyn tkc_compiler::check::shellcheck::ScriptLinter>),
        ) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("error: tkc lsp: {e}");
                exit::USAGE
            }
        },
        Command::Completions(args) => manual::completions(args),
        Command::Man(args) => manual::man(args),
    };
    ExitCode::from(code)
}
