//! The settings of the workspace's `tkc.toml` the server needs: search paths, include and
//! exclude globs, `enable-api-fields` and per-code levels. `tkc check` (cli/src/config.rs)
//! reports a malformed file with spans; the server reads what it can and says in a message
//! what it could not, so that a half-written tkc.toml never stops the checks.

use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tkc_compiler::Options;
use tkc_compiler::diag::{Level, codes};
use tkc_compiler::model::ApiFields;

/// The configuration file's name.
pub const FILE_NAME: &str = "tkc.toml";

/// What the server takes from `tkc.toml`.
#[derive(Default)]
pub struct Config {
    /// The directory of the file (paths and globs are relative to it).
    pub base: Option<PathBuf>,
    pub search_paths: Vec<PathBuf>,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    pub options: Options,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct Raw {
    #[serde(default)]
    search_paths: Vec<String>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    enable_api_fields: Option<String>,
    #[serde(default)]
    severity: BTreeMap<String, String>,
}

impl Config {
    /// The nearest `tkc.toml` at or above `root`, read. `Err` says what was wrong with it (the
    /// defaults are then used).
    pub fn discover(root: &Path) -> (Config, Option<String>) {
        let found = root
            .ancestors()
            .map(|dir| dir.join(FILE_NAME))
            .find(|p| p.is_file());
        let Some(path) = found else {
            return (Config::default(), None);
        };
        let base = path.parent().map(Path::to_path_buf);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => return (Config::default(), Some(format!("{}: {e}", path.display()))),
        };
        let raw: Raw = match toml::from_str(&text) {
            Ok(raw) => raw,
            Err(e) => {
                let message = format!("{}: {e} (`tkc check` shows where)", path.display());
                return (Config::default(), Some(message));
            }
        };
        let dir = base.clone().unwrap_or_default();
        let mut options = Options::default();
        let mut problems = Vec::new();
        if let Some(level) = raw.enable_api_fields.as_deref() {
            match level {
                "stable" => options.api_fields = ApiFields::Stable,
                "beta" => options.api_fields = ApiFields::Beta,
                "alpha" => options.api_fields = ApiFields::Alpha,
                other => problems.push(format!("enable-api-fields `{other}`")),
            }
        }
        for (code, level) in &raw.severity {
            match (codes::find(code), Level::parse(level)) {
                (Some(code), Some(level)) => {
                    options.levels.insert(code.name.to_string(), level);
                }
                _ => problems.push(format!("severity `{code} = {level}`")),
            }
        }
        let mut globs = |patterns: Option<Vec<String>>| {
            let patterns = patterns?;
            let mut set = GlobSetBuilder::new();
            for p in &patterns {
                match Glob::new(p) {
                    Ok(glob) => {
                        set.add(glob);
                    }
                    Err(_) => problems.push(format!("glob `{p}`")),
                }
            }
            set.build().ok()
        };
        let include = globs(raw.include);
        let exclude = globs(raw.exclude);
        let config = Config {
            search_paths: raw.search_paths.iter().map(|p| dir.join(p)).collect(),
            base,
            include,
            exclude,
            options,
        };
        let problem = (!problems.is_empty())
            .then(|| format!("{}: ignored {}", path.display(), problems.join(", ")));
        (config, problem)
    }

    /// Is a file found by walking the workspace one to check?
    pub fn includes(&self, path: &Path) -> bool {
        let relative = match &self.base {
            Some(base) => path.strip_prefix(base).unwrap_or(path),
            None => path,
        };
        self.include.as_ref().is_none_or(|s| s.is_match(relative))
            && !self.exclude.as_ref().is_some_and(|s| s.is_match(relative))
    }
}
