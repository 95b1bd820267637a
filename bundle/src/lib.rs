//! Tekton Bundles: Tasks, Pipelines and StepActions stored in an OCI image, one resource per
//! layer (`docs/bundles.md`). [`push`] writes the image `tkn bundle push` writes, [`list`]
//! names what a bundle holds, and [`pull`] fetches one resource as Tekton's `bundles` resolver
//! does (`pkg/resolution/resolver/bundle/bundle.go`, `GetEntry`), with its errors.
//!
//! Registries are spoken to over HTTPS, except registries on a loopback address (`localhost`,
//! `127.0.0.0/8`, `[::1]`: traffic that never leaves the machine, as docker also allows) and
//! those named in [`Options::insecure_registries`], which get plain HTTP. Credentials come
//! from the docker client's configuration ([`auth`]); without an entry for the registry,
//! requests are anonymous (with the registry's anonymous token when it asks for one).

pub mod auth;
mod layout;

pub use layout::{
    API_VERSION_ANNOTATION, Document, KIND_ANNOTATION, MAXIMUM_BUNDLE_OBJECTS, MAXIMUM_LAYER_BYTES,
    NAME_ANNOTATION,
};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

/// What one layer of a bundle holds, from its annotations.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Lowercase and singular: `task`, `pipeline`, `stepaction`.
    pub kind: String,
    pub name: String,
    /// The version without the group (`v1`), as `tkn` writes it.
    pub api_version: String,
}

/// One resource fetched from a bundle.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The resource as stored in its layer (YAML or JSON).
    pub yaml: Vec<u8>,
    /// The digest of the bundle's manifest (`sha256:…`): what to pin or cache it by.
    pub digest: String,
    /// Where it came from, for reports: `oci://<repository>@<digest>#<kind>/<name>`.
    pub origin: String,
}

/// How to reach registries.
#[derive(Clone, Debug)]
pub struct Options {
    /// Bounds each whole operation (connecting, authenticating, every transfer).
    pub timeout: Duration,
    /// Registries (`host` or `host:port`, as in the reference) spoken to over plain HTTP,
    /// besides the loopback ones.
    pub insecure_registries: Vec<String>,
    /// The docker configuration to take credentials from (a missing file means none); `None`:
    /// anonymous.
    pub docker_config: Option<PathBuf>,
}

impl Default for Options {
    /// Tekton's resolution timeout (one minute), no insecure registries, the credentials of
    /// this user's docker configuration ([`auth::docker_config_path`]).
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(60),
            insecure_registries: Vec::new(),
            docker_config: auth::docker_config_path(),
        }
    }
}

/// Why a bundle operation failed. The messages follow Tekton's bundle resolver's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleError {
    /// The reference does not parse (`name.ParseReference`).
    Reference { reference: String, reason: String },
    /// The registry could not be reached or refused the request.
    Registry { reference: String, reason: String },
    /// The registry could not be reached or refused the push.
    Push { reference: String, reason: String },
    /// The operation took longer than [`Options::timeout`].
    Timeout { reference: String, after: Duration },
    /// The image is not a valid Tekton bundle (`checkImageCompliance`).
    NotABundle { reference: String, reason: String },
    /// No layer has this kind and name.
    NotFound {
        reference: String,
        kind: String,
        name: String,
        available: Vec<Entry>,
    },
    /// What was asked for cannot be made into a bundle, or a layer cannot be read.
    Invalid(String),
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Reference { reference, reason } => {
                write!(f, "{reference} is an unparseable image reference: {reason}")
            }
            BundleError::Registry { reference, reason } => {
                write!(f, "cannot retrieve the oci image {reference}: {reason}")
            }
            BundleError::Push { reference, reason } => {
                write!(
                    f,
                    "could not push image to registry as {reference}: {reason}"
                )
            }
            BundleError::Timeout { reference, after } => write!(
                f,
                "cannot retrieve the oci image {reference}: timed out after {}s",
                after.as_secs_f64()
            ),
            BundleError::NotABundle { reference, reason } => {
                write!(f, "invalid tekton bundle {reference}, error: {reason}")
            }
            BundleError::NotFound {
                reference,
                kind,
                name,
                available,
            } => {
                write!(
                    f,
                    "could not find object in image with kind: {kind} and name: {name} (in {reference}"
                )?;
                if available.is_empty() {
                    write!(f, ", which is empty)")
                } else {
                    let names: Vec<String> = available
                        .iter()
                        .map(|e| format!("{}/{}", e.kind, e.name))
                        .collect();
                    write!(f, ", which holds {})", names.join(", "))
                }
            }
            BundleError::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for BundleError {}

/// Fetches the resource of kind `kind` (compared without case, as Tekton does) named `name`
/// from the bundle `reference` (`registry/repository:tag` or `@sha256:…`).
pub async fn pull(
    reference: &str,
    kind: &str,
    name: &str,
    options: &Options,
) -> Result<Fetched, BundleError> {
    let (client, image, auth) = connect(reference, options)?;
    bounded(reference, options, async {
        let (manifest, digest) = pull_manifest(&client, &image, &auth, reference).await?;
        let entries = compliant_entries(&manifest, reference)?;
        let wanted = kind.to_lowercase();
        let Some(index) = entries
            .iter()
            .position(|e| e.kind.to_lowercase() == wanted && e.name == name)
        else {
            return Err(BundleError::NotFound {
                reference: reference.to_owned(),
                kind: kind.to_owned(),
                name: name.to_owned(),
                available: entries,
            });
        };
        let blob = pull_layer(&client, &image, &manifest.layers[index], reference).await?;
        let yaml = layout::read_layer(&blob).map_err(|reason| BundleError::NotABundle {
            reference: reference.to_owned(),
            reason,
        })?;
        let entry = &entries[index];
        Ok(Fetched {
            yaml,
            origin: format!(
                "oci://{}/{}@{digest}#{}/{}",
                image.resolve_registry(),
                image.repository(),
                entry.kind,
                entry.name
            ),
            digest,
        })
    })
    .await
}

/// What the bundle `reference` holds, in layer order, with its manifest's digest.
pub async fn list(reference: &str, options: &Options) -> Result<(Vec<Entry>, String), BundleError> {
    let (client, image, auth) = connect(reference, options)?;
    bounded(reference, options, async {
        let (manifest, digest) = pull_manifest(&client, &image, &auth, reference).await?;
        Ok((compliant_entries(&manifest, reference)?, digest))
    })
    .await
}

/// Pushes `documents` as a bundle to `reference` (a tag; `latest` if it names none) and
/// returns the digest of the manifest pushed.
pub async fn push(
    reference: &str,
    documents: &[Document],
    options: &Options,
) -> Result<String, BundleError> {
    let (client, image, auth) = connect(reference, options)?;
    if image.digest().is_some() {
        return Err(BundleError::Reference {
            reference: reference.to_owned(),
            reason: "a bundle is pushed to a tag, not to a digest".into(),
        });
    }
    let built = layout::build(documents)?;
    bounded(reference, options, async {
        let failed = |e: OciDistributionError| BundleError::Push {
            reference: reference.to_owned(),
            reason: reason(&e),
        };
        client
            .auth(&image, &auth, RegistryOperation::Push)
            .await
            .map_err(failed)?;
        for blob in built.layers.iter().chain([&built.config]) {
            client
                .push_blob(&image, blob.data.clone(), &blob.digest)
                .await
                .map_err(failed)?;
        }
        let content_type = http::HeaderValue::from_static(layout::MANIFEST_MEDIA_TYPE);
        client
            .push_manifest_raw(&image, built.manifest.data.clone(), content_type)
            .await
            .map_err(failed)?;
        Ok(built.manifest.digest.clone())
    })
    .await
}

/// `reference` pinned to `digest`: `registry/repository@sha256:…`, what to write in a
/// pipeline's `bundle` param so that it always resolves to what was pushed.
pub fn pinned(reference: &str, digest: &str) -> Result<String, BundleError> {
    let image: Reference = reference.parse().map_err(|e| BundleError::Reference {
        reference: reference.to_owned(),
        reason: format!("{e}"),
    })?;
    Ok(format!(
        "{}/{}@{digest}",
        image.registry(),
        image.repository()
    ))
}

/// The client for `reference`'s registry (plain HTTP for loopback and insecure registries),
/// the reference, and the credentials to use there.
fn connect(
    reference: &str,
    options: &Options,
) -> Result<(Client, Reference, RegistryAuth), BundleError> {
    let image: Reference = reference.parse().map_err(|e| BundleError::Reference {
        reference: reference.to_owned(),
        reason: format!("{e}"),
    })?;
    // rustls needs a process-wide crypto provider; another caller may have installed one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = image.resolve_registry().to_owned();
    let auth = registry_auth(&registry, options)?;
    let plain_http = is_loopback(&registry) || options.insecure_registries.contains(&registry);
    let config = ClientConfig {
        protocol: if plain_http {
            ClientProtocol::HttpsExcept(vec![registry])
        } else {
            ClientProtocol::Https
        },
        connect_timeout: Some(options.timeout.min(Duration::from_secs(10))),
        read_timeout: Some(options.timeout),
        ..ClientConfig::default()
    };
    let client = Client::try_from(config).map_err(|e| registry_error(reference, e))?;
    Ok((client, image, auth))
}

/// The credentials of `registry` in [`Options::docker_config`], else anonymous.
fn registry_auth(registry: &str, options: &Options) -> Result<RegistryAuth, BundleError> {
    let Some(path) = &options.docker_config else {
        return Ok(RegistryAuth::Anonymous);
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(e) => {
            return Err(BundleError::Invalid(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    match auth::from_docker_config(&text, registry) {
        Ok(Some(c)) => Ok(RegistryAuth::Basic(c.username, c.password)),
        Ok(None) => Ok(RegistryAuth::Anonymous),
        Err(e) => Err(BundleError::Invalid(format!("{}: {e}", path.display()))),
    }
}

/// Whether `registry` (`host[:port]`) is this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.split(':').next().unwrap_or(registry),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn bounded<T>(
    reference: &str,
    options: &Options,
    work: impl Future<Output = Result<T, BundleError>>,
) -> Result<T, BundleError> {
    match tokio::time::timeout(options.timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(BundleError::Timeout {
            reference: reference.to_owned(),
            after: options.timeout,
        }),
    }
}

/// The image manifest and its digest. When the reference names a digest, the manifest's own
/// digest must be that one.
async fn pull_manifest(
    client: &Client,
    image: &Reference,
    auth: &RegistryAuth,
    reference: &str,
) -> Result<(OciImageManifest, String), BundleError> {
    let (manifest, digest) = client
        .pull_image_manifest(image, auth)
        .await
        .map_err(|e| registry_error(reference, e))?;
    if let Some(wanted) = image.digest()
        && wanted != digest
    {
        return Err(BundleError::Registry {
            reference: reference.to_owned(),
            reason: format!("the registry returned a manifest with digest {digest}"),
        });
    }
    Ok((manifest, digest))
}

fn compliant_entries(
    manifest: &OciImageManifest,
    reference: &str,
) -> Result<Vec<Entry>, BundleError> {
    let annotations: Vec<_> = manifest
        .layers
        .iter()
        .map(|l| l.annotations.as_ref())
        .collect();
    layout::entries(&annotations).map_err(|reason| BundleError::NotABundle {
        reference: reference.to_owned(),
        reason,
    })
}

/// A layer's blob, refused beyond [`MAXIMUM_LAYER_BYTES`], declared or sent (the client
/// checks its digest).
async fn pull_layer(
    client: &Client,
    image: &Reference,
    layer: &OciDescriptor,
    reference: &str,
) -> Result<Vec<u8>, BundleError> {
    if u64::try_from(layer.size).map_or(true, |size| size > MAXIMUM_LAYER_BYTES) {
        return Err(BundleError::NotABundle {
            reference: reference.to_owned(),
            reason: format!(
                "the layer {} is {} bytes, more than {MAXIMUM_LAYER_BYTES}",
                layer.digest, layer.size
            ),
        });
    }
    let mut blob = CappedBuffer::default();
    client
        .pull_blob(image, layer, &mut blob)
        .await
        .map_err(|e| registry_error(reference, e))?;
    Ok(blob.data)
}

/// A buffer that refuses to grow past [`MAXIMUM_LAYER_BYTES`]: a registry may send more than
/// the size its manifest declares, and the client only checks the digest at the end.
#[derive(Default)]
struct CappedBuffer {
    data: Vec<u8>,
}

impl tokio::io::AsyncWrite for CappedBuffer {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bytes: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if (this.data.len() + bytes.len()) as u64 > MAXIMUM_LAYER_BYTES {
            return std::task::Poll::Ready(Err(std::io::Error::other(format!(
                "the layer is larger than {MAXIMUM_LAYER_BYTES} bytes"
            ))));
        }
        this.data.extend_from_slice(bytes);
        std::task::Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

fn registry_error(reference: &str, error: OciDistributionError) -> BundleError {
    BundleError::Registry {
        reference: reference.to_owned(),
        reason: reason(&error),
    }
}

/// The client's error with its causes, on one line.
fn reason(error: &OciDistributionError) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = cause.source();
    }
    reason
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_recognised() {
        for yes in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "index.docker.io",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn a_pushed_reference_is_pinned_to_its_digest() {
        let digest = "sha256:0123";
        assert_eq!(
            pinned("127.0.0.1:5000/team/tasks:v1", digest).unwrap(),
            "127.0.0.1:5000/team/tasks@sha256:0123"
        );
        assert_eq!(
            pinned("localhost:5000/tasks", digest).unwrap(),
            "localhost:5000/tasks@sha256:0123"
        );
    }

    #[tokio::test]
    async fn a_layer_larger_than_the_cap_is_refused_as_it_arrives() {
        use tokio::io::AsyncWriteExt;
        let mut buffer = CappedBuffer::default();
        let chunk = vec![0u8; 1 << 20];
        let mut written = 0u64;
        let refused = loop {
            match buffer.write_all(&chunk).await {
                Ok(()) => written += chunk.len() as u64,
                Err(e) => break e,
            }
        };
        assert_eq!(written, MAXIMUM_LAYER_BYTES);
        assert!(refused.to_string().contains("larger than"));
    }

    #[test]
    fn a_bad_reference_is_an_error_not_a_panic() {
        let Err(err) = connect("UPPER/Case::bad", &Options::default()) else {
            panic!("the reference parsed");
        };
        assert!(matches!(err, BundleError::Reference { .. }), "{err}");
    }
}
