#!/bin/sh
# mmdebstrap --essential-hook: make update-initramfs a no-op inside the chroot.
set -e
chroot "$1" dpkg-divert --quiet --local --divert /usr/sbin/update-initramfs.real --rename --add /usr/sbin/update-initramfs
printf '#!/bin/sh\nexit 0\n' > "$1/usr/sbin/update-initramfs"
chmod 755 "$1/usr/sbin/update-initramfs"
