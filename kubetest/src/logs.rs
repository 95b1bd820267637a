//! Container logs in the CRI log format, read and written in bounded pieces.
//!
//! The kubelet's container runtime writes each line of a container's output as a record
//! `<RFC 3339 nano time> <stdout|stderr> <F|P> <content>\n` (`pkg/kubelet/kuberuntime/logs`),
//! cutting a line longer than [`MAX_LINE`] into partial (`P`) records, as containerd does
//! (`max_container_log_line_size`, 16 KiB): no line is ever held whole in memory, however long,
//! and the bytes are kept as written (`\r` and invalid UTF-8 included). `pods/log` joins the
//! records back into lines (`ReadLogs`): a partial record's content is followed by the next
//! one's, with one timestamp per line.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

use crate::relock;

/// The longest record content; a longer line is cut into partial records of this size.
pub const MAX_LINE: usize = 16 * 1024;
/// How much of a log is read at once.
const CHUNK: usize = 64 * 1024;

/// Copies a container's output stream into its log file, one record per line, a line cut
/// into partial records every [`MAX_LINE`] bytes; a last line without a newline is a full
/// record.
pub async fn pump(mut stream: impl AsyncRead + Unpin, name: &str, file: Arc<Mutex<std::fs::File>>) {
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    let mut buf = vec![0u8; 8 * 1024];
    let write = |content: &[u8], partial: bool| {
        let mut record = Vec::with_capacity(content.len() + 48);
        record.extend_from_slice(crate::time::now_nanos().as_bytes());
        record
            .extend_from_slice(format!(" {name} {} ", if partial { 'P' } else { 'F' }).as_bytes());
        record.extend_from_slice(content);
        record.push(b'\n');
        // One write per record: a reader never sees half of one from this side.
        let _ = relock(&file).write_all(&record);
    };
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let room = MAX_LINE - line.len();
            let window = &rest[..rest.len().min(room)];
            match window.iter().position(|b| *b == b'\n') {
                Some(at) => {
                    line.extend_from_slice(&window[..at]);
                    write(&line, false);
                    line.clear();
                    rest = &rest[at + 1..];
                }
                None => {
                    line.extend_from_slice(window);
                    rest = &rest[window.len()..];
                    if line.len() == MAX_LINE {
                        write(&line, true);
                        line.clear();
                    }
                }
            }
        }
    }
    if !line.is_empty() {
        write(&line, false);
    }
}

/// One record: its timestamp, whether the line goes on in the next record, its content.
struct Record<'a> {
    time: &'a [u8],
    partial: bool,
    content: &'a [u8],
}

fn parse(record: &[u8]) -> Option<Record<'_>> {
    let record = record.strip_suffix(b"\n").unwrap_or(record);
    let mut fields = record.splitn(4, |b| *b == b' ');
    let time = fields.next()?;
    let _stream = fields.next()?;
    let partial = fields.next()? == b"P";
    Some(Record {
        time,
        partial,
        content: fields.next().unwrap_or_default(),
    })
}

/// Turns records into the lines `pods/log` sends (`ReadLogs`), across chunks of a log.
pub struct Renderer {
    pub timestamps: bool,
    pub since: Option<jiff::Timestamp>,
    /// The last record was partial: the next one continues its line.
    continuing: bool,
    /// The line being continued is left out (it began before `since`).
    skipping: bool,
}

impl Renderer {
    pub fn new(timestamps: bool, since: Option<jiff::Timestamp>) -> Renderer {
        Renderer {
            timestamps,
            since,
            continuing: false,
            skipping: false,
        }
    }

    /// Appends the lines of `records` (whole records, each ending in `\n` but perhaps the
    /// last) to `out`.
    pub fn render(&mut self, records: &[u8], out: &mut Vec<u8>) {
        for raw in records.split_inclusive(|b| *b == b'\n') {
            let Some(r) = parse(raw) else { continue };
            if !self.continuing {
                let time = std::str::from_utf8(r.time)
                    .ok()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok());
                self.skipping = self
                    .since
                    .is_some_and(|since| time.is_some_and(|t| t < since));
                if !self.skipping && self.timestamps {
                    out.extend_from_slice(r.time);
                    out.push(b' ');
                }
            }
            if !self.skipping {
                out.extend_from_slice(r.content);
                if !r.partial {
                    out.push(b'\n');
                }
            }
            self.continuing = r.partial;
        }
    }
}

/// Up to [`CHUNK`] bytes of whole records from `offset` (with `all`, also a last record
/// without its newline), and how many bytes that is.
pub async fn read_records(path: &Path, offset: u64, all: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(f) = tokio::fs::File::open(path).await {
        let mut f = f;
        if f.seek(std::io::SeekFrom::Start(offset)).await.is_ok() {
            let _ = f.take(CHUNK as u64).read_to_end(&mut out).await;
        }
    }
    if out.len() == CHUNK || !all {
        let whole = out.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        out.truncate(whole);
    }
    out
}

/// Where the last `n` records of the log's first `end` bytes start (`tail.FindTailLineStartIndex`:
/// read backwards a chunk at a time, counting newlines).
pub async fn tail_start(path: &Path, end: u64, n: usize) -> u64 {
    let Ok(mut f) = tokio::fs::File::open(path).await else {
        return end;
    };
    if n == 0 {
        return end;
    }
    // The newline that ends the last record does not count.
    let mut pos = end.saturating_sub(1);
    let mut seen = 0usize;
    let mut buf = vec![0u8; CHUNK];
    while pos > 0 {
        let start = pos.saturating_sub(CHUNK as u64);
        let len = (pos - start) as usize;
        if f.seek(std::io::SeekFrom::Start(start)).await.is_err()
            || f.read_exact(&mut buf[..len]).await.is_err()
        {
            return 0;
        }
        for (i, b) in buf[..len].iter().enumerate().rev() {
            if *b == b'\n' {
                seen += 1;
                if seen == n {
                    return start + i as u64 + 1;
                }
            }
        }
        pos = start;
    }
    0
}

/// The last lines of a log, for `FallbackToLogsOnError` (`lines` lines, `bytes` bytes at most).
pub fn fallback_tail(path: &Path, lines: usize, bytes: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    // Only the end of a log that may be gigabytes: the lines kept fit in far less, records'
    // prefixes included.
    let window = (bytes * 4 + 128 * lines) as u64;
    let mut raw = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map_or(0, |m| m.len());
        if f.seek(SeekFrom::Start(len.saturating_sub(window))).is_ok() {
            let _ = f.take(window).read_to_end(&mut raw);
        }
        // A window that starts mid-record: drop that record.
        if len > window {
            let first = raw
                .iter()
                .position(|b| *b == b'\n')
                .map_or(raw.len(), |p| p + 1);
            raw.drain(..first);
        }
    }
    let mut text = Vec::new();
    Renderer::new(false, None).render(&raw, &mut text);
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    let start = tail.len().saturating_sub(bytes);
    let start = (start..=tail.len())
        .find(|i| tail.is_char_boundary(*i))
        .unwrap_or(tail.len());
    tail[start..].to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A line of 40 KiB without a newline never sits whole in memory: it is written as partial
    /// records of 16 KiB, and read back as the one line it was, bytes intact.
    #[tokio::test]
    async fn long_lines_are_cut_into_partial_records_and_joined_back() {
        let dir = std::env::temp_dir().join(format!("tkc-kubetest-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.log");
        let file = Arc::new(Mutex::new(std::fs::File::create(&path).unwrap()));
        let mut output = vec![b'x'; 40 * 1024];
        output.extend_from_slice(b"\r\nshort\n\xff tail");
        pump(&output[..], "stdout", file).await;
        let raw = std::fs::read(&path).unwrap();
        let records: Vec<&[u8]> = raw.split_inclusive(|b| *b == b'\n').collect();
        assert_eq!(records.len(), 5);
        assert!(records.iter().all(|r| r.len() <= MAX_LINE + 64));
        let tags: Vec<bool> = records.iter().map(|r| parse(r).unwrap().partial).collect();
        assert_eq!(tags, [true, true, false, false, false]);
        let mut out = Vec::new();
        Renderer::new(false, None).render(&raw, &mut out);
        let mut want = output.clone();
        want.push(b'\n');
        assert_eq!(out, want);
        // With timestamps, one per line, not per record.
        let mut stamped = Vec::new();
        Renderer::new(true, None).render(&raw, &mut stamped);
        assert_eq!(
            stamped
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            3
        );
        // Read in chunks, whole records each time.
        let first = read_records(&path, 0, false).await;
        assert!(first.ends_with(b"\n") && first.len() <= CHUNK);
        // The tail counts records.
        let len = raw.len() as u64;
        let two = tail_start(&path, len, 2).await as usize;
        assert!(raw[two..].starts_with(records[3]));
        assert_eq!(tail_start(&path, len, 99).await, 0);
        assert_eq!(fallback_tail(&path, 1, 2048), "\u{fffd} tail");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
