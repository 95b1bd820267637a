//! The workspace's `tkc.toml`, read by `tkc-config` exactly as `tkc check` reads it (the same
//! search paths, `include`/`exclude` globs, API fields and levels). Where `tkc check` refuses a
//! file with mistakes, the server keeps the valid settings and says in a message what it
//! ignored, so that a half-written tkc.toml never stops the checks.

use std::path::Path;
use tkc_compiler::Options;
use tkc_compiler::source::SourceMap;

/// The configuration the server works with.
#[derive(Default)]
pub struct Config {
    pub file: tkc_config::Config,
    pub options: Options,
}

/// The nearest `tkc.toml` at or above `root`, read; the message says what was ignored.
pub fn discover(root: &Path) -> (Config, Option<String>) {
    let Some(path) = tkc_config::discover(root) else {
        return (Config::default(), None);
    };
    let mut sources = SourceMap::new();
    let (file, findings) = match tkc_config::load_lenient(&path, &mut sources) {
        Ok(loaded) => loaded,
        Err(e) => return (Config::default(), Some(e)),
    };
    let problems: Vec<String> = findings
        .iter()
        .map(|d| match d.primary_span() {
            Some(span) => {
                let at = sources.get(span.file).line_col(span.start);
                format!(
                    "{}:{}:{}: {}",
                    path.display(),
                    at.line,
                    at.column,
                    d.message
                )
            }
            None => format!("{}: {}", path.display(), d.message),
        })
        .collect();
    let options = file.options();
    let message = (!problems.is_empty()).then(|| {
        format!(
            "tkc.toml: ignored what `tkc check` reports: {}",
            problems.join("; ")
        )
    });
    (Config { file, options }, message)
}
