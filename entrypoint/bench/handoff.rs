//! Hand-off latency and idle CPU of `tkc-entrypoint` (std only; `cargo bench` target with
//! `harness = false`).
//!
//!     CARGO_TARGET_DIR=/tmp/target-ep cargo bench -p tkc-entrypoint --bench handoff
//!
//! Hand-off: an entrypoint waits for a wait file; the bench writes it and notes the wall-clock
//! time; the step the entrypoint launches is this same bench binary in "probe" mode, whose
//! first act is to note the wall-clock time. The difference is post-file write to next step's
//! process start (including exec of the probe). Measured with dnotify and with the back-off
//! poll fallback (`TKC_ENTRYPOINT_POLL=1`).
//!
//! Idle CPU: an entrypoint waits for a file that never comes; its CPU time (all threads,
//! nanoseconds from `/proc/<pid>/task/*/schedstat`, and utime+stime ticks from
//! `/proc/<pid>/stat`) is sampled over a few seconds.
//!
//! Knobs: `TKC_BENCH_HANDOFFS` (default 300), `TKC_BENCH_IDLE_SECS` (default 5),
//! `TKC_ENTRYPOINT_BIN` (bench another build, e.g. the static musl binary).
//! Exits 1 if the dnotify p50 is above 5 ms.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Set in the step's environment: the file where the probe writes its start time.
const PROBE_ENV: &str = "TKC_HANDOFF_PROBE";
/// Acceptance target for the median hand-off.
const P50_TARGET: Duration = Duration::from_millis(5);

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn entrypoint_bin() -> PathBuf {
    std::env::var_os("TKC_ENTRYPOINT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tkc-entrypoint")))
}

fn main() {
    // Probe mode: we are the step; record the start time and leave.
    if let Some(out) = std::env::var_os(PROBE_ENV) {
        let t = now_ns();
        std::process::exit(if fs::write(out, t.to_string()).is_ok() {
            0
        } else {
            1
        });
    }
    if let Err(e) = bench() {
        eprintln!("handoff bench: {e}");
        std::process::exit(2);
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn bench() -> Result<(), String> {
    let bin = entrypoint_bin();
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let n = env_num("TKC_BENCH_HANDOFFS", 300) as usize;
    let idle_secs = env_num("TKC_BENCH_IDLE_SECS", 5);
    let root = TempDir(std::env::temp_dir().join(format!("tkc-ep-bench-{}", std::process::id())));
    fs::create_dir_all(&root.0).map_err(|e| format!("temp dir: {e}"))?;
    println!(
        "binary: {} ({} bytes)",
        bin.display(),
        fs::metadata(&bin).map(|m| m.len()).unwrap_or(0)
    );

    let dnotify = handoffs(&bin, &me, &root.0, n, false)?;
    report("hand-off, dnotify", &dnotify);
    let polled = handoffs(&bin, &me, &root.0, (n / 3).max(50), true)?;
    report("hand-off, poll fallback", &polled);

    idle_cpu(&bin, &root.0, idle_secs, false)?;
    idle_cpu(&bin, &root.0, idle_secs, true)?;

    let p50 = percentile(&dnotify, 50.0);
    if p50 > P50_TARGET {
        println!(
            "FAIL: dnotify p50 {} is above the {} target",
            ms(p50),
            ms(P50_TARGET)
        );
        std::process::exit(1);
    }
    println!("OK: dnotify p50 {} <= {}", ms(p50), ms(P50_TARGET));
    Ok(())
}

fn spawn_waiting(bin: &Path, dir: &Path, step: &Path, poll: bool) -> Result<Child, String> {
    let mut c = Command::new(bin);
    c.arg("-tekton_root")
        .arg(dir)
        .arg("-wait_file")
        .arg(dir.join("prev"))
        .arg("-post_file")
        .arg(dir.join("out"))
        .arg("-entrypoint")
        .arg(step)
        .env(PROBE_ENV, dir.join("started"))
        .env("TKC_ENTRYPOINT_POLL", if poll { "1" } else { "" })
        .stdin(Stdio::null());
    c.spawn()
        .map_err(|e| format!("spawn {}: {e}", bin.display()))
}

/// Runs `n` hand-offs and returns their latencies.
fn handoffs(
    bin: &Path,
    probe: &Path,
    root: &Path,
    n: usize,
    poll: bool,
) -> Result<Vec<Duration>, String> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let dir = root.join(format!("{}-{i}", if poll { "poll" } else { "dnotify" }));
        fs::create_dir_all(&dir).map_err(|e| format!("mkdir: {e}"))?;
        let mut child = spawn_waiting(bin, &dir, probe, poll)?;
        // Let the entrypoint start and settle into its wait; with the poll fallback also let
        // its back-off reach the steady 50 ms interval, the worst case. A jitter of up to one
        // interval spreads the write over the poll phase: a fixed delay would hit the same
        // point of the back-off schedule every time and report one value.
        let jitter = Duration::from_nanos((now_ns() % 50_000_000) as u64);
        let settle = if poll {
            Duration::from_millis(120) + jitter
        } else {
            Duration::from_millis(15)
        };
        std::thread::sleep(settle);
        let t0 = now_ns();
        fs::write(dir.join("prev"), b"").map_err(|e| format!("write wait file: {e}"))?;
        let status = child.wait().map_err(|e| format!("wait: {e}"))?;
        if !status.success() {
            return Err(format!("entrypoint failed: {status}"));
        }
        let t1: u128 = fs::read_to_string(dir.join("started"))
            .map_err(|e| format!("probe output: {e}"))?
            .trim()
            .parse()
            .map_err(|e| format!("probe output: {e}"))?;
        let ns = t1.saturating_sub(t0);
        samples.push(Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)));
        let _ = fs::remove_dir_all(&dir);
    }
    Ok(samples)
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    if s.is_empty() {
        return Duration::ZERO;
    }
    // Nearest-rank percentile.
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn report(label: &str, samples: &[Duration]) {
    let mean = samples.iter().sum::<Duration>() / u32::try_from(samples.len().max(1)).unwrap_or(1);
    println!(
        "{label}: n={} p50={} p90={} p99={} max={} mean={}",
        samples.len(),
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 90.0)),
        ms(percentile(samples, 99.0)),
        ms(percentile(samples, 100.0)),
        ms(mean)
    );
}

/// CPU time of all threads of `pid`: (nanoseconds from schedstat, utime+stime clock ticks).
fn cpu_of(pid: u32) -> Result<(u64, u64), String> {
    let mut ns = 0;
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| format!("/proc: {e}"))?;
    for task in tasks.flatten() {
        let stat = fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        ns += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    let stat =
        fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc: {e}"))?;
    let after_comm = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after_comm.split(' ').collect();
    // Fields 14 and 15 of stat are utime and stime; after "pid (comm) " they are at 11 and 12.
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    Ok((ns, ticks))
}

fn idle_cpu(bin: &Path, root: &Path, secs: u64, poll: bool) -> Result<(), String> {
    let dir = root.join(if poll { "idle-poll" } else { "idle-dnotify" });
    fs::create_dir_all(&dir).map_err(|e| format!("mkdir: {e}"))?;
    let mut child = spawn_waiting(bin, &dir, Path::new("/bin/true"), poll)?;
    std::thread::sleep(Duration::from_millis(300));
    let sample = cpu_of(child.id());
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let end = cpu_of(child.id());
    let elapsed = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let ((ns0, t0), (ns1, t1)) = (sample?, end?);
    let used = ns1.saturating_sub(ns0);
    println!(
        "idle CPU while waiting, {}: {} µs over {:.1} s ({:.5} % of one core; utime+stime {} ticks)",
        if poll { "poll fallback" } else { "dnotify" },
        used / 1000,
        elapsed.as_secs_f64(),
        used as f64 / elapsed.as_nanos() as f64 * 100.0,
        t1.saturating_sub(t0)
    );
    Ok(())
}
