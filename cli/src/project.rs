//! What every command that reads Tekton sources shares: the source flags, finding and reading
//! `tkc.toml`, loading the files (and the search paths' library files), and checking them.

use crate::ColorChoice;
use crate::check::ApiFieldsArg;
use crate::exit;
use crate::inputs::{self, Inputs};
use clap::Args;
#[cfg(target_os = "linux")]
use std::collections::BTreeMap;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use tkc_compiler::check::shellcheck::ScriptLinter;
use tkc_compiler::diag::{self, Diagnostic, Diagnostics, codes, render};
use tkc_compiler::source::{FileId, SourceMap};
use tkc_compiler::{CheckResult, Options};
use tkc_config::{self as config, Config, ConfigError};

/// Flags about where sources come from and how they are read.
#[derive(Args, Clone, Debug, Default)]
pub struct SourceArgs {
    /// The name to give stdin in reports (its extension picks YAML or KDL; without it, KDL is
    /// recognised by its first node).
    #[arg(long, value_name = "NAME")]
    pub stdin_filename: Option<String>,
    /// Tekton's `enable-api-fields`: which maturity of fields to accept [default: beta].
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub enable_api_fields: Option<ApiFieldsArg>,
    /// Tekton's `enable-artifacts` feature flag: artifact references are replaced (off by
    /// default, and not turned on by `--enable-api-fields alpha`).
    #[arg(long)]
    pub enable_artifacts: bool,
    /// Tekton's `enable-concise-resolver-syntax` feature flag: a reference's `name` may be a
    /// URL read by its `resolver` (off by default).
    #[arg(long)]
    pub enable_concise_resolver_syntax: bool,
    /// A directory of Tasks, Pipelines and StepActions that references resolve against; its
    /// files are not reported on (repeatable; adds to `search-paths` in tkc.toml).
    #[arg(long = "search-path", value_name = "DIR")]
    pub search_paths: Vec<PathBuf>,
    /// The configuration file [default: the nearest tkc.toml above the given paths, or the
    /// current directory].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Fetch nothing: references through resolvers (git, http, hub, bundles, cluster) are read
    /// from the cache of earlier fetches only (docs/resolvers.md).
    #[arg(long)]
    pub offline: bool,
}

/// Loaded sources, ready to check.
pub struct Project {
    pub sources: SourceMap,
    pub inputs: Inputs,
    pub options: Options,
    /// `resolve = true` in tkc.toml: `tkc check` fetches references through resolvers.
    pub resolve_in_check: bool,
    /// `--offline` (read only where references are fetched: Linux).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub offline: bool,
}

impl Project {
    /// Finds the configuration, loads `paths` and the search paths. A configuration or I/O
    /// error is printed (to stderr) and turned into the exit code.
    pub fn load(paths: &[PathBuf], args: &SourceArgs, color: ColorChoice) -> Result<Project, u8> {
        let mut sources = SourceMap::new();
        let config = match find_config(paths, args.config.as_deref(), &mut sources) {
            Ok(config) => config,
            Err(ConfigError::Io(e)) => {
                eprintln!("error: {e}");
                return Err(exit::USAGE);
            }
            Err(ConfigError::Invalid(diagnostics)) => {
                let mut sorted = Diagnostics::new();
                sorted.extend(diagnostics);
                sorted.sort();
                let diagnostics = sorted.into_vec();
                let options = render::HumanOptions {
                    color: color.enabled(),
                    width: terminal_width(),
                };
                eprint!("{}", render::human(&sources, &diagnostics, options));
                eprintln!(
                    "error: the configuration has {} error(s); nothing was done",
                    diagnostics.len()
                );
                return Err(exit::USAGE);
            }
        };
        let mut search_paths = config.search_paths.clone();
        search_paths.extend(args.search_paths.iter().cloned());
        let inputs = match inputs::load(
            &mut sources,
            paths,
            args.stdin_filename.as_deref(),
            &config,
            &search_paths,
        ) {
            Ok(inputs) => inputs,
            Err(e) => {
                eprintln!("error: {}", e.0);
                return Err(exit::USAGE);
            }
        };
        // tkc.toml's settings, as the language server reads them, then the flags over them.
        let mut options = config.options();
        if let Some(level) = args.enable_api_fields {
            options.api_fields = level.into();
        }
        options.enable_artifacts |= args.enable_artifacts;
        options.enable_concise_resolver_syntax |= args.enable_concise_resolver_syntax;
        Ok(Project {
            sources,
            inputs,
            options,
            resolve_in_check: config.resolve.unwrap_or(false),
            offline: args.offline,
        })
    }

    /// [`Project::fetch_references`] for `tkc check --resolve`, `compile` and `describe`: no
    /// secrets, the default cluster, quietly. Elsewhere than Linux nothing is fetched (the
    /// resolvers' clients, rustls with ring, are built for Linux only): references stay
    /// `tkc::resolve::remote-ref` warnings (docs/resolvers.md, "Platforms").
    pub fn resolve_references(&mut self) {
        #[cfg(target_os = "linux")]
        self.fetch_references(&BTreeMap::new(), &Default::default(), false);
    }

    /// Fetches what references through resolvers name (git, http, hub, bundles, cluster) into
    /// the sources, for the compiler to follow; a failure is a diagnostic among the inputs' findings. With
    /// `progress`, each fetch is announced on stderr. `secrets` are `tkc run --secret`'s (the
    /// http resolver's basic auth); `cluster` is the one the cluster resolver reads.
    #[cfg(target_os = "linux")]
    pub fn fetch_references(
        &mut self,
        secrets: &BTreeMap<String, BTreeMap<String, String>>,
        cluster: &tkc_remote::cluster::Target,
        progress: bool,
    ) {
        let mut settings = tkc_remote::Settings::from_env(self.offline);
        settings.secrets = secrets.clone();
        settings.cluster = cluster.clone();
        let mut announce = |what: &str| {
            if progress {
                eprintln!("fetching {what}");
            }
        };
        let (fetched, findings) = tkc_remote::resolve(
            &mut self.sources,
            &self.inputs.files,
            &self.options,
            &settings,
            &mut announce,
        );
        self.options.fetched = fetched;
        self.inputs.diagnostics.extend(findings);
    }

    /// Checks the loaded files, and their scripts with `scripts` if given: every diagnostic
    /// (configured levels applied), sorted.
    pub fn check(&self, scripts: Option<&dyn ScriptLinter>) -> CheckResult {
        let mut result = tkc_compiler::check_with(
            &self.sources,
            &self.inputs.files,
            &self.inputs.library,
            &self.options,
            scripts,
        );
        let extra: Vec<Diagnostic> = self
            .inputs
            .diagnostics
            .iter()
            .cloned()
            .chain(self.dirs_without_tekton(&result))
            .collect();
        result.diagnostics = with_input_findings(result.diagnostics, extra, &self.options);
        result
    }
}

/// A compiler pass's findings with those of tkc's own (about the inputs: unreadable bytes,
/// directories without Tekton), the configured levels applied to those (the compiler applied
/// them to its own), sorted: what every command reports.
pub fn with_input_findings(
    mut found: Diagnostics,
    extra: impl IntoIterator<Item = Diagnostic>,
    options: &tkc_compiler::Options,
) -> Diagnostics {
    let mut own = Diagnostics::new();
    own.extend(extra);
    diag::apply_levels(&options.levels, &mut own);
    found.extend(own);
    found.sort();
    found
}

impl Project {
    /// [`codes::NO_TEKTON_INPUT`] for each directory given under which no file holds a
    /// Tekton resource.
    fn dirs_without_tekton(&self, checked: &CheckResult) -> Vec<Diagnostic> {
        let found: HashSet<FileId> = checked.documents.iter().map(|d| d.file()).collect();
        self.inputs
            .dirs
            .iter()
            .filter(|(_, files)| !files.iter().any(|f| found.contains(f)))
            .map(|(dir, files)| {
                let read = match files.len() {
                    0 => "no YAML or KDL file".to_string(),
                    1 => "1 file read".to_string(),
                    n => format!("{n} files read"),
                };
                Diagnostic::new(
                    &codes::NO_TEKTON_INPUT,
                    format!("no Tekton resource under `{}` ({read})", dir.display()),
                )
                .with_help(
                    "check the path: tkc reads *.yaml, *.yml and *.kdl files whose apiVersion is \
                     tekton.dev/*, except what tkc.toml excludes",
                )
            })
            .collect()
    }
}

/// The configuration for this invocation: `--config`, else the nearest tkc.toml above the
/// first path, else above the current directory.
fn find_config(
    paths: &[PathBuf],
    explicit: Option<&Path>,
    sources: &mut SourceMap,
) -> Result<Config, ConfigError> {
    let path = match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => paths
            .iter()
            .find(|p| p.as_os_str() != "-")
            .and_then(|p| config::discover(p))
            .or_else(|| config::discover(Path::new("."))),
    };
    match path {
        Some(path) => config::load(&path, sources),
        None => Ok(Config::default()),
    }
}

/// `COLUMNS`, else 100.
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}
