#!/bin/bash
# Builds the conventional guest the start-to-ready benchmark compares dlite with (issue 8, item 1):
# the dlite base's Debian trixie packages and kernel, but booted the way a standard distro VM
# (Lima/Colima style) boots: systemd as PID 1, Debian's own initramfs (initramfs-tools), a writable
# ext4 root disk, ifupdown with a static address, and docker.io, containerd and ssh as ordinary
# enabled units. dockerd listens on its unix socket and, like dlite's guest, on TLS 2376 with client
# certificates (what the benchmark polls with `docker version`).
#
# Usage: build.sh [MIRROR]   (root; prints the cache directory on stdout, logs on stderr)
# Output: <cache>/baseline-<inputs hash>/{vmlinuz,initrd.img,root.img,id_ed25519,tls/,info.env}, in the OS builder's
# cache directory (os/build.js: DLITE_OS_CACHE, else $XDG_CACHE_HOME/dlite/os, else ~/.cache/dlite/os)
# Cached by the hash of this script, the package list and the mirror; nothing here is committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { echo "[baseline-guest] $*" >&2; }

# The Debian mirror the host's apt uses, as os/build.js picks it.
host_mirror() {
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
    sed -nE 's#^URIs:[[:space:]]*([^[:space:]]+/debian)/?[[:space:]]*$#\1#p; s#^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+/debian)/?[[:space:]].*#\2#p' | head -n1)
  echo "${m:-http://deb.debian.org/debian}"
}
mirror=${1:-${DLITE_OS_MIRROR:-$(host_mirror)}}
suite=trixie arch=amd64

# The dlite guest's package list, read from os/build.js so both guests stay on the same set, plus
# what a conventional boot needs: systemd as init, udev, dbus (logind, systemctl), Debian's
# initramfs generator and ifupdown.
# (the x86_64 kernel package, then COMMON_PACKAGES, as packagesFor('amd64') lists them)
kernel_package=$(sed -n "s/.*guest: 'x86_64', kernel: '\([^']*\)'.*/\1/p" "$repo/os/build.js")
common_packages=$(sed -n '/^const COMMON_PACKAGES = \[/,/^\]/p' "$repo/os/build.js" | grep -o "'[^']*'" | tr -d "'" | paste -sd, -)
[ -n "$kernel_package" ] && [ -n "$common_packages" ] || { log "cannot read the amd64 packages from os/build.js"; exit 1; }
dlite_packages="$kernel_package,$common_packages"
extra=systemd-sysv,udev,dbus,initramfs-tools,zstd,ifupdown,iproute2
packages="$dlite_packages,$extra"

hash=$( { cat "$0"; echo "$suite $arch $mirror $packages"; } | sha256sum | cut -c1-16)
cache="${DLITE_OS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dlite/os}"
out="$cache/baseline-$hash"
if [ -f "$out/info.env" ]; then
  log "cached: $out"
  echo "$out"; exit 0
fi
[ "$(id -u)" = 0 ] || { log "needs root (mmdebstrap --mode=root)"; exit 1; }

t0=$(date +%s)
work="$cache/baseline-$hash.partial"
rm -rf "$work"; mkdir -p "$work/tls"
tree="$work/tree"

# TLS material (docker-machine style) and a root ssh key for the benchmark's after-the-fact
# systemd-analyze / journalctl reads.
(
  cd "$work/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=dlite-baseline-ca -keyout ca-key.pem -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=192.168.64.2 -keyout server-key.pem -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:192.168.64.2\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -extfile server.ext -out server-cert.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout key.pem -out client.csr 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > client.ext
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -extfile client.ext -out cert.pem 2>/dev/null
  rm -f ./*.csr ./*.ext ./*.srl
)
ssh-keygen -q -t ed25519 -N '' -C dlite-baseline -f "$work/id_ed25519"

log "mmdebstrap $suite from $mirror: $packages"
# Same mmdebstrap options as os/scripts/mkbase.sh, except that update-initramfs is not diverted:
# this guest boots from the distribution's own initramfs.
mmdebstrap \
  --mode=root --format=directory --variant=essential --arch="$arch" \
  --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  "$suite" "$tree" "$mirror" >&2

log "configuring the conventional guest"
echo baseline > "$tree/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tbaseline\n' > "$tree/etc/hosts"
echo 'LABEL=baseroot / ext4 rw,discard,errors=remount-ro 0 1' > "$tree/etc/fstab"
# The NIC gets a stable name by MAC (a systemd .link file, as udev applies it), then ifupdown
# configures it statically, as the Debian installer does.
mkdir -p "$tree/etc/systemd/network"
printf '[Match]\nMACAddress=52:54:00:64:00:02\n\n[Link]\nName=eth0\n' > "$tree/etc/systemd/network/10-eth0.link"
cat > "$tree/etc/network/interfaces" <<'NET'
auto lo
iface lo inet loopback

auto eth0
iface eth0 inet static
  address 192.168.64.2/24
  gateway 192.168.64.1
NET
echo 'nameserver 192.168.64.1' > "$tree/etc/resolv.conf"
# dockerd: Debian's docker.service (-H fd:// via docker.socket) plus TLS 2376 through DOCKER_OPTS.
install -d -m 0700 "$tree/etc/docker/tls"
install -m 0644 "$work/tls/ca.pem" "$work/tls/server-cert.pem" "$tree/etc/docker/tls/"
install -m 0600 "$work/tls/server-key.pem" "$tree/etc/docker/tls/"
echo 'DOCKER_OPTS="-H tcp://0.0.0.0:2376 --tlsverify --tlscacert=/etc/docker/tls/ca.pem --tlscert=/etc/docker/tls/server-cert.pem --tlskey=/etc/docker/tls/server-key.pem"' > "$tree/etc/default/docker"
install -d -m 0700 "$tree/root/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$tree/root/.ssh/authorized_keys"
# Units as the packages' postinsts left them; make sure the three services are enabled.
chroot "$tree" systemctl enable docker.service containerd.service ssh.service networking.service >&2
chroot "$tree" systemctl set-default multi-user.target >&2
# Rebuild the initramfs with the .link file in place (initramfs-tools copies it in).
chroot "$tree" update-initramfs -u -k all >&2

kver=$(ls "$tree/lib/modules" | head -n1)
cp "$tree/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$tree/boot/initrd.img-$kver" "$work/initrd.img"
docker_version=$(chroot "$tree" dpkg-query -W -f='${Version}' docker.io)
systemd_version=$(chroot "$tree" dpkg-query -W -f='${Version}' systemd)
npkg=$(chroot "$tree" dpkg-query -W -f='.\n' | wc -l)

log "making the 8 GiB ext4 root disk"
mkfs.ext4 -q -L baseroot -d "$tree" "$work/root.img" 8G
rm -rf "$tree"
cat > "$work/info.env" <<INFO
KERNEL_VERSION=$kver
DOCKER_VERSION=$docker_version
SYSTEMD_VERSION=$systemd_version
PACKAGES=$npkg
MIRROR=$mirror
INITRD_SIZE=$(stat -c %s "$work/initrd.img")
BUILD_SECONDS=$(( $(date +%s) - t0 ))
INFO
rm -rf "$out"; mv "$work" "$out"
log "built $out in $(( $(date +%s) - t0 )) s (kernel $kver, docker $docker_version, systemd $systemd_version)"
echo "$out"
