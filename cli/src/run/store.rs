//! What a local run leaves behind to come back to: its record and its step logs, under
//! `<state dir>/runs/<run id>/` (the state dir is `TKC_STATE_DIR`, else
//! `$XDG_STATE_HOME/tkc`, else `~/.local/state/tkc`), and the commands that read them,
//! `tkc runs` and `tkc logs`.
//!
//! - `run.json`: the run's id, kind, name, start, status, reason, duration and the pid of the
//!   `tkc` that runs it (status `Running` while it does).
//! - `log`: every step's lines in the order they came, each prefixed `[task/step] ` as
//!   `tkc run` prints them (`[task[i]/step] ` for a matrix combination).
//! - `reuse.json`, written when the run ends: what `tkc run --rerun-failed` takes from it
//!   ([`Reusable`]).
//!
//! Bounded: a run's log stops at [`LOG_CAP`] bytes (a last line says so); when a run ends,
//! runs beyond the [`KEEP_RUNS`] newest, and runs older than [`MAX_AGE_DAYS`] days, are
//! removed (runs still running never are).

use super::LogsArgs;
use crate::exit;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tkc_compiler::plan::{ParamValue, Plan};
use tkc_runtime::backend::local;
use tkc_runtime::events::{Event, TaskId};
use tkc_runtime::{RunSummary, TaskStatus};

/// The most bytes of step logs a run keeps.
pub const LOG_CAP: u64 = 32 << 20;
/// How many past runs are kept.
pub const KEEP_RUNS: usize = 20;
/// Runs older than this are removed.
pub const MAX_AGE_DAYS: u64 = 14;
/// How many lines of each step the summary of a failed run and the JUnit report show.
pub const TAIL_LINES: usize = 10;

const RECORD: &str = "run.json";
const LOG: &str = "log";
const REUSE: &str = "reuse.json";
/// The largest `reuse.json` read back (results are capped at 4 KiB per step in Tekton).
const REUSE_CAP: u64 = 64 << 20;

/// What `tkc run --rerun-failed` takes from a run that ended.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reusable {
    #[serde(flatten)]
    pub plan: ReusablePlan,
    /// How it ended: each task run's status and results.
    pub summary: RunSummary,
}

/// What `--rerun-failed` will take from `plan` when it ends; `workspaces` is the run directory
/// that holds its run-scoped workspaces afterwards (none when it is not kept).
pub fn reusable_plan(plan: &Plan, workspaces: Option<PathBuf>) -> ReusablePlan {
    ReusablePlan {
        params: plan.params.clone(),
        tasks: plan.tasks.iter().map(|t| t.name.clone()).collect(),
        fingerprints: plan
            .tasks
            .iter()
            .map(|t| (t.name.clone(), tkc_runtime::partial::fingerprint(t)))
            .collect(),
        workspaces,
        bindings: binding_texts(plan),
    }
}

/// What of a run's plan `--rerun-failed` checks, and where its workspaces are.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReusablePlan {
    /// The run's params after defaulting: a rerun with other values would mix two runs.
    pub params: BTreeMap<String, ParamValue>,
    /// Its pipeline tasks, DAG then finally.
    pub tasks: Vec<String>,
    /// The fingerprint of each task (`tkc_runtime::partial::fingerprint`).
    #[serde(default)]
    pub fingerprints: BTreeMap<String, String>,
    /// The run directory that holds its run-scoped workspaces, while it is kept.
    pub workspaces: Option<PathBuf>,
    /// How each workspace of the run was bound ([`binding_texts`]): a rerun with other
    /// bindings would mix two runs, as with other params. A record without them (an older
    /// tkc's) matches only a run without workspaces.
    #[serde(default)]
    pub bindings: BTreeMap<String, String>,
}

/// Each workspace binding of `plan` in words, by workspace name, with its `subPath`.
pub fn binding_texts(plan: &Plan) -> BTreeMap<String, String> {
    plan.workspaces
        .iter()
        .map(|w| {
            let text = crate::describe::binding_text(&w.binding);
            let text = match &w.sub_path {
                Some(sub) => format!("{text}, subPath {sub}"),
                None => text,
            };
            (w.name.clone(), text)
        })
        .collect()
}

/// `<state dir>/runs`.
pub fn runs_dir(state: &Path) -> PathBuf {
    state.join("runs")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The prefix of a step's log lines, as the live view prints it.
pub fn prefix(task: &TaskId, step: &str) -> String {
    format!("[{task}/{step}]")
}

/// The last [`TAIL_LINES`] lines of each step of the current attempt of each task run.
#[derive(Debug, Default)]
pub struct Tails {
    lines: BTreeMap<(TaskId, String), VecDeque<String>>,
}

impl Tails {
    pub fn event(&mut self, event: &Event) {
        match event {
            // A new attempt: the lines of the one before are not its.
            Event::TaskStarted { task, .. } => self.lines.retain(|(t, _), _| t != task),
            Event::StepLog {
                task, step, line, ..
            } => {
                let tail = self.lines.entry((task.clone(), step.clone())).or_default();
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line.clone());
            }
            _ => {}
        }
    }

    /// The last lines of `step` of task run `task`.
    pub fn of(&self, task: &TaskId, step: &str) -> impl Iterator<Item = &str> {
        self.lines
            .get(&(task.clone(), step.to_string()))
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

/// The step of a task run that made it fail: the first step that failed or timed out,
/// else the last step with a non-zero exit code.
pub fn failing_step(t: &tkc_runtime::TaskSummary) -> Option<&str> {
    if !matches!(t.status, TaskStatus::Failed | TaskStatus::TimedOut) {
        return None;
    }
    t.steps
        .iter()
        .find(|s| matches!(s.status.as_str(), "Failed" | "TimedOut"))
        .or_else(|| {
            t.steps
                .iter()
                .rev()
                .find(|s| s.exit_code.is_some_and(|c| c != 0))
        })
        .map(|s| s.name.as_str())
}

pub fn task_id(t: &tkc_runtime::TaskSummary) -> TaskId {
    TaskId {
        name: t.name.clone(),
        index: t.index,
    }
}

/// A run being recorded.
pub struct RunLog {
    dir: PathBuf,
    record: Value,
    started: u64,
    file: std::io::BufWriter<std::fs::File>,
    written: u64,
    full: bool,
    /// What [`RunLog::finish`] records for `--rerun-failed` (its summary aside).
    reusable: Option<ReusablePlan>,
}

/// Where and as what a run is to be recorded: the printer starts the record on its own thread
/// ([`Recording::start`]), so that the first steps need not wait for the disk (with pruning,
/// then done at the start, it took about a millisecond on ext4).
pub struct Recording {
    /// The state directory (the record goes under its `runs/`).
    pub state: PathBuf,
    /// The run's id: its record's directory name.
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub reusable: ReusablePlan,
}

impl Recording {
    /// Starts the record; `None`, after a warning, when it cannot be (the run still runs).
    pub fn start(self) -> Option<RunLog> {
        match RunLog::create(&self.state, &self.id, self.kind, &self.name) {
            Ok(mut log) => {
                log.reusable = Some(self.reusable);
                Some(log)
            }
            Err(e) => {
                eprintln!("warning: the logs of this run are not kept: {e}");
                None
            }
        }
    }
}

impl RunLog {
    /// Starts the record of run `id` (a file name).
    fn create(state: &Path, id: &str, kind: &str, name: &str) -> Result<RunLog, String> {
        let base = runs_dir(state);
        local::private_dir(state)?;
        let dir = local::create_run_dir(&base, id)?;
        let started = now_ms();
        let record = json!({
            "id": id,
            "kind": kind,
            "name": name,
            "started_ms": started,
            "status": "Running",
            "reason": "Running",
            "duration_ms": null,
            "pid": std::process::id(),
            "owner": tkc_runtime::backend::local::own_identity(),
        });
        write_record(&dir, &record)?;
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(dir.join(LOG))
            .map_err(|e| format!("cannot create {}: {e}", dir.join(LOG).display()))?;
        Ok(RunLog {
            dir,
            record,
            started,
            file: std::io::BufWriter::new(file),
            written: 0,
            full: false,
            reusable: None,
        })
    }

    /// Stores a step's line; other events are not stored.
    pub fn event(&mut self, event: &Event) {
        let Event::StepLog {
            task, step, line, ..
        } = event
        else {
            return;
        };
        if self.full {
            return;
        }
        let text = format!("{} {line}\n", prefix(task, step));
        let len = text.len() as u64;
        if self.written + len > LOG_CAP {
            self.full = true;
            let _ = writeln!(
                self.file,
                "[tkc] the log of this run stops here: it reached {} MiB",
                LOG_CAP >> 20
            );
        } else {
            self.written += len;
            let _ = self.file.write_all(text.as_bytes());
        }
        // `tkc logs -f` reads what is written.
        let _ = self.file.flush();
    }

    /// Records how the run ended.
    pub fn finish(mut self, summary: &RunSummary, interrupted: bool) {
        if let Some(plan) = self.reusable.take() {
            let reusable = Reusable {
                plan,
                summary: summary.clone(),
            };
            let text = serde_json::to_string_pretty(&reusable).unwrap_or_default();
            if let Err(e) = std::fs::write(self.dir.join(REUSE), text + "\n") {
                eprintln!("warning: --rerun-failed cannot take this run up later: {e}");
            }
        }
        let _ = self.file.flush();
        self.record["status"] = if interrupted {
            "Cancelled".into()
        } else {
            summary.status.clone().into()
        };
        self.record["reason"] = summary.reason.clone().into();
        self.record["duration_ms"] = now_ms().saturating_sub(self.started).into();
        if let Err(e) = write_record(&self.dir, &self.record) {
            eprintln!("warning: {e}");
        }
        // Old runs go once this one has ended: on a disk, removing their logs took time the
        // printer, and through the log budget the steps, would have waited for.
        if let Some(base) = self.dir.parent() {
            prune(base, self.id());
        }
    }

    pub fn id(&self) -> &str {
        self.record["id"].as_str().unwrap_or_default()
    }
}

fn write_record(dir: &Path, record: &Value) -> Result<(), String> {
    let tmp = dir.join(".run.json.tmp");
    let text = serde_json::to_string_pretty(record).unwrap_or_default();
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, dir.join(RECORD)))
        .map_err(|e| {
            format!(
                "cannot write the record of the run in {}: {e}",
                dir.display()
            )
        })
}

/// A run's record as read back.
#[derive(Clone, Debug)]
struct Record {
    dir: PathBuf,
    id: String,
    name: String,
    kind: String,
    started_ms: u64,
    status: String,
    duration_ms: Option<u64>,
    pid: u32,
    /// The recording `tkc`'s identity (pid and start time), when recorded.
    owner: String,
}

impl Record {
    fn read(dir: &Path) -> Option<Record> {
        // A record is a few hundred bytes: never read more, nor through a link.
        let path = dir.join(RECORD);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            return None;
        }
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::fs::File::open(&path).ok()?, 64 * 1024),
            &mut text,
        )
        .ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Some(Record {
            dir: dir.to_path_buf(),
            id: s("id"),
            name: s("name"),
            kind: s("kind"),
            started_ms: v["started_ms"].as_u64().unwrap_or(0),
            status: s("status"),
            duration_ms: v["duration_ms"].as_u64(),
            pid: v["pid"]
                .as_u64()
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(0),
            owner: s("owner"),
        })
    }

    /// Still running: recorded as running by a `tkc` that is alive: the same process (pid and
    /// start time), not another one that got its pid since.
    fn running(&self) -> bool {
        self.status == "Running"
            && if self.owner.is_empty() {
                self.pid != 0 && Path::new(&format!("/proc/{}", self.pid)).exists()
            } else {
                tkc_runtime::backend::local::owner_alive(&self.owner)
            }
    }

    /// The status to show: a run whose `tkc` died without recording its end is `Died`.
    fn shown_status(&self) -> &str {
        if self.status == "Running" && !self.running() {
            "Died"
        } else {
            &self.status
        }
    }
}

/// The runs recorded under `base`, newest first.
fn records(base: &Path) -> Vec<Record> {
    let mut out: Vec<Record> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Record::read(&e.path()))
        .collect();
    out.sort_by(|a, b| b.started_ms.cmp(&a.started_ms).then(b.id.cmp(&a.id)));
    out
}

/// Removes the runs beyond the newest [`KEEP_RUNS`] and those older than [`MAX_AGE_DAYS`],
/// except `keep` and runs still running.
///
/// It runs on every `tkc run`, so it decides from the file system what it can: runs are ranked
/// by the time of their owner file (written once, when the run starts: the order of
/// `started_ms`), one `stat` each, and only the records of the runs that may go are read, to
/// spare this run and runs still running. Reading every record instead cost each run about a
/// quarter of a millisecond with 20 runs kept.
fn prune(base: &Path, keep: &str) {
    let max_age = Duration::from_secs(MAX_AGE_DAYS * 24 * 3600);
    let oldest = SystemTime::now().checked_sub(max_age).unwrap_or(UNIX_EPOCH);
    let mut runs: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let dir = e.path();
            let owner = std::fs::symlink_metadata(dir.join(local::OWNER_FILE)).ok()?;
            Some((owner.modified().ok()?, dir))
        })
        .collect();
    runs.sort_by(|a, b| b.cmp(a));
    for (i, (started, dir)) in runs.into_iter().enumerate() {
        if i < KEEP_RUNS && started >= oldest {
            continue;
        }
        let Some(r) = Record::read(&dir) else {
            continue;
        };
        if r.id != keep && !r.running() {
            let _ = std::fs::remove_dir_all(&r.dir);
        }
    }
}

/// `2026-12-04 22:31:05` (UTC) of milliseconds since the epoch: the entrypoint's
/// timestamp format, seconds precision, with a space.
fn utc(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(0);
    let stamp = tkc_entrypoint::format_utc_millis(secs, 0);
    stamp.get(..19).unwrap_or(&stamp).replacen('T', " ", 1)
}

/// `tkc runs` without `--backend kube`: the local runs recorded, newest first.
pub fn list(output: super::Output) -> u8 {
    let state = super::state_dir();
    let runs = records(&runs_dir(&state));
    match output {
        super::Output::Json => {
            let rows: Vec<Value> = runs
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id,
                        "kind": r.kind,
                        "name": r.name,
                        "started": utc(r.started_ms),
                        "duration_ms": r.duration_ms,
                        "status": r.shown_status(),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            );
        }
        super::Output::Human => {
            let width = runs.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
            println!(
                "{:width$}  {:11}  {:19}  {:>8}  STATUS",
                "ID", "KIND", "STARTED (UTC)", "DURATION"
            );
            for r in &runs {
                let duration = match r.duration_ms {
                    Some(ms) => super::render::secs(Duration::from_millis(ms)),
                    None => "-".into(),
                };
                println!(
                    "{:width$}  {:11}  {:19}  {duration:>8}  {}",
                    r.id,
                    r.kind,
                    utc(r.started_ms),
                    r.shown_status()
                );
            }
        }
    }
    exit::OK
}

/// Whether a stored line belongs to `filter` (`TASK` or `TASK/STEP`); tkc's own lines
/// (`[tkc] ...`) always do.
fn selected(line: &str, filter: Option<&str>) -> bool {
    let Some(filter) = filter else {
        return true;
    };
    let Some(rest) = line.strip_prefix('[') else {
        return true;
    };
    let Some((label, after)) = rest.split_once('/') else {
        return true;
    };
    let step = after.split_once(']').map_or(after, |(s, _)| s);
    // A matrix combination is `task[i]`.
    let task = match label.split_once('[') {
        Some((t, _)) => t,
        None => label,
    };
    match filter.split_once('/') {
        Some((t, s)) => (t == task || t == label) && s == step,
        None => filter == task || filter == label,
    }
}

/// The run `key` names: its id, its name (its latest run), or `last`.
fn find(key: &str) -> Result<Record, String> {
    let state = super::state_dir();
    let runs = records(&runs_dir(&state));
    let found = if key == "last" {
        runs.first()
    } else {
        runs.iter()
            .find(|r| r.id == key)
            .or_else(|| runs.iter().find(|r| r.name == key))
    };
    found.cloned().ok_or_else(|| {
        format!(
            "no run `{key}` is recorded in {} (`tkc runs` lists them)",
            runs_dir(&state).display()
        )
    })
}

/// The id of the run `key` names (as `tkc logs` takes it), and what `--rerun-failed` takes
/// from it.
///
/// The state dir, `runs/` and the run's record must be private to the user (as
/// [`local::check_private`] says): `reuse.json` decides which results a rerun takes as its
/// own and which directory it hands its tasks as workspaces, so one another user could write
/// is refused.
pub fn reusable(key: &str) -> Result<(String, Reusable), String> {
    let run = find(key)?;
    let id = run.id.clone();
    let state = super::state_dir();
    for dir in [state.clone(), runs_dir(&state), run.dir.clone()] {
        local::check_private(&dir).map_err(|e| format!("--rerun-failed {id}: {e}"))?;
    }
    if run.running() {
        return Err(format!("run {id} is still running; wait for it to end"));
    }
    let path = run.dir.join(REUSE);
    let unrecorded = || {
        format!(
            "run {id} did not record its tasks ({} run, or its tkc died); run the pipeline again",
            if run.kind == "TaskRun" {
                "a TaskRun"
            } else {
                "a run of a kube backend, an older tkc's"
            }
        )
    };
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
        return Err(unrecorded());
    }
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(REUSE_CAP).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let reusable = serde_json::from_str(&text)
        .map_err(|e| format!("run {id}: {} is damaged ({e})", path.display()))?;
    Ok((id, reusable))
}

/// `tkc logs RUN [TASK[/STEP]] [-f]`.
pub fn logs(args: LogsArgs) -> u8 {
    let run = match find(&args.run) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let path = run.dir.join(LOG);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return exit::USAGE;
        }
    };
    let filter = args.task.as_deref();
    // Bytes, not text, until a whole line is in: a read may end inside a character.
    let mut pending: Vec<u8> = Vec::new();
    let mut out = std::io::stdout().lock();
    loop {
        // Whether it still runs is asked before reading: what it wrote before it ended is
        // read once more.
        let running = args.follow && Record::read(&run.dir).is_some_and(|r| r.running());
        let mut bytes = Vec::new();
        if let Err(e) = file.read_to_end(&mut bytes) {
            eprintln!("error: cannot read {}: {e}", path.display());
            return exit::USAGE;
        }
        pending.extend_from_slice(&bytes);
        while let Some(at) = pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = pending.drain(..=at).collect();
            let line = String::from_utf8_lossy(&raw);
            if selected(&line, filter) && out.write_all(line.as_bytes()).is_err() {
                return exit::OK;
            }
        }
        let _ = out.flush();
        if !running {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let rest = String::from_utf8_lossy(&pending);
    if !rest.is_empty() && selected(&rest, filter) {
        let _ = writeln!(out, "{rest}");
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_runs_are_pruned_by_count_and_age() {
        let base = std::env::temp_dir().join(format!("tkc-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let now = now_ms();
        let day = 24 * 3600 * 1000;
        let make = |id: &str, started: u64, status: &str, pid: u32| {
            let dir = base.join(id);
            std::fs::create_dir_all(&dir).unwrap_or_default();
            let record = json!({"id": id, "name": id, "kind": "TaskRun", "started_ms": started, "status": status, "pid": pid});
            write_record(&dir, &record).unwrap_or_default();
            // The owner file dates the run, as `create_run_dir` writes it when it starts.
            let owner = std::fs::File::create(dir.join(local::OWNER_FILE));
            let at = UNIX_EPOCH + Duration::from_millis(started);
            assert!(owner.and_then(|f| f.set_modified(at)).is_ok());
        };
        for i in 0..(KEEP_RUNS as u64 + 3) {
            make(&format!("r{i:02}"), now - 1000 * (i + 1), "Succeeded", 0);
        }
        make("old", now - (MAX_AGE_DAYS + 1) * day, "Failed", 0);
        // Running (this process is alive), however old.
        make(
            "live",
            now - (MAX_AGE_DAYS + 1) * day,
            "Running",
            std::process::id(),
        );
        make("new", now, "Running", std::process::id());
        prune(&base, "new");
        let mut left: Vec<String> = records(&base).into_iter().map(|r| r.id).collect();
        left.sort();
        let _ = std::fs::remove_dir_all(&base);
        let mut want: Vec<String> = (0..KEEP_RUNS - 1).map(|i| format!("r{i:02}")).collect();
        want.extend(["live".to_string(), "new".to_string()]);
        want.sort();
        assert_eq!(left, want);
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_796_423_465_000), "2026-12-04 22:31:05");
    }

    #[test]
    fn filters_match_tasks_steps_and_matrix_combinations() {
        let line = "[build/compile] ok\n";
        assert!(selected(line, None));
        assert!(selected(line, Some("build")));
        assert!(selected(line, Some("build/compile")));
        assert!(!selected(line, Some("build/test")));
        assert!(!selected(line, Some("buil")));
        let m = "[test[1]/run] ok\n";
        assert!(selected(m, Some("test")));
        assert!(selected(m, Some("test[1]")));
        assert!(selected(m, Some("test/run")));
        assert!(!selected(m, Some("test[0]")));
        assert!(selected("[tkc] the log stops\n", Some("x")));
    }
}
