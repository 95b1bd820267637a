//! `tkc.toml`, read one way for `tkc check` and `tkc lsp`: found by walking up from the
//! checked paths (or the workspace root), or given with `--config FILE`. Parsing reports
//! mistakes as diagnostics with spans into the file; the compiler only ever sees the plain
//! settings ([`Config::options`] → `tkc_compiler::Options`). `tkc check` refuses a file with
//! mistakes ([`load`]); the language server uses what is valid and says what it ignored
//! ([`load_lenient`]), so that a half-written tkc.toml never stops the checks.
//!
//! ```toml
//! search-paths = ["tasks/", "vendor/tekton"]   # relative to this file
//! include = ["**/*.yaml"]                      # directory walking: only these
//! exclude = ["charts/**", "**/kustomization.yaml"]
//! enable-api-fields = "beta"
//! enable-artifacts = false                     # Tekton's feature flags of the same names
//! enable-concise-resolver-syntax = false
//! resolve = false                              # `tkc check` fetches resolver references
//!
//! [severity]
//! "tkc::lint::latest-image" = "off"
//! missing-shebang = "warning"
//! ```

#![forbid(unsafe_code)]

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tkc_compiler::Options;
use tkc_compiler::diag::{Diagnostic, Level, codes};
use tkc_compiler::model::ApiFields;
use tkc_compiler::source::{self, FileId, SourceMap, Span};
use tkc_compiler::suggest::did_you_mean;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The configuration file's name.
pub const FILE_NAME: &str = "tkc.toml";

const KEYS: [&str; 8] = [
    "search-paths",
    "resolve",
    "include",
    "exclude",
    "enable-api-fields",
    "enable-artifacts",
    "enable-concise-resolver-syntax",
    "severity",
];

/// The settings of one tkc.toml (all empty without one).
#[derive(Default)]
pub struct Config {
    /// The file, if there is one.
    pub path: Option<PathBuf>,
    /// Search paths, resolved against the file's directory.
    pub search_paths: Vec<PathBuf>,
    pub include: Option<GlobSet>,
    pub exclude: Option<GlobSet>,
    pub api_fields: Option<ApiFields>,
    /// Tekton's `enable-artifacts` feature flag.
    pub enable_artifacts: Option<bool>,
    /// Tekton's `enable-concise-resolver-syntax` feature flag.
    pub enable_concise_resolver_syntax: Option<bool>,
    /// Per-code levels, by full code name.
    pub levels: BTreeMap<String, Level>,
    /// `resolve = true`: `tkc check` fetches references through resolvers, as `tkc check
    /// --resolve` does (`tkc compile` and `tkc run` always do).
    pub resolve: Option<bool>,
}

/// Why a configuration could not be used: an I/O error, or findings in the file.
pub enum ConfigError {
    Io(String),
    Invalid(Vec<Diagnostic>),
}

impl Config {
    /// The directory paths in the file are relative to.
    pub fn base(&self) -> Option<&Path> {
        self.path.as_ref().and_then(|p| p.parent())
    }

    /// The options the compiler takes from this file (`beta` API fields unless it says).
    pub fn options(&self) -> Options {
        Options {
            api_fields: self.api_fields.unwrap_or_default(),
            enable_artifacts: self.enable_artifacts.unwrap_or(false),
            enable_concise_resolver_syntax: self.enable_concise_resolver_syntax.unwrap_or(false),
            levels: self.levels.clone(),
            fetched: Default::default(),
        }
    }

    /// The Tekton sources found by walking `dir` (`*.yaml`, `*.yml`, `*.kdl`, as
    /// [`source::expand_paths`] walks) that `include` and `exclude` keep: the files `tkc check
    /// DIR` checks and the language server loads for a workspace rooted at `dir`.
    pub fn walk(&self, dir: &Path) -> Result<Vec<PathBuf>, source::LoadError> {
        let walked = source::expand_paths(&[dir.to_path_buf()])?;
        Ok(walked
            .into_iter()
            .filter(|p| self.walk_includes(p))
            .collect())
    }

    /// Is `path` excluded? Patterns match the path relative to the config's directory.
    pub fn excluded(&self, path: &Path) -> bool {
        self.exclude
            .as_ref()
            .is_some_and(|set| set.is_match(self.relative(path)))
    }

    /// Is a file found by walking a directory included (and not excluded)?
    pub fn walk_includes(&self, path: &Path) -> bool {
        // Matching needs the path relative to the config (two `realpath`s): only when
        // there are patterns to match.
        self.include
            .as_ref()
            .is_none_or(|set| set.is_match(self.relative(path)))
            && !self.excluded(path)
    }

    fn relative(&self, path: &Path) -> PathBuf {
        let Some(base) = self.base() else {
            return path.to_path_buf();
        };
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
        absolute
            .strip_prefix(&base)
            .map(Path::to_path_buf)
            .unwrap_or(absolute)
    }
}

/// Is `path` a tkc.toml this user may follow: owned by them (or root) and writable by no one
/// else? A tkc.toml another user left in a shared ancestor (`/tmp`) could turn checks off or
/// add search paths; it is passed over, as git passes over a repository another user owns.
#[cfg(unix)]
fn trusted(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    std::fs::metadata(path).is_ok_and(|m| (m.uid() == me || m.uid() == 0) && m.mode() & 0o022 == 0)
}

#[cfg(not(unix))]
fn trusted(_: &Path) -> bool {
    true
}

/// The environment variable that moves tkc's cache (resolved references, shellcheck's answers).
pub const DIR_VAR: &str = "TKC_CACHE_DIR";

/// The user's cache directory for tkc, the one every cache of tkc lives under: `$TKC_CACHE_DIR`,
/// else `$XDG_CACHE_HOME/tkc`, else `%LOCALAPPDATA%\tkc` (Windows), else `~/.cache/tkc`.
pub fn cache_dir() -> Option<PathBuf> {
    let nonempty = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
    if let Some(dir) = nonempty(DIR_VAR) {
        return Some(PathBuf::from(dir));
    }
    nonempty("XDG_CACHE_HOME")
        .or_else(|| nonempty("LOCALAPPDATA").filter(|_| cfg!(windows)))
        .map(PathBuf::from)
        .or_else(|| nonempty("HOME").map(|home| Path::new(&home).join(".cache")))
        .map(|dir| dir.join("tkc"))
}

/// Makes `dir` (a directory under tkc's cache) and its missing parents, each readable by this
/// user alone (0700 on Unix): what the caches hold (fetched Tasks from private repositories,
/// step scripts with the tokens some paste into them) is no one else's to read. Directories
/// that exist are left as they are, so two tkc processes making the same one at once both
/// succeed. Called when something is about to be written, so that a command that caches
/// nothing makes nothing.
pub fn create_cache_dir_all(dir: &Path) -> std::io::Result<()> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes a file of one of tkc's caches: readable by this user alone (0600 on Unix, whatever
/// the directory's mode: a fetched Task may come from a private repository, a script may
/// hold a token), to a temporary name (`*.tmp`, which [`prune_cache`] cleans up after a
/// writer that died) renamed over `path`, so a reader sees a whole file or none, whatever
/// other tkc processes do at the same time. Its directory is made if missing.
pub fn write_cache_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a cache path without a directory"))?;
    create_cache_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// A private scratch directory (0700 on Unix) named `<prefix><pid>-<n>` in `dir` (made like a
/// cache directory if missing), for files a command writes and removes again: a git clone,
/// scripts handed to shellcheck. Those of `prefix` whose process no longer runs (a tkc stopped
/// by Ctrl-C in the middle) are removed first, so what they held does not stay. In a shared
/// directory such as `/tmp`, `prefix` makes the names tkc's own.
pub fn scratch_dir(dir: &Path, prefix: &str) -> std::io::Result<PathBuf> {
    create_cache_dir_all(dir)?;
    sweep_orphans(dir, prefix);
    for n in 0u32.. {
        let path = dir.join(format!("{prefix}{}-{n}", std::process::id()));
        match create_private_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free scratch directory name"))
}

/// Removes the scratch directories `<prefix><pid>-<n>` in `dir` whose process no longer runs
/// (another user's cannot be removed, and are not). Where that cannot be told (not Unix),
/// none.
fn sweep_orphans(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !running(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Does process `pid` run (here, or as another user's)?
#[cfg(unix)]
fn running(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

#[cfg(not(unix))]
fn running(_: u32) -> bool {
    true
}

/// Keeps a cache directory bounded: once `dir` holds a quarter more files than `keep`, the
/// oldest (by the time they were written) go until `keep` are left; writers' temporary files
/// (`*.tmp`) an hour old go too, left by a tkc that died between writing and renaming. The
/// quarter's slack spares a cache that stays near its bound a walk of it on every write.
/// Errors are ignored: a cache that cannot be pruned still works.
pub fn prune_cache(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let stale = std::time::SystemTime::now()
        .checked_sub(std::time::Duration::from_secs(3600))
        .unwrap_or(std::time::UNIX_EPOCH);
    let mut files = Vec::new();
    for entry in entries.flatten() {
        // Not through a link: the cache's own files only.
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let (true, Ok(written)) = (meta.is_file(), meta.modified()) else {
            continue;
        };
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "tmp") {
            if written < stale {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        files.push((written, path));
    }
    if files.len() <= keep.saturating_add(keep / 4) {
        return;
    }
    files.sort();
    let excess = files.len() - keep;
    for (_, path) in files.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
}

/// Makes the directory `dir` (not its parents), readable by this user alone (0700 on Unix); an
/// error if it exists. For scratch space in a shared directory such as `/tmp`.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The nearest tkc.toml in `start` or one of its ancestors that this user may follow
/// ([`trusted`]).
pub fn discover(start: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(start).ok()?;
    let mut dir = if start.is_dir() {
        Some(start.as_path())
    } else {
        start.parent()
    };
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() && trusted(&candidate) {
            return Some(candidate);
        }
        dir = d.parent();
    }
    None
}

/// Reads and parses a tkc.toml, refusing one with mistakes; its text is added to `sources` so
/// findings can point into it.
pub fn load(path: &Path, sources: &mut SourceMap) -> Result<Config, ConfigError> {
    let (config, findings) = load_lenient(path, sources).map_err(ConfigError::Io)?;
    if findings.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid(findings))
    }
}

/// Reads and parses a tkc.toml, keeping every setting that is valid: the configuration and
/// the findings about the rest (`Err`: the file cannot be read).
pub fn load_lenient(
    path: &Path,
    sources: &mut SourceMap,
) -> Result<(Config, Vec<Diagnostic>), String> {
    let bytes = std::fs::File::open(path)
        .and_then(tkc_compiler::source::read_capped)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .ok_or_else(|| format!("{} is too large for a tkc.toml", path.display()))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
    let file = sources.add(display_name(path), text.clone());
    let (mut config, findings) = parse(&text, file);
    let base = path.parent().unwrap_or(Path::new("."));
    config.search_paths = config.search_paths.iter().map(|p| base.join(p)).collect();
    config.path = Some(path.to_path_buf());
    Ok((config, findings))
}

/// The path relative to the current directory when it is below it (reports name files as
/// the user sees them).
fn display_name(path: &Path) -> String {
    let relative = std::env::current_dir().ok().and_then(|cwd| {
        let cwd = std::fs::canonicalize(cwd).ok()?;
        let absolute = std::fs::canonicalize(path).ok()?;
        absolute.strip_prefix(cwd).ok().map(Path::to_path_buf)
    });
    relative
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// Parses the text of a tkc.toml (file `file` of the source map): the valid settings, and a
/// finding for each mistake (an invalid setting is left at its default).
pub fn parse(text: &str, file: FileId) -> (Config, Vec<Diagnostic>) {
    let span = |range: std::ops::Range<usize>| Span::new(file, range.start, range.end);
    let table = match DeTable::parse(text) {
        Ok(table) => table.into_inner(),
        Err(e) => {
            let at = e.span().unwrap_or(0..0);
            let finding = Diagnostic::new(&codes::CONFIG_INVALID, "tkc.toml is not valid TOML")
                .with_label(span(at), e.message().trim().to_string())
                .with_help("see https://toml.io for the syntax");
            return (Config::default(), vec![finding]);
        }
    };
    let mut out = Vec::new();
    let mut config = Config::default();
    for (key, value) in &table {
        let key_span = span(key.span());
        let name: &str = key.get_ref();
        match name {
            "search-paths" => {
                config.search_paths = strings(value, "search-paths", &span, &mut out)
                    .into_iter()
                    .map(|(s, _)| PathBuf::from(s))
                    .collect();
            }
            "include" | "exclude" => {
                let patterns = strings(value, name, &span, &mut out);
                let set = globs(&patterns, &mut out);
                if name == "include" {
                    config.include = set;
                } else {
                    config.exclude = set;
                }
            }
            "enable-api-fields" => {
                if let Some((s, at)) = string(value, name, &span, &mut out) {
                    match ApiFields::parse(&s) {
                        Some(level) => config.api_fields = Some(level),
                        None => out.push(invalid_value(
                            at,
                            &s,
                            &["stable", "beta", "alpha"],
                            "enable-api-fields",
                        )),
                    }
                }
            }
            "resolve" => {
                config.resolve = boolean(value, name, &span, &mut out);
            }
            "enable-artifacts" => {
                config.enable_artifacts = boolean(value, name, &span, &mut out);
            }
            "enable-concise-resolver-syntax" => {
                config.enable_concise_resolver_syntax = boolean(value, name, &span, &mut out);
            }
            "severity" => match value.get_ref() {
                DeValue::Table(levels) => severity(levels, &span, &mut config, &mut out),
                _ => out.push(wrong_type(span(value.span()), "severity", "a table")),
            },
            other => {
                let help = match did_you_mean(other, KEYS) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "tkc.toml keys are {}",
                        KEYS.map(|k| format!("`{k}`")).join(", ")
                    ),
                };
                out.push(
                    Diagnostic::new(
                        &codes::CONFIG_UNKNOWN_KEY,
                        format!("unknown key `{other}` in tkc.toml"),
                    )
                    .with_label(key_span, "unknown key")
                    .with_help(help),
                );
            }
        }
    }
    (config, out)
}

fn severity(
    levels: &DeTable,
    span: &impl Fn(std::ops::Range<usize>) -> Span,
    config: &mut Config,
    out: &mut Vec<Diagnostic>,
) {
    for (key, value) in levels {
        let given: &str = key.get_ref();
        let code = codes::find(given);
        let Some(code) = code else {
            let help = match codes::closest_as_written(given) {
                Some(c) => format!("did you mean `{c}`?"),
                None => "`tkc explain --list` lists the codes".to_string(),
            };
            out.push(
                Diagnostic::new(
                    &codes::CONFIG_UNKNOWN_KEY,
                    format!("unknown code `{given}` in [severity]"),
                )
                .with_label(span(key.span()), "no such code")
                .with_help(help),
            );
            continue;
        };
        let Some((level, at)) = string(value, given, span, out) else {
            continue;
        };
        match Level::parse(&level) {
            Some(l) => {
                config.levels.insert(code.name.to_string(), l);
            }
            None => out.push(invalid_value(at, &level, &Level::NAMES, "a severity")),
        }
    }
}

fn invalid_value(at: Span, given: &str, valid: &[&str], what: &str) -> Diagnostic {
    let list: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
    let help = match did_you_mean(given, valid.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("use {}", list.join(", ")),
    };
    Diagnostic::new(
        &codes::CONFIG_INVALID,
        format!("`{given}` is not a valid value for {what}"),
    )
    .with_label(at, "invalid value")
    .with_help(help)
}

fn wrong_type(at: Span, key: &str, expected: &str) -> Diagnostic {
    Diagnostic::new(
        &codes::CONFIG_INVALID,
        format!("`{key}` must be {expected}"),
    )
    .with_label(at, format!("not {expected}"))
}

fn string(
    value: &Spanned<DeValue>,
    key: &str,
    span: &impl Fn(std::ops::Range<usize>) -> Span,
    out: &mut Vec<Diagnostic>,
) -> Option<(String, Span)> {
    match value.get_ref() {
        DeValue::String(s) => Some((s.to_string(), span(value.span()))),
        _ => {
            out.push(wrong_type(span(value.span()), key, "a string"));
            None
        }
    }
}

fn boolean(
    value: &Spanned<DeValue>,
    key: &str,
    span: &impl Fn(std::ops::Range<usize>) -> Span,
    out: &mut Vec<Diagnostic>,
) -> Option<bool> {
    match value.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        _ => {
            out.push(wrong_type(span(value.span()), key, "true or false"));
            None
        }
    }
}

fn strings(
    value: &Spanned<DeValue>,
    key: &str,
    span: &impl Fn(std::ops::Range<usize>) -> Span,
    out: &mut Vec<Diagnostic>,
) -> Vec<(String, Span)> {
    let DeValue::Array(items) = value.get_ref() else {
        out.push(wrong_type(span(value.span()), key, "a list of strings"));
        return Vec::new();
    };
    let mut found = Vec::new();
    for item in items {
        if let Some(s) = string(item, key, span, out) {
            found.push(s);
        }
    }
    found
}

/// Compiles glob patterns; `*` stays within a directory, `**` crosses them, and a pattern
/// ending in `/` means everything under that directory.
fn globs(patterns: &[(String, Span)], out: &mut Vec<Diagnostic>) -> Option<GlobSet> {
    if patterns.is_empty() {
        return None;
    }
    let mut builder = GlobSetBuilder::new();
    for (pattern, at) in patterns {
        let mut p = pattern.trim_start_matches("./").to_string();
        if p.ends_with('/') {
            p.push_str("**");
        }
        match GlobBuilder::new(&p).literal_separator(true).build() {
            Ok(glob) => {
                builder.add(glob);
            }
            Err(e) => out.push(
                Diagnostic::new(
                    &codes::CONFIG_INVALID,
                    format!("invalid glob `{pattern}`"),
                )
                .with_label(*at, e.kind().to_string())
                .with_help("`*` matches within a directory, `**` across directories, `?` one character"),
            ),
        }
    }
    builder.build().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Config, Vec<String>> {
        let mut sources = SourceMap::new();
        let file = sources.add("tkc.toml", text);
        let (config, findings) = parse(text, file);
        if findings.is_empty() {
            Ok(config)
        } else {
            Err(findings.into_iter().map(|d| d.message).collect())
        }
    }

    #[test]
    fn reads_every_setting() {
        let config = parse_text(
            r#"
search-paths = ["tasks/"]
include = ["**/*.yaml"]
exclude = ["charts/"]
enable-api-fields = "alpha"
enable-artifacts = true
enable-concise-resolver-syntax = false

[severity]
"tkc::lint::latest-image" = "off"
missing-shebang = "warning"
"#,
        )
        .unwrap_or_default();
        assert_eq!(config.search_paths, [PathBuf::from("tasks/")]);
        assert_eq!(config.api_fields, Some(ApiFields::Alpha));
        assert_eq!(config.enable_artifacts, Some(true));
        assert_eq!(config.enable_concise_resolver_syntax, Some(false));
        assert_eq!(
            config.levels.get("tkc::lint::latest-image"),
            Some(&Level::Off)
        );
        assert_eq!(
            config.levels.get("tkc::lint::missing-shebang"),
            Some(&Level::Warning)
        );
        assert!(
            config
                .exclude
                .is_some_and(|s| s.is_match("charts/app/values.yaml"))
        );
        assert!(config.include.is_some_and(|s| s.is_match("a/b/c.yaml")));
    }

    #[test]
    fn reports_mistakes() {
        let errors = parse_text(
            "serch-paths = []\nenable-api-fields = \"beat\"\nenable-artifacts = \"yes\"\n[severity]\nlatest-imag = \"off\"\nmissing-shebang = \"loud\"\n",
        )
        .err()
        .unwrap_or_default();
        assert_eq!(
            errors,
            [
                "`beat` is not a valid value for enable-api-fields",
                "`enable-artifacts` must be true or false",
                "unknown key `serch-paths` in tkc.toml",
                "unknown code `latest-imag` in [severity]",
                "`loud` is not a valid value for a severity",
            ]
        );
        let errors = parse_text("include = [\"a\"").err().unwrap_or_default();
        assert_eq!(errors, ["tkc.toml is not valid TOML"]);
    }

    #[test]
    fn mistakes_leave_the_valid_settings() {
        let mut sources = SourceMap::new();
        let text = "search-paths = [\"tasks/\"]\nenable-api-fields = \"beat\"\n[severity]\nmissing-shebang = \"off\"\n";
        let file = sources.add("tkc.toml", text);
        let (config, findings) = parse(text, file);
        assert_eq!(findings.len(), 1);
        assert_eq!(config.search_paths, [PathBuf::from("tasks/")]);
        assert_eq!(config.api_fields, None);
        assert_eq!(
            config.options().levels.get("tkc::lint::missing-shebang"),
            Some(&Level::Off)
        );
    }

    /// A tkc.toml others may write is passed over: discovery goes on to the next one up.
    #[cfg(unix)]
    #[test]
    fn discovery_passes_over_a_tkc_toml_others_may_write() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("tkc-config-trust-{}", std::process::id()));
        let inner = root.join("shared");
        std::fs::create_dir_all(&inner).unwrap_or_default();
        std::fs::write(root.join(FILE_NAME), "").unwrap_or_default();
        std::fs::write(inner.join(FILE_NAME), "").unwrap_or_default();
        let _ =
            std::fs::set_permissions(root.join(FILE_NAME), std::fs::Permissions::from_mode(0o644));
        let _ = std::fs::set_permissions(
            inner.join(FILE_NAME),
            std::fs::Permissions::from_mode(0o666),
        );
        let found = discover(&inner);
        let _ = std::fs::remove_dir_all(&root);
        let root = std::fs::canonicalize(std::env::temp_dir())
            .unwrap_or_default()
            .join(format!("tkc-config-trust-{}", std::process::id()));
        assert_eq!(found, Some(root.join(FILE_NAME)));
    }
}

#[cfg(all(test, unix))]
mod cache_dir_tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn cache_directories_are_made_private_and_made_twice_is_fine() {
        let base = std::env::temp_dir().join(format!("tkc-config-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("tkc/remote/tmp");
        let first = super::create_cache_dir_all(&dir);
        // A second tkc making the same directories at the same moment.
        let again = super::create_cache_dir_all(&dir);
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
        };
        let modes = [mode(&base), mode(&base.join("tkc")), mode(&dir)];
        let scratch = base.join("scratch");
        let private = super::create_private_dir(&scratch);
        let scratch_mode = mode(&scratch);
        let existing = super::create_private_dir(&scratch);
        let _ = std::fs::remove_dir_all(&base);
        assert!(first.is_ok() && again.is_ok(), "{first:?} {again:?}");
        assert_eq!(modes, [Some(0o700); 3]);
        assert!(private.is_ok(), "{private:?}");
        assert_eq!(scratch_mode, Some(0o700));
        assert!(
            existing.is_err(),
            "a scratch directory that exists is not taken"
        );
    }

    #[test]
    fn scratch_directories_are_private_and_those_of_gone_processes_go() {
        let dir = std::env::temp_dir().join(format!("tkc-config-scratch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A process that has ended: its pid names no process now.
        let gone = std::process::Command::new("true")
            .spawn()
            .and_then(|mut child| child.wait().map(|_| child.id()))
            .unwrap_or(u32::MAX);
        let make = |name: String| {
            let _ = super::create_cache_dir_all(&dir.join(&name).join("clone"));
            name
        };
        let left = make(format!("x-{gone}-0"));
        let running = make("x-1-0".to_owned());
        let other = make(format!("y-{gone}-0"));
        let first = super::scratch_dir(&dir, "x-");
        let second = super::scratch_dir(&dir, "x-");
        let exists = |name: &str| dir.join(name).exists();
        let (left_kept, running_kept, other_kept) =
            (exists(&left), exists(&running), exists(&other));
        let mode = first
            .as_ref()
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.permissions().mode() & 0o777);
        let _ = std::fs::remove_dir_all(&dir);
        let me = std::process::id();
        assert_eq!(first.ok(), Some(dir.join(format!("x-{me}-0"))));
        assert_eq!(second.ok(), Some(dir.join(format!("x-{me}-1"))));
        assert_eq!(mode, Some(0o700));
        assert!(!left_kept, "the directory of a process that is gone stays");
        assert!(running_kept, "the directory of pid 1 (running) went");
        assert!(other_kept, "a directory of another prefix went");
    }

    #[test]
    fn cache_files_are_private_and_whole() {
        let dir = std::env::temp_dir().join(format!("tkc-config-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("answers").join("x.json");
        let first = super::write_cache_file(&path, b"first");
        let again = super::write_cache_file(&path, b"second");
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let left: Vec<_> = std::fs::read_dir(dir.join("answers"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(first.is_ok() && again.is_ok(), "{first:?} {again:?}");
        assert_eq!(mode.ok(), Some(0o600));
        assert_eq!(text, "second");
        assert_eq!(left.len(), 1, "temporary files left: {left:?}");
    }

    #[test]
    fn a_cache_keeps_its_newest_files_once_a_quarter_over() {
        let dir = std::env::temp_dir().join(format!("tkc-config-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = super::create_cache_dir_all(&dir);
        let now = std::time::SystemTime::now();
        // Written `age` seconds ago.
        let write = |name: &str, age: u64| {
            let path = dir.join(name);
            let _ = std::fs::write(&path, name);
            let at = now - std::time::Duration::from_secs(age);
            let _ = std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(at));
        };
        let names = |dir: &std::path::Path| {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        for (i, age) in [50, 10, 40, 20, 30].into_iter().enumerate() {
            write(&format!("{i}.json"), age);
        }
        // Five files, a quarter over four is five: nothing goes yet.
        super::prune_cache(&dir, 4);
        let kept_at_five = names(&dir);
        write("5.json", 5);
        write("old.tmp", 7200);
        write("new.tmp", 10);
        super::prune_cache(&dir, 4);
        let kept = names(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(kept_at_five.len(), 5, "{kept_at_five:?}");
        // The four written last, and the temporary file still being written.
        assert_eq!(kept, ["1.json", "3.json", "4.json", "5.json", "new.tmp"]);
    }
}
