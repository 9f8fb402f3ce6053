#!/usr/bin/env bash
# Installs the Rust virtiofsd (1.x), which serves a VM's shares as the user who runs the VM, on a Debian 12 host
# whose own archive carries only QEMU's C virtiofsd (it insists on root). Debian 13's package needs glibc 2.39, so
# it goes, with Debian 13's glibc and its three other libraries, into a directory of its own, and a launcher at
# /usr/local/libexec/virtiofsd (where dlite looks) starts it through that glibc's loader. The packages come
# through apt from Debian's signed trixie index, so apt checks every file's sha256 against it.
# Run as root. Idempotent: nothing happens when a Rust virtiofsd is already installed.
set -euo pipefail

prefix=/usr/local/lib/dlite-virtiofsd
launcher=/usr/local/libexec/virtiofsd
packages=(virtiofsd libc6 libcap-ng0 libseccomp2 libgcc-s1)

if [[ $(id -u) -ne 0 ]]; then echo "install-virtiofsd: run as root (sudo $0)" >&2; exit 1; fi
for found in /usr/libexec/virtiofsd "$launcher"; do
  if [[ -x $found ]] && "$found" --version 2>/dev/null | grep -Eq '^virtiofsd v?[0-9]+\.[0-9]+'; then
    echo "install-virtiofsd: $found is a Rust virtiofsd already"; exit 0
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
: > "$work/status"
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' > "$work/sources.list"
apt_opts=(-qq -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::status=$work/status"
  -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update
(cd "$work/debs" && apt-get "${apt_opts[@]}" download "${packages[@]}")
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

staged="$prefix.new"
rm -rf "$staged"
mkdir -p "$staged/lib"
lib="$work/root/usr/lib/x86_64-linux-gnu"
cp -a "$lib"/ld-linux-x86-64.so.2 "$lib"/libc.so.6 "$lib"/libm.so.6 "$lib"/libgcc_s.so.1 \
  "$lib"/libcap-ng.so.0* "$lib"/libseccomp.so.2* "$staged/lib/"
cp "$work/root/usr/libexec/virtiofsd" "$staged/virtiofsd"
chown -R root:root "$staged"
chmod -R go-w "$staged"
"$staged/lib/ld-linux-x86-64.so.2" --library-path "$staged/lib" "$staged/virtiofsd" --version | grep -Eq '^virtiofsd [0-9]' ||
  { echo "install-virtiofsd: the staged virtiofsd does not run" >&2; exit 1; }
rm -rf "$prefix"
mv "$staged" "$prefix"

mkdir -p "$(dirname "$launcher")"
cat > "$launcher.new" <<LAUNCHER
#!/bin/sh
# Debian 13's virtiofsd with its own glibc (scripts/install-virtiofsd.sh in dlite)
exec $prefix/lib/ld-linux-x86-64.so.2 --library-path $prefix/lib $prefix/virtiofsd "\$@"
LAUNCHER
chmod 755 "$launcher.new"
mv "$launcher.new" "$launcher"
echo "install-virtiofsd: $("$launcher" --version) at $launcher"
