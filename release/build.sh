#!/usr/bin/env bash
# Builds tkc's release artifacts into dist/: for each Linux target, a tarball of the static
# `tkc` and `tkc-entrypoint` (musl, no dynamic loader, no shared libraries), a SHA256SUMS file
# over them, and with podman a `FROM scratch` container image of `tkc` (release/Containerfile)
# saved as an OCI archive.
#
#   release/build.sh                 # x86_64 and aarch64; labelled v<version>[-dev.<sha>][-dirty]
#   release/build.sh --release       # refuses unless the tree is clean and HEAD is tag v<version>
#   TKC_RELEASE_TARGETS=x86_64-unknown-linux-musl release/build.sh      # what CI builds
#
# Versions: the tag of a release is `v` + the workspace version of Cargo.toml (`v0.1.0`), on
# the commit whose CHANGELOG.md has that version's entry. Any other build is labelled
# `v<version>-dev.<commit>`, and `-dirty` when tracked files have changes, so nothing built
# from a work in progress can pass for a release.
#
# Needs: `rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl`, and a C
# compiler per target for `ring` (the TLS of the Kubernetes client, `tkc run --backend
# kube`), whose build script compiles C and assembly for the target: `musl-gcc` (Debian's
# musl-tools) for x86_64, `aarch64-linux-gnu-gcc` (gcc-aarch64-linux-gnu) for aarch64. Both
# link with the toolchain's own rust-lld against the musl that rustup's target ships. The
# entrypoint needs no C compiler (entrypoint/build-static.sh builds it).
#
# Why a script and not cargo-dist: cargo-dist plans releases for GitHub CI (it generates
# workflows that upload to GitHub Releases and fetches its installers over the network); our
# CI is `.ci/run`, offline apart from package registries, and needs two musl targets with a
# cross C compiler, a static-binary check and a scratch image, which are a few lines here.
#
# Deterministic where it is up to us: the tarballs have sorted entries, the commit's time
# as every mtime, owner 0 and no gzip timestamp; the image is built with that time too.
set -euo pipefail
cd "$(dirname "$0")/.."

strict=false
case "${1:-}" in
    --release) strict=true ;;
    "") ;;
    *) echo "usage: release/build.sh [--release]" >&2; exit 2 ;;
esac

fail() { echo "release: $*" >&2; exit 1; }
note() { echo "release: note: $*" >&2; }

# The first `version = ` of Cargo.toml is [workspace.package]'s, which every crate inherits.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[[ -n "$version" ]] || fail "no version in Cargo.toml's [workspace.package]"
tag="v$version"
grep -q "^## \[$version\]" CHANGELOG.md || note "CHANGELOG.md has no entry for $version"

commit=$(git rev-parse --short=12 HEAD)
dirty=false
[[ -z "$(git status --porcelain --untracked-files=no)" ]] || dirty=true
at_tag=false
# The exact tag: v0.1.0 is not v0.1.0-rc1.
git tag --points-at HEAD | grep -qxF "$tag" && at_tag=true
if $strict; then
    $dirty && fail "refusing to label a tree with uncommitted changes as $tag (git status)"
    $at_tag || fail "HEAD is not tagged $tag (the version of Cargo.toml); tag it first"
    grep -q "^## \[$version\] - [0-9]" CHANGELOG.md ||
        fail "CHANGELOG.md has no dated entry for $version (## [$version] - YYYY-MM-DD)"
fi
label=$tag
$at_tag || label="$label-dev.$commit"
! $dirty || label="$label-dirty"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"

read -r -a targets <<< "${TKC_RELEASE_TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl}"
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
mkdir -p dist
rm -rf dist/tkc-* dist/SHA256SUMS

# Fails unless $1 is a static executable: no PT_INTERP (dynamic loader), no NEEDED libraries.
check_static() {
    if readelf --program-headers --wide "$1" | grep -q INTERP ||
        readelf --dynamic "$1" 2> /dev/null | grep -q '(NEEDED)'; then
        fail "$1 is not static"
    fi
}

# The C compiler `ring` builds with for a target, for cc-rs (CC_<target>): the one given,
# else the first found; empty if none is.
c_compiler() {
    local var="CC_${1//-/_}"
    if [[ -n "${!var:-}" ]]; then echo "${!var}"; return; fi
    local candidates
    case "$1" in
        x86_64-*-musl) candidates="x86_64-linux-musl-gcc musl-gcc" ;;
        aarch64-*-musl) candidates="aarch64-linux-musl-gcc aarch64-linux-gnu-gcc" ;;
    esac
    for cc in $candidates; do
        if command -v "$cc" > /dev/null; then echo "$cc"; return; fi
    done
}

# The binaries of one target into dist/tkc-<label>-<target>/ and its tarball.
build_target() {
    local target=$1 arch=${1%%-*}
    [[ -d "$(rustc --print sysroot)/lib/rustlib/$target/lib" ]] ||
        fail "the Rust target $target is not installed: rustup target add $target"
    local cc
    cc=$(c_compiler "$target")
    [[ -n "$cc" ]] || fail "no C compiler for $target, which ring (the Kubernetes client's TLS) needs: install musl-tools (x86_64) or gcc-aarch64-linux-gnu (aarch64), or set CC_${target//-/_}"

    # Position-dependent: a static-pie relocates itself at every start (~38,000 relocations,
    # ~180 pages written), half a millisecond of every `tkc check` (see cli/build.rs).
    # TKC_PIE=1 keeps the static-pie (docs/security.md weighs the two).
    local flags="${RUSTFLAGS:-}"
    [[ "${TKC_PIE:-}" == 1 ]] || flags="$flags -C relocation-model=static"
    if [[ "$arch" != "$(uname -m)" ]]; then
        # No cross gcc as linker driver: rust-lld links the self-contained musl objects
        # (as entrypoint/build-static.sh does).
        export "CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER=rust-lld"
        flags="$flags -C linker-flavor=ld.lld"
    fi
    echo "== tkc for $target (C compiler for ring: $cc)"
    env "CC_${target//-/_}=$cc" RUSTFLAGS="$flags" \
        cargo build --locked --profile dist -p tkc --bin tkc --target "$target"
    local tkc="$target_dir/$target/dist/tkc"
    check_static "$tkc"

    echo "== tkc-entrypoint for $target"
    TKC_ENTRYPOINT_TARGET=$target entrypoint/build-static.sh > /dev/null
    local entrypoint="$target_dir/$target/entrypoint/tkc-entrypoint"

    local name="tkc-$label-$target"
    mkdir -p "dist/$name"
    cp "$tkc" "$entrypoint" README.md CHANGELOG.md "dist/$name/"
    tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
        -C dist -cf - "$name" | gzip -n -9 > "dist/$name.tar.gz"
    echo "dist/$name.tar.gz: tkc $(stat -c %s "$tkc") bytes, tkc-entrypoint $(stat -c %s "$entrypoint") bytes"
}

for target in "${targets[@]}"; do
    build_target "$target"
done

# The binary for this machine says which version it is.
native="dist/tkc-$label-$(uname -m)-unknown-linux-musl/tkc"
if [[ -x "$native" ]]; then
    "$native" --version | grep -qx "tkc $version" || fail "$native --version does not say $version"
fi

# The image: `tkc` alone on an empty filesystem, for `tkc check` in CI without Rust. One per
# architecture, saved as an OCI archive that `podman load` / `docker load` read.
if command -v podman > /dev/null; then
    for target in "${targets[@]}"; do
        arch=${target%%-*}
        oci_arch=$([[ "$arch" == x86_64 ]] && echo amd64 || echo arm64)
        image="localhost/tkc:$label-$oci_arch"
        echo "== image $image"
        podman build --quiet --arch "$oci_arch" --timestamp "$SOURCE_DATE_EPOCH" \
            --file release/Containerfile --tag "$image" "dist/tkc-$label-$target" > /dev/null
        podman save --quiet --format oci-archive --output "dist/tkc-$label-image-$oci_arch.tar" "$image"
        podman rmi --force "$image" > /dev/null
    done
else
    note "podman is not installed: no container image (release/Containerfile builds it)"
fi

(cd dist && sha256sum tkc-"$label"-*.tar* > SHA256SUMS)
echo "== dist/ ($label)"
cat dist/SHA256SUMS
