#!/usr/bin/env bash
# Builds the node's container runtime from the Go module proxy and caches it:
# containerd, its runc shim and ctr (CGO off, no btrfs/devmapper/zfs snapshotters), and
# runc (cgo, seccomp; needs libseccomp-dev). Debian's containerd 1.6 is too old for kubelet 1.35.
#
#   test/cluster/build-runtime.sh     build (or reuse) and print the bin directory
#
# Environment: TRACEJOB_CACHE (default /var/cache/tracejob), CONTAINERD_VERSION, RUNC_VERSION.
set -euo pipefail

CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.2.9}"
RUNC_VERSION="${RUNC_VERSION:-v1.4.4}"
CACHE="${TRACEJOB_CACHE:-/var/cache/tracejob}"
BIN="$CACHE/bin"
CD_DIR="$BIN/containerd-$CONTAINERD_VERSION"
RUNC="$BIN/runc-$RUNC_VERSION"

link() {
  for b in containerd containerd-shim-runc-v2 ctr; do
    ln -sfn "containerd-$CONTAINERD_VERSION/$b" "$BIN/$b"
  done
  ln -sfn "$(basename "$RUNC")" "$BIN/runc"
}
if [ -x "$CD_DIR/containerd" ] && [ -x "$CD_DIR/containerd-shim-runc-v2" ] && [ -x "$CD_DIR/ctr" ] && [ -x "$RUNC" ]; then
  link; echo "$BIN"; exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-runtime: the Go toolchain is missing; the real-node tests will skip" >&2
  exit 2
fi
mkdir -p "$BIN"
export GOFLAGS="${GOFLAGS:-} -p=2"

if [ ! -x "$CD_DIR/ctr" ]; then
  echo "build-runtime: building containerd $CONTAINERD_VERSION" >&2
  rm -rf "$CD_DIR.tmp"; mkdir -p "$CD_DIR.tmp"
  CGO_ENABLED=0 GOBIN="$CD_DIR.tmp" nice -n 10 go install -trimpath -tags 'no_btrfs no_devmapper no_zfs' \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION"
  rm -rf "$CD_DIR"; mv "$CD_DIR.tmp" "$CD_DIR"
fi
if [ ! -x "$RUNC" ]; then
  if ! pkg-config --exists libseccomp 2>/dev/null; then
    echo "build-runtime: libseccomp-dev is missing (runc is built with seccomp)" >&2
    exit 1
  fi
  echo "build-runtime: building runc $RUNC_VERSION" >&2
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  CGO_ENABLED=1 GOBIN="$tmp" nice -n 10 go install -trimpath -tags seccomp \
    -ldflags "-s -w -X main.version=${RUNC_VERSION#v}" "github.com/opencontainers/runc@$RUNC_VERSION"
  mv "$tmp/runc" "$RUNC"
fi
link
echo "$BIN"
