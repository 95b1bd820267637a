//! Go durations, as Kubernetes' `metav1.Duration` reads them.

use std::fmt;

/// A duration with the text it was written as.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Duration {
    /// Nanoseconds (negative durations are representable; checks reject them).
    pub nanos: i128,
    pub text: String,
}

impl Duration {
    /// Parses `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`, like Go's `time.ParseDuration`.
    pub fn parse(text: &str) -> Option<Duration> {
        let (neg, mut rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if rest == "0" {
            return Some(Duration {
                nanos: 0,
                text: text.to_string(),
            });
        }
        if rest.is_empty() {
            return None;
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let (num, after) = rest.split_at(num_len);
            if num.is_empty() || num == "." {
                return None;
            }
            let value: f64 = num.parse().ok()?;
            let unit_len = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_len);
            let scale = match unit {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return None,
            };
            total += value * scale;
            rest = next;
        }
        if !total.is_finite() || total > i64::MAX as f64 {
            return None;
        }
        let nanos = total.round() as i128;
        Some(Duration {
            nanos: if neg { -nanos } else { nanos },
            text: text.to_string(),
        })
    }

    pub fn from_secs(secs: u64) -> Duration {
        let d = Duration {
            nanos: i128::from(secs) * 1_000_000_000,
            text: String::new(),
        };
        Duration {
            text: d.canonical(),
            ..d
        }
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// Milliseconds, saturating at zero for negative durations.
    pub fn as_millis(&self) -> u64 {
        u64::try_from(self.nanos.max(0) / 1_000_000).unwrap_or(u64::MAX)
    }

    /// Go's canonical spelling (`1h0m0s`, `1m30s`, `500ms`, `0s`).
    pub fn canonical(&self) -> String {
        let mut n = self.nanos.unsigned_abs();
        let sign = if self.nanos < 0 { "-" } else { "" };
        if n == 0 {
            return "0s".to_string();
        }
        if n < 1_000_000_000 {
            return if n.is_multiple_of(1_000_000) {
                format!("{sign}{}ms", n / 1_000_000)
            } else if n.is_multiple_of(1_000) {
                format!("{sign}{}µs", n / 1_000)
            } else {
                format!("{sign}{n}ns")
            };
        }
        let h = n / 3_600_000_000_000;
        n %= 3_600_000_000_000;
        let m = n / 60_000_000_000;
        n %= 60_000_000_000;
        let s = n / 1_000_000_000;
        let frac = n % 1_000_000_000;
        let secs = if frac == 0 {
            format!("{s}s")
        } else {
            let f = format!("{frac:09}");
            format!("{s}.{}s", f.trim_end_matches('0'))
        };
        if h > 0 {
            format!("{sign}{h}h{m}m{secs}")
        } else if m > 0 {
            format!("{sign}{m}m{secs}")
        } else {
            format!("{sign}{secs}")
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            f.write_str(&self.canonical())
        } else {
            f.write_str(&self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(
            Duration::parse("90s").map(|d| d.nanos),
            Some(90_000_000_000)
        );
        assert_eq!(
            Duration::parse("1h30m").map(|d| d.as_millis()),
            Some(5_400_000)
        );
        assert_eq!(
            Duration::parse("1.5h").map(|d| d.as_millis()),
            Some(5_400_000)
        );
        assert_eq!(Duration::parse("0").map(|d| d.nanos), Some(0));
        assert_eq!(
            Duration::parse("-1s").map(|d| d.nanos),
            Some(-1_000_000_000)
        );
        assert!(Duration::parse("10").is_none());
        assert!(Duration::parse("1d").is_none());
        assert!(Duration::parse("").is_none());
        assert!(Duration::parse("h").is_none());
    }

    #[test]
    fn canonical_spelling() {
        assert_eq!(Duration::from_secs(3600).canonical(), "1h0m0s");
        assert_eq!(Duration::from_secs(90).canonical(), "1m30s");
        assert_eq!(
            Duration::parse("500ms").map(|d| d.canonical()),
            Some("500ms".into())
        );
    }
}
