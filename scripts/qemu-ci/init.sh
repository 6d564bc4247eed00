#!/bin/busybox sh
# /init of the QEMU CI guest (busybox sh). Loads the variant's modules, mounts
# the host's root (read-only) and the results folder over 9p, runs the guest
# program with this host's node inside a chroot of the host root (the program
# brings up the VFs with iovh's own commands), and ends with exactly one
#   IOVH-VERDICT <nonce> rc=<n> | timeout | error=<step>
# line, which the host parses, then powers off. Progress lines start with
# "IOVH-QEMU <uptime>" so the host can tell where a guest stopped. Those lines
# go to the verdict channel (the second serial port, iovh.channel=ttyS1), where
# printk never writes, and to the console for whoever reads the log.
# Parameters come from the kernel command line (iovh.*).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
# kmemleak's own scan thread (first scan a minute after boot, then every 10 minutes) stops here: iovh scans
# when it measures, inside a scenario's window (src/harness/monitors.ts). An automatic scan in the middle of
# the run costs the step it lands in minutes on a KASAN guest under TCG (every step waits on it), and reports a
# leak of one step in another's window. `scan=off` only stops the thread (mm/kmemleak.c kmemleak_write).
[ -e /sys/kernel/debug/kmemleak ] && echo scan=off > /sys/kernel/debug/kmemleak 2>/dev/null

CMDLINE=$(cat /proc/cmdline)
VARIANT=; NONCE=none; NODE=; RUN=; NUMVFS=2; GTIMEOUT=60; REPO=; CHANNEL=; ARGS=; INSMOD=
RESULTS=/run/iovh-results
for a in $CMDLINE; do
  case $a in
    iovh.variant=*) VARIANT=${a#iovh.variant=} ;;
    iovh.nonce=*) NONCE=${a#iovh.nonce=} ;;
    iovh.node=*) NODE=${a#iovh.node=} ;;
    iovh.run=*) RUN=${a#iovh.run=} ;;
    iovh.repo=*) REPO=${a#iovh.repo=} ;;
    iovh.numvfs=*) NUMVFS=${a#iovh.numvfs=} ;;
    iovh.timeout=*) GTIMEOUT=${a#iovh.timeout=} ;;
    iovh.channel=*) CHANNEL=/dev/${a#iovh.channel=} ;;
    iovh.args=*) ARGS=$(echo "${a#iovh.args=}" | tr , ' ') ;;
    iovh.insmod=*) INSMOD=$(echo "${a#iovh.insmod=}" | tr , ' ') ;;
  esac
done

# Each line is written with its own open and close of the channel: the last
# close waits until the UART has sent everything, so a verdict written just
# before poweroff still reaches the host.
say() {
  echo "$*"
  [ -c "$CHANNEL" ] && echo "$*" > "$CHANNEL"
}
step() { say "IOVH-QEMU $(cut -d' ' -f1 /proc/uptime) $*"; }
# Sanitizer and detector reports (KASAN, lockdep, hung tasks, WARN, kmemleak)
# are printed at levels the console hides under 'quiet'; copy them to the
# console so the host's log, and its verdict, see them.
complaints() {
  # The markers of the detector checks' deliberate reports, and of the last
  # run's (bugs/*, test/qemu/guest/flow.mjs), come along, so the host can tell
  # those from the rest.
  dmesg | grep -E 'BUG: |WARNING: |Oops|general protection fault|kernel BUG at|INFO: task .* blocked for more than|possible (circular|recursive) locking|inconsistent lock state|kmemleak: [0-9]+ new suspected|UBSAN:|iovh: expected kernel reports|iovh: kernel reports of the last run' > /tmp/complaints 2>/dev/null
  if [ -s /tmp/complaints ]; then
    echo "--- kernel complaints in dmesg ($(wc -l < /tmp/complaints) lines; first 40):"
    head -n 40 /tmp/complaints
  fi
}
verdict() {
  sync
  complaints
  say "IOVH-VERDICT $NONCE $1"
  poweroff -f
  # poweroff -f does not return; if it ever did, do not let init exit (that panics).
  while :; do sleep 60; done
}
die() {
  step="$1"; shift
  say "IOVH-QEMU-ERROR $step: $*"
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
# Writable scratch on /run only: a tmpfs on /tmp would hide a checkout there.
mount -t tmpfs tmpfs /host/run || die mount "tmpfs on /run"
mkdir -p /host/run/tmp
mkdir -p "/host$RESULTS"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none results "/host$RESULTS" || die mount "9p results share on $RESULTS"
[ -n "$REPO" ] && [ -d "/host$REPO" ] || die params "no checkout '$REPO' in the host root"
step "shares mounted"

# Out-of-tree modules asked for (iovh qemu --insmod), read from the host root,
# with their "<module>.<param>=<value>" arguments from the command line, as
# above (e.g. iovh_mock_gpu.translation=fixed: iovh qemu --device
# mock-gpu,translation=fixed).
for ko in $INSMOD; do
  mod=${ko##*/}
  mod=$(echo "${mod%.ko}" | tr - _)
  params=
  for a in $CMDLINE; do case $a in "$mod".*) params="$params ${a#$mod.}" ;; esac; done
  # shellcheck disable=SC2086
  out=$(insmod "/host$ko" $params 2>&1) || die insmod "insmod $ko$params: $out"
  step "insmod $ko$params"
done

[ -n "$NODE" ] && [ -n "$RUN" ] || die params "no iovh.node or iovh.run"
# A guest watchdog below the host's wall-clock limit: if the program hangs
# (e.g. in D state), list the blocked tasks (sysrq w) before giving up, so the
# log says where the kernel is stuck.
(
  sleep "$GTIMEOUT"
  say "IOVH-QEMU-ERROR run: guest program still running after ${GTIMEOUT}s; blocked tasks follow"
  echo w > /proc/sysrq-trigger
  dmesg | tail -n 80
  verdict timeout
) &
WATCHDOG=$!
step "run $RUN"
# $ARGS is split on spaces but must not be globbed (a --filter 'vfio.*').
set -f
# shellcheck disable=SC2086
chroot /host /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/run/tmp TMPDIR=/run/tmp IOVH_QEMU_GUEST=1 NO_COLOR=1 \
  IOVH_STATE_DIR=/run/iovh IOVH_QEMU_CHANNEL="$CHANNEL" "$NODE" --jitless "$RUN" --out "$RESULTS/results.json" \
  --nonce "$NONCE" --variant "$VARIANT" --numvfs "$NUMVFS" --repo "$REPO" $ARGS
RC=$?
set +f
kill "$WATCHDOG" 2>/dev/null
step "run exited rc=$RC"
if [ "$RC" != 0 ]; then
  echo "--- dmesg (last 40 lines)"
  dmesg | tail -n 40
fi
umount "/host$RESULTS" 2>/dev/null
verdict "rc=$RC"
