#!/usr/bin/env bash
# Builds the test control plane — kube-apiserver and etcd — from the Go module proxy,
# and caches the binaries so later runs skip the build.
#
#   test/k8s/build-control-plane.sh          build (or reuse) and print the bin directory
#
# Built in the one Kubernetes module of the tests (test/k8s/kube-module.sh), which
# test/cluster/build-node.sh builds the node binaries from too; etcd is built from
# go.etcd.io/etcd/server/v3's etcdmain at the version that Kubernetes release uses.
#
# Environment: TRACEJOB_CACHE (default /var/cache/tracejob), KUBE_VERSION, ETCD_VERSION.
# Gentle on shared machines: at most two packages at a time (-p=2), under nice.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.5}"
CACHE="${TRACEJOB_CACHE:-/var/cache/tracejob}"
BIN="$CACHE/bin"
APISERVER="$BIN/kube-apiserver-$KUBE_VERSION"
ETCD="$BIN/etcd-$ETCD_VERSION"

if [ -x "$APISERVER" ] && [ -x "$ETCD" ]; then
  echo "$BIN"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-control-plane: the Go toolchain is missing (need go >= 1.25); Kubernetes tests will skip" >&2
  exit 2
fi

mkdir -p "$BIN"
# shellcheck source=test/k8s/kube-module.sh
source "$(dirname "${BASH_SOURCE[0]}")/kube-module.sh"
prepare_kube_module
[ -x "$ETCD" ] || build_kube_binary "etcd $ETCD_VERSION" ./cmd/etcd "$ETCD"
[ -x "$APISERVER" ] || build_kube_binary "kube-apiserver $KUBE_VERSION (takes a while)" k8s.io/kubernetes/cmd/kube-apiserver "$APISERVER"
ln -sfn "$(basename "$APISERVER")" "$BIN/kube-apiserver"
ln -sfn "$(basename "$ETCD")" "$BIN/etcd"
echo "$BIN"
