#!/usr/bin/env bash
# Builds the node and control-plane binaries the real-node tests add to test/k8s's kube-apiserver
# and etcd — kubelet, kube-controller-manager, kube-scheduler, kube-proxy and kubectl — from the
# Go module proxy, and caches them.
#
#   test/cluster/build-node.sh     build (or reuse) and print the bin directory
#
# Same recipe as test/k8s/build-control-plane.sh (a throwaway module requiring k8s.io/kubernetes,
# every staging module replaced by its v0.Y.Z release), in a module directory of its own so that
# it never races that build.
#
# Environment: TRACEJOB_CACHE (default /var/cache/tracejob), KUBE_VERSION.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.35.4}"
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
  WORK="$CACHE/k8s-build/node-$KUBE_VERSION"
  mkdir -p "$WORK"
  cd "$WORK"
  minor="${KUBE_VERSION#v1.}"
  if [ ! -f go.mod ]; then
    go mod init tracejob.test/node >/dev/null 2>&1
    goproxy="${GOPROXY:-$(go env GOPROXY)}"
    mod_url="${goproxy%%,*}"
    [ "$mod_url" = "off" ] || [ -z "$mod_url" ] || [ "$mod_url" = "direct" ] && mod_url="https://proxy.golang.org"
    staging=$(curl -fsSL "$mod_url/k8s.io/kubernetes/@v/$KUBE_VERSION.mod" \
      | sed -nE 's/^[[:space:]]*(k8s\.io\/[A-Za-z0-9._-]+) v0\.0\.0$/\1/p' | sort -u)
    if [ -z "$staging" ]; then
      echo "build-node: could not read k8s.io/kubernetes@$KUBE_VERSION's go.mod from $mod_url" >&2
      rm -f go.mod; exit 1
    fi
    for m in $staging; do go mod edit -replace="$m=$m@v0.$minor"; done
    go mod edit -require="k8s.io/kubernetes@$KUBE_VERSION"
  fi
  export GOFLAGS="${GOFLAGS:-} -mod=mod -p=2"
  pkgs=()
  for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  echo "build-node: resolving modules (kubernetes $KUBE_VERSION) in $WORK" >&2
  nice -n 10 go get "${pkgs[@]/%/@$KUBE_VERSION}" >&2
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*} -X k8s.io/component-base/version.gitTreeState=clean"
  for c in "${missing[@]}"; do
    [ -x "$BIN/$c-$KUBE_VERSION" ] && continue   # built meanwhile by another run
    echo "build-node: building $c $KUBE_VERSION" >&2
    CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags="$ldflags" -o "$BIN/$c-$KUBE_VERSION.tmp" "k8s.io/kubernetes/cmd/$c"
    mv "$BIN/$c-$KUBE_VERSION.tmp" "$BIN/$c-$KUBE_VERSION"
  done
fi
for c in "${CMDS[@]}"; do ln -sfn "$c-$KUBE_VERSION" "$BIN/$c"; done
echo "$BIN"
