//! `tkc check DIR` and `tkc lsp` on a workspace rooted at DIR read its `tkc.toml` with one
//! parser (`tkc-config`) and must see the same files: `include` with `*` (within a
//! directory) and a trailing `/` (everything below), `exclude`, and search paths whose files
//! resolve references but are not reported. Each fixture file has one finding, so the files
//! `tkc check` reports on are the files it checked.

#![allow(clippy::expect_used, clippy::panic)]

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn fixture() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/lsp/config-workspace");
    std::fs::canonicalize(&dir).expect("fixture directory")
}

/// The files `tkc check --format json DIR` reports on, relative to DIR.
fn checked_by_cli(root: &Path) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tkc"))
        .args(["check", "--format", "json"])
        .arg(root)
        .output()
        .expect("run tkc check");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let files: BTreeSet<String> = report["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["file"].as_str())
        .map(|f| relative(root, Path::new(f)))
        .collect();
    assert_eq!(
        report["files_checked"].as_u64(),
        Some(files.len() as u64),
        "every checked file has a finding"
    );
    files
}

fn relative(root: &Path, file: &Path) -> String {
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    absolute
        .strip_prefix(root)
        .unwrap_or(&absolute)
        .to_string_lossy()
        .into_owned()
}

/// The files the language server publishes diagnostics for after `initialize` (it checks
/// every workspace file once), relative to the root.
fn published_by_lsp(root: &Path) -> BTreeSet<String> {
    let (server, client) = Connection::memory();
    let handle = std::thread::spawn(move || {
        let _ = tkc_lsp::serve(&server);
    });
    let root_uri = tkc_lsp::convert::path_to_uri(root)
        .map(|u| u.as_str().to_string())
        .expect("root URI");
    let send = |m: Message| client.sender.send(m).expect("send");
    send(Message::Request(Request::new(
        RequestId::from(1),
        "initialize".to_string(),
        json!({"processId": null, "capabilities": {},
               "workspaceFolders": [{"uri": root_uri, "name": "w"}]}),
    )));
    send(Message::Notification(Notification::new(
        "initialized".to_string(),
        json!({}),
    )));
    // The server publishes before it reads the next message: the answer to this request
    // comes after every diagnostic of the first check.
    send(Message::Request(Request::new(
        RequestId::from(2),
        "shutdown".to_string(),
        Value::Null,
    )));
    let mut files = BTreeSet::new();
    loop {
        match client.receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(Message::Notification(n)) if n.method == "textDocument/publishDiagnostics" => {
                let uri = n.params["uri"].as_str().unwrap_or_default();
                let path = uri
                    .parse::<lsp_types::Uri>()
                    .ok()
                    .and_then(|u| tkc_lsp::convert::uri_to_path(&u))
                    .expect("file URI");
                files.insert(relative(root, &path));
            }
            Ok(Message::Response(r)) if r.id == RequestId::from(2) => break,
            Ok(_) => {}
            Err(e) => panic!("no answer from the server: {e}"),
        }
    }
    send(Message::Notification(Notification::new(
        "exit".to_string(),
        Value::Null,
    )));
    let _ = handle.join();
    files
}

#[test]
fn check_and_lsp_see_the_same_files() {
    let root = fixture();
    let cli = checked_by_cli(&root);
    assert_eq!(
        cli,
        BTreeSet::from([
            "pipelines/deploy.yaml".to_string(),
            "tasks/build.yaml".to_string()
        ])
    );
    assert_eq!(published_by_lsp(&root), cli);
}
