//! One World from all loaded documents: resources by kind and name, and the references
//! between them (`taskRef`, `pipelineRef`, StepAction `ref`) followed.
//!
//! Documents come from the files being checked and from search paths (a Pipeline checked
//! alone finds its Tasks in the repository). A reference through a resolver (git, hub,
//! bundles, cluster, http), or to a resource that is nowhere to be found, resolves to
//! [`Resolved::Remote`] / [`Resolved::NotFound`]: the checks that need its body are skipped,
//! and it is reported once, as a warning. A reference through a resolver whose document was
//! fetched ([`crate::remote::Fetched`], [`World::with_fetched`]) leads into the fetched file.

use crate::declare_code;
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::{
    Document, EmbeddedTask, Kind, PipelineRef, PipelineSpec, PipelineTask, Resource,
    StepActionSpec, StepRef, Str, TaskRef, TaskSpec,
};
use crate::source::{FileId, SourceMap, Span};
use std::collections::BTreeMap;

declare_code! {
    /// # Two resources of the same kind have the same name in the same namespace
    ///
    /// Reported for two definitions in **one file**: applying it, Kubernetes keeps one (the
    /// second document updates the first). Rename one or give them different
    /// `metadata.namespace`s. Resources in different namespaces do not collide (a ClusterTask
    /// has none: cluster-scoped); a resource without a namespace goes where it is applied, so
    /// it collides only with others without one.
    ///
    /// The same name in two **files** is not reported: that is what `kubectl apply` turns
    /// into an update, and how a catalog keeps the versions of a Task
    /// (`task/<name>/<version>/`). A reference resolves to the definition in its own file,
    /// then its own directory, then the one under the longest common directory.
    pub static DUPLICATE_RESOURCE = "tkc::resolve::duplicate-resource", Error;
}

declare_code! {
    /// # A name defined in several files, none nearer to the reference than the others
    ///
    /// Stage: when the resources are **applied**, not a Tekton rejection. The same kind and
    /// name in two files is what `kubectl apply` turns into an update (its three-way merge
    /// patch, kubectl's `apply.Patcher`): the cluster keeps the copy applied last, and tkc cannot know which one that is. A reference resolves to the
    /// definition in its own file, then in its own directory, then under the longest common
    /// directory (a catalog's `task/<name>/<version>/tests/` finds `task/<name>/<version>/`);
    /// when several definitions are equally near, the name is ambiguous. It is reported once
    /// per referring document and name, and the checks that need the referenced body (param
    /// and workspace bindings, result references) are skipped rather than made against a
    /// guessed copy.
    ///
    /// ## Example
    /// `runs/build.yaml` runs `taskRef: {name: git-clone}`, and both
    /// `task/git-clone/0.1/git-clone.yaml` and `task/git-clone/0.2/git-clone.yaml` define it.
    /// Check the run together with the version it means only, move it beside that version, or
    /// give the versions different names.
    pub static AMBIGUOUS_REF = "tkc::resolve::ambiguous-ref", Warning;
}

declare_code! {
    /// # A reference fetched by a resolver when the run starts
    ///
    /// `taskRef`, `pipelineRef` or a step `ref` with a `resolver` (git, hub, bundles, cluster,
    /// http) names a resource `tkc check` does not fetch unless asked. Checks that need its
    /// body (param and workspace bindings, result references) are skipped for it. `tkc check
    /// --resolve` (or `resolve = true` in `tkc.toml`) fetches these references and checks
    /// against them, as `tkc compile` and `tkc run` do (docs/resolvers.md); a reference whose
    /// params come from the run (`$(params.x)`) is fetched only by Tekton.
    /// Or silence this code in `tkc.toml` (`[severity] "tkc::resolve::remote-ref" = "off"`).
    pub static REMOTE_REF = "tkc::resolve::remote-ref", Warning;
}

declare_code! {
    /// # A referenced resource was not found
    ///
    /// No Task, Pipeline or StepAction of that name is among the files checked or on the
    /// search paths (`--search-path DIR`, `search-paths` in `tkc.toml`). It may exist in the
    /// cluster; checks that need its body are skipped. Tekton fails the run with
    /// `CouldntGetTask` / `CouldntGetPipeline` if it does not exist there either.
    pub static NOT_FOUND = "tkc::resolve::not-found", Warning, reason = "CouldntGetTask";
}

/// Every code of this module.
pub fn codes() -> Vec<&'static crate::diag::Code> {
    vec![&DUPLICATE_RESOURCE, &AMBIGUOUS_REF, &REMOTE_REF, &NOT_FOUND]
}

/// Index of a document in the world.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct DocId(pub usize);

/// Where a reference leads.
#[derive(Debug, Clone, Copy)]
pub enum Resolved<'w, T> {
    /// The body is known: in a document of the world, or written inline.
    Found { spec: &'w T, doc: Option<DocId> },
    /// Fetched by a resolver when the run starts.
    Remote { resolver: &'w Str },
    /// Not among the files checked nor on the search paths.
    NotFound { name: &'w Str },
    /// Defined in several files, none nearer to the reference than the others
    /// ([`AMBIGUOUS_REF`]): the checks that need the body skip it.
    Ambiguous { name: &'w Str },
    /// A custom task (CustomRun), or a kind tkc does not model.
    Custom,
    /// Neither a reference nor an inline spec (a schema error reported elsewhere).
    Missing,
}

impl<'w, T> Resolved<'w, T> {
    /// The body, if known.
    pub fn spec(&self) -> Option<&'w T> {
        match self {
            Resolved::Found { spec, .. } => Some(spec),
            _ => None,
        }
    }
}

/// What a name leads to, seen from a reference ([`World::lookup`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// One definition, or the nearest of several.
    Found(DocId),
    /// Several equally near definitions in different files, in load order.
    Ambiguous(Vec<DocId>),
    /// No definition of that kind and name.
    Missing,
}

/// A set of files as one flag per file id: asked for every document and every finding.
struct FileSet(Vec<bool>);

impl FileSet {
    fn new(files: &[FileId]) -> FileSet {
        let mut flags = vec![false; files.iter().map(|f| f.index() + 1).max().unwrap_or(0)];
        for file in files {
            flags[file.index()] = true;
        }
        FileSet(flags)
    }

    fn contains(&self, file: FileId) -> bool {
        self.0.get(file.index()).copied().unwrap_or(false)
    }
}

/// All resources of one check or compilation.
pub struct World<'s> {
    pub sources: &'s SourceMap,
    pub documents: Vec<Document>,
    /// Files whose findings are reported (the others come from search paths).
    checked_files: FileSet,
    /// Documents of each kind and name, checked ones first.
    by_name: BTreeMap<(Kind, String), Vec<DocId>>,
    /// The file fetched for each reference through a resolver, by its key
    /// ([`crate::remote::Request::key`]).
    fetched: BTreeMap<String, FileId>,
    /// The files fetched for references.
    fetched_files: FileSet,
    /// The `$(...)` references of the strings the checks read, parsed once per check run.
    pub(crate) refs: crate::check::RefCache,
}

/// Where a resource's name must be unique: its namespace as written (`None`: applied to
/// whichever namespace `kubectl` targets), or nowhere for a cluster-scoped ClusterTask.
fn namespace(doc: &Document) -> Option<&str> {
    match doc.kind {
        Kind::ClusterTask => None,
        _ => doc.metadata.namespace.as_ref().map(|n| n.as_str()),
    }
}

impl<'s> World<'s> {
    /// Builds the world. Documents of `checked` files come first and win name clashes with
    /// library documents; clashes among checked documents are reported.
    pub fn build(
        sources: &'s SourceMap,
        documents: Vec<Document>,
        checked_files: &[FileId],
        out: &mut Diagnostics,
    ) -> World<'s> {
        let checked_files = FileSet::new(checked_files);
        let mut documents = documents;
        // Checked documents first, then library ones, each in load order.
        documents.sort_by_key(|d| !checked_files.contains(d.file()));
        let mut by_name: BTreeMap<(Kind, String), Vec<DocId>> = BTreeMap::new();
        for (i, doc) in documents.iter().enumerate() {
            let Some(name) = doc.metadata.name.as_ref() else {
                continue;
            };
            let same = by_name.entry((doc.kind, name.value.clone())).or_default();
            // Two files with one name are what `kubectl apply` turns into an update (a
            // catalog keeps each version of a Task in a directory of its own): both stay, and
            // a reference finds the nearest one. Twice in one file is a slip.
            let first = same
                .iter()
                .map(|id| &documents[id.0])
                .find(|other| namespace(other) == namespace(doc) && other.file() == doc.file());
            same.push(DocId(i));
            if let Some(first_doc) = first
                && checked_files.contains(doc.file())
            {
                let place = namespace(doc)
                    .map(|ns| format!(" in namespace `{ns}`"))
                    .unwrap_or_default();
                out.push(
                    Diagnostic::new(
                        &DUPLICATE_RESOURCE,
                        format!(
                            "{} `{}` is defined twice{place}",
                            doc.kind.as_str(),
                            name.value
                        ),
                    )
                    .with_label(name.span, "defined again here")
                    .with_secondary(first_doc.name_span(), "first defined here")
                    .with_help(
                        "rename one of them, or put them in different namespaces \
                         (`metadata.namespace`): a name is unique per kind and namespace, \
                         and tkc cannot tell which one a reference means",
                    ),
                );
            }
        }
        World {
            sources,
            documents,
            checked_files,
            by_name,
            fetched: BTreeMap::new(),
            fetched_files: FileSet(Vec::new()),
            refs: Default::default(),
        }
    }

    /// Follows references through resolvers into the documents fetched for them. A fetched
    /// document is found only through its reference, never by name: Tekton resolves the
    /// name of a `taskRef` in the run's namespace, not among what resolvers fetched.
    pub fn with_fetched(mut self, fetched: &crate::remote::Fetched) -> World<'s> {
        let files = fetched.file_ids();
        if files.is_empty() {
            return self;
        }
        let remote = FileSet::new(&files);
        let documents = &self.documents;
        for ids in self.by_name.values_mut() {
            ids.retain(|id| !remote.contains(documents[id.0].file()));
        }
        self.by_name.retain(|_, ids| !ids.is_empty());
        self.fetched = fetched
            .entries()
            .map(|(key, file)| (key.to_string(), file))
            .collect();
        self.fetched_files = remote;
        self
    }

    /// Was this file fetched for a reference through a resolver?
    pub fn is_fetched_file(&self, file: FileId) -> bool {
        self.fetched_files.contains(file)
    }

    /// Follows a reference through a resolver: into the first document of `kind` of the
    /// file fetched for it, else [`Resolved::Remote`].
    fn follow_remote<'w, T>(
        &'w self,
        resolver: &'w Str,
        params: &[crate::model::Param],
        body: impl Fn(&'w World<'s>, DocId) -> Option<(DocId, &'w T)>,
    ) -> Resolved<'w, T> {
        let key = crate::remote::key_of(&resolver.value, params);
        let found = self.fetched.get(&key).and_then(|&file| {
            self.iter()
                .filter(|(_, d)| d.file() == file)
                .find_map(|(id, _)| body(self, id))
        });
        match found {
            Some((doc, spec)) => Resolved::Found {
                spec,
                doc: Some(doc),
            },
            None => Resolved::Remote { resolver },
        }
    }

    /// Is this document one being checked (not one found on a search path)?
    pub fn is_checked(&self, doc: DocId) -> bool {
        self.checked_files.contains(self.documents[doc.0].file())
    }

    pub fn is_checked_file(&self, file: FileId) -> bool {
        self.checked_files.contains(file)
    }

    pub fn doc(&self, id: DocId) -> &Document {
        &self.documents[id.0]
    }

    /// Documents with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (DocId, &Document)> {
        self.documents
            .iter()
            .enumerate()
            .map(|(i, d)| (DocId(i), d))
    }

    /// Documents being checked.
    pub fn checked(&self) -> impl Iterator<Item = (DocId, &Document)> {
        self.iter()
            .filter(|(_, d)| self.checked_files.contains(d.file()))
    }

    /// A resource by kind and name (the first checked one, whatever its namespace).
    pub fn find(&self, kind: Kind, name: &str) -> Option<(DocId, &Document)> {
        let id = *self.by_name.get(&(kind, name.to_string()))?.first()?;
        Some((id, &self.documents[id.0]))
    }

    /// A resource by kind and name as a reference at `from` sees it: Tekton looks a name up
    /// in the namespace of the run, so one in the referring document's namespace wins, then
    /// one without a namespace (applied where the referrer is), then any. Of several, the
    /// nearest; `None` if the name is defined nowhere or ambiguous ([`World::lookup`]).
    pub fn find_from(&self, kind: Kind, name: &str, from: Span) -> Option<(DocId, &Document)> {
        match self.lookup(kind, name, from) {
            Lookup::Found(id) => Some((id, &self.documents[id.0])),
            Lookup::Ambiguous(_) | Lookup::Missing => None,
        }
    }

    /// [`World::find_from`], telling an ambiguous name from one defined nowhere.
    pub fn lookup(&self, kind: Kind, name: &str, from: Span) -> Lookup {
        let Some(same) = self.by_name.get(&(kind, name.to_string())) else {
            return Lookup::Missing;
        };
        match same.as_slice() {
            [] => Lookup::Missing,
            [only] => Lookup::Found(*only),
            several => {
                let here = self.containing(from).and_then(namespace);
                let in_namespace = |ns: Option<&str>| -> Vec<DocId> {
                    several
                        .iter()
                        .copied()
                        .filter(|id| namespace(&self.documents[id.0]) == ns)
                        .collect()
                };
                let mut candidates = here.map(|ns| in_namespace(Some(ns))).unwrap_or_default();
                if candidates.is_empty() {
                    candidates = in_namespace(None);
                }
                if candidates.is_empty() {
                    candidates = several.to_vec();
                }
                self.nearest(&candidates, from.file)
            }
        }
    }

    /// Of several definitions of one name, the one nearest to `file`: in the same file, then
    /// in the same directory, then under the longest common directory (a catalog's
    /// `task/<name>/<version>/tests/` finds `task/<name>/<version>/`). Equally near
    /// definitions in one file are a [`DUPLICATE_RESOURCE`] error already: the first is taken.
    /// In different files they are ambiguous: `kubectl apply` keeps whichever was applied
    /// last.
    fn nearest(&self, candidates: &[DocId], file: FileId) -> Lookup {
        let from = self.sources.get(file).name();
        let dirs = |path: &str| -> Vec<String> {
            let mut parts: Vec<String> = path.split(['/', '\\']).map(str::to_string).collect();
            parts.pop();
            parts
        };
        let from_dirs = dirs(from);
        let rank = |id: DocId| {
            let doc = &self.documents[id.0];
            let same_file = doc.file() == file;
            let theirs = dirs(self.sources.get(doc.file()).name());
            let common = from_dirs
                .iter()
                .zip(&theirs)
                .take_while(|(a, b)| a == b)
                .count();
            let same_dir = common == from_dirs.len() && common == theirs.len();
            (same_file, same_dir, common)
        };
        let ranked: Vec<(DocId, (bool, bool, usize))> =
            candidates.iter().map(|&id| (id, rank(id))).collect();
        let Some(best) = ranked.iter().map(|&(_, r)| r).max() else {
            return Lookup::Missing;
        };
        let nearest: Vec<DocId> = ranked
            .iter()
            .filter(|&&(_, r)| r == best)
            .map(|&(id, _)| id)
            .collect();
        match nearest.as_slice() {
            [] => Lookup::Missing,
            [first, rest @ ..] => {
                let one_file = self.documents[first.0].file();
                if rest
                    .iter()
                    .all(|id| self.documents[id.0].file() == one_file)
                {
                    Lookup::Found(*first)
                } else {
                    Lookup::Ambiguous(nearest)
                }
            }
        }
    }

    /// The document whose text holds `span`.
    fn containing(&self, span: Span) -> Option<&Document> {
        self.documents.iter().find(|d| {
            d.span.file == span.file && d.span.start <= span.start && span.end <= d.span.end
        })
    }

    pub fn task(&self, name: &str, cluster: bool) -> Option<(DocId, &TaskSpec)> {
        let kind = if cluster {
            Kind::ClusterTask
        } else {
            Kind::Task
        };
        self.find(kind, name).and_then(|(id, _)| self.task_doc(id))
    }

    fn task_doc(&self, id: DocId) -> Option<(DocId, &TaskSpec)> {
        match &self.documents[id.0].resource {
            Resource::Task(spec) => Some((id, spec)),
            _ => None,
        }
    }

    fn pipeline_doc(&self, id: DocId) -> Option<(DocId, &PipelineSpec)> {
        match &self.documents[id.0].resource {
            Resource::Pipeline(spec) => Some((id, spec)),
            _ => None,
        }
    }

    fn step_action_doc(&self, id: DocId) -> Option<(DocId, &StepActionSpec)> {
        match &self.documents[id.0].resource {
            Resource::StepAction(spec) => Some((id, spec)),
            _ => None,
        }
    }

    /// Follows a reference by name to a body `body` picks from the document.
    fn follow<'w, T>(
        &'w self,
        kind: Kind,
        name: &'w Str,
        body: impl Fn(&'w World<'s>, DocId) -> Option<(DocId, &'w T)>,
    ) -> Resolved<'w, T> {
        match self.lookup(kind, name, name.span) {
            Lookup::Found(id) => match body(self, id) {
                Some((doc, spec)) => Resolved::Found {
                    spec,
                    doc: Some(doc),
                },
                None => Resolved::NotFound { name },
            },
            Lookup::Ambiguous(_) => Resolved::Ambiguous { name },
            Lookup::Missing => Resolved::NotFound { name },
        }
    }

    pub fn pipeline(&self, name: &str) -> Option<(DocId, &PipelineSpec)> {
        self.find(Kind::Pipeline, name)
            .and_then(|(id, _)| self.pipeline_doc(id))
    }

    pub fn step_action(&self, name: &str) -> Option<(DocId, &StepActionSpec)> {
        self.find(Kind::StepAction, name)
            .and_then(|(id, _)| self.step_action_doc(id))
    }

    /// Follows a `taskRef`.
    pub fn resolve_task_ref<'w>(&'w self, task_ref: &'w TaskRef) -> Resolved<'w, TaskSpec> {
        if let Some(resolver) = &task_ref.resolver {
            return self.follow_remote(resolver, &task_ref.params, World::task_doc);
        }
        // Tekton runs a CustomRun only for a ref with both `apiVersion` and `kind`; any other
        // kind than `ClusterTask` (even `task`) looks up a namespaced Task.
        let kind = task_ref.kind.as_ref().map_or("Task", |k| k.as_str());
        if task_ref.api_version.is_some() && task_ref.kind.is_some() {
            return Resolved::Custom;
        }
        let Some(name) = &task_ref.name else {
            return Resolved::Missing;
        };
        let kind = if kind == "ClusterTask" {
            Kind::ClusterTask
        } else {
            Kind::Task
        };
        self.follow(kind, name, World::task_doc)
    }

    /// The Task a pipeline task runs.
    pub fn resolve_pipeline_task<'w>(&'w self, task: &'w PipelineTask) -> Resolved<'w, TaskSpec> {
        if task.pipeline_ref.is_some() || task.pipeline_spec.is_some() {
            return Resolved::Custom;
        }
        match (&task.task_ref, task.task_spec.as_deref()) {
            (Some(r), None) => self.resolve_task_ref(r),
            (None, Some(EmbeddedTask { task: spec, .. })) if !is_custom(task) => {
                Resolved::Found { spec, doc: None }
            }
            (None, Some(_)) => Resolved::Custom,
            _ => Resolved::Missing,
        }
    }

    /// Follows a `pipelineRef`.
    pub fn resolve_pipeline_ref<'w>(
        &'w self,
        pipeline_ref: &'w PipelineRef,
    ) -> Resolved<'w, PipelineSpec> {
        if let Some(resolver) = &pipeline_ref.resolver {
            return self.follow_remote(resolver, &pipeline_ref.params, World::pipeline_doc);
        }
        let Some(name) = &pipeline_ref.name else {
            return Resolved::Missing;
        };
        self.follow(Kind::Pipeline, name, World::pipeline_doc)
    }

    /// Follows a step's StepAction `ref`.
    pub fn resolve_step_ref<'w>(&'w self, step_ref: &'w StepRef) -> Resolved<'w, StepActionSpec> {
        if let Some(resolver) = &step_ref.resolver {
            return self.follow_remote(resolver, &step_ref.params, World::step_action_doc);
        }
        let Some(name) = &step_ref.name else {
            return Resolved::Missing;
        };
        self.follow(Kind::StepAction, name, World::step_action_doc)
    }
}

fn is_custom(task: &PipelineTask) -> bool {
    task.task_spec
        .as_deref()
        .is_some_and(EmbeddedTask::is_custom)
}
