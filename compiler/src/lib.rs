//! The tkc compiler: Tekton sources (YAML or KDL) in; diagnostics, a checked model and a
//! pod-plan out.
//!
//! Stages follow the data: [`source`] → [`syntax`] → [`model`] → `resolve` → [`check`] →
//! `lower` → `plan`; [`graph`] draws a checked Pipeline's tasks. Each stage is a function from one plain data type to the next; spans
//! travel with the data. The library never prints and never exits.

pub mod cel;
pub mod check;
pub mod diag;
pub mod emit;
pub mod graph;
pub mod lower;
pub mod model;
pub mod names;
mod parallel;
pub mod plan;
pub mod remote;
pub mod resolve;
pub mod schema;
pub mod source;
pub mod suggest;
pub mod syntax;
pub mod vars;

use diag::{Diagnostic, Diagnostics, codes};
use model::{ApiFields, Cx, Document};
use source::{FileId, SourceMap, Span};

/// Settings that change what is accepted and how it is reported.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Tekton's `enable-api-fields` (default `beta`).
    pub api_fields: ApiFields,
    /// Tekton's `enable-artifacts` feature flag (default off). Independent of `api_fields`:
    /// `alpha` does not turn it on.
    pub enable_artifacts: bool,
    /// Tekton's `enable-concise-resolver-syntax` feature flag (default off): a `taskRef`,
    /// `pipelineRef` or step `ref` whose `name` is a URL (`git://...`) and that names a
    /// `resolver`.
    pub enable_concise_resolver_syntax: bool,
    /// Per-code levels (`tkc.toml` `[severity]`), keyed by full code name.
    pub levels: std::collections::BTreeMap<String, diag::Level>,
    /// The documents fetched for references through resolvers (by `tkc-remote`, before
    /// the check): followed like local ones, their files decoded and their syntax and schema
    /// findings reported (the files name their origin).
    pub fetched: remote::Fetched,
}

/// Parses and decodes files into documents, with every syntax and schema diagnostic.
///
/// Files are independent here, so they are decoded on as many threads as there are cores
/// (in contiguous runs of about equal size); the documents and diagnostics come out in the
/// order of `files` whatever the number of threads.
pub fn decode_files(
    sources: &SourceMap,
    files: &[FileId],
    options: &Options,
) -> (Vec<Document>, Diagnostics) {
    let mut documents = Vec::new();
    let mut diagnostics = Diagnostics::new();
    let size = |file: &FileId| sources.get(*file).text().len();
    let threads = parallel::threads_for(files.iter().map(size).sum());
    for (docs, diags) in parallel::map_runs(files, threads, size, |run| {
        let mut documents = Vec::new();
        let mut diagnostics = Vec::new();
        for &file in run {
            let (docs, diags) = decode_file(sources, file, options);
            documents.extend(docs);
            diagnostics.extend(diags);
        }
        (documents, diagnostics)
    }) {
        documents.extend(docs);
        diagnostics.extend(diags);
    }
    (documents, diagnostics)
}

/// Parses and decodes one file.
pub fn decode_file(
    sources: &SourceMap,
    file: FileId,
    options: &Options,
) -> (Vec<Document>, Vec<Diagnostic>) {
    let parsed = syntax::parse_file(sources, file);
    if let Some(skipped) = helm_template(sources, file, &parsed.diagnostics) {
        return (Vec::new(), vec![skipped]);
    }
    let mut cx = Cx::new(sources.get(file).text(), options.api_fields);
    cx.diagnostics = parsed.diagnostics;
    let mut documents = Vec::new();
    for node in parsed.documents {
        if let Some(document) = model::decode_document(node, &mut cx) {
            documents.push(document);
        }
    }
    (documents, cx.diagnostics)
}

/// A YAML file that does not parse because it is a Helm template (`{{ ... }}` outside a
/// string): the note that it was skipped, in place of the YAML errors, which would only say
/// that a template is not YAML yet.
fn helm_template(
    sources: &SourceMap,
    file: FileId,
    parse_errors: &[Diagnostic],
) -> Option<Diagnostic> {
    let source = sources.get(file);
    if source.syntax() != source::Syntax::Yaml
        || !parse_errors.iter().any(|d| d.code == &codes::YAML)
    {
        return None;
    }
    let action = syntax::helm_template_action(source.text())?;
    Some(
        Diagnostic::new(
            &codes::HELM_TEMPLATE,
            "a Helm template: not checked until Helm renders it",
        )
        .with_label(Span::new(file, action.start, action.end), "template action")
        .with_help(
            "check what Helm renders: `helm template CHART | tkc check --stdin-filename chart.yaml -`",
        ),
    )
}

/// A diagnostic for a file that is not valid UTF-8, at the first bad byte.
pub fn invalid_utf8(file: FileId, at: usize) -> Diagnostic {
    Diagnostic::new(&codes::INVALID_UTF8, "the file is not valid UTF-8")
        .with_label(Span::new(file, at, at + 1), "invalid byte")
        .with_help("save the file as UTF-8")
}

/// The report for a file that is not text (see [`source::is_binary`]); its text should be
/// left empty, so that nothing of it is parsed or shown.
pub fn not_text(file: FileId) -> Diagnostic {
    Diagnostic::new(&codes::NOT_TEXT, "not a text file")
        .with_label(Span::point(file, 0), "")
        .with_help("it holds NUL bytes, as binaries do; leave it out of the paths checked")
}

/// The finding for a file that was not read because it is larger than `limit` bytes; `file`
/// is its (empty) entry in the source map.
pub fn file_too_large(file: FileId, limit: u64) -> Diagnostic {
    Diagnostic::new(
        &codes::LIMIT,
        format!("the file is larger than {} MiB: not checked", limit >> 20),
    )
    .with_label(Span::new(file, 0, 0), "too large")
    .with_help("Tekton resources are far smaller; split the file or exclude it in tkc.toml")
}

/// What `tkc check` finds.
#[derive(Debug, Default)]
pub struct CheckResult {
    pub documents: Vec<Document>,
    pub diagnostics: Diagnostics,
}

/// Checks `files`: syntax, schema, and the semantic checks over all documents together.
/// Documents of `library` files (search paths) are used to resolve references but are not
/// reported on. Suppression comments (`# tkc:ignore[code]`) and the configured per-code levels
/// are applied; the diagnostics are sorted.
pub fn check(
    sources: &SourceMap,
    files: &[FileId],
    library: &[FileId],
    options: &Options,
) -> CheckResult {
    check_with(sources, files, library, options, None)
}

/// [`check`], and the scripts of `files` through `scripts` (shellcheck, which `tkc check`
/// runs as a process: the library starts none), whose findings are suppressed and levelled
/// like every other.
pub fn check_with(
    sources: &SourceMap,
    files: &[FileId],
    library: &[FileId],
    options: &Options,
    scripts: Option<&dyn check::shellcheck::ScriptLinter>,
) -> CheckResult {
    let (world, mut diagnostics) = checked_world(sources, files, library, options, scripts);
    diagnostics.sort();
    CheckResult {
        documents: world.documents,
        diagnostics,
    }
}

/// What [`task_graphs`] produces.
#[derive(Debug, Default)]
pub struct Graphs {
    /// The task graph of every pipeline of `files` ([`graph::pipelines`]), in document order.
    pub graphs: Vec<graph::TaskGraph>,
    /// Every finding of the checks, sorted.
    pub diagnostics: Diagnostics,
}

/// Checks `files` (with `library` files for references) and draws the task graph of each
/// of their pipelines: the one call `tkc graph` makes.
pub fn task_graphs(
    sources: &SourceMap,
    files: &[FileId],
    library: &[FileId],
    options: &Options,
) -> Graphs {
    let (world, mut diagnostics) = checked_world(sources, files, library, options, None);
    diagnostics.sort();
    let graphs = graph::pipelines(&world)
        .into_iter()
        .map(|drawable| graph::build(&world, &drawable))
        .collect();
    Graphs {
        graphs,
        diagnostics,
    }
}

/// Decodes every file into one world and checks it: the findings on `files` (not on
/// `library` files), with suppression comments and configured levels applied, unsorted.
fn checked_world<'s>(
    sources: &'s SourceMap,
    files: &[FileId],
    library: &[FileId],
    options: &Options,
    scripts: Option<&dyn check::shellcheck::ScriptLinter>,
) -> (resolve::World<'s>, Diagnostics) {
    let (mut documents, mut diagnostics) = decode_files(sources, files, options);
    let (library_documents, _) = decode_files(sources, library, options);
    documents.extend(library_documents);
    // Documents fetched for references are checked as Tekton validates what a resolver
    // returns; only their errors are reported (below).
    let fetched_files = options.fetched.file_ids();
    let (fetched_documents, fetched_diagnostics) = decode_files(sources, &fetched_files, options);
    documents.extend(fetched_documents);
    diagnostics.extend(fetched_diagnostics);
    let checked_files: Vec<FileId> = files.iter().chain(&fetched_files).copied().collect();
    let world = resolve::World::build(sources, documents, &checked_files, &mut diagnostics)
        .with_fetched(&options.fetched);
    // The linter waits on processes: the checks run meanwhile.
    let (checked, scripted) = std::thread::scope(|scope| {
        let scripted = scripts.map(|linter| {
            let world = &world;
            scope.spawn(move || check::shellcheck::run(world, options, linter))
        });
        let checked = check::run(&world, options);
        let scripted = scripted.map(|handle| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        (checked, scripted)
    });
    diagnostics.extend(checked);
    diagnostics.extend(scripted.into_iter().flatten());
    drop_cascades(&world, &mut diagnostics);
    drop_failed_fetches(&options.fetched, &mut diagnostics);
    diag::apply_suppressions(sources, &mut diagnostics);
    diagnostics.extend(diag::unknown_suppressions(sources, files));
    diag::apply_levels(&options.levels, &mut diagnostics);
    keep_errors_of_fetched(&world, &mut diagnostics);
    (world, diagnostics)
}

/// In a document fetched for a reference only what Tekton would reject matters: its
/// warnings and advice are about a file the user does not maintain, and are dropped.
fn keep_errors_of_fetched(world: &resolve::World, diagnostics: &mut Diagnostics) {
    diagnostics.retain(|d| {
        d.severity == diag::Severity::Error
            || !d
                .primary_span()
                .is_some_and(|at| world.is_fetched_file(at.file))
    });
}

/// A field the decoder did not know (most often a misspelt `script`, `env` or `args`) was
/// left out of the model, so "never used" and "never written" lints about the same document
/// would only repeat that finding in a less helpful way: they are dropped there.
fn drop_cascades(world: &resolve::World, diagnostics: &mut Diagnostics) {
    let unknown_field =
        |d: &Diagnostic| d.code == &codes::UNKNOWN_FIELD || d.code == &codes::FIELD_CASE;
    let broken: Vec<Span> = world
        .documents
        .iter()
        .map(|doc| doc.span)
        .filter(|span| {
            diagnostics
                .iter()
                .filter(|d| unknown_field(d))
                .filter_map(Diagnostic::primary_span)
                .any(|s| s.file == span.file && s.start >= span.start && s.end <= span.end)
        })
        .collect();
    if broken.is_empty() {
        return;
    }
    let cascades = [
        &check::lint::unused_param::UNUSED_PARAM,
        &check::lint::unwritten_result::UNWRITTEN_RESULT,
    ];
    diagnostics.retain(|d| {
        let Some(at) = d.primary_span() else {
            return true;
        };
        !(cascades.contains(&d.code)
            && broken
                .iter()
                .any(|s| s.file == at.file && at.start >= s.start && at.end <= s.end))
    });
}

/// A reference whose fetch failed was reported with the reason; the warning that tkc does
/// not follow it (`remote-ref`), and lowering's error that it needs a cluster, would only say
/// it again.
fn drop_failed_fetches(fetched: &remote::Fetched, diagnostics: &mut Diagnostics) {
    if fetched.is_empty() {
        return;
    }
    diagnostics.retain(|d| {
        let restates = d.code == &resolve::REMOTE_REF
            || d.code == &lower::codes::UNRESOLVED_REF
            || d.code == &lower::codes::UNRESOLVED_PIPELINE;
        !(restates && d.primary_span().is_some_and(|at| fetched.failed_at(at)))
    });
}

/// What [`compile`] produces.
#[derive(Debug, Default)]
pub struct Compiled {
    /// The documents of the compiled files (not those of library files), for `--emit tekton`.
    pub documents: Vec<Document>,
    /// Every finding of the checks and of lowering, sorted.
    pub diagnostics: Diagnostics,
    /// The plan, when the sources have no errors and the run could be lowered.
    pub plan: Option<plan::Plan>,
    /// The data of the Secrets the plan names (`Plan::secrets`), for a run to hand its
    /// backend; never part of the plan.
    pub secrets: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

/// Compiles `files` (with `library` files, from search paths, for references) to the plan of
/// one run: the sources are checked first, and lowered only if they have no errors (after
/// suppressions and the configured per-code levels). This is the one call `tkc compile` and
/// `tkc run` make.
pub fn compile(
    sources: &SourceMap,
    files: &[FileId],
    library: &[FileId],
    request: &lower::RunRequest,
    options: &Options,
) -> Compiled {
    let (world, mut diagnostics) = checked_world(sources, files, library, options, None);
    let plan = if diagnostics.has_errors() {
        None
    } else {
        let (plan, lowered) = lower::lower_reporting(&world, request, options);
        let mut found = Diagnostics::new();
        found.extend(lowered);
        drop_failed_fetches(&options.fetched, &mut found);
        diag::apply_levels(&options.levels, &mut found);
        let plan = plan.filter(|_| !found.has_errors());
        // A reference lowering cannot follow is an error there; the check's warning about
        // the same reference (`not-found`, `remote-ref`) would say it a second time.
        let unresolved: Vec<Span> = found
            .iter()
            .filter(|d| {
                d.code == &lower::codes::UNRESOLVED_REF
                    || d.code == &lower::codes::UNRESOLVED_PIPELINE
            })
            .filter_map(Diagnostic::primary_span)
            .collect();
        diagnostics.retain(|d| {
            let same_ref = [
                &resolve::NOT_FOUND,
                &resolve::REMOTE_REF,
                &resolve::AMBIGUOUS_REF,
            ]
            .contains(&d.code);
            !(same_ref && d.primary_span().is_some_and(|at| unresolved.contains(&at)))
        });
        diagnostics.extend(found);
        plan
    };
    // Warnings of lowering may come with a plan.
    diagnostics.sort();
    let secrets = plan
        .as_ref()
        .map(|p| lower::secret_values(&world, &p.secrets))
        .unwrap_or_default();
    let documents = world
        .documents
        .into_iter()
        .filter(|d| files.contains(&d.file()))
        .collect();
    Compiled {
        documents,
        diagnostics,
        plan,
        secrets,
    }
}
