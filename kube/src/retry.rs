//! Every request the backend makes goes through [`retrying`]: errors worth a retry (429,
//! 5xx, a connection that failed or was reset) are retried with bounded, jittered exponential
//! backoff, as client-go's `retry.OnError` with `DefaultBackoff` does for controllers; any
//! other error is returned at once, for the caller to end the task with a clear reason.

use std::future::Future;
use std::time::Duration;

/// How many times a request is tried in all.
const ATTEMPTS: u32 = 12;
/// The first wait; doubled each time up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(4);

/// Whether an error may go away if the request is sent again.
pub fn worth_retry(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// Runs `request` until it succeeds, fails with an error not worth a retry, or has been
/// tried [`ATTEMPTS`] times.
pub async fn retrying<T, F, Fut>(request: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    retrying_n(ATTEMPTS, request).await
}

/// [`retrying`], tried at most `attempts` times (a first contact that should fail fast).
pub async fn retrying_n<T, F, Fut>(attempts: u32, mut request: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = FIRST_DELAY;
    let mut tried = 0;
    loop {
        tried += 1;
        match request().await {
            Err(e) if tried < attempts && worth_retry(&e) => {
                tokio::time::sleep(delay + jitter(delay)).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
            other => return other,
        }
    }
}

/// Up to half of `delay`, from the clock's low bits (no randomness source is needed to keep
/// clients that failed together from retrying together).
fn jitter(delay: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let half = delay.as_millis().max(2) as u32 / 2;
    Duration::from_millis(u64::from(nanos % half))
}

/// The error's message as the API server wrote it, else its text.
pub fn message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
        other => other.to_string(),
    }
}

/// The HTTP code of an API error.
pub fn code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}
