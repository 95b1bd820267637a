//! Finding and killing what a step started, through `/proc`.
//!
//! A stopped step must not leave processes behind, and the entrypoint's own process group is
//! not enough: the entrypoint puts the step in a session of its own, and a step's daemons may
//! start more sessions. Before the backend SIGKILLs an entrypoint's group it collects the
//! process groups of everything below it (`/proc/<pid>/task/<tid>/children`, while the
//! entrypoint, tkc's unreaped child, still holds them), and kills those too. tkc is also the
//! subreaper of its descendants, so a process whose parent died is re-parented to tkc rather
//! than to init, and is found again when the run ends ([`kill_own_descendants`]).

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use std::collections::BTreeSet;

/// Makes this process the reaper of its orphaned descendants (see the module documentation).
pub fn adopt_orphans() {
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
}

/// The children of `pid`, from all its threads.
fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// The process group of `pid` (field 5 of `/proc/<pid>/stat`, after the parenthesised name).
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Every process below `pid` (not `pid` itself), depth first.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut todo = children(pid);
    let mut seen = BTreeSet::new();
    while let Some(p) = todo.pop() {
        if seen.insert(p) {
            out.push(p);
            todo.extend(children(p));
        }
    }
    out
}

/// SIGKILLs `pids` and their process groups, never tkc's own group.
pub fn kill_all(pids: &[i32]) {
    let own = rustix::process::getpgrp();
    let mut groups = BTreeSet::new();
    for &p in pids {
        if let Some(g) = process_group(p).filter(|g| *g != own.as_raw_nonzero().get()) {
            groups.insert(g);
        }
        if let Some(p) = Pid::from_raw(p) {
            let _ = kill_process(p, Signal::KILL);
        }
    }
    for g in groups {
        if let Some(g) = Pid::from_raw(g) {
            let _ = kill_process_group(g, Signal::KILL);
        }
    }
}

/// SIGKILLs every process still below this one (and their groups): what a run left behind,
/// once nothing of it should be running. tkc starts no other children.
pub fn kill_own_descendants() {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    // One syscall decides the usual case (no child left): `ECHILD` without waiting or reaping.
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    if waitid(WaitId::All, options).is_err() {
        return;
    }
    let me = rustix::process::getpid().as_raw_nonzero().get();
    kill_all(&descendants(me));
}
