//! The server at the protocol level: a client drives `tkc_lsp::serve` over an in-memory
//! connection (the same messages an editor sends over stdio) and the JSON answers are
//! snapshots. The workspace is `testdata/lsp/workspace`: a Pipeline with a misspelt result
//! reference after non-ASCII text (`ü🚀`), and the Task it runs in another file.

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tkc_compiler::check::shellcheck::{
    LintOutcome, PREAMBLE, PreparedScript, ScriptLinter, ShellFinding, ShellLevel,
};

struct Client {
    connection: Connection,
    server: Option<std::thread::JoinHandle<()>>,
    next_id: i32,
    root: PathBuf,
    /// Notifications received while waiting for responses.
    notifications: Vec<Notification>,
}

fn workspace() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/lsp/workspace");
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

fn uri(path: &Path) -> String {
    tkc_lsp::convert::path_to_uri(path)
        .map(|u| u.as_str().to_string())
        .unwrap_or_default()
}

impl Client {
    fn start(root: &Path) -> Client {
        Client::start_with(root, None)
    }

    /// A server whose scripts are checked by `scripts`.
    fn start_with(root: &Path, scripts: Option<Box<dyn ScriptLinter + Send>>) -> Client {
        let (server, client) = Connection::memory();
        let handle = std::thread::spawn(move || {
            let scripts = scripts.map(|s| s as Box<dyn ScriptLinter>);
            let _ = tkc_lsp::serve_with(&server, scripts);
        });
        let mut client = Client {
            connection: client,
            server: Some(handle),
            next_id: 0,
            root: root.to_path_buf(),
            notifications: Vec::new(),
        };
        let root_uri = uri(root);
        let result = client.request(
            "initialize",
            json!({
                "processId": null,
                "capabilities": {},
                "workspaceFolders": [{"uri": root_uri, "name": "workspace"}],
            }),
        );
        client.notify("initialized", json!({}));
        client.notifications.push(Notification::new(
            "test/initializeResult".to_string(),
            result,
        ));
        client
    }

    fn notify(&self, method: &str, params: Value) {
        let n = Notification::new(method.to_string(), params);
        let _ = self.connection.sender.send(Message::Notification(n));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let request = Request::new(id.clone(), method.to_string(), params);
        let _ = self.connection.sender.send(Message::Request(request));
        loop {
            match self
                .connection
                .receiver
                .recv_timeout(Duration::from_secs(30))
            {
                Ok(Message::Response(r)) if r.id == id => {
                    return match r.response_result {
                        Ok(value) => value,
                        Err(e) => json!({"error": e.message}),
                    };
                }
                Ok(Message::Notification(n)) => self.notifications.push(n),
                Ok(_) => {}
                Err(e) => return json!({"error": e.to_string()}),
            }
        }
    }

    /// Waits for the diagnostics of `path` published after this call (or already queued).
    fn diagnostics(&mut self, path: &Path) -> Value {
        let want = uri(path);
        let found = |n: &Notification| {
            n.method == "textDocument/publishDiagnostics" && n.params["uri"] == want.as_str()
        };
        if let Some(i) = self.notifications.iter().position(found) {
            return self.notifications.remove(i).params;
        }
        loop {
            match self
                .connection
                .receiver
                .recv_timeout(Duration::from_secs(30))
            {
                Ok(Message::Notification(n)) if found(&n) => return n.params,
                Ok(Message::Notification(n)) => self.notifications.push(n),
                Ok(_) => {}
                Err(e) => return json!({"error": e.to_string()}),
            }
        }
    }

    /// The diagnostics of `path` published for document version `version` (older ones, still
    /// queued, are skipped).
    fn diagnostics_of_version(&mut self, path: &Path, version: i32) -> Value {
        loop {
            let published = self.diagnostics(path);
            if published["version"] == version || published.get("error").is_some() {
                return published;
            }
        }
    }

    /// Replaces the workspace root in every string of `value`, so snapshots do not depend on
    /// where the checkout is.
    fn redact(&self, value: Value) -> Value {
        let text = value.to_string();
        let root = uri(&self.root);
        let text = text.replace(&root, "file:///ROOT");
        // Paths in messages; the search path beside the workspace too.
        let parent = self.root.parent().map(|p| p.display().to_string());
        let text = match parent {
            Some(parent) => text.replace(&parent, "ROOT/.."),
            None => text,
        };
        serde_json::from_str(&text).unwrap_or(value)
    }

    fn shutdown(mut self) -> Value {
        let result = self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        if let Some(handle) = self.server.take() {
            let _ = handle.join();
        }
        result
    }
}

fn position(path: &Path, needle: &str, nth: usize) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let offset = text
        .match_indices(needle)
        .nth(nth)
        .map_or(0, |(i, _)| i + 1);
    let p = tkc_lsp::convert::position(&text, offset);
    json!({"line": p.line, "character": p.character})
}

#[test]
fn initialize_capabilities() {
    let root = workspace();
    let client = Client::start(&root);
    let init = client
        .notifications
        .iter()
        .find(|n| n.method == "test/initializeResult")
        .map(|n| n.params.clone());
    insta::assert_json_snapshot!(init);
    assert_eq!(client.shutdown(), Value::Null);
}

#[test]
fn diagnostics_of_the_workspace() {
    let root = workspace();
    let mut client = Client::start(&root);
    let pipeline = client.diagnostics(&root.join("pipeline.yaml"));
    let task = client.diagnostics(&root.join("tasks/build.yaml"));
    insta::assert_json_snapshot!("pipeline", client.redact(pipeline));
    insta::assert_json_snapshot!("task", client.redact(task));
    client.shutdown();
}

/// A shellcheck stand-in: one finding on the first line of every script (after the
/// `set -e` tkc puts before a script without `#!`, as Tekton does).
struct OneFinding;

impl ScriptLinter for OneFinding {
    fn lint(&self, scripts: &[PreparedScript]) -> Vec<LintOutcome> {
        let finding = |line| ShellFinding {
            code: 2164,
            level: ShellLevel::Warning,
            message: "Use 'cd ... || exit'".to_string(),
            line,
            column: 1,
            end_line: line,
            end_column: 3,
        };
        scripts
            .iter()
            .map(|s| Ok(vec![finding(1 + usize::from(s.text.starts_with(PREAMBLE)))]))
            .collect()
    }
}

/// The server checks scripts with the linter it is handed, as `tkc check` does: the finding
/// is published at the script's first line in the YAML.
#[test]
fn scripts_are_checked_by_the_linter_it_is_given() {
    let root = workspace();
    let mut client = Client::start_with(&root, Some(Box::new(OneFinding)));
    let task = client.diagnostics(&root.join("tasks/build.yaml"));
    let found: Vec<&Value> = task["diagnostics"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter(|d| d["code"] == "tkc::shellcheck::warning")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(found.len(), 1, "{task}");
    assert_eq!(found[0]["range"]["start"]["line"], 21, "{task}");
    client.shutdown();
}

/// The range of each diagnostic is the one `tkc check --format json` reports (its columns are
/// characters, LSP's UTF-16 units: `ü🚀` before the span makes them differ by one).
#[test]
fn ranges_match_check_json() {
    use tkc_compiler::source::SourceMap;
    let root = workspace();
    let path = root.join("pipeline.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut sources = SourceMap::new();
    let file = sources.add(path.to_string_lossy().into_owned(), text.clone());
    let task_path = root.join("tasks/build.yaml");
    let task = sources.add(
        task_path.to_string_lossy().into_owned(),
        std::fs::read_to_string(&task_path).unwrap_or_default(),
    );
    let result = tkc_compiler::check(&sources, &[file], &[task], &Default::default());
    let diagnostics = result.diagnostics.into_vec();
    let json: Value =
        serde_json::from_str(&tkc_compiler::diag::render::json(&sources, &diagnostics, 1))
            .unwrap_or_default();
    let char_offset = |line: u64, column: u64| {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(line as usize - 1)
            .map(str::len)
            .sum();
        let in_line: usize = text[line_start..]
            .chars()
            .take(column as usize - 1)
            .map(char::len_utf8)
            .sum();
        line_start + in_line
    };
    let expected: Vec<Value> = json["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| {
            let start = char_offset(
                d["line"].as_u64().unwrap_or(1),
                d["column"].as_u64().unwrap_or(1),
            );
            let end = char_offset(
                d["end_line"].as_u64().unwrap_or(1),
                d["end_column"].as_u64().unwrap_or(1),
            );
            json!([d["code"], tkc_lsp::convert::range(&text, start, end)])
        })
        .collect();

    let mut client = Client::start(&root);
    let published = client.diagnostics(&path);
    let got: Vec<Value> = published["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| json!([d["code"], d["range"]]))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(expected.len(), 2);
    // 21 characters before the reference (`tkc check`'s column 22), the emoji two UTF-16
    // units of them: LSP's character 22.
    assert_eq!(got[1][1]["start"]["character"], 22);
    client.shutdown();
}

#[test]
fn hover_definition_references() {
    let root = workspace();
    let pipeline = root.join("pipeline.yaml");
    let mut client = Client::start(&root);
    let doc = |p: Value| json!({"textDocument": {"uri": uri(&pipeline)}, "position": p});
    let mut answers = serde_json::Map::new();
    let cases = [
        (
            "hover $(params.image)",
            "textDocument/hover",
            "$(params.image)",
            0,
        ),
        (
            "hover $(params.digest) in taskSpec",
            "textDocument/hover",
            "$(params.digest)",
            0,
        ),
        ("hover taskRef", "textDocument/hover", "name: build", 1),
        (
            "hover param binding",
            "textDocument/hover",
            "name: image",
            1,
        ),
        (
            "definition taskRef",
            "textDocument/definition",
            "name: build",
            1,
        ),
        (
            "definition runAfter",
            "textDocument/definition",
            "[build]",
            0,
        ),
        (
            "definition $(params.image)",
            "textDocument/definition",
            "$(params.image)",
            0,
        ),
        (
            "definition $(params.digest)",
            "textDocument/definition",
            "$(params.digest)",
            0,
        ),
    ];
    for (name, method, needle, nth) in cases {
        let mut at = position(&pipeline, needle, nth);
        // Past `name: ` onto the value.
        if needle.starts_with("name: ") {
            at["character"] = json!(at["character"].as_u64().unwrap_or(0) + 6);
        }
        let answer = client.request(method, doc(at));
        answers.insert(name.to_string(), client.redact(answer));
    }
    let at = position(&pipeline, "name: build", 0);
    let mut at = at;
    at["character"] = json!(at["character"].as_u64().unwrap_or(0) + 6);
    let mut params = doc(at);
    params["context"] = json!({"includeDeclaration": true});
    let refs = client.request("textDocument/references", params);
    answers.insert(
        "references of pipeline task build".to_string(),
        client.redact(refs),
    );
    let task = root.join("tasks/build.yaml");
    let mut at = position(&task, "name: image", 0);
    at["character"] = json!(at["character"].as_u64().unwrap_or(0) + 6);
    let params = json!({"textDocument": {"uri": uri(&task)}, "position": at,
        "context": {"includeDeclaration": true}});
    let refs = client.request("textDocument/references", params);
    answers.insert(
        "references of Task param image".to_string(),
        client.redact(refs),
    );
    insta::assert_json_snapshot!(Value::Object(answers));
    client.shutdown();
}

#[test]
fn edits_recheck_the_connected_files() {
    let root = workspace();
    let pipeline = root.join("pipeline.yaml");
    let text = std::fs::read_to_string(&pipeline).unwrap_or_default();
    let mut client = Client::start(&root);
    let _ = client.diagnostics(&pipeline);
    let _ = client.diagnostics(&root.join("tasks/build.yaml"));
    let item = json!({"uri": uri(&pipeline), "languageId": "yaml", "version": 1, "text": text});
    client.notify("textDocument/didOpen", json!({"textDocument": item}));
    let opened = client.diagnostics(&pipeline);
    assert_eq!(opened["version"], 1);
    assert_eq!(opened["diagnostics"].as_array().map(Vec::len), Some(2));
    // Fix the misspelt result: the error goes. The Task's findings do not depend on the
    // Pipeline, so its file is not re-checked (nothing is published for it).
    let fixed = text.replace("digset", "digest");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&pipeline), "version": 2},
               "contentChanges": [{"text": fixed}]}),
    );
    let changed = client.diagnostics(&pipeline);
    let _ = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri(&pipeline)}, "position": {"line": 0, "character": 0}}),
    );
    let task_uri = uri(&root.join("tasks/build.yaml"));
    assert!(
        !client
            .notifications
            .iter()
            .any(|n| n.params["uri"] == task_uri.as_str()),
        "the Task was re-checked"
    );
    insta::assert_json_snapshot!("after-fix", client.redact(changed));
    client.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": uri(&pipeline)}}),
    );
    let closed = client.diagnostics(&pipeline);
    assert_eq!(closed["version"], Value::Null);
    assert_eq!(closed["diagnostics"].as_array().map(Vec::len), Some(2));
    assert_eq!(client.shutdown(), Value::Null);
}

#[test]
fn completion_of_references_and_run_after() {
    let root = workspace();
    let pipeline = root.join("pipeline.yaml");
    let text = std::fs::read_to_string(&pipeline).unwrap_or_default();
    // References being typed, as an editor has them before the closing `)`.
    let typing = text
        .replace("digset)\"", "\"")
        .replace("$(params.image)", "$(params.");
    let mut client = Client::start(&root);
    let item = json!({"uri": uri(&pipeline), "languageId": "yaml", "version": 1, "text": typing});
    client.notify("textDocument/didOpen", json!({"textDocument": item}));
    let end_of = |needle: &str| {
        let offset = typing.find(needle).map_or(0, |i| i + needle.len());
        let p = tkc_lsp::convert::position(&typing, offset);
        json!({"line": p.line, "character": p.character})
    };
    let mut answers = serde_json::Map::new();
    for needle in [
        "$(params.",
        "$(tasks.build.results.",
        "$(tasks.",
        "runAfter: [",
    ] {
        let at = if needle == "$(tasks." {
            end_of("ü🚀 $(tasks.")
        } else {
            end_of(needle)
        };
        let items = client.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri(&pipeline)}, "position": at}),
        );
        let labels: Vec<Value> = items
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| json!([i["label"], i["detail"]]))
            .collect();
        answers.insert(needle.to_string(), Value::Array(labels));
    }
    insta::assert_json_snapshot!(Value::Object(answers));
    client.shutdown();
}

/// A new document, not on disk, that references the workspace's Task: the first check finds
/// its names, and the second checks it with the Task's file (the param binding is missing).
#[test]
fn a_new_document_is_checked_with_the_files_it_references() {
    let root = workspace();
    let path = root.join("new-pipeline.yaml");
    let text = "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: other\nspec:\n  tasks:\n    - name: b\n      taskRef:\n        name: build\n";
    let mut client = Client::start(&root);
    let item = json!({"uri": uri(&path), "languageId": "yaml", "version": 1, "text": text});
    client.notify("textDocument/didOpen", json!({"textDocument": item}));
    let mut codes = Vec::new();
    // Published twice: alone, then with the Task; the last one counts.
    for _ in 0..2 {
        let published = client.diagnostics(&path);
        codes = published["diagnostics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d["code"].clone())
            .collect();
    }
    assert_eq!(codes, [json!("tkc::params::missing")]);
    client.shutdown();
}

/// "did you mean" findings carry their edit; `codeAction` offers it as a quick fix.
#[test]
fn code_action_fixes_a_misspelt_result() {
    let root = workspace();
    let pipeline = root.join("pipeline.yaml");
    let mut client = Client::start(&root);
    let published = client.diagnostics(&pipeline);
    let misspelt: Vec<Value> = published["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["data"]["fix"] == "replace")
        .cloned()
        .collect();
    assert_eq!(misspelt.len(), 1);
    let range = misspelt[0]["range"].clone();
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri(&pipeline)}, "range": range,
               "context": {"diagnostics": misspelt}}),
    );
    let changes = &actions[0]["edit"]["documentChanges"][0];
    assert_eq!(changes["textDocument"]["uri"], uri(&pipeline).as_str());
    let edit = &changes["edits"][0];
    insta::assert_json_snapshot!(
        json!({"title": actions[0]["title"], "kind": actions[0]["kind"], "edit": edit})
    );
    client.shutdown();
}

#[test]
fn document_symbols_are_tasks_and_steps() {
    let root = workspace();
    let mut client = Client::start(&root);
    let mut outline = serde_json::Map::new();
    for file in ["pipeline.yaml", "tasks/build.yaml"] {
        let symbols = client.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri(&root.join(file))}}),
        );
        let names: Vec<Value> = symbols
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let children: Vec<Value> = s["children"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| json!([c["name"], c["detail"], c["selectionRange"]["start"]]))
                    .collect();
                json!({"name": s["name"], "detail": s["detail"], "children": children})
            })
            .collect();
        outline.insert(file.to_string(), Value::Array(names));
    }
    insta::assert_json_snapshot!(Value::Object(outline));
    client.shutdown();
}

// Field keys, fixes and rename: `testdata/lsp/edit-workspace` (a Task, a YAML Pipeline and a
// KDL file with a Pipeline and a Task, non-ASCII text before the places edited) with
// `testdata/lsp/edit-library` on its search path.

fn edit_workspace() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/lsp/edit-workspace");
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// The position just after the `nth` occurrence of `needle` in `text`.
fn after(text: &str, needle: &str, nth: usize) -> Value {
    let offset = text
        .match_indices(needle)
        .nth(nth)
        .map_or(0, |(i, _)| i + needle.len());
    let p = tkc_lsp::convert::position(text, offset);
    json!({"line": p.line, "character": p.character})
}

/// The position of the first character of `needle` (+1, inside it).
fn inside(text: &str, needle: &str) -> Value {
    let offset = text.find(needle).map_or(0, |i| i + 1);
    let p = tkc_lsp::convert::position(text, offset);
    json!({"line": p.line, "character": p.character})
}

/// `text` with LSP `edits` applied (ranges in UTF-16 positions of the original text).
fn apply(text: &str, edits: &Value) -> String {
    let offset = |p: &Value| {
        let position = lsp_types::Position::new(
            p["line"].as_u64().unwrap_or_default() as u32,
            p["character"].as_u64().unwrap_or_default() as u32,
        );
        tkc_lsp::convert::offset(text, position)
    };
    let mut list: Vec<(usize, usize, String)> = edits
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    list.sort_by_key(|(s, e, _)| std::cmp::Reverse((*s, *e)));
    let mut out = text.to_string();
    for (start, end, new) in list {
        out.replace_range(start..end, &new);
    }
    out
}

fn open(client: &Client, path: &Path, text: &str, version: i32) {
    let item = json!({"uri": uri(path), "languageId": "yaml", "version": version, "text": text});
    client.notify("textDocument/didOpen", json!({"textDocument": item}));
}

fn change(client: &Client, path: &Path, text: &str, version: i32) {
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(path), "version": version},
               "contentChanges": [{"text": text}]}),
    );
}

fn codes(published: &Value) -> Vec<String> {
    published["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["code"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn hover_on_field_keys() {
    let root = edit_workspace();
    let mut client = Client::start(&root);
    let mut answers = serde_json::Map::new();
    for (file, needle) in [
        ("tasks/build.yaml", "onError"),
        ("tasks/build.yaml", "description: Builds"),
        ("tasks/build.yaml", "type: array"),
        ("pipeline.yaml", "runAfter"),
        ("pipeline.yaml", "taskRef"),
        ("pipeline.kdl", "on-error"),
        ("pipeline.kdl", "run-after"),
        ("pipeline.kdl", "step \"hello\""),
    ] {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let hover = client.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri(&path)}, "position": inside(&text, needle)}),
        );
        answers.insert(format!("{file}: {needle}"), hover);
    }
    insta::assert_json_snapshot!(Value::Object(answers));
    client.shutdown();
}

#[test]
fn completion_of_field_names_and_values() {
    let root = edit_workspace();
    let mut client = Client::start(&root);
    let mut answers = serde_json::Map::new();
    let cases = [
        // A key being typed in a step: the Step's fields not written yet.
        (
            "tasks/build.yaml",
            "      onError: continue\n",
            "      onError: continue\n      imagePu\n",
            "imagePu",
        ),
        // A new list item of `params`: a ParamSpec's fields.
        (
            "tasks/build.yaml",
            "  params:\n",
            "  params:\n    - \n",
            "  params:\n    - ",
        ),
        // Enum values.
        (
            "tasks/build.yaml",
            "      onError: continue",
            "      onError: ",
            "onError: ",
        ),
        (
            "tasks/build.yaml",
            "      type: array",
            "      type: ar",
            "type: ar",
        ),
        (
            "pipeline.yaml",
            "      runAfter: [fetch]\n",
            "      runAfter: [fetch]\n      onError: \n",
            "onError: ",
        ),
        // KDL: a child node of a pipeline task, and a property's values.
        (
            "pipeline.kdl",
            "        run-after \"compile\"\n",
            "        run-after \"compile\"\n        \n",
            "\"compile\"\n        ",
        ),
        (
            "pipeline.kdl",
            "image=\"alpine:3.20\"",
            "image=\"alpine:3.20\" image-pull-policy=\"",
            "image-pull-policy=\"",
        ),
    ];
    for (version, (file, from, to, cursor)) in cases.into_iter().enumerate() {
        let path = root.join(file);
        let original = std::fs::read_to_string(&path).unwrap_or_default();
        let text = original.replacen(from, to, 1);
        open(&client, &path, &text, version as i32);
        let items = client.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri(&path)}, "position": after(&text, cursor, 0)}),
        );
        let labels: Vec<Value> = items
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| json!([i["label"], i["kind"], i["detail"]]))
            .collect();
        answers.insert(format!("{file}: {}", to.trim()), Value::Array(labels));
        // The documentation of the first field offered.
        if let Some(doc) = items[0]["documentation"]["value"].as_str() {
            answers.insert(format!("{file}: {} (doc)", to.trim()), json!(doc));
        }
        change(&client, &path, &original, 100 + version as i32);
    }
    // A workspace binding of a PipelineRun, in a new document: the kinds of volume it may be.
    let run = root.join("run.yaml");
    let text = "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: ship-ü\nspec:\n  pipelineRef:\n    name: release\n  workspaces:\n    - name: source\n      \n";
    open(&client, &run, text, 1);
    let items = client.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri(&run)}, "position": after(text, "source\n      ", 0)}),
    );
    let labels: Vec<Value> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| json!([i["label"], i["kind"], i["detail"]]))
        .collect();
    answers.insert(
        "run.yaml: a workspace binding".to_string(),
        Value::Array(labels),
    );
    insta::assert_json_snapshot!(Value::Object(answers));
    client.shutdown();
}

/// Asks for the quick fixes of the findings of `code` in `path`, applies them one by one,
/// and returns the titles and the fixed text, after checking the fixed text no longer has
/// that finding.
fn fix_all(client: &mut Client, path: &Path, code: &str) -> Value {
    let mut text = std::fs::read_to_string(path).unwrap_or_default();
    let mut titles = Vec::new();
    // The first publication of the file (the initial check), then those of each fixed version.
    let mut published = client.diagnostics(path);
    for version in 1..10 {
        let Some(finding) = published["diagnostics"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["code"] == code)
            .cloned()
        else {
            break;
        };
        let actions = client.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri(path)}, "range": finding["range"],
                   "context": {"diagnostics": [finding]}}),
        );
        titles.push(actions[0]["title"].clone());
        text = apply(&text, &actions[0]["edit"]["documentChanges"][0]["edits"]);
        if version == 1 {
            open(client, path, &text, version);
        } else {
            change(client, path, &text, version);
        }
        published = client.diagnostics_of_version(path, version);
    }
    assert!(!codes(&published).iter().any(|c| c == code), "{text}");
    json!({"titles": titles, "fixed": text.lines().collect::<Vec<_>>()})
}

#[test]
fn code_action_adds_missing_param_bindings() {
    let root = edit_workspace();
    let mut client = Client::start(&root);
    let yaml = fix_all(
        &mut client,
        &root.join("pipeline.yaml"),
        "tkc::params::missing",
    );
    let kdl = fix_all(
        &mut client,
        &root.join("pipeline.kdl"),
        "tkc::params::missing",
    );
    insta::assert_json_snapshot!(json!({"yaml": yaml, "kdl": kdl}));
    client.shutdown();
}

#[test]
fn code_action_moves_pasted_params_into_env() {
    let root = edit_workspace();
    let mut client = Client::start(&root);
    let yaml = fix_all(
        &mut client,
        &root.join("tasks/build.yaml"),
        "tkc::lint::script-injection",
    );
    let kdl = fix_all(
        &mut client,
        &root.join("pipeline.kdl"),
        "tkc::lint::script-injection",
    );
    insta::assert_json_snapshot!(json!({"yaml": yaml, "kdl": kdl}));
    client.shutdown();
}

#[test]
fn rename_params_results_and_pipeline_tasks() {
    let root = edit_workspace();
    let mut client = Client::start(&root);
    let task = root.join("tasks/build.yaml");
    let pipeline = root.join("pipeline.yaml");
    let kdl = root.join("pipeline.kdl");
    let task_text = std::fs::read_to_string(&task).unwrap_or_default();
    let pipeline_text = std::fs::read_to_string(&pipeline).unwrap_or_default();
    let kdl_text = std::fs::read_to_string(&kdl).unwrap_or_default();
    let mut answers = serde_json::Map::new();
    let cases = [
        (
            "param from a reference",
            &task,
            inside(&task_text, "revision) &&"),
            "commit",
        ),
        (
            "result from a pipeline's reference",
            &pipeline,
            inside(&pipeline_text, "digest)"),
            "sha",
        ),
        (
            "pipeline task from runAfter",
            &pipeline,
            inside(&pipeline_text, "fetch]"),
            "clone",
        ),
        (
            "pipeline task in KDL",
            &kdl,
            inside(&kdl_text, "compile\" {"),
            "make",
        ),
        (
            "param bound by a library file",
            &task,
            inside(&task_text, "flags\n"),
            "options",
        ),
        ("not a symbol", &task, inside(&task_text, "alpine"), "x"),
        (
            "an invalid name",
            &task,
            inside(&task_text, "revision) &&"),
            "two words",
        ),
    ];
    for (what, path, position, new_name) in cases {
        let prepared = client.request(
            "textDocument/prepareRename",
            json!({"textDocument": {"uri": uri(path)}, "position": position}),
        );
        let renamed = client.request(
            "textDocument/rename",
            json!({"textDocument": {"uri": uri(path)}, "position": position, "newName": new_name}),
        );
        // The edits as the files would read after them.
        let mut files = serde_json::Map::new();
        for change in renamed["documentChanges"].as_array().into_iter().flatten() {
            let file_uri = change["textDocument"]["uri"].as_str().unwrap_or_default();
            let file = file_uri
                .parse::<lsp_types::Uri>()
                .ok()
                .and_then(|u| tkc_lsp::convert::uri_to_path(&u))
                .unwrap_or_default();
            let before = std::fs::read_to_string(&file).unwrap_or_default();
            let after = apply(&before, &change["edits"]);
            let changed: Vec<String> = before
                .lines()
                .zip(after.lines())
                .filter(|(b, a)| b != a)
                .map(|(_, a)| a.trim().to_string())
                .collect();
            files.insert(
                file.strip_prefix(&root)
                    .unwrap_or(&file)
                    .display()
                    .to_string(),
                json!(changed),
            );
        }
        let result = if renamed.get("error").is_some() {
            renamed["error"].clone()
        } else {
            Value::Object(files)
        };
        answers.insert(
            what.to_string(),
            json!({"prepareRename": prepared, "rename": result}),
        );
    }
    insta::assert_json_snapshot!(client.redact(Value::Object(answers)));
    client.shutdown();
}
