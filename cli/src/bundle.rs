//! `tkc bundle push` and `tkc bundle list`: Tasks, Pipelines and StepActions shared as Tekton
//! Bundles (OCI images; `docs/bundles.md`), through `tkc-bundle`.

// Elsewhere the arguments are parsed but never read.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use crate::ColorChoice;
#[cfg(target_os = "linux")]
use crate::compile::report;
#[cfg(target_os = "linux")]
use crate::exit;
#[cfg(target_os = "linux")]
use crate::project::Project;
use crate::project::SourceArgs;
use clap::{Args, Subcommand};
#[cfg(target_os = "linux")]
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
#[cfg(target_os = "linux")]
use tkc_bundle::{BundleError, Document, Entry, Options};
#[cfg(target_os = "linux")]
use tkc_compiler::diag::Severity;
#[cfg(target_os = "linux")]
use tkc_compiler::model::{self, Kind};

#[derive(Args)]
pub struct BundleArgs {
    #[command(subcommand)]
    command: BundleCommand,
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Check Tasks, Pipelines and StepActions, then push them to a registry as one Tekton
    /// Bundle (the image `tkn bundle push` writes). Prints the pushed digest reference.
    Push(PushArgs),
    /// List what a bundle holds (`kind/name apiVersion` per line); with KIND and NAME, print
    /// that resource as stored, as Tekton's `bundles` resolver would fetch it.
    List(ListArgs),
}

/// How to reach the registry. Credentials come from `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json` (what `docker login` writes).
#[derive(Args)]
struct RegistryArgs {
    /// Speak plain HTTP to this registry (`host` or `host:port`, as in the reference;
    /// repeatable). Registries on a loopback address always get plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registries: Vec<String>,
    /// Give up on the registry after this long (a Go duration).
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_timeout)]
    timeout: Duration,
}

#[cfg(target_os = "linux")]
impl RegistryArgs {
    fn options(&self) -> Options {
        Options {
            timeout: self.timeout,
            insecure_registries: self.insecure_registries.clone(),
            docker_config: tkc_bundle::auth::docker_config_path(),
        }
    }
}

#[derive(Args)]
struct PushArgs {
    /// Where to push: `registry/repository[:tag]` (`latest` without a tag).
    reference: String,
    /// Files or directories of Tasks, Pipelines and StepActions (walked for *.yaml, *.yml,
    /// *.kdl).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    registry: RegistryArgs,
    /// When to use colour in reports.
    #[arg(long, value_enum, default_value_t)]
    color: ColorChoice,
}

#[derive(Args)]
struct ListArgs {
    /// The bundle: `registry/repository:tag` or `registry/repository@sha256:…`.
    reference: String,
    /// Only resources of this kind (`task`, `pipeline`, `stepaction`; any case).
    kind: Option<String>,
    /// Print the resource of KIND with this name.
    name: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[cfg(target_os = "linux")]
pub fn run(args: BundleArgs) -> u8 {
    match args.command {
        BundleCommand::Push(args) => push(args),
        BundleCommand::List(args) => list(args),
    }
}

#[cfg(target_os = "linux")]
fn push(args: PushArgs) -> u8 {
    let project = match Project::load(&args.paths, &args.source, args.color) {
        Ok(project) => project,
        Err(code) => return code,
    };
    let checked = project.check(None);
    let diagnostics = checked.diagnostics.into_vec();
    report(&project.sources, &diagnostics, args.color);
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        eprintln!(
            "error: {errors} error{} in the sources; nothing was pushed",
            if errors == 1 { "" } else { "s" }
        );
        return exit::FAILED;
    }
    let mut documents = Vec::new();
    for document in checked
        .documents
        .iter()
        .filter(|d| project.inputs.files.contains(&d.file()))
    {
        let file = project.sources.get(document.file()).name();
        if !is_bundled(document.kind) {
            // Runs, ConfigMaps and Secrets often sit beside the Pipeline they run; a
            // Secret pushed to a registry would be a leak.
            eprintln!(
                "note: {file}: {} {} left out: a bundle holds Tasks, Pipelines and StepActions",
                document.kind.as_str(),
                document.name()
            );
            continue;
        }
        match bundle_document(document) {
            Ok(d) => documents.push(d),
            Err(reason) => {
                eprintln!("error: {file}: {reason}; nothing was pushed");
                return exit::FAILED;
            }
        }
    }
    if documents.is_empty() {
        eprintln!("error: no Task, Pipeline or StepAction to push");
        return exit::FAILED;
    }
    let options = args.registry.options();
    match block_on(tkc_bundle::push(&args.reference, &documents, &options)) {
        Ok(digest) => {
            for d in &documents {
                eprintln!("added {}/{}", d.entry.kind, d.entry.name);
            }
            match tkc_bundle::pinned(&args.reference, &digest) {
                Ok(pinned) => {
                    println!("{pinned}");
                    exit::OK
                }
                Err(e) => fail(&e),
            }
        }
        Err(e) => fail(&e),
    }
}

#[cfg(target_os = "linux")]
/// The kinds Tekton's resolvers fetch from a bundle.
fn is_bundled(kind: Kind) -> bool {
    matches!(kind, Kind::Task | Kind::Pipeline | Kind::StepAction)
}

#[cfg(target_os = "linux")]
/// A checked document as a bundle layer: canonical Tekton YAML (what `tkc compile --emit
/// tekton` writes, so KDL sources are pushed as YAML Tekton reads), annotated as `tkn` does.
fn bundle_document(document: &model::Document) -> Result<Document, String> {
    let kind = document.kind.as_str().to_lowercase();
    let Some(name) = document.metadata.name.as_ref() else {
        return Err(format!(
            "a {} in a bundle needs metadata.name",
            document.kind.as_str()
        ));
    };
    let json = tkc_compiler::emit::defaults(document);
    let api_version = json["apiVersion"]
        .as_str()
        .and_then(|v| v.rsplit('/').next())
        .unwrap_or("v1")
        .to_owned();
    Ok(Document {
        entry: Entry {
            kind,
            name: name.as_str().to_owned(),
            api_version,
        },
        yaml: tkc_compiler::emit::tekton_yaml(std::slice::from_ref(document)).into_bytes(),
    })
}

#[cfg(target_os = "linux")]
fn list(args: ListArgs) -> u8 {
    let options = args.registry.options();
    if let (Some(kind), Some(name)) = (&args.kind, &args.name) {
        return match block_on(tkc_bundle::pull(&args.reference, kind, name, &options)) {
            Ok(fetched) => {
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                match stdout
                    .write_all(&fetched.yaml)
                    .and_then(|()| stdout.flush())
                {
                    Ok(()) => exit::OK,
                    Err(_) => exit::USAGE,
                }
            }
            Err(e) => fail(&e),
        };
    }
    match block_on(tkc_bundle::list(&args.reference, &options)) {
        Ok((entries, _digest)) => {
            let wanted = args.kind.as_deref().map(str::to_lowercase);
            let mut out = String::new();
            for entry in entries
                .iter()
                .filter(|e| wanted.as_ref().is_none_or(|k| e.kind == *k))
            {
                out.push_str(&format!(
                    "{}/{} {}\n",
                    entry.kind, entry.name, entry.api_version
                ));
            }
            print!("{out}");
            exit::OK
        }
        Err(e) => fail(&e),
    }
}

#[cfg(target_os = "linux")]
fn fail(error: &BundleError) -> u8 {
    eprintln!("error: {error}");
    exit::USAGE
}

#[cfg(target_os = "linux")]
/// Runs one registry operation on a runtime of its own (the commands are otherwise
/// synchronous).
fn block_on<T>(work: impl Future<Output = Result<T, BundleError>>) -> Result<T, BundleError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BundleError::Invalid(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(work)
}

/// A Go duration (`30s`, `1m30s`), positive.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match tkc_compiler::model::duration::Duration::parse(text) {
        Some(d) if d.nanos > 0 => Ok(Duration::from_nanos(
            u64::try_from(d.nanos).unwrap_or(u64::MAX),
        )),
        _ => Err(format!(
            "`{text}` is not a positive duration (like 30s or 2m)"
        )),
    }
}

/// Elsewhere than Linux the registry client (rustls with ring) is not built.
#[cfg(not(target_os = "linux"))]
pub fn run(_: BundleArgs) -> u8 {
    crate::run::linux_only("bundle")
}
