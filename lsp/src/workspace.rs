//! The files the server knows: every Tekton source of the workspace and of its search paths,
//! read from disk, with the editor's open documents over them. A check runs over the files
//! connected to the edited one (by the names their resources define and reference), not over
//! the whole workspace.

use crate::config::{self, Config};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tkc_compiler::check::shellcheck::ScriptLinter;
use tkc_compiler::diag::{Diagnostic, Diagnostics};
use tkc_compiler::model::{Document, PipelineSpec, Resource, TaskSpec};
use tkc_compiler::resolve::World;
use tkc_compiler::source::{self, FileId, SourceMap};
use tkc_compiler::{CheckResult, Options};

/// One file of the workspace.
pub struct File {
    pub text: String,
    /// From a search path: resolves references, is not reported on.
    pub library: bool,
    /// Resource names it defines and references: the edges that connect files.
    names: Names,
}

#[derive(Default, Clone, PartialEq, Eq)]
struct Names {
    defines: BTreeSet<String>,
    references: BTreeSet<String>,
}

/// The files of the workspace and how they are checked.
#[derive(Default)]
pub struct Workspace {
    pub config: Config,
    pub files: BTreeMap<PathBuf, File>,
    /// What checks scripts (shellcheck, which `tkc lsp` is handed as `tkc check` is), if
    /// anything.
    pub scripts: Option<Box<dyn ScriptLinter>>,
    /// The files defining and referencing each name: the edges between files, kept up to date
    /// as names change, so that finding what an edit affects is a lookup per name, not a scan
    /// of every file (in a 200-file workspace the scans were most of an edit's work).
    index: Index,
}

#[derive(Default)]
struct Index {
    definers: BTreeMap<String, BTreeSet<PathBuf>>,
    referrers: BTreeMap<String, BTreeSet<PathBuf>>,
}

impl Index {
    fn add(&mut self, path: &Path, names: &Names) {
        for n in &names.defines {
            self.definers
                .entry(n.clone())
                .or_default()
                .insert(path.to_path_buf());
        }
        for n in &names.references {
            self.referrers
                .entry(n.clone())
                .or_default()
                .insert(path.to_path_buf());
        }
    }

    fn remove(&mut self, path: &Path, names: &Names) {
        let drop = |map: &mut BTreeMap<String, BTreeSet<PathBuf>>, n: &String| {
            if let Some(set) = map.get_mut(n) {
                set.remove(path);
                if set.is_empty() {
                    map.remove(n);
                }
            }
        };
        for n in &names.defines {
            drop(&mut self.definers, n);
        }
        for n in &names.references {
            drop(&mut self.referrers, n);
        }
    }

    fn definers<'a>(&'a self, names: &'a BTreeSet<String>) -> impl Iterator<Item = &'a PathBuf> {
        names.iter().filter_map(|n| self.definers.get(n)).flatten()
    }

    fn referrers<'a>(&'a self, names: &'a BTreeSet<String>) -> impl Iterator<Item = &'a PathBuf> {
        names.iter().filter_map(|n| self.referrers.get(n)).flatten()
    }
}

/// What checking a group found.
pub struct Checked {
    pub loaded: Loaded,
    /// Findings per checked file (an empty list for a clean one).
    pub by_file: BTreeMap<FileId, Vec<Diagnostic>>,
    /// The decoded documents (those of library files too).
    pub documents: Vec<Document>,
}

/// A set of files loaded into one source map, for a check or a question about them.
pub struct Loaded {
    pub sources: SourceMap,
    /// Every loaded file's path by id.
    pub paths: Vec<PathBuf>,
    pub checked: Vec<FileId>,
    pub library: Vec<FileId>,
}

impl Loaded {
    pub fn id(&self, path: &Path) -> Option<FileId> {
        self.sources
            .files()
            .map(|(id, _)| id)
            .find(|id| self.paths.get(id.index()).is_some_and(|p| p == path))
    }

    pub fn path(&self, id: FileId) -> Option<&Path> {
        self.paths.get(id.index()).map(PathBuf::as_path)
    }

    /// Decodes every file into one world (no checks run).
    pub fn world(&self, options: &Options) -> World<'_> {
        let mut all = self.checked.clone();
        all.extend(&self.library);
        let (documents, _) = tkc_compiler::decode_files(&self.sources, &all, options);
        World::build(
            &self.sources,
            documents,
            &self.checked,
            &mut Diagnostics::new(),
        )
    }

    /// Runs `tkc check`'s checks, and `scripts` on the scripts.
    pub fn check(&self, options: &Options, scripts: Option<&dyn ScriptLinter>) -> CheckResult {
        tkc_compiler::check_with(
            &self.sources,
            &self.checked,
            &self.library,
            options,
            scripts,
        )
    }
}

impl Workspace {
    /// Reads the workspace below `root` (its `tkc.toml`, its files, its search paths).
    pub fn load(root: Option<&Path>) -> (Workspace, Option<String>) {
        let mut workspace = Workspace::default();
        let Some(root) = root else {
            return (workspace, None);
        };
        let (config, problem) = config::discover(root);
        workspace.config = config;
        for path in workspace.config.file.walk(root).unwrap_or_default() {
            workspace.read(path, false);
        }
        for dir in workspace.config.file.search_paths.clone() {
            for path in source::expand_paths(&[dir]).unwrap_or_default() {
                workspace.read(path, true);
            }
        }
        (workspace, problem)
    }

    fn read(&mut self, path: PathBuf, library: bool) {
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        if self.files.contains_key(&path) {
            return;
        }
        let Some(text) = load(&path) else {
            return;
        };
        let names = names(&path, &text, &self.config.options);
        self.index.add(&path, &names);
        self.files.insert(
            path,
            File {
                text,
                library,
                names,
            },
        );
    }

    /// Sets a file's text (an open document's, or the disk's); returns the files to re-check
    /// with their dependents ([`Workspace::dependents`]). The names that connect it keep their
    /// last value until the file is checked ([`Workspace::update_names`]), so that an edit
    /// is parsed once.
    pub fn set(&mut self, path: PathBuf, text: String, library: bool) -> Vec<PathBuf> {
        let (library, names) = match self.files.get(&path) {
            Some(file) => (file.library, file.names.clone()),
            None => (library, Names::default()),
        };
        self.files.insert(
            path.clone(),
            File {
                text,
                library,
                names,
            },
        );
        vec![path]
    }

    /// Takes the names of the checked files' resources from the documents a check decoded;
    /// returns the files whose names changed (their connections may have).
    pub fn update_names(&mut self, loaded: &Loaded, documents: &[Document]) -> Vec<PathBuf> {
        let mut found: BTreeMap<FileId, Names> = loaded
            .checked
            .iter()
            .map(|&id| (id, Names::default()))
            .collect();
        for doc in documents {
            if let Some(names) = found.get_mut(&doc.file()) {
                add_names(doc, names);
            }
        }
        let mut changed = Vec::new();
        for (id, names) in found {
            let Some(path) = loaded.path(id) else {
                continue;
            };
            if let Some(file) = self.files.get_mut(path)
                && file.names != names
            {
                self.index.remove(path, &file.names);
                self.index.add(path, &names);
                file.names = names;
                changed.push(path.to_path_buf());
            }
        }
        changed
    }

    /// Marks a document closed and takes its text back from disk.
    pub fn close(&mut self, path: &Path) -> Vec<PathBuf> {
        match load(path) {
            Some(text) => self.set(path.to_path_buf(), text, false),
            None => {
                let before = self.component(path);
                if let Some(file) = self.files.remove(path) {
                    self.index.remove(path, &file.names);
                }
                before
            }
        }
    }

    /// The files connected to `path`: transitively, those defining a name another references,
    /// or the same name (a duplicate). `path` first.
    pub fn component(&self, path: &Path) -> Vec<PathBuf> {
        if !self.files.contains_key(path) {
            return Vec::new();
        }
        let mut order = vec![path.to_path_buf()];
        order.extend(
            self.closure(&[path.to_path_buf()], |names, index| {
                index
                    .definers(&names.references)
                    .chain(index.referrers(&names.defines))
                    .chain(index.definers(&names.defines))
                    .cloned()
                    .collect()
            })
            .into_iter()
            .filter(|p| p != path),
        );
        order
    }

    /// The files whose findings an edit of `paths` may change: themselves, the files that
    /// reference a resource they define (transitively: a PipelineRun of a Pipeline of an
    /// edited Task), and those defining the same names (duplicates). A Task's findings do not
    /// depend on the Pipelines that run it, so editing a Pipeline re-checks that Pipeline only.
    pub fn dependents(&self, paths: &[PathBuf]) -> BTreeSet<PathBuf> {
        self.closure(paths, |names, index| {
            index
                .referrers(&names.defines)
                .chain(index.definers(&names.defines))
                .cloned()
                .collect()
        })
    }

    /// What checking `paths` needs besides them: the files defining what they reference,
    /// transitively, and those defining the same names.
    pub fn context(&self, paths: &[PathBuf]) -> BTreeSet<PathBuf> {
        self.closure(paths, |names, index| {
            index
                .definers(&names.references)
                .chain(index.definers(&names.defines))
                .cloned()
                .collect()
        })
    }

    /// `paths` and every file reached from them through `next` (a file's neighbours, from its
    /// names and the index).
    fn closure(
        &self,
        paths: &[PathBuf],
        next: impl Fn(&Names, &Index) -> Vec<PathBuf>,
    ) -> BTreeSet<PathBuf> {
        let mut seen: BTreeSet<PathBuf> = paths
            .iter()
            .filter(|p| self.files.contains_key(*p))
            .cloned()
            .collect();
        let mut queue: Vec<PathBuf> = seen.iter().cloned().collect();
        while let Some(current) = queue.pop() {
            let Some(from) = self.files.get(&current) else {
                continue;
            };
            for path in next(&from.names, &self.index) {
                if self.files.contains_key(&path) && seen.insert(path.clone()) {
                    queue.push(path);
                }
            }
        }
        seen
    }

    /// Checks `paths` (those not from search paths), with the files they need loaded as
    /// library files: only `paths` are reported on.
    pub fn check_files(&self, paths: &BTreeSet<PathBuf>) -> Checked {
        let list: Vec<PathBuf> = paths.iter().cloned().collect();
        let context = self.context(&list);
        let mut loaded = self.load_files(&list);
        for path in context.difference(paths) {
            if let Some(file) = self.files.get(path) {
                let id = loaded
                    .sources
                    .add(path.to_string_lossy().into_owned(), file.text.clone());
                loaded.paths.push(path.clone());
                loaded.library.push(id);
            }
        }
        self.check_loaded(loaded)
    }

    /// Loads `paths` (library files as library) into one source map.
    pub fn load_files(&self, paths: &[PathBuf]) -> Loaded {
        let mut sources = SourceMap::new();
        let mut loaded_paths = Vec::new();
        let (mut checked, mut library) = (Vec::new(), Vec::new());
        for path in paths {
            let Some(file) = self.files.get(path) else {
                continue;
            };
            let id = sources.add(path.to_string_lossy().into_owned(), file.text.clone());
            loaded_paths.push(path.clone());
            if file.library {
                library.push(id);
            } else {
                checked.push(id);
            }
        }
        Loaded {
            sources,
            paths: loaded_paths,
            checked,
            library,
        }
    }

    /// Checks the loaded files and returns the findings per checked file (every checked file
    /// has an entry, so that fixed findings are cleared).
    fn check_loaded(&self, loaded: Loaded) -> Checked {
        let result = loaded.check(&self.config.options, self.scripts.as_deref());
        let mut by_file: BTreeMap<FileId, Vec<Diagnostic>> =
            loaded.checked.iter().map(|&id| (id, Vec::new())).collect();
        for diagnostic in result.diagnostics.into_vec() {
            let file = diagnostic
                .primary_span()
                .or_else(|| diagnostic.labels.first().map(|l| l.span))
                .map(|s| s.file);
            if let Some(list) = file.and_then(|f| by_file.get_mut(&f)) {
                list.push(diagnostic);
            }
        }
        Checked {
            loaded,
            by_file,
            documents: result.documents,
        }
    }
}

/// The names a file's resources define and the names they reference (taskRef, pipelineRef,
/// a step's StepAction ref), whatever their kind: a coarse edge is cheap and never misses one.
fn names(path: &Path, text: &str, options: &Options) -> Names {
    let mut sources = SourceMap::new();
    let id = sources.add(path.to_string_lossy().into_owned(), text.to_string());
    let (documents, _) = tkc_compiler::decode_file(&sources, id, options);
    let mut names = Names::default();
    for doc in &documents {
        add_names(doc, &mut names);
    }
    names
}

fn add_names(doc: &Document, names: &mut Names) {
    if let Some(name) = &doc.metadata.name {
        names.defines.insert(name.value.clone());
    }
    references(doc, &mut names.references);
}

fn references(doc: &Document, out: &mut BTreeSet<String>) {
    match &doc.resource {
        Resource::Task(spec) => task_refs(spec, out),
        Resource::Pipeline(spec) => pipeline_refs(spec, out),
        Resource::TaskRun(run) => {
            if let Some(name) = run.task_ref.as_ref().and_then(|r| r.name.as_ref()) {
                out.insert(name.value.clone());
            }
            if let Some(spec) = &run.task_spec {
                task_refs(spec, out);
            }
        }
        Resource::PipelineRun(run) => {
            if let Some(name) = run.pipeline_ref.as_ref().and_then(|r| r.name.as_ref()) {
                out.insert(name.value.clone());
            }
            if let Some(spec) = &run.pipeline_spec {
                pipeline_refs(spec, out);
            }
        }
        Resource::StepAction(_) | Resource::ConfigMap(_) | Resource::Secret(_) => {}
    }
}

fn task_refs(spec: &TaskSpec, out: &mut BTreeSet<String>) {
    for step in &spec.steps {
        if let Some(name) = step.r#ref.as_ref().and_then(|r| r.name.as_ref()) {
            out.insert(name.value.clone());
        }
    }
}

fn pipeline_refs(spec: &PipelineSpec, out: &mut BTreeSet<String>) {
    for task in spec.tasks.iter().chain(&spec.finally) {
        if let Some(name) = task.task_ref.as_ref().and_then(|r| r.name.as_ref()) {
            out.insert(name.value.clone());
        }
        if let Some(name) = task.pipeline_ref.as_ref().and_then(|r| r.name.as_ref()) {
            out.insert(name.value.clone());
        }
        if let Some(embedded) = &task.task_spec {
            task_refs(&embedded.task, out);
        }
        if let Some(spec) = &task.pipeline_spec {
            pipeline_refs(spec, out);
        }
    }
}

/// A file's text as `tkc check` reads it: at most [`source::MAX_FILE_SIZE`] bytes (a device or
/// a huge file in the workspace cannot hold the server), and not a binary.
fn load(path: &Path) -> Option<String> {
    let bytes = std::fs::File::open(path)
        .and_then(source::read_capped)
        .ok()
        .flatten()?;
    if source::is_binary(&bytes) {
        return None;
    }
    Some(source::decode_text(bytes).0)
}
