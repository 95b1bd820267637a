//! `tkc lsp`: a language server over stdio for Tekton YAML and KDL. It runs the checks of
//! `tkc check` (same codes, messages and ranges) as the user types, and answers hover, go to
//! definition and find references from the compiler's model.
//!
//! The server is synchronous (`lsp-server`, rust-analyzer's protocol core): it applies every
//! message waiting in the queue, then re-checks the files connected to the ones edited (by the
//! names their resources define and reference) and publishes their diagnostics.

#![forbid(unsafe_code)]

mod actions;
mod config;
pub mod convert;
mod diagnostics;
mod fields;
mod nav;
mod rename;
mod workspace;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, Rename, Request as _,
};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams,
    CodeActionProviderCapability, CompletionItem, CompletionItemKind, CompletionOptions,
    CompletionParams, Documentation, GotoDefinitionParams, GotoDefinitionResponse, Hover,
    HoverContents, HoverParams, HoverProviderCapability, InitializeParams, InitializeResult,
    Location, MarkupContent, MarkupKind, MessageType, OneOf, PublishDiagnosticsParams,
    ReferenceParams, ServerCapabilities, ServerInfo, ShowMessageParams, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Uri, WorkspaceEdit,
};
use lsp_types::{DocumentChanges, OptionalVersionedTextDocumentIdentifier, TextDocumentEdit};
use lsp_types::{DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, SymbolKind};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tkc_compiler::source::Span;
use workspace::{Loaded, Workspace};

/// Why the server stopped before an orderly `shutdown`/`exit`.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Serves one client over stdin/stdout until it exits; `scripts` checks the scripts of the
/// files (shellcheck, as `tkc check` runs it), if given.
pub fn serve_stdio(
    scripts: Option<Box<dyn tkc_compiler::check::shellcheck::ScriptLinter>>,
) -> Result<(), Error> {
    let (connection, io_threads) = Connection::stdio();
    serve_with(&connection, scripts)?;
    drop(connection);
    io_threads.join()?;
    Ok(())
}

/// Serves one client over `connection` (stdio, or an in-memory pair in tests).
pub fn serve(connection: &Connection) -> Result<(), Error> {
    serve_with(connection, None)
}

/// [`serve`], with `scripts` checking the scripts of the files.
pub fn serve_with(
    connection: &Connection,
    scripts: Option<Box<dyn tkc_compiler::check::shellcheck::ScriptLinter>>,
) -> Result<(), Error> {
    let (id, params) = connection.initialize_start()?;
    let params: InitializeParams = serde_json::from_value(params)?;
    let result = InitializeResult {
        capabilities: capabilities(),
        server_info: Some(ServerInfo {
            name: "tkc".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
    };
    connection.initialize_finish(id, serde_json::to_value(result)?)?;
    let (mut workspace, problem) = Workspace::load(root(&params).as_deref());
    workspace.scripts = scripts;
    let mut server = Server {
        connection,
        workspace,
        versions: BTreeMap::new(),
        dirty: BTreeSet::new(),
    };
    if let Some(message) = problem {
        server.notify::<ShowMessage>(ShowMessageParams {
            typ: MessageType::WARNING,
            message,
        })?;
    }
    let everything: Vec<PathBuf> = server
        .workspace
        .files
        .iter()
        .filter(|(_, f)| !f.library)
        .map(|(p, _)| p.clone())
        .collect();
    server.dirty.extend(everything);
    server.flush()?;
    loop {
        let Ok(message) = connection.receiver.recv() else {
            return Ok(());
        };
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                server.request(request)?;
            }
            Message::Notification(notification) => {
                if notification.method == "exit" {
                    return Ok(());
                }
                server.notification(notification);
            }
            Message::Response(_) => {}
        }
        // Edits queued behind this one are applied before anything is checked.
        if connection.receiver.is_empty() {
            server.flush()?;
        }
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::FULL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(lsp_types::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: lsp_types::WorkDoneProgressOptions::default(),
        })),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_string(), "(".to_string()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

/// The workspace's root directory: the first workspace folder, else the root URI.
fn root(params: &InitializeParams) -> Option<PathBuf> {
    let folder = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| &f.uri);
    #[allow(deprecated)]
    let uri = folder.or(params.root_uri.as_ref())?;
    convert::uri_to_path(uri)
}

struct Server<'c> {
    connection: &'c Connection,
    workspace: Workspace,
    /// Open documents' versions, for the diagnostics published about them.
    versions: BTreeMap<PathBuf, i32>,
    /// Files whose findings may have changed since they were last published.
    dirty: BTreeSet<PathBuf>,
}

impl Server<'_> {
    fn notify<N: lsp_types::notification::Notification>(
        &self,
        params: N::Params,
    ) -> Result<(), Error> {
        let notification = Notification::new(N::METHOD.to_string(), params);
        self.connection
            .sender
            .send(Message::Notification(notification))?;
        Ok(())
    }

    fn respond(&self, id: RequestId, result: impl serde::Serialize) -> Result<(), Error> {
        let response = Response::new_ok(id, result);
        self.connection.sender.send(Message::Response(response))?;
        Ok(())
    }

    fn respond_error(&self, id: RequestId, message: String) -> Result<(), Error> {
        let response = Response::new_err(id, ErrorCode::RequestFailed as i32, message);
        self.connection.sender.send(Message::Response(response))?;
        Ok(())
    }

    fn notification(&mut self, notification: Notification) {
        let method = notification.method.as_str();
        let params = notification.params;
        match method {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(params)
                    && let Some(path) = path_of(&p.text_document.uri)
                {
                    self.versions.insert(path.clone(), p.text_document.version);
                    let affected = self.workspace.set(path, p.text_document.text, false);
                    self.dirty.extend(affected);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(params)
                    && let Some(path) = path_of(&p.text_document.uri)
                    // Full sync: the last change holds the whole text.
                    && let Some(change) = p.content_changes.into_iter().last()
                {
                    self.versions.insert(path.clone(), p.text_document.version);
                    let affected = self.workspace.set(path, change.text, false);
                    self.dirty.extend(affected);
                }
            }
            DidSaveTextDocument::METHOD => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidSaveTextDocumentParams>(params)
                    && let Some(path) = path_of(&p.text_document.uri)
                {
                    self.dirty.insert(path);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) =
                    serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(params)
                    && let Some(path) = path_of(&p.text_document.uri)
                {
                    self.versions.remove(&path);
                    let affected = self.workspace.close(&path);
                    self.dirty.extend(affected);
                }
            }
            _ => {}
        }
    }

    /// Re-checks the dirty files, group by connected group, and publishes their findings.
    fn flush(&mut self) -> Result<(), Error> {
        if self.dirty.is_empty() {
            return Ok(());
        }
        let dirty: Vec<PathBuf> = std::mem::take(&mut self.dirty).into_iter().collect();
        let affected = self.workspace.dependents(&dirty);
        let checked = self.workspace.check_files(&affected);
        self.publish(&checked)?;
        // When an edit changed which resources a file defines or references, the files that
        // now depend on it are checked too (the edited ones already were, with their new
        // context, since the check itself decoded them).
        let changed = self
            .workspace
            .update_names(&checked.loaded, &checked.documents);
        if !changed.is_empty() {
            let again: BTreeSet<PathBuf> = self
                .workspace
                .dependents(&changed)
                .into_iter()
                .filter(|p| !affected.contains(p))
                .collect();
            let new_context = self.workspace.context(&changed);
            let missed_context = new_context
                .iter()
                .any(|p| !checked.loaded.paths.contains(p));
            let mut recheck = again;
            if missed_context {
                recheck.extend(changed);
            }
            if !recheck.is_empty() {
                let checked = self.workspace.check_files(&recheck);
                self.publish(&checked)?;
                self.workspace
                    .update_names(&checked.loaded, &checked.documents);
            }
        }
        Ok(())
    }

    fn publish(&self, checked: &workspace::Checked) -> Result<(), Error> {
        let loaded = &checked.loaded;
        for (id, found) in &checked.by_file {
            let Some(path) = loaded.path(*id) else {
                continue;
            };
            let Some(uri) = convert::path_to_uri(path) else {
                continue;
            };
            let diagnostics = found
                .iter()
                .map(|d| diagnostics::to_lsp(loaded, d))
                .collect();
            self.notify::<PublishDiagnostics>(PublishDiagnosticsParams {
                uri,
                diagnostics,
                version: self.versions.get(path).copied(),
            })?;
        }
        Ok(())
    }

    fn request(&mut self, request: Request) -> Result<(), Error> {
        let id = request.id.clone();
        match request.method.as_str() {
            HoverRequest::METHOD => {
                let p: HoverParams = parse(request)?;
                let at = p.text_document_position_params;
                let hover = self.at(&at.text_document.uri, at.position, |loaded, symbol| {
                    let file = loaded.sources.get(symbol.at.file).text();
                    Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: symbol.hover.clone(),
                        }),
                        range: Some(convert::range(
                            file,
                            symbol.at.start as usize,
                            symbol.at.end as usize,
                        )),
                    }
                });
                let hover = hover.or_else(|| self.field_hover(&at.text_document.uri, at.position));
                self.respond(id, hover)
            }
            GotoDefinition::METHOD => {
                let p: GotoDefinitionParams = parse(request)?;
                let at = p.text_document_position_params;
                let target = self.at(&at.text_document.uri, at.position, |loaded, symbol| {
                    symbol.declaration.and_then(|s| location(loaded, s))
                });
                let response = target.flatten().map(GotoDefinitionResponse::Scalar);
                self.respond(id, response)
            }
            References::METHOD => {
                let p: ReferenceParams = parse(request)?;
                let at = p.text_document_position;
                let include_declaration = p.context.include_declaration;
                let found = self.at(&at.text_document.uri, at.position, |loaded, symbol| {
                    let world = loaded.world(&self.workspace.config.options);
                    nav::references(&world, symbol)
                        .into_iter()
                        .filter(|s| include_declaration || Some(*s) != symbol.declaration)
                        .filter_map(|s| location(loaded, s))
                        .collect::<Vec<_>>()
                });
                self.respond(id, found)
            }
            CodeActionRequest::METHOD => {
                let p: CodeActionParams = parse(request)?;
                let uri = p.text_document.uri;
                let current = path_of(&uri).and_then(|p| {
                    let file = self.workspace.files.get(&p)?;
                    Some((p.to_string_lossy().into_owned(), file.text.clone()))
                });
                let actions: Vec<CodeActionOrCommand> = p
                    .context
                    .diagnostics
                    .into_iter()
                    .filter_map(|d| {
                        let fix: diagnostics::Fix = serde_json::from_value(d.data.clone()?).ok()?;
                        let (name, text) = current.as_ref()?;
                        let (title, edits) = diagnostics::edits(fix, name, text)?;
                        let edit = TextDocumentEdit {
                            text_document: OptionalVersionedTextDocumentIdentifier {
                                uri: uri.clone(),
                                version: None,
                            },
                            edits: edits.into_iter().map(OneOf::Left).collect(),
                        };
                        Some(CodeActionOrCommand::CodeAction(CodeAction {
                            title,
                            kind: Some(CodeActionKind::QUICKFIX),
                            diagnostics: Some(vec![d]),
                            edit: Some(WorkspaceEdit {
                                document_changes: Some(DocumentChanges::Edits(vec![edit])),
                                ..WorkspaceEdit::default()
                            }),
                            is_preferred: Some(true),
                            ..CodeAction::default()
                        }))
                    })
                    .collect();
                self.respond(id, actions)
            }
            DocumentSymbolRequest::METHOD => {
                let p: DocumentSymbolParams = parse(request)?;
                let symbols = self.outline(&p.text_document.uri);
                self.respond(id, DocumentSymbolResponse::Nested(symbols))
            }
            PrepareRenameRequest::METHOD => {
                let p: lsp_types::TextDocumentPositionParams = parse(request)?;
                match self.prepare_rename(&p.text_document.uri, p.position) {
                    Ok(answer) => self.respond(id, answer),
                    Err(message) => self.respond_error(id, message),
                }
            }
            Rename::METHOD => {
                let p: lsp_types::RenameParams = parse(request)?;
                let at = p.text_document_position;
                match self.rename(&at.text_document.uri, at.position, &p.new_name) {
                    Ok(edit) => self.respond(id, edit),
                    Err(message) => self.respond_error(id, message),
                }
            }
            Completion::METHOD => {
                let p: CompletionParams = parse(request)?;
                let at = p.text_document_position;
                let items = self.completions(&at.text_document.uri, at.position);
                self.respond(id, items)
            }
            _ => {
                let response = Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("unsupported request {}", request.method),
                );
                self.connection.sender.send(Message::Response(response))?;
                Ok(())
            }
        }
    }

    fn outline(&self, uri: &Uri) -> Vec<DocumentSymbol> {
        let Some(path) = path_of(uri) else {
            return Vec::new();
        };
        let loaded = self.workspace.load_files(std::slice::from_ref(&path));
        let Some(file) = loaded.id(&path) else {
            return Vec::new();
        };
        let world = loaded.world(&self.workspace.config.options);
        let text = loaded.sources.get(file).text();
        fn symbol(text: &str, o: nav::Outline, top: bool) -> DocumentSymbol {
            let range = |s: Span| convert::range(text, s.start as usize, s.end as usize);
            #[allow(deprecated)]
            DocumentSymbol {
                name: if o.name.is_empty() {
                    o.detail.clone()
                } else {
                    o.name
                },
                detail: Some(o.detail),
                kind: if top {
                    SymbolKind::CLASS
                } else {
                    SymbolKind::FUNCTION
                },
                tags: None,
                deprecated: None,
                range: range(o.span),
                selection_range: range(o.name_span),
                children: Some(
                    o.children
                        .into_iter()
                        .map(|c| symbol(text, c, false))
                        .collect(),
                ),
            }
        }
        nav::outline(&world, file)
            .into_iter()
            .map(|o| symbol(text, o, true))
            .collect()
    }

    fn completions(&self, uri: &Uri, position: lsp_types::Position) -> Vec<CompletionItem> {
        let Some(path) = path_of(uri) else {
            return Vec::new();
        };
        let loaded = self.workspace.load_files(&self.workspace.component(&path));
        let Some(file) = loaded.id(&path) else {
            return Vec::new();
        };
        let offset = convert::offset(loaded.sources.get(file).text(), position);
        let world = loaded.world(&self.workspace.config.options);
        let found = nav::complete(&world, file, offset);
        if found.is_empty() {
            let source = loaded.sources.get(file);
            return field_completions(source.name(), source.text(), offset);
        }
        found
            .into_iter()
            .map(|c| CompletionItem {
                label: c.label,
                kind: Some(CompletionItemKind::VARIABLE),
                detail: Some(c.detail),
                documentation: c.documentation.map(|value| {
                    Documentation::MarkupContent(MarkupContent {
                        kind: MarkupKind::Markdown,
                        value,
                    })
                }),
                ..CompletionItem::default()
            })
            .collect()
    }

    /// The documentation of the field whose key is at `position`.
    fn field_hover(&self, uri: &Uri, position: lsp_types::Position) -> Option<Hover> {
        let path = path_of(uri)?;
        let loaded = self.workspace.load_files(std::slice::from_ref(&path));
        let file = loaded.id(&path)?;
        let text = loaded.sources.get(file).text();
        let offset = convert::offset(text, position);
        let key = fields::key_at(&loaded.sources, file, offset)?;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: fields::hover(&key)?,
            }),
            range: Some(convert::range(
                text,
                key.key_span.start as usize,
                key.key_span.end as usize,
            )),
        })
    }

    /// Calls `answer` with the symbol at a position, in the world of the file's group.
    fn at<T>(
        &self,
        uri: &Uri,
        position: lsp_types::Position,
        answer: impl FnOnce(&Loaded, &nav::Symbol) -> T,
    ) -> Option<T> {
        let path = path_of(uri)?;
        let group = self.workspace.component(&path);
        let loaded = self.workspace.load_files(&group);
        let file = loaded.id(&path)?;
        let offset = convert::offset(loaded.sources.get(file).text(), position);
        let world = loaded.world(&self.workspace.config.options);
        let symbol = nav::symbol_at(&world, file, offset)?;
        Some(answer(&loaded, &symbol))
    }
}

/// Field names valid where a key is being typed, or the values of the field whose value is.
fn field_completions(name: &str, text: &str, offset: usize) -> Vec<CompletionItem> {
    let markdown = |value: String| {
        (!value.is_empty()).then_some(Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }))
    };
    match fields::offer(name, text, offset) {
        Some(fields::Offer::Fields {
            owner,
            written,
            syntax,
        }) => owner
            .iter()
            .filter(|(meta, _)| !meta.v1beta1_only)
            // A KDL node's name is its argument, not a child.
            .filter(|(meta, _)| !(meta.positional && syntax == tkc_compiler::source::Syntax::Kdl))
            .filter_map(|(meta, shape)| {
                let label = fields::spelling(meta, syntax);
                // A KDL list item repeats: it is offered again.
                let repeats =
                    syntax == tkc_compiler::source::Syntax::Kdl && meta.kdl_item.is_some();
                if written.contains(&label) && !repeats {
                    return None;
                }
                Some(CompletionItem {
                    label,
                    kind: Some(CompletionItemKind::FIELD),
                    detail: Some(fields::describe(shape)),
                    documentation: markdown(fields::documentation(meta, shape)),
                    ..CompletionItem::default()
                })
            })
            .collect(),
        Some(fields::Offer::Values(meta)) => meta
            .values
            .iter()
            .filter(|v| !v.is_empty())
            .map(|v| CompletionItem {
                label: (*v).to_string(),
                kind: Some(CompletionItemKind::ENUM_MEMBER),
                detail: Some(format!("`{}` value", meta.key)),
                ..CompletionItem::default()
            })
            .collect(),
        None => Vec::new(),
    }
}

fn location(loaded: &Loaded, span: Span) -> Option<Location> {
    let path = loaded.path(span.file)?;
    let source = loaded.sources.get(span.file);
    Some(Location {
        uri: convert::path_to_uri(path)?,
        range: convert::range_in(source, span.start as usize, span.end as usize),
    })
}

fn parse<P: serde::de::DeserializeOwned>(request: Request) -> Result<P, Error> {
    Ok(serde_json::from_value(request.params)?)
}

/// The path of a document, as the workspace keys it (canonical when the file exists).
fn path_of(uri: &Uri) -> Option<PathBuf> {
    let path = convert::uri_to_path(uri)?;
    Some(canonical(&path))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
