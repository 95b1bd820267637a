//! Reading the files a command is given: paths, directories and stdin.

use std::io::Read;
use std::path::PathBuf;
use tkc_compiler::diag::Diagnostic;
use tkc_compiler::source::{self, FileId, SourceMap, Syntax};

/// The files of one invocation, loaded.
pub struct Inputs {
    pub sources: SourceMap,
    pub files: Vec<FileId>,
    /// Findings about the bytes themselves (invalid UTF-8).
    pub diagnostics: Vec<Diagnostic>,
}

/// An input that could not be read: exit code 2.
pub struct InputError(pub String);

/// Loads `paths` (`-` is stdin, named `stdin_name`); directories are walked for `*.yaml`,
/// `*.yml` and `*.kdl`.
pub fn load(paths: &[PathBuf], stdin_name: Option<&str>) -> Result<Inputs, InputError> {
    let mut sources = SourceMap::new();
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    let (stdin, others): (Vec<&PathBuf>, Vec<&PathBuf>) =
        paths.iter().partition(|p| p.as_os_str() == "-");
    let others: Vec<PathBuf> = others.into_iter().cloned().collect();
    let expanded = source::expand_paths(&others).map_err(|e| InputError(e.to_string()))?;
    if !stdin.is_empty() {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| InputError(format!("cannot read stdin: {e}")))?;
        let name = stdin_name.unwrap_or("<stdin>");
        let (text, bad) = source::decode_text(bytes);
        let id = sources.add_with_syntax(name, text, Syntax::from_path(name));
        if let Some(at) = bad {
            diagnostics.push(tkc_compiler::invalid_utf8(id, at));
        }
        files.push(id);
    }
    for path in expanded {
        let bytes = std::fs::read(&path)
            .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?;
        let (text, bad) = source::decode_text(bytes);
        let id = sources.add(path.to_string_lossy().into_owned(), text);
        if let Some(at) = bad {
            diagnostics.push(tkc_compiler::invalid_utf8(id, at));
        }
        files.push(id);
    }
    Ok(Inputs {
        sources,
        files,
        diagnostics,
    })
}
