#!/usr/bin/env bash
# Sourced by test/k8s/build-control-plane.sh and test/cluster/build-node.sh: prepares the one
# throwaway Go module from which every Kubernetes binary of the tests is built.
#
# One module, resolved once for all of them (kube-apiserver, etcd, kubelet, kube-controller-manager,
# kube-scheduler, kube-proxy, kubectl) and built with the same flags (CGO off, -trimpath), so that
# the packages they share compile once: two modules resolve slightly different versions of shared
# dependencies, and a cgo/no-cgo split changes every package above `net`, which made a cold machine
# compile most of k8s.io twice.
#
# Recipe: the module requires k8s.io/kubernetes at a pinned release and replaces every k8s.io/*
# staging module (required as v0.0.0 by k8s.io/kubernetes, which only works inside its own
# repository) by the matching v0.Y.Z release; etcd's server is pinned to the version that
# Kubernetes release itself uses.
#
# In:  CACHE, KUBE_VERSION, ETCD_VERSION.   Out: KUBE_MODULE (the module dir, cwd), KUBE_LDFLAGS.
# Sets GOFLAGS (-mod=mod -p=2) and CGO_ENABLED=0 for the builds that follow.

KUBE_COMMANDS=(kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy kubectl)
KUBE_MODULE="$CACHE/k8s-build/$KUBE_VERSION"

prepare_kube_module() {
  mkdir -p "$KUBE_MODULE/cmd/etcd"
  cd "$KUBE_MODULE"
  # Two setups (two worktrees) may prepare it at once: one at a time.
  exec 9>"$KUBE_MODULE/.lock"
  flock 9
  local minor="${KUBE_VERSION#v1.}"   # 35.4
  export GOFLAGS="${GOFLAGS:-} -mod=mod -p=2"
  export CGO_ENABLED=0
  KUBE_LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*} -X k8s.io/component-base/version.gitTreeState=clean"
  local want="kubernetes $KUBE_VERSION etcd $ETCD_VERSION commands ${KUBE_COMMANDS[*]}"
  if [ -f .resolved ] && [ "$(cat .resolved)" = "$want" ]; then
    flock -u 9
    return 0
  fi
  [ -f go.mod ] || go mod init tracejob.test/control-plane >/dev/null 2>&1
  cat > cmd/etcd/main.go <<'GO'
// etcd for the tracejob test control plane: the upstream etcdmain entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  local goproxy mod_url staging m
  goproxy="${GOPROXY:-$(go env GOPROXY)}"
  mod_url="${goproxy%%,*}"
  { [ "$mod_url" = "off" ] || [ -z "$mod_url" ] || [ "$mod_url" = "direct" ]; } && mod_url="https://proxy.golang.org"
  staging=$(curl -fsSL "$mod_url/k8s.io/kubernetes/@v/$KUBE_VERSION.mod" \
    | sed -nE 's/^[[:space:]]*(k8s\.io\/[A-Za-z0-9._-]+) v0\.0\.0$/\1/p' | sort -u)
  if [ -z "$staging" ]; then
    echo "kube-module: could not read k8s.io/kubernetes@$KUBE_VERSION's go.mod from $mod_url" >&2
    return 1
  fi
  for m in $staging; do go mod edit -replace="$m=$m@v0.$minor"; done
  go mod edit -require="k8s.io/kubernetes@$KUBE_VERSION" -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  local pkgs=("go.etcd.io/etcd/server/v3/etcdmain@$ETCD_VERSION")
  for m in "${KUBE_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$m@$KUBE_VERSION"); done
  echo "kube-module: resolving modules (kubernetes $KUBE_VERSION, etcd $ETCD_VERSION) in $KUBE_MODULE" >&2
  nice -n 10 go get "${pkgs[@]}" >&2
  # Kubernetes pins the etcd it was tested with; do not let `go get` move it.
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  echo "$want" > .resolved
  flock -u 9
}

# build_kube_binary NAME PACKAGE TARGET: one binary of the module, atomically in place.
build_kube_binary() {
  echo "kube-module: building $1" >&2
  nice -n 10 go build -trimpath -ldflags="$KUBE_LDFLAGS" -o "$3.tmp" "$2"
  mv "$3.tmp" "$3"
}
