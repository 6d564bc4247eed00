#!/bin/busybox sh
# /init of the QEMU CI guest (busybox sh). Loads the variant's modules, mounts
# the host's root (read-only) and the results folder over 9p, brings up the
# emulated PF's VFs and binds VF 0 to vfio-pci, runs the guest program with
# this host's node inside a chroot of the host root, and ends with exactly one
#   IOVH-VERDICT <nonce> rc=<n> | timeout | error=<step>
# line on the serial console, which the host parses, then powers off.
# Progress lines start with "IOVH-QEMU <uptime>" so the host can tell where a
# guest stopped. Parameters come from the kernel command line (iovh.*).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

CMDLINE=$(cat /proc/cmdline)
VARIANT=; NONCE=none; RESULTS=; NODE=; RUN=; NUMVFS=2; GTIMEOUT=60; BRINGUP=sysfs; REPO=
for a in $CMDLINE; do
  case $a in
    iovh.variant=*) VARIANT=${a#iovh.variant=} ;;
    iovh.nonce=*) NONCE=${a#iovh.nonce=} ;;
    iovh.results=*) RESULTS=${a#iovh.results=} ;;
    iovh.node=*) NODE=${a#iovh.node=} ;;
    iovh.run=*) RUN=${a#iovh.run=} ;;
    iovh.repo=*) REPO=${a#iovh.repo=} ;;
    iovh.numvfs=*) NUMVFS=${a#iovh.numvfs=} ;;
    iovh.timeout=*) GTIMEOUT=${a#iovh.timeout=} ;;
    iovh.bringup=*) BRINGUP=${a#iovh.bringup=} ;;
  esac
done

step() { echo "IOVH-QEMU $(cut -d' ' -f1 /proc/uptime) $*"; }
verdict() {
  sync
  echo "IOVH-VERDICT $NONCE $1"
  poweroff -f
  # poweroff -f does not return; if it ever did, do not let init exit (that panics).
  while :; do sleep 60; done
}
die() {
  step="$1"; shift
  echo "IOVH-QEMU-ERROR $step: $*"
  echo "--- dmesg (last 60 lines)"
  dmesg | tail -n 60
  verdict "error=$step"
}

step "init variant=$VARIANT kernel=$(uname -r)"
[ -n "$VARIANT" ] && [ -f "/etc/iovh/$VARIANT.modules" ] || die params "no module list for variant '$VARIANT'"

# insmod does not read the command line the way modprobe does: pass each
# "<module>.<param>=<value>" argument to its module (e.g.
# vfio_iommu_type1.allow_unsafe_interrupts=1 for virtio-iommu).
while read -r ko; do
  [ -n "$ko" ] || continue
  mod=$(echo "${ko%.ko}" | tr - _)
  params=
  for a in $CMDLINE; do case $a in "$mod".*) params="$params ${a#$mod.}" ;; esac; done
  # shellcheck disable=SC2086
  out=$(insmod "/lib/modules/$ko" $params 2>&1) || die modules "insmod $ko$params: $out"
done < "/etc/iovh/$VARIANT.modules"
step "modules loaded"

mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose hostroot /host || die mount "9p host root"
mount -t proc proc /host/proc || die mount "proc in the host root"
mount -o rbind /sys /host/sys || die mount "sys in the host root"
mount -o rbind /dev /host/dev || die mount "dev in the host root"
mount -t tmpfs tmpfs /host/tmp || die mount "tmpfs on /tmp"
mount -t tmpfs tmpfs /host/run || die mount "tmpfs on /run"
[ -n "$RESULTS" ] || die params "no iovh.results"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none results "/host$RESULTS" || die mount "9p results share on $RESULTS"
step "shares mounted"

# Bring-up (kernel-abi §9): the PF is the device with sriov_totalvfs; its
# driver (igb, nvme) must be bound since its sriov_configure creates the VFs.
# Autoprobe off first, so no VF driver grabs the VFs before vfio-pci.
PF=
for d in /sys/bus/pci/devices/*; do
  if [ -e "$d/sriov_totalvfs" ]; then PF=$d; break; fi
done
[ -n "$PF" ] || die bringup "no SR-IOV PF in /sys/bus/pci/devices"
PFBDF=$(basename "$PF")
[ -e "$PF/driver" ] || die bringup "PF $PFBDF has no driver bound (the IOMMU was not ready at probe?)"
echo 0 > "$PF/sriov_drivers_autoprobe" || die bringup "sriov_drivers_autoprobe"
echo "$NUMVFS" > "$PF/sriov_numvfs" || die bringup "enabling $NUMVFS VFs on $PFBDF"
[ -e "$PF/virtfn0" ] || die bringup "PF $PFBDF has no virtfn0 after sriov_numvfs=$NUMVFS"
VF=$(basename "$(readlink "$PF/virtfn0")")
echo vfio-pci > "/sys/bus/pci/devices/$VF/driver_override" || die bringup "driver_override of $VF"
echo "$VF" > /sys/bus/pci/drivers_probe || die bringup "probing $VF with vfio-pci"
DRV=$(basename "$(readlink "/sys/bus/pci/devices/$VF/driver")" 2>/dev/null)
[ "$DRV" = vfio-pci ] || die bringup "VF $VF bound to '$DRV', not vfio-pci"
GROUP=$(basename "$(readlink "/sys/bus/pci/devices/$VF/iommu_group")" 2>/dev/null)
[ -e "/dev/vfio/$GROUP" ] || die bringup "no /dev/vfio/$GROUP for VF $VF"
step "bringup pf=$PFBDF vf=$VF group=$GROUP driver=$DRV"

[ -n "$NODE" ] && [ -n "$RUN" ] || die params "no iovh.node or iovh.run"
# A guest watchdog below the host's wall-clock limit: if the program hangs
# (e.g. in D state), list the blocked tasks (sysrq w) before giving up, so the
# log says where the kernel is stuck.
(
  sleep "$GTIMEOUT"
  echo "IOVH-QEMU-ERROR run: guest program still running after ${GTIMEOUT}s; blocked tasks follow"
  echo w > /proc/sysrq-trigger
  dmesg | tail -n 80
  verdict timeout
) &
WATCHDOG=$!
step "run $RUN"
chroot /host /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp IOVH_QEMU_GUEST=1 \
  "$NODE" "$RUN" --out "$RESULTS/results.json" --nonce "$NONCE" --variant "$VARIANT" \
  --pf "$PFBDF" --vf "$VF" --repo "$REPO"
RC=$?
kill "$WATCHDOG" 2>/dev/null
step "run exited rc=$RC"
if [ "$RC" != 0 ]; then
  echo "--- dmesg (last 40 lines)"
  dmesg | tail -n 40
fi
umount "/host$RESULTS" 2>/dev/null
verdict "rc=$RC"
