//! `tkc lsp` in a real editor: headless Neovim (Debian's package; `.ci/run` installs it) with
//! its built-in LSP client opens a broken pipeline, and `testdata/lsp/neovim.lua` writes the
//! diagnostics it received and where go-to-definition took it. Skipped without `nvim` on
//! PATH, except where `CI` is set.

#![allow(clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[test]
fn neovim_receives_diagnostics_and_goes_to_definition() {
    let nvim_found = Command::new("nvim")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !nvim_found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but `nvim` is not installed (apt-get install -y neovim)"
        );
        eprintln!("skipped: nvim is not on PATH");
        return;
    }
    let scratch = std::env::temp_dir().join(format!("tkc-lsp-nvim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let root = scratch.join("workspace");
    copy_dir(&workspace_root().join("testdata/lsp/workspace"), &root).expect("copy workspace");
    let root = std::fs::canonicalize(&root).expect("canonical root");
    let out = scratch.join("result.json");
    let script = workspace_root().join("testdata/lsp/neovim.lua");
    let mut child = Command::new("nvim")
        .args([
            "--headless",
            "-n",
            "-i",
            "NONE",
            "-u",
            "NONE",
            "--noplugin",
            "-c",
        ])
        .arg(format!("luafile {}", script.display()))
        .env("TKC", env!("CARGO_BIN_EXE_tkc"))
        .env("ROOT", &root)
        .env("OUT", &out)
        .env("XDG_STATE_HOME", scratch.join("state"))
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start nvim");
    // Bounded: Neovim and the server it started are killed after a minute.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(status.is_some(), "nvim did not finish within a minute");
    let result: Value = serde_json::from_str(&text).expect("the script's JSON");
    assert_eq!(result["error"], Value::Null, "{result}");
    assert_eq!(result["received"], true, "{result}");
    let seen: Vec<(u64, u64, u64, String)> = result["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["lnum"].as_u64().unwrap_or(99),
                d["col"].as_u64().unwrap_or(99),
                d["end_col"].as_u64().unwrap_or(99),
                d["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // Neovim columns are bytes: `ü🚀 ` before the reference is 7 bytes and 4 UTF-16 units,
    // so this also checks the server's UTF-16 positions.
    assert_eq!(
        seen,
        [
            (25, 20, 36, "tkc::lint::script-injection".to_string()),
            (28, 25, 54, "tkc::results::unknown-task-result".to_string()),
        ],
        "{result}"
    );
    let file = result["definition"]["file"].as_str().unwrap_or_default();
    assert_eq!(Path::new(file), root.join("tasks/build.yaml"), "{result}");
    // `metadata.name: build` of the Task, line 4 (1-based), column 8 (0-based bytes).
    assert_eq!(result["definition"]["cursor"], serde_json::json!([4, 8]));
}
