#!/usr/bin/env bash
# Builds the tests' real S3-compatible server — MinIO — from the Go module proxy, and caches the
# binary so later runs skip the build.
#
#   test/store/build-minio.sh          build (or reuse) and print the bin directory
#
# MinIO publishes no semver tags, and the proxy refuses its RELEASE.* tags as versions, so the
# build pins the pseudo-version of one commit. The module has no replace directives, so a plain
# `go install module@version` builds it.
#
# Environment: TRACEJOB_CACHE (default /var/cache/tracejob), MINIO_VERSION.
# Gentle on shared machines: at most two packages at a time (-p=2), under nice, no cgo.
set -euo pipefail

MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
CACHE="${TRACEJOB_CACHE:-/var/cache/tracejob}"
BIN="$CACHE/bin"
MINIO="$BIN/minio-$MINIO_VERSION"

if [ -x "$MINIO" ]; then
  ln -sfn "$(basename "$MINIO")" "$BIN/minio"
  echo "$BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-minio: the Go toolchain is missing (need go >= 1.24); object-store tests will skip" >&2
  exit 2
fi

mkdir -p "$BIN"
WORK="$CACHE/minio-build/$MINIO_VERSION"
mkdir -p "$WORK"
echo "build-minio: building github.com/minio/minio@$MINIO_VERSION (takes a while)" >&2
GOBIN="$WORK" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -p=2 -trimpath" \
  nice -n 10 go install -ldflags='-s -w' "github.com/minio/minio@$MINIO_VERSION" >&2
mv "$WORK/minio" "$MINIO.tmp"
mv "$MINIO.tmp" "$MINIO"
ln -sfn "$(basename "$MINIO")" "$BIN/minio"
echo "$BIN"
