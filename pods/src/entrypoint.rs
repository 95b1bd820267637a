//! The entrypoint binary as a ConfigMap: how `tkc-entrypoint` reaches a pod without any image
//! of ours.
//!
//! Tekton copies its entrypoint out of an image of its own in the `prepare` init container.
//! tkc has no image to push, so the static `tkc-entrypoint` (about 560 KB, under the 1 MiB a
//! ConfigMap may hold) travels as the `binaryData` of a ConfigMap named after its content
//! (`tkc-entrypoint-<arch>-<sha256 prefix>`), created once per namespace and shared by every
//! run that uses the same binary. Pods mount it read-only and executable at `/tekton/bin`.
//! A binary runs only on nodes of its architecture, so each pod gets a `kubernetes.io/arch`
//! node selector matching the binary it mounts: an arm64 node is never picked for an amd64
//! binary (the pod stays Pending with a scheduling event if no node fits, never crash-loops).

use crate::names::sha256_hex;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::fmt;

/// The key of the binary in its ConfigMap, and its file name under `/tekton/bin`.
pub const ENTRYPOINT_KEY: &str = "entrypoint";

/// A CPU architecture, as the `kubernetes.io/arch` node label spells it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    /// The `kubernetes.io/arch` value.
    pub fn label(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The architecture a `kubernetes.io/arch` value names.
    pub fn from_label(label: &str) -> Option<Arch> {
        match label {
            "amd64" => Some(Arch::Amd64),
            "arm64" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why bytes cannot be the entrypoint of a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BinaryError {
    /// Not a 64-bit little-endian ELF executable.
    NotElf,
    /// An ELF for a machine other than x86-64 or aarch64.
    UnsupportedMachine(u16),
    /// Dynamically linked (has a `PT_INTERP` program header): it would need a loader and
    /// libraries that step images may not have.
    Dynamic,
    /// Over the 1 MiB a ConfigMap holds.
    TooLarge(usize),
}

impl fmt::Display for BinaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinaryError::NotElf => f.write_str("not a 64-bit little-endian ELF executable"),
            BinaryError::UnsupportedMachine(m) => write!(
                f,
                "an ELF for machine {m:#x}; only x86-64 (amd64) and aarch64 (arm64) are supported"
            ),
            BinaryError::Dynamic => f.write_str(
                "dynamically linked (it needs a loader the step images may not have); build it \
                 with entrypoint/build-static.sh",
            ),
            BinaryError::TooLarge(n) => write!(
                f,
                "{n} bytes is over the 1 MiB a ConfigMap holds; build it with \
                 entrypoint/build-static.sh"
            ),
        }
    }
}

impl std::error::Error for BinaryError {}

/// The most a ConfigMap may hold (etcd's object limit as the API server enforces it).
pub const CONFIG_MAP_LIMIT: usize = 1024 * 1024;

/// A static entrypoint binary checked for use in a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrypointBinary {
    pub arch: Arch,
    /// `tkc-entrypoint-<arch>-<first 16 hex digits of the sha256>`.
    pub config_map: String,
}

impl EntrypointBinary {
    /// Checks `bytes` (64-bit ELF, x86-64 or aarch64, static, ≤ 1 MiB) and names its
    /// ConfigMap.
    pub fn inspect(bytes: &[u8]) -> Result<EntrypointBinary, BinaryError> {
        let arch = elf_arch(bytes)?;
        if bytes.len() > CONFIG_MAP_LIMIT - 4096 {
            return Err(BinaryError::TooLarge(bytes.len()));
        }
        let sha = sha256_hex(bytes);
        Ok(EntrypointBinary {
            arch,
            config_map: format!("tkc-entrypoint-{arch}-{}", &sha[..16]),
        })
    }

    /// A binary that is not at hand, named without its content address: for `tkc compile
    /// --emit pods` without `--entrypoint-binary`.
    pub fn unbuilt(arch: Arch) -> EntrypointBinary {
        EntrypointBinary {
            arch,
            config_map: format!("tkc-entrypoint-{arch}"),
        }
    }
}

/// The ConfigMap that carries the binary, named by [`EntrypointBinary::inspect`], without a
/// namespace (the caller creates it in each namespace its pods run in, if absent). It is
/// immutable: a new binary is a new name, so pods of earlier runs keep theirs.
pub fn entrypoint_config_map(bytes: &[u8]) -> Result<ConfigMap, BinaryError> {
    let binary = EntrypointBinary::inspect(bytes)?;
    let labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            crate::MANAGED_BY.to_string(),
        ),
        (
            "app.kubernetes.io/component".to_string(),
            "entrypoint".to_string(),
        ),
        ("kubernetes.io/arch".to_string(), binary.arch.to_string()),
    ]);
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(binary.config_map),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        binary_data: Some(BTreeMap::from([(
            ENTRYPOINT_KEY.to_string(),
            ByteString(bytes.to_vec()),
        )])),
        immutable: Some(true),
        ..ConfigMap::default()
    })
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// The architecture of a static 64-bit little-endian ELF executable.
fn elf_arch(bytes: &[u8]) -> Result<Arch, BinaryError> {
    const PT_INTERP: u32 = 3;
    if bytes.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err(BinaryError::NotElf);
    }
    let machine = u16_at(bytes, 0x12).ok_or(BinaryError::NotElf)?;
    let arch = match machine {
        0x3e => Arch::Amd64,
        0xb7 => Arch::Arm64,
        other => return Err(BinaryError::UnsupportedMachine(other)),
    };
    let phoff = u64_at(bytes, 0x20).ok_or(BinaryError::NotElf)?;
    let phentsize = u16_at(bytes, 0x36).ok_or(BinaryError::NotElf)?;
    let phnum = u16_at(bytes, 0x38).ok_or(BinaryError::NotElf)?;
    let phoff = usize::try_from(phoff).map_err(|_| BinaryError::NotElf)?;
    for i in 0..usize::from(phnum) {
        let at = phoff
            .checked_add(i * usize::from(phentsize))
            .ok_or(BinaryError::NotElf)?;
        if u32_at(bytes, at).ok_or(BinaryError::NotElf)? == PT_INTERP {
            return Err(BinaryError::Dynamic);
        }
    }
    Ok(arch)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A minimal ELF header with one program header of type `ptype`.
    fn elf(machine: u16, ptype: u32) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&ptype.to_le_bytes());
        b
    }

    #[test]
    fn static_binaries_are_named_by_arch_and_content() {
        let bin = EntrypointBinary::inspect(&elf(0x3e, 1)).unwrap();
        assert_eq!(bin.arch, Arch::Amd64);
        assert!(bin.config_map.starts_with("tkc-entrypoint-amd64-"));
        assert_eq!(bin.config_map.len(), "tkc-entrypoint-amd64-".len() + 16);
        let arm = EntrypointBinary::inspect(&elf(0xb7, 1)).unwrap();
        assert_eq!(arm.arch, Arch::Arm64);
        let cm = entrypoint_config_map(&elf(0xb7, 1)).unwrap();
        assert_eq!(cm.metadata.name.as_deref(), Some(arm.config_map.as_str()));
        assert_eq!(cm.immutable, Some(true));
    }

    #[test]
    fn other_binaries_are_refused() {
        assert_eq!(
            EntrypointBinary::inspect(&elf(0x3e, 3)),
            Err(BinaryError::Dynamic)
        );
        assert_eq!(
            EntrypointBinary::inspect(&elf(0x28, 1)),
            Err(BinaryError::UnsupportedMachine(0x28))
        );
        assert_eq!(
            EntrypointBinary::inspect(b"#!/bin/sh\n"),
            Err(BinaryError::NotElf)
        );
        assert_eq!(EntrypointBinary::inspect(&[]), Err(BinaryError::NotElf));
        let mut truncated = elf(0x3e, 1);
        truncated.truncate(66);
        assert_eq!(
            EntrypointBinary::inspect(&truncated),
            Err(BinaryError::NotElf)
        );
    }
}
