//! Reading the files a command is given: paths, directories, stdin, and the library files of
//! the search paths.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tkc_compiler::diag::Diagnostic;
use tkc_compiler::source::{
    self, FileId, MAX_FILE_SIZE, SourceMap, Syntax, read_capped, read_capped_sized,
};
use tkc_config::Config;

/// The files of one invocation, loaded.
pub struct Inputs {
    /// The files to check.
    pub files: Vec<FileId>,
    /// Files of the search paths: they resolve references, their findings are not reported.
    pub library: Vec<FileId>,
    /// Findings about the bytes themselves (invalid UTF-8).
    pub diagnostics: Vec<Diagnostic>,
    /// Each directory given, with the files read below it (`tkc check` warns about one
    /// that holds no Tekton resource).
    pub dirs: Vec<(PathBuf, Vec<FileId>)>,
}

/// An input that could not be read: exit code 2.
pub struct InputError(pub String);

/// Loads `paths` (`-` is stdin, named `stdin_name`) into `sources`. Directories are walked for
/// `*.yaml`, `*.yml` and `*.kdl`, keeping what the config's `include` and `exclude` allow; a
/// file given by name is only subject to `exclude`. Then the search paths are walked for
/// library files, skipping files already given.
pub fn load(
    sources: &mut SourceMap,
    paths: &[PathBuf],
    stdin_name: Option<&str>,
    config: &Config,
    search_paths: &[PathBuf],
) -> Result<Inputs, InputError> {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    let mut seen: HashMap<Identity, FileId> = HashMap::new();
    // Each path to read, with the index of the directory argument it was found under.
    let mut expanded: Vec<(PathBuf, Option<usize>)> = Vec::new();
    let mut dirs = Vec::new();
    let mut stdin = false;
    for path in paths {
        if path.as_os_str() == "-" {
            stdin = true;
            continue;
        }
        let is_dir = std::fs::metadata(path)
            .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?
            .is_dir();
        if is_dir {
            let walked = config.walk(path).map_err(|e| InputError(e.to_string()))?;
            expanded.extend(walked.into_iter().map(|p| (p, Some(dirs.len()))));
            dirs.push((path.clone(), Vec::new()));
        } else if !config.excluded(path) {
            expanded.push((path.clone(), None));
        }
    }
    if stdin {
        let bytes = read_capped(std::io::stdin().lock())
            .map_err(|e| InputError(format!("cannot read stdin: {e}")))?;
        // Without a name, the text says whether it is KDL.
        let name = stdin_name.unwrap_or("<stdin>");
        let id = add(
            sources,
            name,
            bytes,
            stdin_name.map(Syntax::from_path),
            &mut diagnostics,
        );
        files.push(id);
    }
    for (path, dir) in expanded {
        let (id, new) = read(sources, &path, &mut seen, &mut diagnostics)?;
        if new {
            files.push(id);
        }
        // A file read already under another name is still below this directory.
        if let Some((_, below)) = dir.and_then(|d| dirs.get_mut(d)) {
            below.push(id);
        }
    }
    let mut library = Vec::new();
    for dir in search_paths {
        let walked = source::expand_paths(std::slice::from_ref(dir))
            .map_err(|e| InputError(format!("search path {}: {}", dir.display(), e.error)))?;
        for path in walked {
            // Library findings are not reported, invalid UTF-8 included.
            if let (id, true) = read(sources, &path, &mut seen, &mut Vec::new())? {
                library.push(id);
            }
        }
    }
    Ok(Inputs {
        files,
        library,
        diagnostics,
        dirs,
    })
}

/// The same file however it was named: its device and inode, from the open file (one
/// `fstat`); elsewhere than Unix, its canonical path.
#[derive(Hash, PartialEq, Eq)]
enum Identity {
    #[cfg_attr(not(unix), allow(dead_code))]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

impl Identity {
    fn of(path: &Path, metadata: &std::fs::Metadata) -> Identity {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let _ = path;
            Identity::Inode(metadata.dev(), metadata.ino())
        }
        #[cfg(not(unix))]
        {
            let _ = metadata;
            Identity::Path(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
        }
    }
}

/// Reads the file at `path` into `sources`, unless it is one already read (`seen`): its id,
/// and whether it is new.
fn read(
    sources: &mut SourceMap,
    path: &Path,
    seen: &mut HashMap<Identity, FileId>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(FileId, bool), InputError> {
    let cannot = |e: std::io::Error| InputError(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let metadata = file.metadata().map_err(cannot)?;
    let identity = Identity::of(path, &metadata);
    if let Some(&id) = seen.get(&identity) {
        return Ok((id, false));
    }
    let bytes = read_capped_sized(file, metadata.len()).map_err(cannot)?;
    let name = path.to_string_lossy().into_owned();
    let syntax = Syntax::from_path(&name);
    let id = add(sources, &name, bytes, Some(syntax), diagnostics);
    seen.insert(identity, id);
    Ok((id, true))
}

/// Adds a file's text: empty, with a finding, for a file over the size limit or one that is
/// not text (reported once, without its bytes in the report). Without a `syntax` (stdin with
/// no name), the text says whether it is KDL.
fn add(
    sources: &mut SourceMap,
    name: &str,
    bytes: Option<Vec<u8>>,
    syntax: Option<Syntax>,
    diagnostics: &mut Vec<Diagnostic>,
) -> FileId {
    let Some(bytes) = bytes else {
        let syntax = syntax.unwrap_or_else(|| Syntax::from_path(name));
        let id = sources.add_with_syntax(name, String::new(), syntax);
        diagnostics.push(tkc_compiler::file_too_large(id, MAX_FILE_SIZE));
        return id;
    };
    let binary = source::is_binary(&bytes);
    let (text, bad) = if binary {
        (String::new(), None)
    } else {
        source::decode_text(bytes)
    };
    let syntax = syntax.unwrap_or_else(|| Syntax::sniff(&text));
    let id = sources.add_with_syntax(name, text, syntax);
    if binary {
        diagnostics.push(tkc_compiler::not_text(id));
    }
    if let Some(at) = bad {
        diagnostics.push(tkc_compiler::invalid_utf8(id, at));
    }
    id
}
