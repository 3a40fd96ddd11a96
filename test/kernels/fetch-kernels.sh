#!/usr/bin/env bash
# Fetches the Debian kernels the CO-RE suite boots (npm run test:kernels) and unpacks each once
# under ${TRACEJOB_CACHE:-/var/cache/tracejob}/kernels/<package>/ (vmlinuz, lib/modules/<release>
# with a fresh modules.dep). Prints one line per kernel: <package> <release> <directory>.
# Packages: the newest bookworm 6.1 (linux-image-6.1.0-N-amd64) and the newest 6.12 built for
# bookworm (linux-image-6.12.*+deb12-amd64-unsigned), both from the machine's apt sources.
set -euo pipefail
cache="${TRACEJOB_CACHE:-/var/cache/tracejob}/kernels"
mkdir -p "$cache"

newest() { apt-cache search --names-only "$1" | awk '{print $1}' | sort -V | tail -n 1; }

for pattern in '^linux-image-6\.1\.0-[0-9]+-amd64$' '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$'; do
  pkg="$(newest "$pattern")"
  [ -n "$pkg" ] || { echo "fetch-kernels: no package matches $pattern (apt-get update?)" >&2; exit 1; }
  dir="$cache/$pkg"
  if [ ! -f "$dir/.ready" ]; then
    work="$(mktemp -d "$cache/.fetch-XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download -q "$pkg" >&2)
    dpkg-deb -x "$work"/*.deb "$work/root"
    release="$(ls "$work/root/lib/modules")"
    cp "$work/root/boot/vmlinuz-$release" "$work/root/vmlinuz"
    # modules.dep is made by the package's postinst, not shipped: make it for the guest's modprobe
    depmod -b "$work/root" "$release"
    echo "$release" > "$work/root/release"
    rm -rf "$dir"
    mv "$work/root" "$dir"
    touch "$dir/.ready"
    rm -rf "$work"
    trap - EXIT
  fi
  echo "$pkg $(cat "$dir/release") $dir"
done
