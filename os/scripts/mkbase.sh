#!/bin/bash
# Stage 1 of the dlite guest OS build: a Debian root tarball from packages.
# Usage: mkbase.sh OUT_TAR SUITE MIRROR ARCH PACKAGES(comma separated)
# Slow (about a minute); build.js caches its output by the hash of these inputs.
set -euo pipefail
out=$1 suite=$2 mirror=$3 arch=$4 packages=$5
here=$(cd "$(dirname "$0")" && pwd)

# The kernel package pulls in initramfs-tools; we build our own initrd, so the
# distribution's update-initramfs is diverted to a no-op before it is installed.
mmdebstrap \
  --mode=root --format=tar --variant=essential --arch="$arch" \
  --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --essential-hook="sh $here/divert-initramfs.sh \"\$1\"" \
  "$suite" "$out.partial" "$mirror"
mv "$out.partial" "$out"
