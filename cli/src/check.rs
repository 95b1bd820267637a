//! `tkc check` and `tkc explain`.

use crate::project::{Project, SourceArgs, terminal_width};
use crate::{ColorChoice, exit};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
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
    #[command(flatten)]
    source: SourceArgs,
    /// When to use colour.
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
    /// Exit with code 1 on warnings too (advice never fails).
    #[arg(long)]
    deny_warnings: bool,
    /// Fetch what references through resolvers (git, http, hub, bundles, cluster) name, and check
    /// against it (`resolve = true` in tkc.toml does the same; docs/resolvers.md).
    #[arg(long)]
    resolve: bool,
}

pub fn run(args: CheckArgs) -> u8 {
    let mut project = match Project::load(&args.paths, &args.source, args.color) {
        Ok(project) => project,
        Err(code) => return code,
    };
    // Offline and instant unless asked: pre-commit hooks run `tkc check`.
    if args.resolve || project.resolve_in_check {
        project.resolve_references();
    }
    // shellcheck where it is installed; without it, the scripts are not checked (`tkc
    // explain tkc::shellcheck::error` says which).
    let shellcheck = crate::shellcheck::Shellcheck::find().ok();
    let linter = shellcheck
        .as_ref()
        .map(|s| s as &dyn tkc_compiler::check::shellcheck::ScriptLinter);
    let result = project.check(linter);
    let (sources, inputs) = (&project.sources, &project.inputs);
    let diagnostics = result.diagnostics.into_vec();
    let out = render_report(
        sources,
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
        Format::Sarif => render::sarif(sources, diagnostics, &codes::all(), src_root().as_ref()),
        Format::Github => render::github(sources, diagnostics),
        Format::Short => render::short(sources, diagnostics),
    }
}

/// The root SARIF URIs are relative to: the repository around the working directory (the
/// nearest ancestor with a `.git` entry, as `git rev-parse --show-toplevel` finds it), else the
/// working directory itself. None if the working directory is unknown or not UTF-8 (then
/// relative names stay as written).
fn src_root() -> Option<render::SrcRoot> {
    let cwd = std::env::current_dir().ok()?;
    let root = cwd
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(&cwd);
    let relative = cwd.strip_prefix(root).ok()?;
    let to_slashes = |p: &std::path::Path| -> Option<String> {
        let parts: Option<Vec<&str>> = p.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/"))
    };
    let dir = root.to_str()?.trim_end_matches('/').to_owned();
    Some(render::SrcRoot {
        dir,
        cwd: to_slashes(relative)?,
    })
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
    /// The code (`tkc::schema::unknown-field`, `schema::unknown-field`, or just
    /// `unknown-field`).
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
            if code.name.starts_with("tkc::shellcheck::") {
                println!("\n{}", crate::shellcheck::Shellcheck::status());
            }
            exit::OK
        }
        None => {
            match codes::closest(&name) {
                Some(code) => eprintln!(
                    "error: unknown code `{name}`; did you mean `{}`? (`tkc explain --list` lists them)",
                    code.name
                ),
                None => eprintln!("error: unknown code `{name}`; `tkc explain --list` lists them"),
            }
            exit::USAGE
        }
    }
}
