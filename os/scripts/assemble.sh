#!/bin/bash
# Stage 2 of the dlite guest OS build: base tarball -> vmlinuz, initrd.img, root.img
# Usage: assemble.sh BASE_TAR WORK_DIR OUT_DIR
# Env: DLITE_OS_VERSION (stamped into /etc/dlite-release), DLITE_OS_BROKEN=1 (an
#      image whose initrd never boots the root: for watchdog tests),
#      DLITE_OS_COMP (squashfs compressor, default zstd)
set -euo pipefail
base=$1 work=$2 out=$3
osdir=$(cd "$(dirname "$0")/.." && pwd)
version=${DLITE_OS_VERSION:-dev}
comp=${DLITE_OS_COMP:-zstd}
log() { printf '[os:assemble] %s\n' "$*" >&2; }

rm -rf "$work"; mkdir -p "$work/root" "$work/initrd" "$out"
root=$work/root
log "unpacking base"
tar -C "$root" --numeric-owner -xpf "$base"

kver=$(ls "$root/usr/lib/modules" | head -n1)
[ -n "$kver" ] || { log "no kernel modules in base"; exit 1; }
cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
docker_version=$(chroot "$root" dpkg-query -W -f '${Version}' docker.io)
containerd_version=$(chroot "$root" dpkg-query -W -f '${Version}' containerd)
runc_version=$(chroot "$root" dpkg-query -W -f '${Version}' runc)
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' | sort > "$out/packages.txt"

# ---------------------------------------------------------------- modules
log "selecting kernel modules for $kver"
mdir=$root/usr/lib/modules/$kver
keep_prefixes=(
  kernel/net/netfilter kernel/net/ipv4 kernel/net/ipv6 kernel/net/bridge kernel/net/802
  kernel/net/llc kernel/net/8021q kernel/net/9p kernel/net/vmw_vsock kernel/net/sched
  kernel/net/core kernel/net/xfrm kernel/net/key kernel/net/packet kernel/net/unix
  kernel/fs/overlayfs kernel/fs/squashfs kernel/fs/ext4 kernel/fs/jbd2 kernel/fs/mbcache
  kernel/fs/9p kernel/fs/netfs kernel/fs/fuse kernel/fs/nls/nls_utf8 kernel/fs/isofs
  kernel/drivers/virtio kernel/drivers/block/virtio_blk kernel/drivers/net/virtio_net
  kernel/drivers/net/net_failover kernel/drivers/net/veth kernel/drivers/net/macvlan
  kernel/drivers/net/ipvlan kernel/drivers/net/vxlan kernel/drivers/net/dummy
  kernel/drivers/net/tun kernel/drivers/net/bonding kernel/drivers/net/wireguard
  kernel/drivers/char/hw_random/virtio-rng kernel/drivers/firmware/qemu_fw_cfg
  kernel/drivers/acpi/button kernel/drivers/input/evdev kernel/drivers/scsi/virtio_scsi
  kernel/drivers/scsi/sd_mod kernel/drivers/scsi/scsi_mod kernel/drivers/scsi/sr_mod
  kernel/drivers/cdrom kernel/lib kernel/crypto kernel/arch/x86/crypto
)
want=$work/modules.want
: > "$want"
(cd "$mdir" && find kernel -name '*.ko*') | while read -r m; do
  case "$m" in */test_*|*rdma*|kernel/drivers/infiniband/*) continue ;; esac
  for p in "${keep_prefixes[@]}"; do
    case "$m" in "$p"*) echo "$m" >> "$want"; break;; esac
  done
done
# dependency closure over modules.dep
closure=$work/modules.keep
sort -u "$want" > "$closure"
while :; do
  before=$(wc -l < "$closure")
  awk -F':' 'NR==FNR { k[$1]=1; next } ($1 in k) { n=split($2, d, " "); for (i=1;i<=n;i++) print d[i] }' \
    "$closure" "$mdir/modules.dep" | cat - "$closure" | sort -u > "$closure.new"
  mv "$closure.new" "$closure"
  [ "$(wc -l < "$closure")" = "$before" ] && break
done
(cd "$mdir" && find kernel -name '*.ko*') | sort > "$work/modules.all"
comm -23 "$work/modules.all" "$closure" | (cd "$mdir" && xargs -r rm -f)
find "$mdir/kernel" -type d -empty -delete
# uncompress what is kept: squashfs compresses it better, and the guest skips
# in-kernel xz decompression on every modprobe (slow under TCG)
find "$mdir/kernel" -name '*.ko.xz' -print0 | xargs -0 -r -P2 -n 64 xz -d
find "$mdir/kernel" -name '*.ko.zst' -print0 | xargs -0 -r -P2 -n 64 zstd -q -d --rm
chroot "$root" depmod -a "$kver"
log "kept $(wc -l < "$closure") of $(wc -l < "$work/modules.all") modules"

# ---------------------------------------------------------------- initrd
log "building initrd"
ird=$work/initrd
mkdir -p "$ird"/{bin,dev,proc,sys,mnt/lower,mnt/rw,newroot,lib/modules}
cp "$root/usr/bin/busybox" "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
# everything the boot needs before docker: the root disk, the data disk (ext4), settings
# (qemu_fw_cfg), the NIC, entropy and the power button; insmod from RAM is the cheapest
# (virtio_console, the readiness and control ports, is built into Debian's kernel)
for m in virtio_blk squashfs overlay crc16 mbcache jbd2 ext4 qemu_fw_cfg failover net_failover virtio_net \
    virtio_rng evdev button; do
  path=$(awk -F':' -v m="$m" '{ n=split($1,a,"/"); b=a[n]; sub(/\.ko.*/,"",b); gsub(/-/,"_",b); if (b==m) { print $1; exit } }' "$mdir/modules.dep")
  [ -n "$path" ] || { log "module $m not found"; exit 1; }
  deps=$(awk -F':' -v p="$path" '$1==p { print $2 }' "$mdir/modules.dep")
  for d in $(echo $deps | tr ' ' '\n' | tac) $path; do
    bn=$(basename "$d")
    [ -e "$ird/lib/modules/$bn" ] && continue
    cp "$mdir/$d" "$ird/lib/modules/$bn"
    echo "$bn" >> "$ird/lib/modules/order"
  done
done
install -m 0755 "$osdir/initrd/init" "$ird/init"
if [ "${DLITE_OS_BROKEN:-0}" = 1 ]; then
  touch "$ird/broken"
  log "DLITE_OS_BROKEN=1: this initrd will hang before the root is mounted"
fi
(cd "$ird" && find . -print0 | sort -z | cpio --null -o -H newc --quiet --reproducible 2>/dev/null \
  || find . -print0 | sort -z | cpio --null -o -H newc --quiet) | zstd -q -19 -T0 > "$out/initrd.img"

# ---------------------------------------------------------------- root
log "configuring root"
# things a read-only docker VM never uses
rm -rf "$root"/boot "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/info \
  "$root"/usr/share/locale "$root"/usr/share/lintian "$root"/usr/share/zsh "$root"/usr/share/bash-completion \
  "$root"/var/cache/* "$root"/var/lib/apt/lists/* "$root"/var/log/* \
  "$root"/usr/lib/systemd/system "$root"/usr/lib/systemd/user "$root"/usr/lib/systemd/systemd-* \
  "$root"/usr/lib/systemd/libsystemd-shared* "$root"/usr/lib/x86_64-linux-gnu/systemd \
  "$root"/usr/bin/systemctl "$root"/usr/bin/systemd* "$root"/usr/bin/journalctl "$root"/usr/bin/busctl \
  "$root"/usr/bin/loginctl "$root"/usr/bin/hostnamectl "$root"/usr/bin/timedatectl "$root"/usr/bin/localectl \
  "$root"/usr/bin/networkctl "$root"/usr/bin/resolvectl "$root"/usr/bin/udevadm "$root"/usr/lib/udev \
  "$root"/usr/bin/ctr "$root"/usr/bin/containerd-stress "$root"/usr/bin/containerd-shim \
  "$root"/usr/bin/containerd-shim-runc-v1 \
  "$root"/usr/share/initramfs-tools "$root"/usr/lib/initramfs-tools "$root"/etc/initramfs-tools \
  "$root"/usr/sbin/update-initramfs* "$root"/usr/sbin/mkinitramfs "$root"/usr/bin/unmkinitramfs \
  "$root"/usr/lib/firmware "$root"/usr/share/perl5 "$root"/usr/lib/x86_64-linux-gnu/perl-base \
  "$root"/usr/bin/perl* "$root"/usr/share/zoneinfo/right "$root"/usr/share/zoneinfo/posix \
  "$root"/usr/lib/x86_64-linux-gnu/gconv \
  "$root"/var/lib/dpkg "$root"/usr/bin/localedef "$root"/usr/share/i18n "$root"/usr/sbin/sudo_logsrvd \
  "$root"/usr/bin/cvtsudoers "$root"/usr/share/common-licenses "$root"/usr/lib/x86_64-linux-gnu/sudo/sudo_intercept.so \
  "$root"/usr/share/initramfs-tools "$root"/usr/lib/modprobe.d/systemd.conf
# busybox is PID 1 (init, acpid, udhcpc)
ln -sf /usr/bin/busybox "$root/sbin/init" 2>/dev/null || ln -sf /usr/bin/busybox "$root/usr/sbin/init"
# busybox applets the Debian packages do not provide (ip, usleep, acpid, udhcpc, ...)
# as a fallback directory at the end of the guest scripts' PATH
mkdir -p "$root/usr/lib/dlite/bin"
for a in $(chroot "$root" /usr/bin/busybox --list); do
  case "$a" in init|linuxrc|busybox) continue ;; esac
  found=
  for d in usr/bin usr/sbin bin sbin; do [ -e "$root/$d/$a" ] && { found=1; break; }; done
  [ -n "$found" ] || ln -s /usr/bin/busybox "$root/usr/lib/dlite/bin/$a"
done
# user docker: no password (but not locked, so key auth works without PAM), sudo without one
chroot "$root" useradd -m -s /bin/bash -g docker -G sudo docker
chroot "$root" usermod -p '*' docker
# the overlay files (inittab, init scripts, sshd_config, sudoers, acpi action)
# (owned by root whoever owns the checkout: a user-owned /etc/sudoers.d in the guest would be the user's to edit)
cp -a --no-preserve=ownership "$osdir/rootfs/." "$root/"
# the share-events agent holds directories open, which a shell cannot: a static C program built here
cc -static -O2 -Wall -Wextra -Werror -o "$root/usr/lib/dlite/share-events-agent" "$osdir/src/share-events-agent.c"
chmod 0440 "$root/etc/sudoers.d/dlite"
chmod 0755 "$root"/usr/lib/dlite/rc.* "$root"/usr/lib/dlite/udhcpc.script "$root"/usr/lib/dlite/clock-agent "$root/etc/acpi/PWRF/00000080"
rm -f "$root"/etc/ssh/ssh_host_* "$root/etc/machine-id" "$root/etc/hostname"
mkdir -p "$root/mnt/data" "$root/mnt/root-ro" "$root/mnt/root-rw" "$root/etc/docker" "$root/var/lib/docker" "$root/var/lib/containerd" "$root/run" "$root/var/log"
ln -sf /proc/self/mounts "$root/etc/mtab"
ln -sf /run/resolv.conf "$root/etc/resolv.conf"
# iptables on the legacy (x_tables) backend: dockerd runs 70-100 iptables commands before its API answers,
# and under TCG a legacy call took 50-60 ms in the guest against nft's 65-85 ms (and nft's cost grows with
# the ruleset it reads back each time). The dpkg database is gone, so the alternatives are set by hand.
for t in iptables ip6tables; do
  for s in "" -save -restore; do ln -sf "/usr/sbin/$t-legacy$s" "$root/etc/alternatives/$t$s"; done
done
cat > "$root/etc/dlite-release" <<REL
DLITE_OS_VERSION=$version
KERNEL=$kver
DOCKER=$docker_version
CONTAINERD=$containerd_version
REL
echo "dlite" > "$root/etc/hostname"

log "packing root image ($comp)"
rm -f "$out/root.img"
case "$comp" in
  zstd) copts="-comp zstd -Xcompression-level 19" ;;
  xz) copts="-comp xz -Xbcj x86" ;;
  lz4) copts="-comp lz4 -Xhc" ;;
  *) copts="-comp $comp" ;;
esac
# shellcheck disable=SC2086
mksquashfs "$root" "$out/root.img" $copts -b 1M -noappend -no-progress -quiet \
  -no-xattrs -mkfs-time 0 -all-time 0 >/dev/null
cat > "$out/build-info.env" <<INFO
KERNEL_VERSION=$kver
DOCKER_VERSION=$docker_version
CONTAINERD_VERSION=$containerd_version
RUNC_VERSION=$runc_version
INFO
log "done: $(du -sh "$out" | cut -f1)"
