# shellcheck shell=sh
# Shared helpers of the dlite guest scripts (sourced).
PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/dlite/bin
export PATH

# The readiness port: a virtio-serial port named org.dlite.ready (optional).
dlite_port() {
  for n in /sys/class/virtio-ports/*/name; do
    [ -r "$n" ] || continue
    if [ "$(cat "$n")" = org.dlite.ready ]; then
      d=${n%/name}; echo "/dev/${d##*/}"; return 0
    fi
  done
  return 1
}

# emit LINE: to the serial console and to the readiness port
emit() {
  echo "$1" > /dev/console
  [ -n "${DLITE_PORT:-}" ] && [ -c "$DLITE_PORT" ] && { echo "$1" > "$DLITE_PORT" & } 2>/dev/null
  return 0
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }
stage() { emit "DLITE-STAGE $1 $(uptime_s)"; }
ready() { emit "DLITE-READY $1 $(uptime_s)"; }
warn() { emit "DLITE-WARN $*"; }
fail() { emit "DLITE-FAIL $*"; }
