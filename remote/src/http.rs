//! The http and hub resolvers: one GET each (redirects followed, as Go's `http.Client` does,
//! up to 10), bounded in time ([`Settings::timeout`]) and size ([`Settings::max_bytes`]).
//!
//! The client is the hyper stack `kube-client` already brings (hyper-util's client, rustls
//! with the platform's roots). It runs on a runtime of its own on a thread of its own, so
//! that a caller inside a tokio runtime can call it too.

use crate::Settings;
use crate::cache::Entry;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tkc_compiler::remote::{HttpSource, HubSource, HubType};

/// Redirects followed, as Go's default client.
const MAX_REDIRECTS: usize = 10;

/// What a GET gave: the body of a 2xx response, or the status of another.
enum Got {
    Body(Vec<u8>),
    Status(u16),
}

/// `resolver: http`: the document at the URL (Tekton's `fetchHttpResource`).
pub fn fetch(
    source: &HttpSource,
    password: Option<&str>,
    settings: &Settings,
) -> Result<Entry, String> {
    let auth = match (&source.basic_auth, password) {
        (Some(auth), Some(password)) => Some(format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{}:{password}", auth.username)
            )
        )),
        _ => None,
    };
    // Messages name the URL without a password it may carry.
    let shown = crate::without_userinfo(&source.url);
    let got = get(&source.url, auth, settings).map_err(|e| e.replace(&source.url, &shown))?;
    match got {
        Got::Body(bytes) => {
            if let Some(digest) = &source.digest {
                validate_digest(digest, &bytes)
                    .map_err(|e| format!("error validating digest: {e}"))?;
            }
            Ok(Entry {
                bytes,
                origin: crate::without_userinfo(&source.url),
            })
        }
        Got::Status(404) => Err(format!("requested URL '{shown}' is not found")),
        Got::Status(status) => Err(format!("{shown} answered HTTP {status}")),
    }
}

/// Tekton's `validateDigest` of the http resolver: `sha256:<64 hex>` or `sha512:<128 hex>`
/// of the body, with its messages.
fn validate_digest(digest: &str, body: &[u8]) -> Result<(), String> {
    use sha2::Digest;
    let Some((algorithm, expected)) = digest.split_once(':') else {
        return Err(format!("invalid digest format: {digest}"));
    };
    let (computed, length) = match algorithm {
        "sha256" => (sha2::Sha256::digest(body).to_vec(), 64),
        "sha512" => (sha2::Sha512::digest(body).to_vec(), 128),
        _ => return Err(format!("invalid digest algorithm: {algorithm}")),
    };
    if expected.len() != length {
        return Err(format!(
            "invalid {algorithm} digest value, expected length: {length}, got: {}",
            expected.len()
        ));
    }
    let computed: String = computed.iter().map(|b| format!("{b:02x}")).collect();
    if !computed.eq_ignore_ascii_case(expected) {
        return Err(format!("SHA mismatch, expected {expected}, got {computed}"));
    }
    Ok(())
}

/// `resolver: hub`: the YAML in the hub's JSON answer (Tekton's `Resolve` of the hub
/// resolver: Artifact Hub's `api/v1/packages/tekton-<kind>/<catalog>/<name>/<version>`,
/// whose `data.manifestRaw` is the YAML, or the Tekton Hub's
/// `v1/resource/<catalog>/<kind>/<name>/<version>/yaml`, whose `data.yaml` is).
pub fn fetch_hub(source: &HubSource, settings: &Settings) -> Result<Entry, String> {
    let (url, field) = match source.hub {
        HubType::Artifact => (
            format!(
                "{}/api/v1/packages/tekton-{}/{}/{}/{}",
                settings.artifact_hub.trim_end_matches('/'),
                source.kind,
                source.catalog,
                source.name,
                source.version
            ),
            "manifestRaw",
        ),
        HubType::Tekton => {
            let Some(base) = &settings.tekton_hub else {
                return Err(
                    "please configure TEKTON_HUB_API env variable to use tekton type".into(),
                );
            };
            (
                format!(
                    "{}/v1/resource/{}/{}/{}/{}/yaml",
                    base.trim_end_matches('/'),
                    source.catalog,
                    source.kind,
                    source.name,
                    source.version
                ),
                "yaml",
            )
        }
    };
    let which = match source.hub {
        HubType::Artifact => "Artifact Hub",
        HubType::Tekton => "Tekton Hub",
    };
    let body = match get(&url, None, settings)
        .map_err(|e| format!("fail to fetch {which} resource: {e}"))?
    {
        Got::Body(body) => body,
        Got::Status(404) => {
            return Err(format!(
                "fail to fetch {which} resource: requested resource '{url}' not found on hub"
            ));
        }
        Got::Status(status) => {
            return Err(format!(
                "fail to fetch {which} resource: {url} answered HTTP {status}"
            ));
        }
    };
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("error unmarshalling json response from {url}: {e}"))?;
    let yaml = json
        .get("data")
        .and_then(|d| d.get(field))
        .and_then(|y| y.as_str())
        .ok_or_else(|| format!("the answer of {url} has no `data.{field}`"))?;
    Ok(Entry {
        bytes: yaml.as_bytes().to_vec(),
        origin: url,
    })
}

/// A GET of `url` on a thread and runtime of its own.
fn get(url: &str, auth: Option<String>, settings: &Settings) -> Result<Got, String> {
    let url = url.to_string();
    let timeout = settings.timeout;
    let limit = settings.max_bytes;
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        runtime.block_on(async {
            match tokio::time::timeout(timeout, get_following(&url, auth, limit)).await {
                Ok(got) => got,
                Err(_) => Err(format!(
                    "no answer from {url} within {}s (time-out)",
                    timeout.as_secs()
                )),
            }
        })
    });
    worker
        .join()
        .unwrap_or_else(|_| Err("the HTTP client failed".to_string()))
}

async fn get_following(url: &str, mut auth: Option<String>, limit: u64) -> Result<Got, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("cannot load the system's TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("cannot parse url {url}: {e}"))?;
        let mut request = hyper::Request::get(uri.clone()).header("user-agent", "tkc");
        if let Some(auth) = &auth {
            request = request.header("authorization", auth);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| format!("constructing request: {e}"))?;
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("error fetching URL {url}: {}", chain(&e)))?;
        let status = response.status();
        if status.is_redirection()
            && let Some(location) = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
        {
            url = join(&uri, location);
            // The password goes to the host it was given for, never over plain HTTP after
            // HTTPS (Go's client drops `Authorization` on a redirect to another host).
            if let Ok(next) = url.parse::<hyper::Uri>()
                && next.host() == uri.host()
                && (uri.scheme_str() != Some("https") || next.scheme_str() == Some("https"))
            {
            } else {
                auth = None;
            }
            continue;
        }
        // Tekton's `FetchHttpResource` takes a 200 only.
        if status != hyper::StatusCode::OK {
            return Ok(Got::Status(status.as_u16()));
        }
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("error reading response body: {}", chain(&e)))?;
            if let Some(data) = frame.data_ref() {
                bytes.extend_from_slice(data);
                if bytes.len() as u64 > limit {
                    return Err(format!(
                        "response body exceeds maximum allowed size of {limit} bytes"
                    ));
                }
            }
        }
        return Ok(Got::Body(bytes));
    }
    Err(format!("more than {MAX_REDIRECTS} redirects from {url}"))
}

/// A `Location` against the URL it answered.
fn join(base: &hyper::Uri, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{scheme}://{authority}{dir}/{location}")
    }
}

/// An error and its causes, `a: b: c`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod digest_tests {
    use super::validate_digest;

    #[test]
    fn a_pinned_body_is_checked_as_tekton_checks_it() {
        let body = b"hello\n";
        // sha256sum of "hello\n".
        let good = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert_eq!(validate_digest(good, body), Ok(()));
        let wrong = good.replace("5891", "0000");
        assert!(
            validate_digest(&wrong, body)
                .is_err_and(|e| e.starts_with("SHA mismatch, expected 0000"))
        );
        assert_eq!(
            validate_digest("sha256", body),
            Err("invalid digest format: sha256".into())
        );
        assert_eq!(
            validate_digest("md5:abc", body),
            Err("invalid digest algorithm: md5".into())
        );
        assert_eq!(
            validate_digest("sha512:abc", body),
            Err("invalid sha512 digest value, expected length: 128, got: 3".into())
        );
    }
}
