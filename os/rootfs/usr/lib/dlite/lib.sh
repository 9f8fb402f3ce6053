# shellcheck shell=sh
# Shared helpers of the dlite guest scripts (sourced).
PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/dlite/bin
export PATH
# the host/guest contract's values (fw_cfg name, disk serials, port names, dockerd's TLS port), generated from
# os/contract.json at build time
. /usr/lib/dlite/contract.sh

# dlite_port NAME: the device of the virtio-serial port NAME, when QEMU gave the guest one:
# $DLITE_READY_PORT (guest -> host: the DLITE-* markers), $DLITE_CONTROL_PORT (host -> guest: the host's
# clock), $DLITE_FILES_PORT (host -> guest: changes under the shares, for inotify).
dlite_port() {
  for n in /sys/class/virtio-ports/*/name; do
    [ -r "$n" ] || continue
    if [ "$(cat "$n")" = "$1" ]; then
      d=${n%/name}; echo "/dev/${d##*/}"; return 0
    fi
  done
  return 1
}

# emit LINE: to the serial console and to the readiness port. The port is a channel of its own (on the
# console, kernel messages can land in the middle of a line). It admits one writer at a time, so a port
# that is busy (another emit) is tried again for up to a second.
emit() {
  echo "$1" > /dev/console
  if [ -n "${DLITE_PORT:-}" ] && [ -c "$DLITE_PORT" ]; then
    local tries=0
    until { echo "$1" > "$DLITE_PORT"; } 2>/dev/null; do
      tries=$((tries + 1))
      [ $tries -ge 50 ] && break
      usleep 20000
    done
  fi
  return 0
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }
stage() { emit "DLITE-STAGE $1 $(uptime_s)"; }
ready() { emit "DLITE-READY $1 $(uptime_s)"; }
warn() { emit "DLITE-WARN $*"; }
fail() { emit "DLITE-FAIL $*"; }

# mount_share TAG TRANSPORT MODE PATH: one shared directory at its host path (rc.boot, and control-agent after a
# resume); prints the transport that mounted it.
mount_share() { # TAG TRANSPORT MODE PATH
  mkdir -p "$4" || return 1
  case "$2" in
    auto|virtiofs) mount -t virtiofs -o "$3" "$1" "$4" 2>/dev/null && { echo virtiofs; return 0; } ;;
  esac
  [ "$2" = virtiofs ] && return 1
  modprobe -a 9pnet_virtio 9p 2>/dev/null
  # cache=none: with cache=mmap (a write-back page cache) a file written while another process in the guest
  # looked it up from a directory in use (a container's working directory) lost a page now and then
  mount -t 9p -o "$3,trans=virtio,version=9p2000.L,msize=262144,cache=none" "$1" "$4" 2>/dev/null && echo 9p
}
