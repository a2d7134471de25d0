#!/bin/sh
# initramfs-tools local-top: the slot becomes the root through dm-verity when GRUB's script put the
# slot's recorded root hash on the kernel command line (slipway.verity=, slipway.verity_offset=), so
# every block read from it is checked against that hash and a block that does not match is a read
# error. No hash (or all zeros: nothing recorded) leaves the root as it is, unverified, and says so.
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /scripts/functions

hash=""
offset=""
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    slipway.verity=*) hash="${arg#slipway.verity=}" ;;
    slipway.verity_offset=*) offset="${arg#slipway.verity_offset=}" ;;
  esac
done
case "$hash" in
  "" | 0000000000000000000000000000000000000000000000000000000000000000)
    echo "slipway: no dm-verity root hash recorded for this slot: its root is not verified"
    exit 0 ;;
esac
case "$hash" in *[!0-9a-f]*) panic "slipway: the dm-verity root hash on the command line is not hex: $hash" ;; esac
case "$offset" in "" | *[!0-9]*) panic "slipway: slipway.verity_offset is not a byte count: $offset" ;; esac

modprobe dm_verity
case "$ROOT" in
  PARTLABEL=*) device="/dev/disk/by-partlabel/${ROOT#PARTLABEL=}" ;;
  *) panic "slipway: dm-verity needs root=PARTLABEL=..., not root=$ROOT" ;;
esac
for i in $(seq 1 100); do [ -b "$device" ] && break; sleep 0.2; done
[ -b "$device" ] || panic "slipway: the root $device did not appear"
# The initramfs carries no device-mapper udev rules: libdevmapper makes the node itself.
DM_DISABLE_UDEV=1 veritysetup open "$device" slipway-root "$device" "$hash" --hash-offset="$offset" ||
  panic "slipway: dm-verity could not be set up on $device with root hash $hash"
echo "slipway: root $device verified by dm-verity, root hash $hash"
# local_mount_root mounts ROOT; scripts run from ORDER, which reads /conf/param.conf after each.
echo "ROOT=/dev/mapper/slipway-root" >> /conf/param.conf
