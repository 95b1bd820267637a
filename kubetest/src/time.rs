//! Timestamps as the API server writes them.

/// `metav1.Time`: RFC 3339 in UTC, whole seconds.
pub fn now_seconds() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `time.RFC3339Nano` in UTC, trailing zeros trimmed (kubelet log timestamps).
pub fn now_nanos() -> String {
    jiff::Timestamp::now().to_string()
}

/// The RFC 3339 seconds timestamp `secs` seconds from now.
pub fn seconds_from_now(secs: i64) -> String {
    let t = jiff::Timestamp::now().as_second().saturating_add(secs);
    jiff::Timestamp::from_second(t)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| now_seconds())
}
