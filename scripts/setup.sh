#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root) to build, test and run tracejob:
# system packages, kernel filesystems, npm dependencies, the BPF objects, the addon and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool redis-server make g++ pkg-config python3 bpftrace chromium)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing system packages (${missing[*]}); run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/mount-kernel-fs.sh || echo "setup: could not mount bpffs/tracefs (not root?); kernel tests will skip" >&2

npm install --no-audit --no-fund
npm run build

# kube-apiserver + etcd for the Kubernetes tests, built from the Go module proxy once and cached
# (under /var/cache/tracejob); the Kubernetes tests skip, saying why, when they are missing.
if [ "${TRACEJOB_SKIP_CONTROL_PLANE:-0}" != 1 ]; then
  bash test/k8s/build-control-plane.sh >/dev/null ||
    echo "setup: kube-apiserver/etcd not built (Go toolchain missing?); Kubernetes tests will skip" >&2
fi
