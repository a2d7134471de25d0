#!/bin/sh
# initramfs-tools init-bottom: the slot is the read-only root; /etc is an overlay whose upper layer
# lives on the STATE partition, and /var is that partition's var/ directory.
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /scripts/functions
modprobe overlay
state=/dev/disk/by-partlabel/STATE
for i in $(seq 1 100); do [ -e "$state" ] && break; sleep 0.2; done
mkdir -p /run/slipway/state
mount -t ext4 -o rw,noatime "$state" /run/slipway/state || panic "slipway: cannot mount the STATE partition"
mkdir -p /run/slipway/state/etc /run/slipway/state/.etc-work
# First boot: /var starts as the slot's /var (the image's defaults), then lives on STATE.
if [ ! -d /run/slipway/state/var ]; then
  cp -a "${rootmnt}/var" /run/slipway/state/var.partial && mv /run/slipway/state/var.partial /run/slipway/state/var
fi
mount -t overlay overlay -o "lowerdir=${rootmnt}/etc,upperdir=/run/slipway/state/etc,workdir=/run/slipway/state/.etc-work" "${rootmnt}/etc" || panic "slipway: cannot overlay /etc"
mount --bind /run/slipway/state/var "${rootmnt}/var" || panic "slipway: cannot bind /var"
