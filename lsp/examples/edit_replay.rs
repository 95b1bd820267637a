//! Replays what `bench/lsp.py` times, in one process, for instruction counts: open a workspace,
//! open one of its files, type N one-character edits (each waits for the file's diagnostics).
//! Under callgrind, the instructions of one edit are (count with N edits − count with 0) / N:
//!
//! ```text
//! cargo build --release -p tkc-lsp --example edit_replay
//! valgrind --tool=callgrind target/release/examples/edit_replay DIR FILE 10
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = std::fs::canonicalize(&args[1]).expect("workspace directory");
    let file = std::fs::canonicalize(PathBuf::from(&args[2])).expect("file");
    let edits: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(10);
    let text = std::fs::read_to_string(&file).expect("read file");
    let uri = |p: &std::path::Path| {
        tkc_lsp::convert::path_to_uri(p)
            .map(|u| u.as_str().to_string())
            .expect("uri")
    };
    let file_uri = uri(&file);
    let (server, client) = Connection::memory();
    let handle = std::thread::spawn(move || {
        let _ = tkc_lsp::serve(&server);
    });
    let send = |m: Message| client.sender.send(m).expect("send");
    let notify = |method: &str, params: Value| {
        send(Message::Notification(Notification::new(
            method.to_string(),
            params,
        )))
    };
    send(Message::Request(Request::new(
        RequestId::from(1),
        "initialize".to_string(),
        json!({"processId": null, "capabilities": {},
               "workspaceFolders": [{"uri": uri(&root), "name": "bench"}]}),
    )));
    notify("initialized", json!({}));
    let wait = || loop {
        match client.receiver.recv() {
            Ok(Message::Notification(n))
                if n.method == "textDocument/publishDiagnostics"
                    && n.params["uri"] == file_uri.as_str() =>
            {
                return;
            }
            Ok(_) => {}
            Err(e) => panic!("server gone: {e}"),
        }
    };
    wait();
    notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": file_uri, "languageId": "yaml", "version": 0, "text": text}}),
    );
    wait();
    for i in 1..=edits {
        let edited = format!("{text}#{}\n", "x".repeat(i % 2));
        notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": file_uri, "version": i},
                   "contentChanges": [{"text": edited}]}),
        );
        wait();
    }
    send(Message::Request(Request::new(
        RequestId::from(2),
        "shutdown".to_string(),
        Value::Null,
    )));
    loop {
        match client.receiver.recv() {
            Ok(Message::Response(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    notify("exit", Value::Null);
    let _ = handle.join();
}
