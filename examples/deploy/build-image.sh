#!/usr/bin/env bash
# Builds the container image: the server and the load tools, statically
# linked against glibc, copied into an empty (scratch) image.
#
#   examples/deploy/build-image.sh [TAG]     # default tag: echo-reactor:VERSION
#
# The binaries resolve host names through glibc's built-in files and DNS
# lookups, so the image needs no NSS modules. They are built in their own
# target directory (target/static), so the ordinary debug and release
# builds are not rebuilt afterwards. Prints the image's tag and size.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/examples/deploy"
version=$(timeout --kill-after=5s 5m cargo pkgid --manifest-path "$repo/Cargo.toml")
version=${version##*[#@]}
tag=${1:-echo-reactor:$version}
target=x86_64-unknown-linux-gnu
target_dir="${CARGO_TARGET_DIR:-$repo/target}/static"

echo "building static binaries in $target_dir"
# Whole-program LTO ("fat", not the release profile's "thin"): the three
# binaries share rustls, ring and the library, and fat LTO drops more of
# what each does not use (9.5 MB for the three instead of 10.0).
# Each step has a time limit, so a stuck build or daemon fails the script
# instead of hanging whoever runs it.
CARGO_PROFILE_RELEASE_LTO=fat \
RUSTFLAGS="-C target-feature=+crt-static -C strip=symbols" \
    timeout --kill-after=30s 30m cargo build --manifest-path "$repo/Cargo.toml" --release --locked \
    --target "$target" --target-dir "$target_dir" --bins

# The build context: the three binaries and nothing else.
context="$target_dir/image"
rm -rf "$context"
mkdir -p "$context"
for binary in echo-reactor echo-loadgen echo-idle-swarm; do
    cp "$target_dir/$target/release/$binary" "$context/"
done

echo "building image $tag"
timeout --kill-after=30s 10m docker build --quiet --tag "$tag" --file "$here/Dockerfile" "$context" >/dev/null
size=$(timeout --kill-after=5s 1m docker image inspect --format '{{.Size}}' "$tag")
echo "built $tag: $size bytes"
