//! `tkc compile`: one run of the inputs as a pod plan (JSON) or as the Kubernetes objects of
//! its task attempts (`--emit pods`), or the inputs as canonical Tekton YAML.

use crate::project::{Project, SourceArgs, with_input_findings};
use crate::{ColorChoice, exit};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use tkc_compiler::diag::{Diagnostic, Severity, render};
use tkc_compiler::lower::RunRequest;
use tkc_compiler::plan::{Binding, ParamValue};
use tkc_compiler::source::SourceMap;
use tkc_pods::yaml::Document;
use tkc_pods::{Arch, EntrypointBinary};

/// What `tkc compile` writes.
#[derive(Copy, Clone, Debug, Default, ValueEnum)]
pub enum Emit {
    /// The pod plan of one run (JSON, described by `schemas/plan.schema.json`).
    #[default]
    Plan,
    /// The resources as canonical tekton.dev/v1 YAML, defaults made explicit.
    Tekton,
    /// The Kubernetes objects of every task attempt (Pods, ConfigMaps, PVCs) as YAML.
    Pods,
}

#[derive(Args)]
pub struct CompileArgs {
    /// Files or directories (walked for *.yaml, *.yml, *.kdl); `-` reads stdin.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The run to compile: a PipelineRun or TaskRun of the inputs, or a Pipeline or Task to
    /// run with `--param` and `--workspace`. Needed when the inputs hold several.
    #[arg(long, value_name = "NAME")]
    run: Option<String>,
    /// A param value: `name=value`; arrays and objects as JSON (`flags=["-v","-x"]`).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, ParamValue)>,
    /// A workspace binding: `name=emptyDir`, `name=dir:PATH`, `name=pvc:CLAIM`,
    /// `name=configMap:NAME`, `name=secret:NAME` or `name=volumeClaimTemplate`.
    #[arg(long = "workspace", short = 'w', value_name = "NAME=BINDING", value_parser = parse_workspace)]
    workspaces: Vec<(String, Binding)>,
    /// What to write.
    #[arg(long, value_enum, default_value_t)]
    emit: Emit,
    /// With `--emit pods`: a static `tkc-entrypoint` (entrypoint/build-static.sh) to include
    /// as its ConfigMap; its architecture is read from the file. Repeat for amd64 and arm64.
    #[arg(long = "entrypoint-binary", value_name = "FILE")]
    entrypoint_binaries: Vec<PathBuf>,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// When to colour the diagnostics (written to stderr).
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
    #[command(flatten)]
    source: SourceArgs,
}

/// `name=value`; a value starting with `[` or `{` that is a JSON array or object of strings
/// is one (as Tekton reads param values), anything else a string.
pub fn parse_param(arg: &str) -> Result<(String, ParamValue), String> {
    let (name, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got `{arg}`"))?;
    if name.is_empty() {
        return Err(format!("expected NAME=VALUE, got `{arg}`"));
    }
    let parsed = match value.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str::<Vec<String>>(value)
            .ok()
            .map(ParamValue::Array),
        Some(b'{') => serde_json::from_str(value).ok().map(ParamValue::Object),
        _ => None,
    };
    Ok((
        name.to_string(),
        parsed.unwrap_or_else(|| ParamValue::String(value.to_string())),
    ))
}

/// `name=emptyDir`, `name=dir:PATH`, `name=pvc:CLAIM`, `name=configMap:NAME`,
/// `name=secret:NAME`, `name=volumeClaimTemplate`.
pub fn parse_workspace(arg: &str) -> Result<(String, Binding), String> {
    let usage = "expected NAME=emptyDir, NAME=dir:PATH, NAME=pvc:CLAIM, NAME=configMap:NAME, \
                 NAME=secret:NAME or NAME=volumeClaimTemplate";
    let (name, binding) = arg
        .split_once('=')
        .ok_or_else(|| format!("{usage}; got `{arg}`"))?;
    let (kind, value) = binding.split_once(':').unwrap_or((binding, ""));
    let binding = match (kind.to_ascii_lowercase().as_str(), value) {
        ("emptydir", "") => Binding::EmptyDir {},
        ("volumeclaimtemplate", "") => Binding::VolumeClaimTemplate {},
        ("dir", path) if !path.is_empty() => Binding::Dir {
            path: path.to_string(),
        },
        ("pvc", claim) if !claim.is_empty() => Binding::PersistentVolumeClaim {
            claim_name: claim.to_string(),
            read_only: false,
        },
        ("configmap", cm) if !cm.is_empty() => Binding::ConfigMap {
            name: cm.to_string(),
            items: None,
        },
        ("secret", s) if !s.is_empty() => Binding::Secret {
            secret_name: s.to_string(),
            items: None,
        },
        _ => return Err(format!("{usage}; got `{arg}`")),
    };
    if name.is_empty() {
        return Err(format!("{usage}; got `{arg}`"));
    }
    Ok((name.to_string(), binding))
}

/// Writes the diagnostics to stderr (human format).
pub fn report(sources: &SourceMap, diagnostics: &[Diagnostic], color: ColorChoice) {
    if diagnostics.is_empty() {
        return;
    }
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);
    let text = render::human(
        sources,
        diagnostics,
        render::HumanOptions {
            color: color.enabled(),
            width,
        },
    );
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Writes `text` to `-o FILE`, or stdout.
pub fn write_output(output: Option<&Path>, text: &str) -> u8 {
    let written = match output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"))
        }
    };
    match written {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}

/// The entrypoint binaries for `--emit pods`, checked, with their ConfigMaps; without any,
/// an amd64 binary that is not at hand (its ConfigMap is named without a content address).
fn entrypoint_binaries(
    paths: &[PathBuf],
) -> Result<(Vec<EntrypointBinary>, Vec<Document>), String> {
    if paths.is_empty() {
        return Ok((vec![EntrypointBinary::unbuilt(Arch::Amd64)], Vec::new()));
    }
    let mut binaries = Vec::new();
    let mut docs = Vec::new();
    for path in paths {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let cm = tkc_pods::entrypoint_config_map(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let binary =
            EntrypointBinary::inspect(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if binaries
            .iter()
            .any(|b: &EntrypointBinary| b.arch == binary.arch)
        {
            return Err(format!(
                "{}: a second entrypoint binary for {}",
                path.display(),
                binary.arch
            ));
        }
        docs.push(Document::of(&cm).with_comment(format!(
            "The entrypoint for {} nodes ({} bytes), created once per namespace.",
            binary.arch,
            bytes.len()
        )));
        binaries.push(binary);
    }
    Ok((binaries, docs))
}

pub fn run(args: CompileArgs) -> u8 {
    let mut project = match Project::load(&args.paths, &args.source, args.color) {
        Ok(project) => project,
        Err(code) => return code,
    };
    // The canonical YAML of the inputs needs nothing they reference.
    if !matches!(args.emit, Emit::Tekton) {
        project.resolve_references();
    }
    let Project {
        sources,
        inputs,
        options,
        ..
    } = project;
    let output = match args.emit {
        // The resources need no run: only the checks.
        Emit::Tekton => {
            let checked = tkc_compiler::check(&sources, &inputs.files, &inputs.library, &options);
            let diagnostics =
                with_input_findings(checked.diagnostics, inputs.diagnostics, &options).into_vec();
            report(&sources, &diagnostics, args.color);
            if diagnostics.iter().any(|d| d.severity == Severity::Error) {
                return exit::FAILED;
            }
            let documents: Vec<_> = checked
                .documents
                .into_iter()
                .filter(|d| inputs.files.contains(&d.file()))
                .collect();
            tkc_compiler::emit::tekton_yaml(&documents)
        }
        Emit::Plan | Emit::Pods => {
            let request = RunRequest {
                run: args.run,
                params: args.params,
                workspaces: args.workspaces,
            };
            let compiled =
                tkc_compiler::compile(&sources, &inputs.files, &inputs.library, &request, &options);
            let diagnostics =
                with_input_findings(compiled.diagnostics, inputs.diagnostics, &options).into_vec();
            report(&sources, &diagnostics, args.color);
            let errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
            match compiled.plan {
                Some(plan) if !errors => match args.emit {
                    Emit::Pods => {
                        let (binaries, docs) = match entrypoint_binaries(&args.entrypoint_binaries)
                        {
                            Ok(found) => found,
                            Err(e) => {
                                eprintln!("error: {e}");
                                return exit::USAGE;
                            }
                        };
                        let (text, failures) = crate::pods::emit(&plan, &binaries, docs);
                        let code = write_output(args.output.as_deref(), &text);
                        for failure in &failures {
                            eprintln!("error: {failure}");
                        }
                        return if code == exit::OK && !failures.is_empty() {
                            exit::FAILED
                        } else {
                            code
                        };
                    }
                    _ => plan.to_json(),
                },
                _ => return exit::FAILED,
            }
        }
    };
    write_output(args.output.as_deref(), &output)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn params_read_like_tekton() {
        assert_eq!(
            parse_param("a=x").unwrap(),
            ("a".into(), ParamValue::String("x".into()))
        );
        assert_eq!(
            parse_param(r#"a=["1","2"]"#).unwrap(),
            ("a".into(), ParamValue::Array(vec!["1".into(), "2".into()]))
        );
        assert_eq!(
            parse_param("a=[not json").unwrap(),
            ("a".into(), ParamValue::String("[not json".into()))
        );
        assert!(matches!(
            parse_param(r#"o={"k":"v"}"#).unwrap().1,
            ParamValue::Object(_)
        ));
        assert_eq!(
            parse_param("a=b=c").unwrap().1,
            ParamValue::String("b=c".into())
        );
        assert!(parse_param("novalue").is_err());
    }

    #[test]
    fn workspaces() {
        assert_eq!(
            parse_workspace("src=emptyDir").unwrap().1,
            Binding::EmptyDir {}
        );
        assert_eq!(
            parse_workspace("src=dir:./out").unwrap().1,
            Binding::Dir {
                path: "./out".into()
            }
        );
        assert!(parse_workspace("src=nfs:x").is_err());
        assert!(parse_workspace("src").is_err());
    }
}
