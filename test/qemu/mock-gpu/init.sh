#!/bin/busybox sh
# /init of the mock-GPU guest (scripts/qemu-ci/mock-gpu.mjs): loads the PF
# driver, provisions the
# VFs' LMEM the way a user of xe's sriov_admin files does, enables the VFs,
# binds each to vfio-pci, and runs lmem-check on each VF. (The importer's side,
# RFC 7/8's translation on this device, is iovh's catalog: iovh qemu --device
# mock-gpu runs edge/*.)
# Kernel parameters: mockgpu.vfs=N (VFs to enable), mockgpu.plan=P (the
# provisioning: "vf:blocks;vf:quota=bytes;...", blocks space separated as
# written to lmem_blocks; "-" leaves the automatic provisioning).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

step() { echo "MOCKGPU-STEP $*"; }
fail() {
	echo "MOCKGPU-ERROR $*"
	echo "MOCKGPU-DONE rc=1"
	poweroff -f
}

VFS=2
PLAN=-
for a in $(cat /proc/cmdline); do
	case "$a" in
	mockgpu.vfs=*) VFS=${a#mockgpu.vfs=} ;;
	mockgpu.plan=*) PLAN=${a#mockgpu.plan=} ;;
	esac
done

step insmod
insmod /iovh_mock_gpu.ko || fail "insmod iovh_mock_gpu.ko"

PF=
for d in /sys/bus/pci/devices/*; do
	if [ -e "$d/sriov_admin/geometry" ]; then
		PF=$(basename "$d")
		break
	fi
done
[ -n "$PF" ] || fail "no PF bound to iovh_mock_gpu"
P=/sys/bus/pci/devices/$PF
echo "MOCKGPU-PF $PF $(cat $P/vendor):$(cat $P/device) totalvfs=$(cat $P/sriov_totalvfs) offset=$(cat $P/sriov_offset) stride=$(cat $P/sriov_stride)"
echo "MOCKGPU-GEOMETRY $(cat $P/sriov_admin/geometry)"
# The port above the PF: its bus range must cover VFs past the PF's bus.
PORT=$(basename "$(dirname "$(readlink -f "$P")")")
echo "MOCKGPU-PORT $PORT buses $(hexdump -s 0x18 -n 3 -e '3/1 "%02x "' "/sys/bus/pci/devices/$PORT/config")(primary secondary subordinate)"

step provision
if [ "$PLAN" != "-" ]; then
	echo "$PLAN" | tr ';' '\n' | while IFS=: read -r vf what; do
		[ -n "$vf" ] || continue
		case "$what" in
		quota=*) echo "${what#quota=}" > "$P/sriov_admin/vf$vf/profile/vram_quota" || exit 1 ;;
		*) echo "$what" | tr '_' ' ' > "$P/sriov_admin/vf$vf/lmem_blocks" || exit 1 ;;
		esac
	done || fail "provisioning '$PLAN'"
fi

step enable
echo 0 > "$P/sriov_drivers_autoprobe"
echo "$VFS" > "$P/sriov_numvfs" || fail "echo $VFS > sriov_numvfs"

RC=0
VFLIST=
i=0
while [ "$i" -lt "$VFS" ]; do
	VF=$(basename "$(readlink "$P/virtfn$i")")
	id=$((i + 1))
	echo "MOCKGPU-VF $id $VF blocks=[$(cat $P/sriov_admin/vf$id/lmem_blocks)] quota=$(cat $P/sriov_admin/vf$id/profile/vram_quota)"
	step "bind VF$id"
	echo vfio-pci > "/sys/bus/pci/devices/$VF/driver_override"
	echo "$VF" > /sys/bus/pci/drivers_probe
	[ -e "/sys/bus/pci/devices/$VF/driver" ] || fail "VF$id $VF did not bind to vfio-pci"
	VFLIST="$VFLIST $VF"
	i=$id
done


id=0
for VF in $VFLIST; do
	id=$((id + 1))
	step "check VF$id"
	/lmem-check "$PF" "$VF" "$id" || RC=1
done

step dmesg
dmesg | grep -E 'iovh_mock_gpu|iovh_ic|RFC 7/8|vfio|BUG|WARNING|KASAN|pci 0000:0[0-9]:' | tail -n 80
echo "MOCKGPU-DONE rc=$RC"
poweroff -f
