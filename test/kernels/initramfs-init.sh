#!/bin/busybox sh
# Stage 1 of a CO-RE guest (npm run test:kernels), the /init of its initramfs: load the virtio and
# 9p modules of the guest kernel, mount the host's root filesystem read-only (9p share "hostroot")
# and switch to it, running stage 2 (test/kernels/guest-run.sh, named by tj.stage2= on the
# kernel command line) with the host's own bash.
/bin/busybox mkdir -p /bin /proc /sys /dev /newroot
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules/load-order); do
  insmod "/modules/$m" 2>/dev/null || echo "init: insmod $m failed (built in?)"
done
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose hostroot /newroot; then
  echo "init: cannot mount the host root over 9p"
  echo o > /proc/sysrq-trigger
fi
stage2=$(sed -n 's/.*tj\.stage2=\([^ ]*\).*/\1/p' /proc/cmdline)
mount --move /dev /newroot/dev
mount --move /sys /newroot/sys
mount --move /proc /newroot/proc
exec switch_root /newroot /bin/bash "$stage2"
