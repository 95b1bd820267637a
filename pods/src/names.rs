//! Names of the objects: Tekton's child names and content addresses.

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// Kubernetes' limit on a label value and on a DNS label (pod, container and volume names).
const LONGEST: usize = 63;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The md5 of `text`, in hex (32 characters).
pub fn md5_hex(text: &str) -> String {
    hex(&Md5::digest(text.as_bytes()))
}

/// The sha256 of `bytes`, in hex (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// knative's `kmeta.ChildName`, which Tekton names pods with (`<taskRun>-pod`): `parent +
/// suffix` when that fits in 63 characters, else the first `31 - len(suffix)` characters of
/// the parent, its md5 and the suffix (63 in all).
pub fn child_name(parent: &str, suffix: &str) -> String {
    const HEAD: usize = LONGEST - 32;
    if parent.len() + suffix.len() <= LONGEST {
        return format!("{parent}{suffix}");
    }
    let Some(keep) = HEAD.checked_sub(suffix.len()).filter(|k| *k > 0) else {
        // The suffix leaves no room: the parent's head, the md5 of both, what fits of the
        // suffix.
        let mut out = format!(
            "{}{}",
            prefix(parent, HEAD),
            md5_hex(&format!("{parent}{suffix}"))
        );
        let room = LONGEST.saturating_sub(out.len());
        out.push_str(prefix(suffix, room));
        return out;
    };
    format!("{}{}{suffix}", prefix(parent, keep), md5_hex(parent))
}

/// At most `n` bytes of `s`, cut at a character boundary.
fn prefix(s: &str, n: usize) -> &str {
    let mut cut = n.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
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
    fn child_names_follow_kmeta() {
        assert_eq!(child_name("run-build", "-pod"), "run-build-pod");
        let long = "a".repeat(70);
        let name = child_name(&long, "-pod");
        assert_eq!(name.len(), 63);
        assert!(name.starts_with(&"a".repeat(27)));
        assert!(name.ends_with(&format!("{}-pod", md5_hex(&long))));
    }

    #[test]
    fn label_values_are_valid() {
        assert_eq!(label_value("build"), "build");
        assert_eq!(label_value(""), "");
        let v = label_value("-odd value/");
        assert!(v.starts_with("odd-value-"), "{v}");
        assert!(label_value(&"x".repeat(80)).len() <= 63);
    }
}
