//! Link flags for the `tkc` binary.
//!
//! On Linux with glibc, `tkc` is linked as a position-dependent executable (`-no-pie`). A PIE
//! of tkc's size carries ~38,000 relative relocations that the dynamic loader applies at every
//! start, writing ~180 pages of `.data.rel.ro` (copy-on-write faults): half a millisecond of
//! each `tkc check` of one file, which pre-commit hooks and editors pay on every call
//! (`bench/check.sh`: 2.9 ms → 2.4 ms end to end). The object code stays position-independent
//! (Rust's default); only the final link fixes the load address, as Go does for its binaries
//! by default. The cost is ASLR of tkc's own code and data (libraries, heap and stack are
//! still randomised); docs/security.md weighs it, C dependencies and long-lived commands
//! included. The release build (`release/build.sh`) does the same for its static musl
//! binaries.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // `TKC_PIE=1`: a position-independent tkc, randomised as a whole (docs/security.md).
    println!("cargo:rerun-if-env-changed=TKC_PIE");
    if std::env::var_os("TKC_PIE").is_some_and(|v| v == "1") {
        return;
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bin=tkc=-no-pie");
    }
}
