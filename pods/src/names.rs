//! Names of the objects: Tekton's child names and content addresses.

use sha2::{Digest as _, Sha256};

/// Kubernetes' limit on a label value and on a DNS label (pod, container and volume names).
const LONGEST: usize = 63;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub use tkc_compiler::names::{child_name, md5_hex};

/// The sha256 of `bytes`, in hex (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A label value: at most 63 characters of `[-_.A-Za-z0-9]`, alphanumeric at both ends
/// (longer or odd values are shortened with a hash, so that they stay distinct).
pub fn label_value(value: &str) -> String {
    let valid = value.len() <= LONGEST
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && value
            .chars()
            .next()
            .is_none_or(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .last()
            .is_none_or(|c| c.is_ascii_alphanumeric());
    if valid {
        return value.to_string();
    }
    let clean: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(LONGEST - 11)
        .collect();
    let clean = clean.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let hash = &md5_hex(value)[..10];
    if clean.is_empty() {
        hash.to_string()
    } else {
        format!("{clean}-{hash}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_valid() {
        assert_eq!(label_value("build"), "build");
        assert_eq!(label_value(""), "");
        let v = label_value("-odd value/");
        assert!(v.starts_with("odd-value-"), "{v}");
        assert!(label_value(&"x".repeat(80)).len() <= 63);
    }
}
