//! The termination message: the JSON array a step leaves in `-termination_path`, which the
//! kubelet hands to the controller (and which tkc's local runtime reads directly).

use crate::json::{self, Value};
use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Kubernetes' per-container termination message cap; Tekton fails a step that goes over it.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Tekton's wording for an oversize message; the controller and users grep for it.
pub const TOO_LONG: &str =
    "Termination message is above max allowed size 4096, caused by large task result.";

/// `type` of a task result entry.
pub const TASK_RESULT: i64 = 1;
/// `type` of an entry written by the entrypoint itself (`StartedAt`, `Reason`, `ExitCode`).
pub const INTERNAL: i64 = 3;
/// `type` of a step result entry.
pub const STEP_RESULT: i64 = 4;

/// One `{key, value, type}` entry of the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Result name, or `StartedAt` / `Reason` / `ExitCode`.
    pub key: String,
    /// The raw value.
    pub value: String,
    /// [`TASK_RESULT`], [`INTERNAL`], [`STEP_RESULT`] or another Tekton type number.
    pub ty: i64,
    /// Legacy field, kept when an existing message has it.
    pub resource_name: Option<String>,
}

impl Entry {
    /// An entry with no `resourceName`.
    pub fn new(key: &str, value: impl Into<String>, ty: i64) -> Entry {
        Entry {
            key: key.to_owned(),
            value: value.into(),
            ty,
            resource_name: None,
        }
    }
}

/// Why a message could not be written.
#[derive(Debug)]
pub enum WriteError {
    /// The serialized message would exceed [`MAX_MESSAGE_BYTES`].
    TooLong,
    /// Reading or writing the file failed.
    Io(io::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::TooLong => f.write_str(TOO_LONG),
            WriteError::Io(e) => write!(f, "writing termination message: {e}"),
        }
    }
}

/// Reads a file a step may have planted (a result, the termination message): never through a
/// symbolic link at its last component, only when it is a regular file (a FIFO would block
/// forever, `/dev/zero` would never end), and at most `limit` bytes: a longer file is an error
/// with Tekton's wording, since the message it would go into cannot hold it. Missing files
/// keep their `NotFound` error.
pub fn read_untrusted(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, TOO_LONG));
    }
    Ok(bytes)
}

/// Appends `entries` to the message at `path`, as Tekton's `termination.WriteMessage` does:
/// read what is there (an unreadable or non-JSON file counts as empty), append, check the size
/// of the whole serialized array, rewrite the file. Nothing is written when it would be too long.
pub fn append(path: &Path, entries: &[Entry]) -> Result<(), WriteError> {
    let mut all = match read_untrusted(path, MAX_MESSAGE_BYTES) {
        Ok(bytes) => parse_message(&String::from_utf8_lossy(&bytes)).unwrap_or_default(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(WriteError::Io(e)),
    };
    all.extend_from_slice(entries);
    let text = serialize(&all);
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(WriteError::TooLong);
    }
    // The directory is made only when missing (it rarely is): a `mkdir` and a `stat` less on
    // every step's way out.
    match std::fs::write(path, &text) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                Some(dir) => std::fs::create_dir_all(dir).map_err(WriteError::Io)?,
                None => return Err(WriteError::Io(e)),
            }
            std::fs::write(path, text).map_err(WriteError::Io)
        }
        written => written.map_err(WriteError::Io),
    }
}

/// Serializes entries the way Go marshals `[]result.RunResult`: field order `key`, `value`,
/// `resourceName` (omitted when empty), `type` (omitted when 0).
pub fn serialize(entries: &[Entry]) -> String {
    let mut out = String::with_capacity(64 * entries.len() + 2);
    out.push('[');
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"key\":");
        json::write_string(&mut out, &e.key);
        out.push_str(",\"value\":");
        json::write_string(&mut out, &e.value);
        if let Some(r) = e.resource_name.as_deref().filter(|r| !r.is_empty()) {
            out.push_str(",\"resourceName\":");
            json::write_string(&mut out, r);
        }
        if e.ty != 0 {
            out.push_str(",\"type\":");
            out.push_str(&e.ty.to_string());
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// Parses a message. `type` may be a number or one of Tekton's legacy type names.
pub fn parse_message(text: &str) -> Option<Vec<Entry>> {
    let Value::Array(items) = json::parse(text).ok()? else {
        return None;
    };
    let mut entries = Vec::with_capacity(items.len());
    for item in &items {
        let text_field = |name| {
            item.get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let ty = match item.get("type") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n.parse().ok()?,
            Some(Value::String(s)) => match s.as_str() {
                "TaskRunResult" => TASK_RESULT,
                "InternalTektonResult" => INTERNAL,
                "StepResult" => STEP_RESULT,
                "StepArtifactsResult" => 5,
                "TaskRunArtifactsResult" => 6,
                _ => 10,
            },
            Some(_) => return None,
        };
        let resource_name = Some(text_field("resourceName")).filter(|r| !r.is_empty());
        entries.push(Entry {
            key: text_field("key"),
            value: text_field("value"),
            ty,
            resource_name,
        });
    }
    Some(entries)
}

/// The current time in Tekton's `StartedAt` layout `2006-01-02T15:04:05.000Z07:00`, in UTC
/// (so the zone is always `Z`).
pub fn started_at_now() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_utc_millis(since_epoch.as_secs() as i64, since_epoch.subsec_millis())
}

/// Formats seconds since the Unix epoch plus milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_utc_millis(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days` algorithm: exact for every i64 day count we can meet.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_layout() {
        assert_eq!(format_utc_millis(0, 0), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T23:59:59.007Z, a leap day.
        assert_eq!(
            format_utc_millis(1_709_251_199, 7),
            "2024-02-29T23:59:59.007Z"
        );
        assert_eq!(
            format_utc_millis(951_782_400, 999),
            "2000-02-29T00:00:00.999Z"
        );
        assert_eq!(format_utc_millis(-1, 0), "1969-12-31T23:59:59.000Z");
        assert_eq!(started_at_now().len(), "2006-01-02T15:04:05.000Z".len());
    }

    #[test]
    fn serializes_like_go() {
        let mut e = Entry::new("res<1>", "a\"b\n", TASK_RESULT);
        let internal = Entry::new("StartedAt", "x", INTERNAL);
        assert_eq!(
            serialize(&[e.clone(), internal]),
            r#"[{"key":"res\u003c1\u003e","value":"a\"b\n","type":1},{"key":"StartedAt","value":"x","type":3}]"#
        );
        e.resource_name = Some("r".into());
        e.ty = 0;
        assert_eq!(
            serialize(&[e]),
            r#"[{"key":"res\u003c1\u003e","value":"a\"b\n","resourceName":"r"}]"#
        );
    }

    #[test]
    fn parses_numeric_and_legacy_types() {
        let m = parse_message(
            r#"[{"key":"a","value":"1","type":1},{"key":"b","value":"2","type":"InternalTektonResult"}]"#,
        )
        .expect("parses");
        assert_eq!(m[0].ty, TASK_RESULT);
        assert_eq!(m[1].ty, INTERNAL);
        assert_eq!(parse_message("not json"), None);
    }
}
