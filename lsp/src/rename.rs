//! Rename of a param, a result or a pipeline task across its uses: the declaration, the
//! `$(params.x)` / `$(tasks.t.results.r)` / `$(results.r.path)` references, `runAfter`, and
//! the bindings of pipeline tasks and runs, in every file of the workspace that uses it. A
//! rename that could not change every use is refused with the reason, rather than done in
//! part.

use crate::workspace::Loaded;
use crate::{Server, convert, nav, path_of};
use lsp_types::{
    DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier, Position,
    PrepareRenameResponse, TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};
use std::collections::BTreeMap;
use tkc_compiler::source::{FileId, Span};

/// The uses a rename changes.
struct Plan {
    name: String,
    what: nav::Renamable,
    /// The name's span under the cursor.
    at: Span,
    uses: Vec<Span>,
}

impl Server<'_> {
    /// The range of the name at `position` and the name, if it can be renamed.
    pub(crate) fn prepare_rename(
        &self,
        uri: &Uri,
        position: Position,
    ) -> Result<Option<PrepareRenameResponse>, String> {
        let (loaded, plan) = self.rename_plan(uri, position)?;
        let source = loaded.sources.get(plan.at.file);
        Ok(Some(PrepareRenameResponse::RangeWithPlaceholder {
            range: convert::range_in(source, plan.at.start as usize, plan.at.end as usize),
            placeholder: plan.name,
        }))
    }

    /// The edits that rename the symbol at `position` to `new_name` everywhere it is used.
    pub(crate) fn rename(
        &self,
        uri: &Uri,
        position: Position,
        new_name: &str,
    ) -> Result<WorkspaceEdit, String> {
        let (loaded, plan) = self.rename_plan(uri, position)?;
        valid_name(&plan.what, new_name)?;
        let mut by_file: BTreeMap<FileId, Vec<TextEdit>> = BTreeMap::new();
        for span in &plan.uses {
            let source = loaded.sources.get(span.file);
            by_file.entry(span.file).or_default().push(TextEdit::new(
                convert::range_in(source, span.start as usize, span.end as usize),
                new_name.to_string(),
            ));
        }
        let mut changes = Vec::new();
        for (file, edits) in by_file {
            let path = loaded.path(file).ok_or("a file of the rename is gone")?;
            let uri = convert::path_to_uri(path).ok_or("a file without a URI")?;
            changes.push(TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier {
                    uri,
                    version: self.versions.get(path).copied(),
                },
                edits: edits.into_iter().map(OneOf::Left).collect(),
            });
        }
        Ok(WorkspaceEdit {
            document_changes: Some(DocumentChanges::Edits(changes)),
            ..WorkspaceEdit::default()
        })
    }

    /// The symbol at `position` and every use of it, or why it cannot be renamed.
    fn rename_plan(&self, uri: &Uri, position: Position) -> Result<(Loaded, Plan), String> {
        let path = path_of(uri).ok_or("not a file of the workspace")?;
        let group = self.workspace.component(&path);
        let loaded = self.workspace.load_files(&group);
        let file = loaded.id(&path).ok_or("not a file of the workspace")?;
        let offset = convert::offset(loaded.sources.get(file).text(), position);
        let world = loaded.world(&self.workspace.config.options);
        let nothing = "nothing to rename here: tkc renames params, results and pipeline tasks";
        let symbol = nav::symbol_at(&world, file, offset).ok_or(nothing)?;
        let what = symbol.renamable().ok_or(nothing)?;
        let name = symbol.name().ok_or(nothing)?.to_string();
        if let Some(reason) = nav::incomplete_rename(&world, &symbol) {
            return Err(reason);
        }
        // A KDL name is often quoted (`task "build"`): the name is inside the quotes.
        let uses: Vec<Span> = nav::references(&world, &symbol)
            .into_iter()
            .map(|s| unquoted(&loaded, s))
            .collect();
        // Every use must be in a file the rename may change: not on a search path.
        for span in &uses {
            let library = loaded.library.contains(&span.file);
            if library {
                let shown = loaded
                    .path(span.file)
                    .map_or_else(String::new, |p| p.display().to_string());
                return Err(format!(
                    "`{name}` is also used in {shown}, which is on a search path outside the \
                     workspace: renaming it here would leave that use behind"
                ));
            }
        }
        let at = uses
            .iter()
            .copied()
            .find(|s| s.file == file && s.start as usize <= offset && offset <= s.end as usize)
            .ok_or(nothing)?;
        Ok((
            loaded,
            Plan {
                name,
                what,
                at,
                uses,
            },
        ))
    }
}

/// The span inside the quotes of a quoted name.
fn unquoted(loaded: &Loaded, span: Span) -> Span {
    let text = loaded.sources.text(span);
    if text.len() >= 2 && text.starts_with('"') && text.ends_with('"') {
        Span::new(span.file, span.start as usize + 1, span.end as usize - 1)
    } else {
        span
    }
}

/// Is `name` one Tekton accepts for this kind of symbol, and one a reference can spell?
fn valid_name(what: &nav::Renamable, name: &str) -> Result<(), String> {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    let (ok, rule) = match what {
        // `PipelineTask.ValidateName` (pkg/apis/pipeline/v1/pipeline_validation.go): a
        // DNS-1123 label.
        nav::Renamable::PipelineTask => (
            !name.is_empty()
                && name.len() <= 63
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && name.starts_with(alnum)
                && name.ends_with(alnum),
            "a pipeline task's name is lowercase letters, digits and `-`, at most 63",
        ),
        // `objectVariableNameFormat` (pkg/apis/pipeline/v1/task_validation.go), the stricter
        // of Tekton's two param formats: a dot would make `$(params.a.b)` a key of `a`.
        nav::Renamable::Param => (
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| alnum(c) || c == '_' || c == '-'),
            "a param's name starts with a letter or `_` and holds letters, digits, `_` and `-`",
        ),
        // `ResultNameFormat` (pkg/apis/pipeline/v1/resultref.go), without dots.
        nav::Renamable::Result => (
            name.starts_with(alnum)
                && name.ends_with(alnum)
                && name.chars().all(|c| alnum(c) || c == '_' || c == '-'),
            "a result's name holds letters, digits, `_` and `-`, and starts and ends with a \
             letter or digit",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` cannot be used: {rule}"))
    }
}
