//! The git resolver through the `git` CLI: a shallow fetch of the revision into a scratch
//! repository, then the file at `pathInRepo` of the fetched commit. Credentials are the
//! user's git configuration's (credential helpers, SSH keys); git never prompts.
//!
//! Tekton's `ResolveGitClone` clones the repository and checks the revision out; the result
//! is the same file, and a fetch of one commit is far cheaper than a clone. A commit once
//! fetched is cached by commit and path, so a revision that is a commit is not fetched again.

use crate::cache::{Cache, Entry};
use crate::{Deadline, Settings};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use tkc_compiler::remote::GitSource;

/// The cache key of one file of one commit.
fn commit_key(url: &str, commit: &str, path: &str) -> String {
    format!("git-commit\n{url}\n{commit}\n{path}")
}

/// A full commit id (SHA-1 or SHA-256), which needs no name lookup.
fn is_commit_id(revision: &str) -> bool {
    (revision.len() == 40 || revision.len() == 64)
        && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The file `source` names, from the cache when its commit was fetched before.
pub fn fetch(source: &GitSource, settings: &Settings, cache: &Cache) -> Result<Entry, String> {
    if is_commit_id(&source.revision)
        && let Some(entry) = cache.get(&commit_key(
            &source.url,
            &source.revision,
            &source.path_in_repo,
        ))
    {
        return Ok(entry);
    }
    let scratch = cache
        .scratch()
        .map_err(|e| format!("cannot create a scratch directory in the cache: {e}"))?;
    let fetched = fetch_into(&scratch, source, settings, cache);
    let _ = std::fs::remove_dir_all(&scratch);
    fetched
}

fn fetch_into(
    dir: &Path,
    source: &GitSource,
    settings: &Settings,
    cache: &Cache,
) -> Result<Entry, String> {
    let deadline = Deadline::after(settings.timeout);
    let url = &source.url;
    // What messages say: the URL without a password it may carry.
    let shown = crate::without_userinfo(url);
    let revision = &source.revision;
    let dir_arg = dir.to_string_lossy();
    git(
        None,
        &["init", "--quiet", "--bare", &dir_arg],
        &deadline,
        settings,
    )?;
    let dir = Some(dir);
    let shallow = git(
        dir,
        &[
            "fetch",
            "--quiet",
            "--depth",
            "1",
            "--no-tags",
            "--",
            url,
            revision,
        ],
        &deadline,
        settings,
    );
    let commit_of = match shallow {
        Ok(_) => "FETCH_HEAD^{commit}".to_string(),
        // A server may refuse a commit it does not advertise; then fetch its refs and find
        // the commit among them.
        Err(_) if is_commit_id(revision) => {
            git(
                dir,
                &[
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--",
                    url,
                    "+refs/*:refs/remotes/all/*",
                ],
                &deadline,
                settings,
            )
            .map_err(|e| format!("cannot fetch {shown}: {e}"))?;
            format!("{revision}^{{commit}}")
        }
        Err(e) if e.contains("couldn't find remote ref") || e.contains("not our ref") => {
            return Err(format!("revision `{revision}` not found in {shown}"));
        }
        Err(e) => return Err(format!("cannot fetch {shown}: {e}")),
    };
    let commit = git(
        dir,
        &["rev-parse", "--verify", "--quiet", &commit_of],
        &deadline,
        settings,
    )
    .map_err(|_| format!("revision `{revision}` not found in {shown}"))?;
    let commit = String::from_utf8_lossy(&commit).trim().to_string();
    let key = commit_key(url, &commit, &source.path_in_repo);
    if let Some(entry) = cache.get(&key) {
        return Ok(entry);
    }
    let object = format!("{commit}:{}", source.path_in_repo);
    let bytes = git(dir, &["cat-file", "blob", &object], &deadline, settings).map_err(|_| {
        format!(
            "path `{}` not found in {shown} at {revision} ({})",
            source.path_in_repo,
            short(&commit)
        )
    })?;
    let entry = Entry {
        bytes,
        origin: format!(
            "git+{}@{commit}:{}",
            crate::without_userinfo(url),
            source.path_in_repo
        ),
    };
    // The cache is an optimisation: a full disk still gives the document.
    let _ = cache.put(&key, &entry);
    Ok(entry)
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Runs `git` (on the repository `dir`) until `deadline`; its stdout (at most
/// `settings.max_bytes`), or its last line of stderr as the error.
fn git(
    dir: Option<&Path>,
    args: &[&str],
    deadline: &Deadline,
    settings: &Settings,
) -> Result<Vec<u8>, String> {
    let mut command = Command::new(&settings.git);
    if let Some(dir) = dir {
        command.arg("--git-dir").arg(dir);
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A hook's repository (pre-commit) must not leak into ours; git must never prompt.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GCM_INTERACTIVE", "never")
        // Only the transports a Task's URL may name: no `ext::` or other remote helpers
        // installed on the machine (git applies it to redirects too).
        .env("GIT_ALLOW_PROTOCOL", "https:http:ssh:git:file")
        // A server that accepts and then stalls is given up by git's http helper itself,
        // which outlives a killed git otherwise (it holds our pipes).
        .env("GIT_HTTP_LOW_SPEED_LIMIT", "1")
        .env(
            "GIT_HTTP_LOW_SPEED_TIME",
            deadline.seconds().max(1).to_string(),
        );
    let mut child = command.spawn().map_err(|e| {
        format!(
            "cannot run `{}`: {e} (the git resolver needs git)",
            settings.git.display()
        )
    })?;
    let limit = settings.max_bytes;
    let stdout = child.stdout.take().map(|out| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let read = out.take(limit + 1).read_to_end(&mut bytes);
            read.map(|_| bytes)
        })
    });
    let stderr = child.stderr.take().map(|err| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = err.take(64 * 1024).read_to_end(&mut bytes);
            bytes
        })
    });
    let status = crate::wait_or_kill(&mut child, deadline);
    if let Err(e) = status {
        // The readers are not waited for: a helper of the killed git may still hold the
        // pipes; they end with it.
        return Err(format!("git {}: {e}", args.first().unwrap_or(&"")));
    }
    let stdout = stdout
        .and_then(|t| t.join().ok())
        .and_then(Result::ok)
        .unwrap_or_default();
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    let status = status.map_err(|e| format!("git {}: {e}", args.first().unwrap_or(&"")))?;
    // Past the limit the reader stops and git dies of SIGPIPE: say why, not git's error.
    if stdout.len() as u64 > limit {
        return Err(format!("the file is larger than {} bytes", limit));
    }
    if !status.success() {
        let text = String::from_utf8_lossy(&stderr);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed");
        return Err(last.trim().to_string());
    }
    Ok(stdout)
}
