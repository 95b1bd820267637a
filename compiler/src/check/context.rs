//! What the checks walk: every Task and Pipeline spec being checked with where it sits, the
//! strings of each with the field they are in, and the `$(...)` references of a string with
//! their spans in the source.

use crate::model::{
    Document, EmbeddedTask, ParamValue, PipelineRunSpec, PipelineSpec, PipelineTask, Resource,
    Spanned, Str, TaskRunSpec, TaskSpec,
};
use crate::resolve::{DocId, World};
use crate::source::Span;
use crate::syntax::value_subspans;
use crate::vars::{self, Reference};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A piece of text with its span (a string field, or one string inside a param value).
#[derive(Copy, Clone, Debug)]
pub struct Text<'w> {
    pub text: &'w str,
    pub span: Span,
}

impl<'w> From<&'w Str> for Text<'w> {
    fn from(s: &'w Str) -> Text<'w> {
        Text {
            text: &s.value,
            span: s.span,
        }
    }
}

/// A reference with the span of the reference itself in the source (inside a block scalar: on
/// its own line).
pub type Located = (Reference, Span);

/// The references of a text, each with its span (see [`refs`]).
#[derive(Clone, Debug, Default)]
pub struct Refs(Option<Arc<[Located]>>);

impl Refs {
    pub fn iter(&self) -> RefsIter<'_> {
        let located: &[Located] = self.0.as_deref().unwrap_or_default();
        located.iter().map(|(r, span)| (r, *span))
    }
}

pub type RefsIter<'a> =
    std::iter::Map<std::slice::Iter<'a, Located>, fn(&Located) -> (&Reference, Span)>;

impl<'a> IntoIterator for &'a Refs {
    type Item = (&'a Reference, Span);
    type IntoIter = RefsIter<'a>;

    fn into_iter(self) -> RefsIter<'a> {
        self.iter()
    }
}

/// Where a text is: its bytes in memory (which do not move while the world is borrowed) and
/// its span, and a digest of its bytes, so that a text at an address another one had (were
/// a caller ever to pass one that is not the world's) is never taken for it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct TextKey {
    address: usize,
    len: usize,
    span: Span,
    digest: u64,
}

impl Hash for TextKey {
    /// The address alone: two texts at one address are the same text (the other fields only
    /// confirm it, in `eq`).
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.address);
    }
}

/// A cheap digest of a text's bytes (eight at a time through [`AddressHasher`]'s mix).
fn digest(text: &str) -> u64 {
    let mut hasher = AddressHasher::default();
    for chunk in text.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        hasher.write_u64(u64::from_le_bytes(word));
    }
    hasher.finish()
}

/// Hashes a [`TextKey`] with one multiplication (SipHash cost more than the rest of a lookup).
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    /// A folded multiply: the low bits of an address are zero (alignment), the product's
    /// high half carries them into the low bits the table indexes by.
    fn write_u64(&mut self, n: u64) {
        let product = u128::from(self.0 ^ n) * 0x9E37_79B9_7F4A_7C15;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type RefMap = HashMap<TextKey, Arc<[Located]>, BuildHasherDefault<AddressHasher>>;

/// The references of every text the checks asked about, parsed and mapped to source spans
/// once per check run and shared by all check families. Several families walk the same
/// strings (a pipeline task's params are read by the params, dag, results, refs and lint
/// families), and each used to parse and map them again: the larger part of checking time
/// (issue 11). Emptied when the run ends.
#[derive(Debug, Default)]
pub struct RefCache(Mutex<RefMap>);

impl RefCache {
    fn lock(&self) -> MutexGuard<'_, RefMap> {
        // A family that panicked left the map whole: entries are inserted in one step.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets every text: the memory is not needed once the checks are done.
    pub fn clear(&self) {
        *self.lock() = RefMap::default();
    }
}

/// The references of a text, each with the span of the reference itself in the source.
///
/// The text must borrow the world's documents (every [`Text`] the checks make does): the
/// answer is remembered by where the text is in memory, in [`World::refs`].
pub fn refs(world: &World, text: Text) -> Refs {
    // Most strings hold no reference: nothing to parse, remember or lock for.
    if !text.text.contains("$(") {
        return Refs(None);
    }
    let key = TextKey {
        address: text.text.as_ptr() as usize,
        len: text.text.len(),
        span: text.span,
        digest: digest(text.text),
    };
    if let Some(found) = world.refs.lock().get(&key) {
        return Refs(Some(found.clone()));
    }
    let located: Arc<[Located]> = locate(world, text).into();
    world.refs.lock().insert(key, located.clone());
    Refs(Some(located))
}

/// Parses the references of a text and finds their spans.
fn locate(world: &World, text: Text) -> Vec<Located> {
    let references = vars::parse(text.text);
    if references.is_empty() {
        return Vec::new();
    }
    let ranges: Vec<(usize, usize)> = references.iter().map(|r| (r.start, r.end)).collect();
    let spans = value_subspans(world.sources, text.span, text.text, &ranges);
    references.into_iter().zip(spans).collect()
}

/// The strings of a param value: the value itself, each array item, or each object value.
pub fn param_value_texts(value: &Spanned<ParamValue>) -> Vec<Text<'_>> {
    match &value.value {
        ParamValue::String(s) => vec![Text {
            text: s,
            span: value.span,
        }],
        ParamValue::Array(items) => items.iter().map(Text::from).collect(),
        ParamValue::Object(entries) => entries.iter().map(|(_, v)| Text::from(v)).collect(),
    }
}

/// `tasks` or `finally`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    Tasks,
    Finally,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Tasks => "tasks",
            Section::Finally => "finally",
        }
    }
}

/// The tasks of a pipeline with their section, `tasks` first.
pub fn pipeline_tasks(spec: &PipelineSpec) -> impl Iterator<Item = (Section, &PipelineTask)> {
    spec.tasks
        .iter()
        .map(|t| (Section::Tasks, t))
        .chain(spec.finally.iter().map(|t| (Section::Finally, t)))
}

/// Where a Task spec is written.
#[derive(Copy, Clone, Debug)]
pub enum TaskSite<'w> {
    /// A `kind: Task` document.
    Resource,
    /// A pipeline task's inline `taskSpec` (params propagate into it from the pipeline).
    InPipeline {
        pipeline: &'w PipelineSpec,
        task: &'w PipelineTask,
        section: Section,
    },
    /// A TaskRun's inline `taskSpec` (the run's params count as declared).
    InTaskRun { run: &'w TaskRunSpec },
}

/// A Task spec and where it is.
#[derive(Copy, Clone, Debug)]
pub struct TaskCx<'w> {
    pub doc: DocId,
    pub spec: &'w TaskSpec,
    pub site: TaskSite<'w>,
}

/// A Pipeline spec and where it is.
#[derive(Copy, Clone, Debug)]
pub struct PipelineCx<'w> {
    pub doc: DocId,
    pub spec: &'w PipelineSpec,
    /// The PipelineRun it is written inline in, if any.
    pub run: Option<&'w PipelineRunSpec>,
}

/// Every Pipeline spec of the documents being checked: Pipeline documents, inline
/// `pipelineSpec`s of PipelineRuns, and (alpha) pipelines in pipelines.
pub fn pipeline_specs<'w>(world: &'w World) -> Vec<PipelineCx<'w>> {
    let mut out = Vec::new();
    for (doc, document) in world.checked() {
        match &document.resource {
            Resource::Pipeline(spec) => push_pipeline(&mut out, doc, spec, None),
            Resource::PipelineRun(run) => {
                if let Some(spec) = &run.pipeline_spec {
                    push_pipeline(&mut out, doc, spec, Some(run));
                }
            }
            _ => {}
        }
    }
    out
}

fn push_pipeline<'w>(
    out: &mut Vec<PipelineCx<'w>>,
    doc: DocId,
    spec: &'w PipelineSpec,
    run: Option<&'w PipelineRunSpec>,
) {
    out.push(PipelineCx { doc, spec, run });
    for (_, task) in pipeline_tasks(spec) {
        if let Some(inner) = &task.pipeline_spec {
            push_pipeline(out, doc, inner, None);
        }
    }
}

/// Every Task spec of the documents being checked, with where it is written.
pub fn task_specs<'w>(world: &'w World) -> Vec<TaskCx<'w>> {
    let mut out = Vec::new();
    for (doc, document) in world.checked() {
        match &document.resource {
            Resource::Task(spec) => out.push(TaskCx {
                doc,
                spec,
                site: TaskSite::Resource,
            }),
            Resource::TaskRun(run) => {
                if let Some(spec) = &run.task_spec {
                    out.push(TaskCx {
                        doc,
                        spec,
                        site: TaskSite::InTaskRun { run },
                    });
                }
            }
            _ => {}
        }
    }
    for pipeline in pipeline_specs(world) {
        for (section, task) in pipeline_tasks(pipeline.spec) {
            if let Some(embedded @ EmbeddedTask { task: spec, .. }) = task.task_spec.as_deref()
                && !embedded.is_custom()
            {
                out.push(TaskCx {
                    doc: pipeline.doc,
                    spec,
                    site: TaskSite::InPipeline {
                        pipeline: pipeline.spec,
                        task,
                        section,
                    },
                });
            }
        }
    }
    out
}

/// The container a string belongs to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Container {
    Step(usize),
    Sidecar(usize),
    StepTemplate,
    /// Task-level fields (volumes, results).
    Task,
}

/// The field a string is in: it decides which references are allowed there and how.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    Image,
    Command,
    Args,
    Script,
    EnvValue,
    WorkingDir,
    VolumeMount,
    OnError,
    /// A StepAction param passed by a step with `ref`.
    StepParam,
    When,
    OutputPath,
    ImagePullPolicy,
    /// `results[].value` (`$(steps.S.results.R)`).
    ResultValue,
    /// A volume source field (configMap name, secret name, claim name, ...).
    Volume,
    WorkspaceMountPath,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Image => "image",
            Field::Command => "command",
            Field::Args => "args",
            Field::Script => "script",
            Field::EnvValue => "env",
            Field::WorkingDir => "workingDir",
            Field::VolumeMount => "volumeMounts",
            Field::OnError => "onError",
            Field::StepParam => "params",
            Field::When => "when",
            Field::OutputPath => "stdoutConfig/stderrConfig",
            Field::ImagePullPolicy => "imagePullPolicy",
            Field::ResultValue => "results",
            Field::Volume => "volumes",
            Field::WorkspaceMountPath => "workspaces",
        }
    }
}

/// One string of a Task spec.
#[derive(Copy, Clone, Debug)]
pub struct TaskString<'w> {
    pub container: Container,
    pub field: Field,
    pub text: Text<'w>,
}

/// Every string of a Task spec that Tekton substitutes variables in.
pub fn task_strings(spec: &TaskSpec) -> Vec<TaskString<'_>> {
    let mut out = Vec::new();
    fn push<'w>(out: &mut Vec<TaskString<'w>>, container: Container, field: Field, s: &'w Str) {
        out.push(TaskString {
            container,
            field,
            text: Text::from(s),
        });
    }
    for (i, step) in spec.steps.iter().enumerate() {
        let c = Container::Step(i);
        step.name
            .iter()
            .for_each(|s| push(&mut out, c, Field::Name, s));
        step.image
            .iter()
            .for_each(|s| push(&mut out, c, Field::Image, s));
        step.command
            .iter()
            .for_each(|s| push(&mut out, c, Field::Command, s));
        step.args
            .iter()
            .for_each(|s| push(&mut out, c, Field::Args, s));
        step.script
            .iter()
            .for_each(|s| push(&mut out, c, Field::Script, s));
        step.working_dir
            .iter()
            .for_each(|s| push(&mut out, c, Field::WorkingDir, s));
        step.on_error
            .iter()
            .for_each(|s| push(&mut out, c, Field::OnError, s));
        step.image_pull_policy
            .iter()
            .for_each(|s| push(&mut out, c, Field::ImagePullPolicy, s));
        for env in &step.env {
            env.value
                .iter()
                .for_each(|s| push(&mut out, c, Field::EnvValue, s));
        }
        for mount in &step.volume_mounts {
            push(&mut out, c, Field::VolumeMount, &mount.name);
            push(&mut out, c, Field::VolumeMount, &mount.mount_path);
            mount
                .sub_path
                .iter()
                .for_each(|s| push(&mut out, c, Field::VolumeMount, s));
        }
        for config in [&step.stdout_config, &step.stderr_config]
            .into_iter()
            .flatten()
        {
            config
                .path
                .iter()
                .for_each(|s| push(&mut out, c, Field::OutputPath, s));
        }
        for when in &step.when {
            when.input
                .iter()
                .for_each(|s| push(&mut out, c, Field::When, s));
            when.values
                .iter()
                .for_each(|s| push(&mut out, c, Field::When, s));
            when.cel
                .iter()
                .for_each(|s| push(&mut out, c, Field::When, s));
        }
        for ws in &step.workspaces {
            ws.mount_path
                .iter()
                .for_each(|s| push(&mut out, c, Field::WorkspaceMountPath, s));
        }
    }
    for param in spec
        .steps
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.params.iter().map(move |p| (i, p)))
    {
        let (i, param) = param;
        if let Some(value) = &param.value {
            for text in param_value_texts(value) {
                out.push(TaskString {
                    container: Container::Step(i),
                    field: Field::StepParam,
                    text,
                });
            }
        }
    }
    if let Some(t) = &spec.step_template {
        let c = Container::StepTemplate;
        t.image
            .iter()
            .for_each(|s| push(&mut out, c, Field::Image, s));
        t.command
            .iter()
            .for_each(|s| push(&mut out, c, Field::Command, s));
        t.args
            .iter()
            .for_each(|s| push(&mut out, c, Field::Args, s));
        t.working_dir
            .iter()
            .for_each(|s| push(&mut out, c, Field::WorkingDir, s));
        for env in &t.env {
            env.value
                .iter()
                .for_each(|s| push(&mut out, c, Field::EnvValue, s));
        }
        for mount in &t.volume_mounts {
            push(&mut out, c, Field::VolumeMount, &mount.mount_path);
            mount
                .sub_path
                .iter()
                .for_each(|s| push(&mut out, c, Field::VolumeMount, s));
        }
    }
    for (i, sidecar) in spec.sidecars.iter().enumerate() {
        let c = Container::Sidecar(i);
        sidecar
            .name
            .iter()
            .for_each(|s| push(&mut out, c, Field::Name, s));
        sidecar
            .image
            .iter()
            .for_each(|s| push(&mut out, c, Field::Image, s));
        sidecar
            .command
            .iter()
            .for_each(|s| push(&mut out, c, Field::Command, s));
        sidecar
            .args
            .iter()
            .for_each(|s| push(&mut out, c, Field::Args, s));
        sidecar
            .script
            .iter()
            .for_each(|s| push(&mut out, c, Field::Script, s));
        sidecar
            .working_dir
            .iter()
            .for_each(|s| push(&mut out, c, Field::WorkingDir, s));
        for env in &sidecar.env {
            env.value
                .iter()
                .for_each(|s| push(&mut out, c, Field::EnvValue, s));
        }
        for mount in &sidecar.volume_mounts {
            push(&mut out, c, Field::VolumeMount, &mount.mount_path);
            mount
                .sub_path
                .iter()
                .for_each(|s| push(&mut out, c, Field::VolumeMount, s));
        }
    }
    for volume in &spec.volumes {
        let c = Container::Task;
        if let Some(cm) = &volume.config_map {
            push(&mut out, c, Field::Volume, &cm.name);
        }
        if let Some(secret) = &volume.secret {
            push(&mut out, c, Field::Volume, &secret.secret_name);
        }
        if let Some(pvc) = &volume.persistent_volume_claim {
            push(&mut out, c, Field::Volume, &pvc.claim_name);
        }
    }
    for result in &spec.results {
        if let Some(value) = &result.value {
            for text in param_value_texts(value) {
                out.push(TaskString {
                    container: Container::Task,
                    field: Field::ResultValue,
                    text,
                });
            }
        }
    }
    out
}

/// The document a check is looking at, for messages.
pub fn describe(document: &Document) -> String {
    format!("{} `{}`", document.kind.as_str(), document.name())
}
