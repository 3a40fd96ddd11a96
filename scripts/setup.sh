#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root) to build and run tracejob: system packages, kernel
# filesystems, npm dependencies, the BPF objects, the addon and the TypeScript.
#
#   bash scripts/setup.sh              what the all-in-one server and the demo need (a few minutes)
#   bash scripts/setup.sh --for-tests  also what the test suite needs: test-only packages and the
#                                      Go binaries the tests run (control plane, …), built once from
#                                      the Go module proxy and cached under /var/cache/tracejob
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=0
for arg in "$@"; do
  case "$arg" in
    --for-tests) for_tests=1 ;;
    *) echo "setup: unknown option $arg (known: --for-tests)" >&2; exit 2 ;;
  esac
done

# What building and running tracejob needs.
packages=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool redis-server make g++ pkg-config python3 curl)
# What only the tests and benchmarks need (references, browser, …).
test_packages=(bpftrace chromium qemu-system-x86 busybox-static kmod libbpf-tools buildah mmdebstrap containernetworking-plugins iptables nftables libseccomp-dev)
[ "$for_tests" = 1 ] && packages+=("${test_packages[@]}")

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
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/mount-kernel-fs.sh || echo "setup: could not mount bpffs/tracefs (not root?); kernel tests will skip" >&2

npm install --no-audit --no-fund
npm run build

if [ "$for_tests" = 1 ]; then
  bash scripts/build-test-binaries.sh
fi
