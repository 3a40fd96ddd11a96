#!/usr/bin/env bash
# Builds the node and control-plane binaries the real-node tests add to test/k8s's kube-apiserver
# and etcd — kubelet, kube-controller-manager, kube-scheduler, kube-proxy and kubectl — from the
# Go module proxy, and caches them.
#
#   test/cluster/build-node.sh     build (or reuse) and print the bin directory
#
# Built in the same Go module, with the same flags, as test/k8s/build-control-plane.sh
# (test/k8s/kube-module.sh), so a cold build compiles the packages they share once.
#
# Environment: TRACEJOB_CACHE (default /var/cache/tracejob), KUBE_VERSION, ETCD_VERSION.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.5}"
CACHE="${TRACEJOB_CACHE:-/var/cache/tracejob}"
BIN="$CACHE/bin"
CMDS=(kubelet kube-controller-manager kube-scheduler kube-proxy kubectl)

missing=()
for c in "${CMDS[@]}"; do [ -x "$BIN/$c-$KUBE_VERSION" ] || missing+=("$c"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "build-node: the Go toolchain is missing (need go >= 1.25); the real-node tests will skip" >&2
    exit 2
  fi
  mkdir -p "$BIN"
  # shellcheck source=test/k8s/kube-module.sh
  source "$(dirname "${BASH_SOURCE[0]}")/../k8s/kube-module.sh"
  prepare_kube_module
  for c in "${missing[@]}"; do
    [ -x "$BIN/$c-$KUBE_VERSION" ] && continue   # built meanwhile by another run
    build_kube_binary "$c $KUBE_VERSION" "k8s.io/kubernetes/cmd/$c" "$BIN/$c-$KUBE_VERSION"
  done
fi
for c in "${CMDS[@]}"; do ln -sfn "$c-$KUBE_VERSION" "$BIN/$c"; done
echo "$BIN"
