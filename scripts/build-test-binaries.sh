#!/usr/bin/env bash
# Builds (or reuses from /var/cache/tracejob) every Go binary the test suite runs, from the Go
# module proxy. Each build script caches its own result; a missing toolchain makes the tests that
# need the binary skip, saying why. Builds run one after the other, each with at most 2 packages
# in parallel, so that a cold CI run on 2 cores stays within its time.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
build() {
  local what="$1"; shift
  local t0=$SECONDS
  if "$@" >/dev/null; then
    echo "build-test-binaries: $what ready ($((SECONDS - t0)) s)"
  else
    echo "build-test-binaries: $what not built; the tests that need it will skip" >&2
    status=1
  fi
}

# The real kube-apiserver + etcd of the Kubernetes tests.
build "control plane (kube-apiserver, etcd)" bash test/k8s/build-control-plane.sh
build "Alertmanager" bash test/alerts/build-alertmanager.sh
# The Debian kernels the CO-RE suite (npm run test:kernels) boots in QEMU.
build "guest kernels (Debian 6.1, 6.12)" bash test/kernels/fetch-kernels.sh
# The real node of test/cluster: container runtime, CoreDNS, kubelet and the other kube binaries.
build "containerd, runc" bash test/cluster/build-runtime.sh
build "CoreDNS" bash test/cluster/build-coredns.sh
build "kubelet, kube-controller-manager, kube-scheduler, kube-proxy, kubectl" bash test/cluster/build-node.sh
build "MinIO" bash test/store/build-minio.sh

# A missing binary is reported above and makes its tests skip; setup itself still succeeds so that
# the rest of the suite runs. CI=true makes it fail instead, so that CI never passes by skipping.
if [ "$status" != 0 ] && [ "${CI:-}" = true ]; then exit 1; fi
exit 0
