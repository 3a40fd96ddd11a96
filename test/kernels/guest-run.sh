#!/bin/bash
# Stage 2 of a CO-RE guest (npm run test:kernels), run by the initramfs with the host's root
# filesystem mounted read-only as / : give the tests what a booted machine has (tmpfs for /tmp and
# /run, cgroup v2, bpffs, tracefs, loopback, this kernel's modules), run the bundled test files named in
# the results share's job.env with node's test runner, write the results there, power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
off() { sync; echo o > /proc/sysrq-trigger; sleep 10; }
trap off EXIT
for d in /tmp /run /var/tmp /root; do mount -t tmpfs tmpfs "$d"; done
mkdir -p /tmp/results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 results /tmp/results || exit 1
exec >/tmp/results/guest.log 2>&1
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# as systemd does: the controllers the tests use, available to child cgroups (oomkill needs memory)
echo '+memory +io +pids +cpu' > /sys/fs/cgroup/cgroup.subtree_control
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
release="$(uname -r)"
# shellcheck disable=SC1091
. /tmp/results/job.env   # REPO, KERNEL_ROOT (holds lib/modules/<release>), TESTS (the bundled test files)
# the root is read-only and has no modules of this kernel: the kernel's module requests (iptables,
# netns, loop ...) go to a modprobe that looks in the unpacked package
printf '#!/bin/sh\nexec /usr/sbin/modprobe -d %s "$@"\n' "$KERNEL_ROOT" > /tmp/modprobe
chmod +x /tmp/modprobe
echo /tmp/modprobe > /proc/sys/kernel/modprobe
# a booted system loads loop for /dev/loop-control (udev, kmod static nodes); the blockio test needs it
/tmp/modprobe loop 2>/dev/null
ip link set lo up
echo "guest: kernel $release, $(nproc) cpu(s), BTF $( [ -r /sys/kernel/btf/vmlinux ] && echo yes || echo no )"
cd "$REPO" || exit 1
start=$(date +%s)
TRACEJOB_FROM_SOURCE=1 node \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./test/kernels/result-reporter.mjs --test-reporter-destination=/tmp/results/results.jsonl \
  "$TESTS"
echo $? > /tmp/results/exit-code
echo "guest: tests took $(( $(date +%s) - start )) s"
