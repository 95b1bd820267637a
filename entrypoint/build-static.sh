#!/usr/bin/env bash
# Builds tkc-entrypoint fully static, checks that it is static, and reports its size.
#
#   entrypoint/build-static.sh            # musl if its std is installed, else gnu + crt-static
#   TKC_ENTRYPOINT_TARGET=x86_64-unknown-linux-gnu entrypoint/build-static.sh
#   TKC_ENTRYPOINT_TARGET=aarch64-unknown-linux-musl entrypoint/build-static.sh   # arm64 nodes
#
# The aarch64 build needs only `rustup target add aarch64-unknown-linux-musl`: it links with
# the toolchain's own rust-lld against the musl the target ships, no cross gcc.
#
# CI may run `rustup target add x86_64-unknown-linux-musl || true` first; without that target
# the script falls back to glibc with `+crt-static` (about 1.2 MB: too big for the 1 MiB
# ConfigMap budget, so the size limit is enforced on the musl path only).
#
# Fails if the binary has a PT_INTERP program header (a dynamic loader), or if the musl
# build exceeds 1 MiB. Prints the binary's path and size in bytes on the last lines.
set -euo pipefail

cd "$(dirname "$0")/.."
MUSL=x86_64-unknown-linux-musl
GNU=x86_64-unknown-linux-gnu
LIMIT=$((1024 * 1024))

target="${TKC_ENTRYPOINT_TARGET:-}"
if [[ -z "$target" ]]; then
    # The musl std is a directory in the sysroot once `rustup target add` has run.
    if [[ -d "$(rustc --print sysroot)/lib/rustlib/$MUSL/lib" ]]; then
        target=$MUSL
    else
        echo "build-static: $MUSL is not installed; using $GNU with +crt-static" >&2
        target=$GNU
    fi
fi

flags="${RUSTFLAGS:-}"
if [[ "$target" == *-gnu ]]; then
    # musl links statically by default; glibc needs crt-static. The explicit --target keeps
    # this flag off build scripts and proc-macros.
    flags="$flags -C target-feature=+crt-static"
fi

if [[ "$target" == aarch64-*-musl ]]; then
    # No aarch64 gcc here: rust-lld links the self-contained musl objects.
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
    flags="$flags -C linker-flavor=ld.lld"
fi

RUSTFLAGS="$flags" cargo build --profile entrypoint -p tkc-entrypoint --target "$target"

target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
bin="$target_dir/$target/entrypoint/tkc-entrypoint"
[[ -x "$bin" ]] || { echo "build-static: $bin was not built" >&2; exit 1; }

# A dynamic executable names its loader in a PT_INTERP (INTERP) program header; a static one,
# static-pie included, has none.
if ! command -v readelf > /dev/null; then
    echo "build-static: readelf (binutils) is needed to check the binary" >&2
    exit 1
fi
if readelf --program-headers --wide "$bin" | grep -q 'INTERP'; then
    echo "build-static: FAIL: $bin is dynamically linked (has PT_INTERP)" >&2
    readelf --program-headers --wide "$bin" | grep -A1 INTERP >&2
    exit 1
fi
if readelf --dynamic "$bin" 2> /dev/null | grep -q '(NEEDED)'; then
    echo "build-static: FAIL: $bin needs shared libraries:" >&2
    readelf --dynamic "$bin" | grep '(NEEDED)' >&2
    exit 1
fi
# Informational: what file(1) and ldd think, when they are installed.
if command -v file > /dev/null; then file "$bin"; fi
if command -v ldd > /dev/null; then ldd "$bin" 2>&1 || true; fi

size=$(stat -c %s "$bin")
echo "target: $target"
echo "path:   $bin"
echo "size:   $size bytes ($((size / 1024)) KiB)"
if [[ "$target" == *-musl && "$size" -gt "$LIMIT" ]]; then
    echo "build-static: FAIL: $size bytes is over the 1 MiB ($LIMIT bytes) budget" >&2
    exit 1
fi
echo "build-static: OK (static)"
