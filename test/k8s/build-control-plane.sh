#!/usr/bin/env bash
# Builds the test control plane — kube-apiserver and etcd — from the Go module proxy,
# and caches the binaries so later runs skip the build.
#
#   test/k8s/build-control-plane.sh          build (or reuse) and print the bin directory
#
# Recipe: a throwaway Go module requires k8s.io/kubernetes at a pinned release and
# replaces every k8s.io/* staging module (required as v0.0.0 by k8s.io/kubernetes,
# which only works inside its own repository) by the matching v0.Y.Z release; etcd
# is built from go.etcd.io/etcd/server/v3's etcdmain at the version that
# Kubernetes release itself uses.
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
WORK="$CACHE/k8s-build/$KUBE_VERSION"
mkdir -p "$WORK/cmd/etcd"
cd "$WORK"

minor="${KUBE_VERSION#v1.}"              # 35.4
staging_version="v0.$minor"              # v0.35.4

if [ ! -f go.mod ]; then
  go mod init tracejob.test/control-plane >/dev/null 2>&1
fi
cat > cmd/etcd/main.go <<'GO'
// etcd for the tracejob test control plane: the upstream etcdmain entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO

# The staging modules k8s.io/kubernetes requires as v0.0.0.
goproxy="${GOPROXY:-$(go env GOPROXY)}"
mod_url="${goproxy%%,*}"
[ "$mod_url" = "off" ] || [ -z "$mod_url" ] || [ "$mod_url" = "direct" ] && mod_url="https://proxy.golang.org"
staging=$(curl -fsSL "$mod_url/k8s.io/kubernetes/@v/$KUBE_VERSION.mod" \
  | sed -nE 's/^[[:space:]]*(k8s\.io\/[A-Za-z0-9._-]+) v0\.0\.0$/\1/p' | sort -u)
if [ -z "$staging" ]; then
  echo "build-control-plane: could not read k8s.io/kubernetes@$KUBE_VERSION's go.mod from $mod_url" >&2
  exit 1
fi
for m in $staging; do
  go mod edit -replace="$m=$m@$staging_version"
done
go mod edit -require="k8s.io/kubernetes@$KUBE_VERSION" -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"

export GOFLAGS="${GOFLAGS:-} -mod=mod -p=2"
echo "build-control-plane: resolving modules (kubernetes $KUBE_VERSION, etcd $ETCD_VERSION) in $WORK" >&2
nice -n 10 go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" "go.etcd.io/etcd/server/v3/etcdmain@$ETCD_VERSION" >&2
# Kubernetes pins the etcd it was tested with; do not let `go get` move it.
go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"

if [ ! -x "$ETCD" ]; then
  echo "build-control-plane: building etcd $ETCD_VERSION" >&2
  nice -n 10 go build -trimpath -ldflags='-s -w' -o "$ETCD.tmp" ./cmd/etcd
  mv "$ETCD.tmp" "$ETCD"
fi
if [ ! -x "$APISERVER" ]; then
  echo "build-control-plane: building kube-apiserver $KUBE_VERSION (takes a while)" >&2
  major=1
  minor_only="${minor%%.*}"
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor_only -X k8s.io/component-base/version.gitTreeState=clean"
  nice -n 10 go build -trimpath -ldflags="$ldflags" -o "$APISERVER.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$APISERVER.tmp" "$APISERVER"
fi
ln -sfn "$(basename "$APISERVER")" "$BIN/kube-apiserver"
ln -sfn "$(basename "$ETCD")" "$BIN/etcd"
echo "$BIN"
