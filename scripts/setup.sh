#!/usr/bin/env bash
# Sets up a Debian/Ubuntu machine to build, run and test dlite: system packages (only those missing),
# npm dependencies (only when the lockfile changed), the native addon and TypeScript build, and the guest
# OS images (cached by their inputs): x86_64 in os/dist, arm64 in os/dist-arm64. Idempotent, and fast when
# nothing is missing.
#   scripts/setup.sh             everything
#   scripts/setup.sh --no-os     skip the guest OS builds
#   scripts/setup.sh --no-arm64  skip the arm64 image (its emulator, cross tools and build; its e2e then skips)
set -euo pipefail
cd "$(dirname "$0")/.."

build_os=1
arm64=1
for arg in "$@"; do
  case "$arg" in
    --no-os) build_os=0 ;;
    --no-arm64) arm64=0 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

# What needs root (apt-get, the guest OS build) runs directly as root, through sudo for anyone else (sudo asks
# for a password itself), and otherwise stops with the command to run.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo env "PATH=$PATH" "$@"
  else
    echo "setup: '$*' needs root, and sudo is not installed: run this script as root (su -c '$0')" >&2
    exit 1
  fi
}

# System packages: what dlite runs (QEMU, networking, ssh), what the guest OS build needs (mmdebstrap,
# compressors, filesystem tools), what builds the native addon (python3, make, g++) and what the tests need (busybox-static for a local image, tmux, file, procps; g++ also brings the C compiler and static libc the tests build a UDP echo server with).
packages=(
  qemu-system-x86 qemu-utils
  iproute2 nftables iptables openssh-client openssl
  mmdebstrap debian-archive-keyring zstd xz-utils cpio e2fsprogs squashfs-tools erofs-utils
  busybox-static file tmux ca-certificates procps
  python3 make g++
)
# The arm64 image (os-boot-arm64.test.ts boots it under emulation): qemu-system-aarch64; to build it on another
# arch, qemu-user through binfmt_misc for its maintainer scripts (arch-test: mmdebstrap checks with it) and a
# cross compiler with a static libc for the C agent.
host_arch=$(dpkg --print-architecture)
if ((arm64)); then
  packages+=(qemu-system-arm)
  [[ $host_arch == arm64 ]] || packages+=(qemu-user-static binfmt-support arch-test gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The docker CLI is the user's own; tests drive it. Any docker client will do.
command -v docker >/dev/null 2>&1 || missing+=(docker.io)

if ((${#missing[@]})); then
  step "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  step "system packages: all present"
fi

# qemu-user-static registers qemu-aarch64 with binfmt_misc (flag F: usable inside a chroot) when binfmt_misc is
# mounted; a container or a minimal system may not mount it, or not have registered the entry.
# Where that cannot be done (an unprivileged container) only the arm64 build is skipped, and its e2e says so.
if ((arm64 && build_os)) && [[ $host_arch != arm64 ]]; then
  if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
    step "mounting binfmt_misc"
    as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
  fi
  if ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    step "registering qemu-aarch64 with binfmt_misc"
    as_root update-binfmts --enable qemu-aarch64 || true
  fi
  if ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    echo "setup: no qemu-aarch64 in binfmt_misc here; not building the arm64 image (its e2e will skip)" >&2
    arm64=0
  fi
fi

# A Rust virtiofsd lets a VM that runs as its user share over virtiofs, which carries host file events to the
# guest (9p cannot): the distribution's package where it has one, Debian 13's otherwise (Debian 12 on x86_64).
rust_virtiofsd() {
  local found
  for found in "$(command -v virtiofsd || true)" /usr/libexec/virtiofsd /usr/local/libexec/virtiofsd; do
    [[ -n $found && -x $found ]] && "$found" --version 2>/dev/null | grep -Eq '^virtiofsd v?[0-9]+\.[0-9]+' && return 0
  done
  return 1
}
if rust_virtiofsd; then
  step "virtiofsd (Rust): present"
elif apt-cache show virtiofsd >/dev/null 2>&1; then
  step "installing virtiofsd"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends virtiofsd
elif [[ $(dpkg --print-architecture) == amd64 ]]; then
  step "installing Debian 13's virtiofsd beside this system (scripts/install-virtiofsd.sh)"
  as_root bash scripts/install-virtiofsd.sh
else
  step "virtiofsd (Rust): none for this system; a VM run as a user shares over 9p, without file events"
fi

node_major=$(node -p 'process.versions.node.split(".").map(Number).slice(0,2).join(".")')
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
  echo "setup: Node $node_major is too old; dlite needs Node >= 20.19 (or 22, 24)" >&2; exit 1; }

# npm ci only when the installed tree does not match the lockfile.
if [[ ! -f node_modules/.package-lock.json ]] || ! cmp -s <(node scripts/lock-digest.js package-lock.json) <(node scripts/lock-digest.js node_modules/.package-lock.json); then
  step "installing npm dependencies"
  # the cache first: the lockfile names exact versions with their integrity, so a cached tarball is the one named
  npm ci --prefer-offline --no-audit --no-fund
else
  step "npm dependencies: up to date"
fi

step "building (native addon and TypeScript)"
npm run build --silent

if ((build_os)); then
  step "building the guest OS image (cached by its inputs; the build needs root)"
  as_root npm run os:build --silent
  if ((arm64)); then
    step "building the arm64 guest OS image (cached by its inputs; minutes under qemu-user the first time)"
    as_root npm run os:build --silent -- --arch arm64
  fi
fi
step "setup done"
