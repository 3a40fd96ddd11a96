#!/usr/bin/env bash
# Mounts bpffs and tracefs where the kernel offers them and they are not mounted yet.
set -euo pipefail
mounted() { grep -qs " $1 " /proc/mounts; }
if ! mounted /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf; fi
if ! mounted /sys/kernel/tracing && ! mounted /sys/kernel/debug/tracing; then
  mount -t tracefs tracefs /sys/kernel/tracing
fi
