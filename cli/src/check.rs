//! `tkc check` and `tkc explain`.

use crate::config::{self, Config, ConfigError};
use crate::{ColorChoice, exit, inputs};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use tkc_compiler::diag::{Diagnostic, Severity, codes, render};
use tkc_compiler::model::ApiFields;
use tkc_compiler::source::SourceMap;

/// Output formats of `tkc check`.
#[derive(Copy, Clone, Debug, Default, ValueEnum)]
pub enum Format {
    /// Reports with the source snippet (miette).
    #[default]
    Human,
    /// One JSON object (for editors and CI).
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// GitHub Actions annotations (`::error file=...`).
    Github,
    /// `file:line:col: severity[code] message`, one per line.
    Short,
}

/// Maturity levels of Tekton's `enable-api-fields`.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum ApiFieldsArg {
    Stable,
    Beta,
    Alpha,
}

impl From<ApiFieldsArg> for ApiFields {
    fn from(a: ApiFieldsArg) -> ApiFields {
        match a {
            ApiFieldsArg::Stable => ApiFields::Stable,
            ApiFieldsArg::Beta => ApiFields::Beta,
            ApiFieldsArg::Alpha => ApiFields::Alpha,
        }
    }
}

#[derive(Args)]
pub struct CheckArgs {
    /// Files or directories (walked for *.yaml, *.yml, *.kdl); `-` reads stdin.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// The name to give stdin in reports (its extension picks YAML or KDL).
    #[arg(long, value_name = "NAME")]
    stdin_filename: Option<String>,
    /// Tekton's `enable-api-fields`: which maturity of fields to accept [default: beta].
    #[arg(long, value_enum, value_name = "LEVEL")]
    enable_api_fields: Option<ApiFieldsArg>,
    /// When to use colour.
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
    /// A directory of Tasks, Pipelines and StepActions that references resolve against; its
    /// files are not reported on (repeatable; adds to `search-paths` in tkc.toml).
    #[arg(long = "search-path", value_name = "DIR")]
    search_paths: Vec<PathBuf>,
    /// Exit with code 1 on warnings too (advice never fails).
    #[arg(long)]
    deny_warnings: bool,
    /// The configuration file [default: the nearest tkc.toml above the checked paths, or the
    /// current directory].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The configuration for this invocation: `--config`, else the nearest tkc.toml.
fn find_config(args: &CheckArgs, sources: &mut SourceMap) -> Result<Config, ConfigError> {
    let path = match &args.config {
        Some(path) => Some(path.clone()),
        None => {
            let first = args.paths.iter().find(|p| p.as_os_str() != "-");
            first
                .and_then(|p| config::discover(p))
                .or_else(|| config::discover(Path::new(".")))
        }
    };
    match path {
        Some(path) => config::load(&path, sources),
        None => Ok(Config::default()),
    }
}

pub fn run(args: CheckArgs) -> u8 {
    let mut sources = SourceMap::new();
    let config = match find_config(&args, &mut sources) {
        Ok(config) => config,
        Err(ConfigError::Io(e)) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
        Err(ConfigError::Invalid(diagnostics)) => {
            let mut sorted = tkc_compiler::diag::Diagnostics::new();
            sorted.extend(diagnostics);
            sorted.sort();
            let diagnostics = sorted.into_vec();
            let options = render::HumanOptions {
                color: args.color.enabled(),
                width: terminal_width(),
            };
            eprint!("{}", render::human(&sources, &diagnostics, options));
            eprintln!(
                "error: the configuration has {} error(s); nothing was checked",
                diagnostics.len()
            );
            return exit::USAGE;
        }
    };
    let mut search_paths = config.search_paths.clone();
    search_paths.extend(args.search_paths.iter().cloned());
    let inputs = match inputs::load(
        &mut sources,
        &args.paths,
        args.stdin_filename.as_deref(),
        &config,
        &search_paths,
    ) {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("error: {}", e.0);
            return exit::USAGE;
        }
    };
    let options = tkc_compiler::Options {
        api_fields: args
            .enable_api_fields
            .map(Into::into)
            .or(config.api_fields)
            .unwrap_or_default(),
        levels: config.levels.clone(),
    };
    let mut result = tkc_compiler::check(&sources, &inputs.files, &inputs.library, &options);
    let mut extra = tkc_compiler::diag::Diagnostics::new();
    extra.extend(inputs.diagnostics);
    tkc_compiler::diag::apply_levels(&options.levels, &mut extra);
    result.diagnostics.extend(extra);
    result.diagnostics.sort();
    let diagnostics = result.diagnostics.into_vec();
    let out = render_report(
        &sources,
        &diagnostics,
        inputs.files.len(),
        args.format,
        args.color,
    );
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return exit::USAGE;
    }
    let fails = |d: &Diagnostic| {
        d.severity == Severity::Error || (args.deny_warnings && d.severity == Severity::Warning)
    };
    if diagnostics.iter().any(fails) {
        exit::FAILED
    } else {
        exit::OK
    }
}

fn render_report(
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
    files: usize,
    format: Format,
    color: ColorChoice,
) -> String {
    match format {
        Format::Human => {
            let options = render::HumanOptions {
                color: color.enabled(),
                width: terminal_width(),
            };
            let mut out = render::human(sources, diagnostics, options);
            out.push_str(&summary(diagnostics, files));
            out
        }
        Format::Json => render::json(sources, diagnostics, files),
        Format::Sarif => render::sarif(sources, diagnostics, &codes::all()),
        Format::Github => render::github(sources, diagnostics),
        Format::Short => render::short(sources, diagnostics),
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

fn summary(diagnostics: &[Diagnostic], files: usize) -> String {
    let count = |s| diagnostics.iter().filter(|d| d.severity == s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let advice = count(Severity::Advice);
    let advice = if advice > 0 {
        format!(", {advice} advice")
    } else {
        String::new()
    };
    let checked = plural(files, "file");
    if errors == 0 && warnings == 0 && advice.is_empty() {
        format!("checked {checked}: no problems\n")
    } else {
        format!(
            "checked {checked}: {}, {}{advice}\n",
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    }
}

#[derive(Args)]
pub struct ExplainArgs {
    /// The code (`tkc::schema::unknown-field`, or just `unknown-field`).
    code: Option<String>,
    /// List every code with its summary.
    #[arg(long, conflicts_with = "code")]
    list: bool,
}

pub fn explain(args: ExplainArgs) -> u8 {
    if args.list || args.code.is_none() {
        let mut out = String::new();
        for code in codes::all() {
            out.push_str(&format!(
                "{:<44} {:<8} {}\n",
                code.name,
                code.severity.as_str(),
                code.summary()
            ));
        }
        print!("{out}");
        return exit::OK;
    }
    let name = args.code.unwrap_or_default();
    match codes::find(&name) {
        Some(code) => {
            println!("{}  ({})\n", code.name, code.severity.as_str());
            print!("{}", code.explanation());
            if let Some(reason) = code.tekton_reason {
                println!("\nTekton reason when a run fails this way: {reason}");
            }
            exit::OK
        }
        None => {
            eprintln!("error: unknown code `{name}`; `tkc explain --list` lists them");
            exit::USAGE
        }
    }
}
