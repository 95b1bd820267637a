//! Sources: every byte the compiler reads has a `(file, offset)`.
//!
//! A [`SourceMap`] owns the text of every file; a [`Span`] is a byte range in one of them.
//! Lines and columns are computed on demand (columns count Unicode characters, as editors do).

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Index of a file in its [`SourceMap`].
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct FileId(u32);

impl FileId {
    /// The file's position in the map, in load order.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A byte range `start..end` in one file.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: clamp_u32(start),
            end: clamp_u32(end.max(start)),
        }
    }

    /// An empty span at `offset`.
    pub fn point(file: FileId, offset: usize) -> Span {
        Span::new(file, offset, offset)
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both (which must be in the same file).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The sub-range `range` (relative to this span's start).
    pub fn slice(self, start: usize, end: usize) -> Span {
        let s = self.start as usize + start;
        let e = (self.start as usize + end).min(self.end as usize);
        Span::new(self.file, s, e)
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The surface syntax of a file, decided by its extension (stdin: by `--stdin-filename`, or
/// without one by its text, [`Syntax::sniff`]).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Syntax {
    Yaml,
    Kdl,
}

/// The node names of resources in tkc's KDL dialect (`docs/kdl.md`).
const KDL_RESOURCE_NODES: [&str; 9] = [
    "task",
    "pipeline",
    "task-run",
    "pipeline-run",
    "step-action",
    "cluster-task",
    "custom-run",
    "config-map",
    "secret",
];

impl Syntax {
    /// `*.kdl` is KDL; everything else is read as YAML.
    pub fn from_path(path: &str) -> Syntax {
        if path.ends_with(".kdl") {
            Syntax::Kdl
        } else {
            Syntax::Yaml
        }
    }

    /// The syntax of a text without a name: KDL if, past blank lines and `//` or `/* */`
    /// comments, it starts with a resource node (`task "build" {`, `pipeline-run ...`), else
    /// YAML. A YAML document cannot start that way: `task "build" {` is no key, and a text
    /// that is one plain scalar is no Tekton resource either.
    pub fn sniff(text: &str) -> Syntax {
        let mut rest = text.trim_start_matches('\u{feff}');
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix("//") {
                rest = after.split_once('\n').map_or("", |(_, next)| next);
            } else if let Some(after) = rest.strip_prefix("/*") {
                rest = after.split_once("*/").map_or("", |(_, next)| next);
            } else {
                break;
            }
        }
        let word_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_end);
        let node_follows = after.starts_with([' ', '\t', '"', '{', '#']);
        if KDL_RESOURCE_NODES.contains(&word) && node_follows {
            Syntax::Kdl
        } else {
            Syntax::Yaml
        }
    }
}

/// One loaded file.
#[derive(Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    syntax: Syntax,
    line_starts: OnceLock<Vec<u32>>,
}

/// A 1-based line and column (column in Unicode characters).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl SourceFile {
    /// The file name as the user gave it (or `--stdin-filename`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0u32];
            starts.extend(
                self.text
                    .bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| clamp_u32(i + 1)),
            );
            starts
        })
    }

    /// Line and column of a byte offset (clamped to the text, snapped to a char boundary).
    pub fn line_col(&self, offset: u32) -> LineCol {
        let mut offset = (offset as usize).min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let starts = self.line_starts();
        let line = match starts.binary_search(&clamp_u32(offset)) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = starts[line] as usize;
        let column = self.text[line_start..offset].chars().count() + 1;
        LineCol {
            line: line + 1,
            column,
        }
    }

    /// The length in bytes of the line that holds byte `offset` (without its line break).
    pub fn line_len_at(&self, offset: u32) -> usize {
        let starts = self.line_starts();
        let line = match starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = starts.get(line).map_or(0, |&s| s as usize);
        let end = starts
            .get(line + 1)
            .map_or(self.text.len(), |&e| e as usize)
            .min(self.text.len());
        end.saturating_sub(start)
    }

    /// The byte offset where 1-based line `line` starts (the text's length past the end).
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts()
            .get(line.wrapping_sub(1))
            .map_or(self.text.len(), |&s| s as usize)
            .min(self.text.len())
    }

    /// The text of 1-based line `line`, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let starts = self.line_starts();
        let Some(&start) = starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = starts
            .get(line)
            .map_or(self.text.len(), |&e| e as usize)
            .min(self.text.len());
        self.text[start as usize..end].trim_end_matches(['\n', '\r'])
    }
}

/// All files of one compilation.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file with the syntax its name implies.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let name = name.into();
        let syntax = Syntax::from_path(&name);
        self.add_with_syntax(name, text, syntax)
    }

    pub fn add_with_syntax(
        &mut self,
        name: impl Into<String>,
        text: impl Into<String>,
        syntax: Syntax,
    ) -> FileId {
        let id = FileId(clamp_u32(self.files.len()));
        self.files.push(SourceFile {
            name: name.into(),
            text: text.into(),
            syntax,
            line_starts: OnceLock::new(),
        });
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        // A FileId only comes from this map, so the index is always in range.
        &self.files[id.index()]
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(clamp_u32(i)), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The text a span covers.
    pub fn text(&self, span: Span) -> &str {
        let text = self.get(span.file).text();
        text.get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }
}

/// A file that could not be read: an I/O error, not a diagnostic (exit code 2).
#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for LoadError {}

/// Is this a file `tkc` reads when it walks a directory?
pub fn is_source_path(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "kdl")
    )
}

/// Directories nested deeper than this below a walked path are not walked (a bind mount can
/// loop without a symlink).
pub const MAX_WALK_DEPTH: usize = 64;

/// Expands the given paths: files as given, directories walked recursively for `*.yaml`,
/// `*.yml` and `*.kdl` (sorted; hidden entries other than `.tekton/`, `target/` and
/// `node_modules/` skipped). Paths keep the spelling the user gave, so diagnostics name files
/// as the user named them.
///
/// What a walk finds is not trusted (issue 17: two symlinks in a pull request drove
/// `tkc check .` to 24 GB): symlinked directories are not followed (so there are no loops,
/// and no directory is walked twice), a symlinked file is read only if it resolves to a file
/// inside the walked directory (a link to `~/.kube/config.yaml` would otherwise print the
/// host's file in a CI log), FIFOs, sockets and devices are skipped (reading one blocks or
/// never ends), and nothing deeper than [`MAX_WALK_DEPTH`] is walked. Paths given by name
/// are the user's choice and are used as given.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|error| LoadError {
            path: path.clone(),
            error,
        })?;
        if meta.is_dir() {
            let root = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            walk_dir(path, &root, 0, &mut out)?;
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn walk_dir(
    dir: &Path,
    root: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
) -> Result<(), LoadError> {
    if depth > MAX_WALK_DEPTH {
        return Ok(());
    }
    let read = std::fs::read_dir(dir).map_err(|error| LoadError {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut entries: Vec<(PathBuf, bool)> = Vec::new();
    for entry in read {
        let entry = entry.map_err(|error| LoadError {
            path: dir.to_path_buf(),
            error,
        })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Hidden entries are skipped, except `.tekton/` (pipelines-as-code keeps its
        // pipelines there).
        if (name.starts_with('.') && name != ".tekton")
            || name == "target"
            || name == "node_modules"
        {
            continue;
        }
        let path = entry.path();
        // The entry's own type: a symlink is not followed to find out.
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let walked_file = file_type.is_file()
            || (file_type.is_symlink() && is_source_path(&path) && resolves_inside(&path, root));
        if file_type.is_dir() || walked_file {
            entries.push((path, file_type.is_dir()));
        }
    }
    entries.sort();
    for (path, is_dir) in entries {
        if is_dir {
            walk_dir(&path, root, depth + 1, out)?;
        } else if is_source_path(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Does the symlink at `path` resolve to a regular file below `root` (canonical)?
fn resolves_inside(path: &Path, root: &Path) -> bool {
    std::fs::canonicalize(path).is_ok_and(|target| {
        target.starts_with(root) && std::fs::metadata(&target).is_ok_and(|m| m.is_file())
    })
}

/// Reads a file's bytes into text. Invalid UTF-8 is replaced (and reported by the caller with
/// the offset of the first bad byte) so that the rest of the file can still be checked.
/// Is this a binary file rather than text? As git decides: a NUL byte in its first 8000
/// bytes (no YAML or KDL file has one; UTF-16 text does, and is not read either).
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0)
}

pub fn decode_text(bytes: Vec<u8>) -> (String, Option<usize>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(err) => {
            let at = err.utf8_error().valid_up_to();
            (
                String::from_utf8_lossy(err.as_bytes()).into_owned(),
                Some(at),
            )
        }
    }
}

/// Files larger than this are not read (a generated 20 MB manifest is not a pipeline; a
/// device or a FIFO given by name may never end). `tkc check` and `tkc lsp` both hold to it.
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// Reads at most [`MAX_FILE_SIZE`] and one byte more of what it is handed: `None` if there
/// was more.
pub fn read_capped(reader: impl Read) -> std::io::Result<Option<Vec<u8>>> {
    read_capped_sized(reader, 0)
}

/// [`read_capped`] of something whose size is known beforehand (a file's length): with room
/// for it all, the bytes come in one read instead of a doubling buffer's many. The size is
/// only a hint; what is read decides.
pub fn read_capped_sized(reader: impl Read, size: u64) -> std::io::Result<Option<Vec<u8>>> {
    let room = usize::try_from(size.min(MAX_FILE_SIZE) + 1).unwrap_or(0);
    let mut bytes = Vec::with_capacity(room);
    reader.take(MAX_FILE_SIZE + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_SIZE).then_some(bytes))
}

#[cfg(test)]
mod tests {

    #[test]
    fn sniffing_kdl_from_yaml() {
        assert_eq!(Syntax::sniff("task \"build\" {\n}\n"), Syntax::Kdl);
        assert_eq!(
            Syntax::sniff("// a task\n/* x */\npipeline-run generate-name=\"x-\" {}"),
            Syntax::Kdl
        );
        assert_eq!(Syntax::sniff("apiVersion: tekton.dev/v1\n"), Syntax::Yaml);
        assert_eq!(Syntax::sniff("task: build\n"), Syntax::Yaml);
        assert_eq!(Syntax::sniff("# task \"x\" {\n"), Syntax::Yaml);
        assert_eq!(Syntax::sniff(""), Syntax::Yaml);
    }

    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let mut map = SourceMap::new();
        let id = map.add("a.yaml", "ab\nüx: y\n");
        let file = map.get(id);
        assert_eq!(file.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(file.line_col(3), LineCol { line: 2, column: 1 });
        // 'x' is after the two-byte 'ü'
        assert_eq!(file.line_col(5), LineCol { line: 2, column: 2 });
        assert_eq!(file.line_text(2), "üx: y");
        assert_eq!(file.line_text(9), "");
    }

    #[test]
    fn offsets_inside_a_char_snap_back() {
        let mut map = SourceMap::new();
        let id = map.add("a.yaml", "ü");
        assert_eq!(map.get(id).line_col(1).column, 1);
        assert_eq!(map.get(id).line_col(99).column, 2);
    }
}
