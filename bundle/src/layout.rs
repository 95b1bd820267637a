//! The Tekton Bundle format, without a network: an image whose every layer holds one resource,
//! named by its layer's annotations. Building follows `tkn bundle push`
//! (tektoncd/cli `pkg/bundle/builder.go`, `BuildTektonBundle`); reading follows Tekton's bundle
//! resolver (`pkg/resolution/resolver/bundle/bundle.go`: `checkImageCompliance`,
//! `readTarLayer`, `readRawLayer`).

use crate::{BundleError, Entry};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// The layer annotation naming the resource's kind, lowercase and singular (`task`).
pub const KIND_ANNOTATION: &str = "dev.tekton.image.kind";
/// The layer annotation naming the resource's API version (`v1`, without the group).
pub const API_VERSION_ANNOTATION: &str = "dev.tekton.image.apiVersion";
/// The layer annotation naming the resource (`metadata.name`).
pub const NAME_ANNOTATION: &str = "dev.tekton.image.name";
/// Tekton refuses bundles with more layers than this (`MaximumBundleObjects`).
pub const MAXIMUM_BUNDLE_OBJECTS: usize = 20;
/// The largest resource read from or written to a layer: the limit `tkc check` puts on a
/// file. It bounds what a registry can make tkc hold in memory.
pub const MAXIMUM_LAYER_BYTES: u64 = 16 << 20;

/// The media types go-containerregistry's `empty.Image` gives the image `tkn` pushes.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.docker.container.image.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// One resource to push: what its layer's annotations say, and its YAML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub entry: Entry,
    pub yaml: Vec<u8>,
}

/// Content and its `sha256:` digest, as a registry stores it.
#[derive(Clone, Debug)]
pub struct Blob {
    pub digest: String,
    pub data: Vec<u8>,
}

impl Blob {
    fn new(data: Vec<u8>) -> Blob {
        Blob {
            digest: sha256(&data),
            data,
        }
    }
}

/// A bundle ready to push: the blobs, then the manifest that names them.
#[derive(Clone, Debug)]
pub struct Image {
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub manifest: Blob,
}

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u8,
    media_type: &'a str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'a str,
    size: usize,
    digest: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<&'a str, &'a str>>,
}

/// Builds the image `tkn bundle push` would: one gzipped tar layer per document holding one
/// file named after the resource (mode 0600), annotated with its kind, API version and name;
/// layers ordered by the digest of their content, as `tkn` orders its inputs, so the argument
/// order does not change the image. Unlike `tkn`, the creation time is the epoch, so the same
/// documents always give the same digest.
///
/// Refuses what Tekton would not read back: more than [`MAXIMUM_BUNDLE_OBJECTS`] documents, a
/// kind that is not lowercase and singular, an empty name, two documents with one kind and
/// name (the resolver would only ever return the first).
pub fn build(documents: &[Document]) -> Result<Image, BundleError> {
    if documents.is_empty() {
        return Err(BundleError::Invalid(
            "a bundle needs at least one resource".into(),
        ));
    }
    if documents.len() > MAXIMUM_BUNDLE_OBJECTS {
        return Err(BundleError::Invalid(format!(
            "bundle contains {} objects, more than the maximum {MAXIMUM_BUNDLE_OBJECTS} Tekton allows",
            documents.len()
        )));
    }
    let mut seen = BTreeMap::new();
    for document in documents {
        let entry = &document.entry;
        check_kind(&entry.kind).map_err(BundleError::Invalid)?;
        if entry.name.is_empty() {
            return Err(BundleError::Invalid(format!(
                "a {} without a name cannot be put in a bundle",
                entry.kind
            )));
        }
        if seen.insert((&entry.kind, &entry.name), ()).is_some() {
            return Err(BundleError::Invalid(format!(
                "two resources with kind {} and name {}: the bundle resolver would only find the first",
                entry.kind, entry.name
            )));
        }
        if document.yaml.len() as u64 > MAXIMUM_LAYER_BYTES {
            return Err(BundleError::Invalid(format!(
                "{} {} is larger than {MAXIMUM_LAYER_BYTES} bytes",
                entry.kind, entry.name
            )));
        }
    }
    let mut ordered: Vec<&Document> = documents.iter().collect();
    ordered.sort_by_cached_key(|d| Sha256::digest(&d.yaml));

    let mut layers = Vec::with_capacity(ordered.len());
    let mut diff_ids = Vec::with_capacity(ordered.len());
    for document in &ordered {
        let tar = tar_one_file(&document.entry.name, &document.yaml)?;
        diff_ids.push(sha256(&tar));
        layers.push(Blob::new(gzip(&tar)?));
    }
    let config = Blob::new(config_json(&diff_ids)?);
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE,
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE,
            size: config.data.len(),
            digest: &config.digest,
            annotations: None,
        },
        layers: ordered
            .iter()
            .zip(&layers)
            .map(|(document, layer)| Descriptor {
                media_type: LAYER_MEDIA_TYPE,
                size: layer.data.len(),
                digest: &layer.digest,
                annotations: Some(BTreeMap::from([
                    (API_VERSION_ANNOTATION, document.entry.api_version.as_str()),
                    (KIND_ANNOTATION, document.entry.kind.as_str()),
                    (NAME_ANNOTATION, document.entry.name.as_str()),
                ])),
            })
            .collect(),
    };
    let manifest = Blob::new(serde_json::to_vec(&manifest).map_err(internal)?);
    Ok(Image {
        config,
        layers,
        manifest,
    })
}

/// The image configuration of an empty image with these layers (go-containerregistry's
/// `empty.Image` after `mutate.Append` and `mutate.CreatedAt`).
fn config_json(diff_ids: &[String]) -> Result<Vec<u8>, BundleError> {
    let config = serde_json::json!({
        "architecture": "",
        "created": "1970-01-01T00:00:00Z",
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    });
    serde_json::to_vec(&config).map_err(internal)
}

/// A tar archive of one regular file, as `BuildTektonBundle` writes it.
fn tar_one_file(name: &str, content: &[u8]) -> Result<Vec<u8>, BundleError> {
    let mut header = tar::Header::new_ustar();
    header.set_path(name).map_err(|e| {
        BundleError::Invalid(format!("{name:?} cannot name a file in a layer: {e}"))
    })?;
    header.set_mode(0o600);
    header.set_size(content.len() as u64);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(0);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, content).map_err(internal)?;
    builder.into_inner().map_err(internal)
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, BundleError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).map_err(internal)?;
    encoder.finish().map_err(internal)
}

fn internal(e: impl std::fmt::Display) -> BundleError {
    BundleError::Invalid(format!("cannot build the bundle: {e}"))
}

/// Tekton's rule for the kind annotation: lowercase and singular
/// (`strings.TrimSuffix(strings.ToLower(kind), "s") == kind`).
fn check_kind(kind: &str) -> Result<(), String> {
    if kind
        .to_lowercase()
        .strip_suffix('s')
        .unwrap_or(&kind.to_lowercase())
        != kind
    {
        return Err(format!(
            "the annotation {KIND_ANNOTATION} must be lowercased and singular, found {kind}"
        ));
    }
    Ok(())
}

/// The entries of a manifest's layers, after Tekton's `checkImageCompliance`: at most
/// [`MAXIMUM_BUNDLE_OBJECTS`] layers, each with the three annotations and a lowercase,
/// singular kind. `layers` are the layers' annotations, in manifest order.
pub fn entries(layers: &[Option<&BTreeMap<String, String>>]) -> Result<Vec<Entry>, String> {
    if layers.len() > MAXIMUM_BUNDLE_OBJECTS {
        return Err(format!(
            "contained more than the maximum {MAXIMUM_BUNDLE_OBJECTS} allow objects"
        ));
    }
    let empty = BTreeMap::new();
    let mut entries = Vec::with_capacity(layers.len());
    for (i, annotations) in layers.iter().enumerate() {
        let annotations = annotations.unwrap_or(&empty);
        let get = |key: &str| {
            annotations
                .get(key)
                .cloned()
                .ok_or_else(|| format!("the layer {i} does not contain a {key} annotation"))
        };
        let api_version = get(API_VERSION_ANNOTATION)?;
        let name = get(NAME_ANNOTATION)?;
        let kind = get(KIND_ANNOTATION)?;
        check_kind(&kind).map_err(|e| format!("the layer {i}: {e}"))?;
        entries.push(Entry {
            kind,
            name,
            api_version,
        });
    }
    Ok(entries)
}

/// The resource in a layer's blob: gunzipped if it is gzip, then the first file of the tar
/// archive, or, if it is not a tar archive, the whole layer (Tekton's `readTarLayer`, then
/// `readRawLayer`). At most [`MAXIMUM_LAYER_BYTES`] are decompressed.
pub fn read_layer(blob: &[u8]) -> Result<Vec<u8>, String> {
    let uncompressed = if blob.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(blob)
            .take(MAXIMUM_LAYER_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("failed to read image layer: {e}"))?;
        out
    } else {
        blob.to_vec()
    };
    if uncompressed.len() as u64 > MAXIMUM_LAYER_BYTES {
        return Err(format!(
            "the layer is larger than {MAXIMUM_LAYER_BYTES} bytes uncompressed"
        ));
    }
    Ok(first_tar_file(&uncompressed).unwrap_or(uncompressed))
}

/// The content of the first entry of a tar archive, or None if `data` is not one.
fn first_tar_file(data: &[u8]) -> Option<Vec<u8>> {
    let mut archive = tar::Archive::new(data);
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    let mut content = Vec::new();
    entry.read_to_end(&mut content).ok()?;
    Some(content)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn document(kind: &str, name: &str, yaml: &str) -> Document {
        Document {
            entry: Entry {
                kind: kind.into(),
                name: name.into(),
                api_version: "v1".into(),
            },
            yaml: yaml.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_built_layer_reads_back_as_its_document() {
        let yaml = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: hello\n";
        let image = build(&[document("task", "hello", yaml)]).unwrap();
        assert_eq!(read_layer(&image.layers[0].data).unwrap(), yaml.as_bytes());
        let tar = {
            let mut out = Vec::new();
            GzDecoder::new(&image.layers[0].data[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        };
        let mut archive = tar::Archive::new(&tar[..]);
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap().to_str(), Some("hello"));
        assert_eq!(entry.header().mode().unwrap(), 0o600);
    }

    #[test]
    fn the_manifest_carries_tektons_annotations_and_is_reproducible() {
        let docs = [
            document("task", "a", "kind: Task\n"),
            document("pipeline", "b", "kind: Pipeline\n"),
        ];
        let first = build(&docs).unwrap();
        let reversed = build(&[docs[1].clone(), docs[0].clone()]).unwrap();
        assert_eq!(first.manifest.digest, reversed.manifest.digest);
        let manifest: serde_json::Value = serde_json::from_slice(&first.manifest.data).unwrap();
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2);
        let names: Vec<_> = layers
            .iter()
            .map(|l| l["annotations"][NAME_ANNOTATION].as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| {
            let d = docs.iter().find(|d| d.entry.name == *n).unwrap();
            Sha256::digest(&d.yaml)
        });
        assert_eq!(names, sorted);
        assert_eq!(layers[0]["annotations"][API_VERSION_ANNOTATION], "v1");
    }

    #[test]
    fn build_refuses_what_tekton_would_not_read() {
        let many: Vec<_> = (0..21)
            .map(|i| document("task", &format!("t{i}"), &format!("# {i}\n")))
            .collect();
        assert!(build(&many).unwrap_err().to_string().contains("maximum 20"));
        let twice = [
            document("task", "a", "x: 1\n"),
            document("task", "a", "x: 2\n"),
        ];
        assert!(
            build(&twice)
                .unwrap_err()
                .to_string()
                .contains("only find the first")
        );
        let plural = [document("tasks", "a", "x: 1\n")];
        assert!(build(&plural).unwrap_err().to_string().contains("singular"));
        assert!(build(&[]).is_err());
    }

    #[test]
    fn entries_follow_check_image_compliance() {
        let good: BTreeMap<String, String> = [
            (KIND_ANNOTATION, "task"),
            (NAME_ANNOTATION, "hello"),
            (API_VERSION_ANNOTATION, "v1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let listed = entries(&[Some(&good)]).unwrap();
        assert_eq!(listed[0].name, "hello");
        let mut no_name = good.clone();
        no_name.remove(NAME_ANNOTATION);
        assert_eq!(
            entries(&[Some(&good), Some(&no_name)]).unwrap_err(),
            "the layer 1 does not contain a dev.tekton.image.name annotation"
        );
        assert!(entries(&[None]).is_err());
        let mut upper = good.clone();
        upper.insert(KIND_ANNOTATION.into(), "Task".into());
        assert!(entries(&[Some(&upper)]).unwrap_err().contains("lowercased"));
        let many = vec![Some(&good); 21];
        assert!(entries(&many).unwrap_err().contains("maximum 20"));
    }

    #[test]
    fn a_raw_layer_is_read_whole_and_a_gzip_bomb_is_refused() {
        assert_eq!(read_layer(b"kind: Task\n").unwrap(), b"kind: Task\n");
        let bomb = gzip(&vec![0u8; (MAXIMUM_LAYER_BYTES + 10) as usize]).unwrap();
        assert!(read_layer(&bomb).unwrap_err().contains("larger than"));
    }
}
