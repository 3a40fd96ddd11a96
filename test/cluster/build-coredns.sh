#!/usr/bin/env bash
# Builds CoreDNS (the cluster DNS of the real-node tests) from the Go module proxy and caches it.
#
#   test/cluster/build-coredns.sh     build (or reuse) and print the bin directory
#
# Environment: TRACEJOB_CACHE (default /var/cache/tracejob), COREDNS_VERSION.
set -euo pipefail

COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
CACHE="${TRACEJOB_CACHE:-/var/cache/tracejob}"
BIN="$CACHE/bin"
COREDNS="$BIN/coredns-$COREDNS_VERSION"

if [ ! -x "$COREDNS" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "build-coredns: the Go toolchain is missing; the real-node tests will skip" >&2
    exit 2
  fi
  mkdir -p "$BIN"
  echo "build-coredns: building CoreDNS $COREDNS_VERSION" >&2
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -p=2" nice -n 10 \
    go install -trimpath -ldflags '-s -w' "github.com/coredns/coredns@$COREDNS_VERSION"
  mv "$tmp/coredns" "$COREDNS"
fi
ln -sfn "$(basename "$COREDNS")" "$BIN/coredns"
echo "$BIN"
