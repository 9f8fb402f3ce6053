#!/usr/bin/busybox sh
# dlite guest boot: run once by busybox init (::sysinit). busybox sh runs its
# applets without exec (cheap under TCG); Debian binaries are used where busybox has none. Everything the host
# provides comes from the fw_cfg settings bundle; see os/README.md.
. /usr/lib/dlite/lib.sh
umask 022

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sys /sys
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
mount -t tmpfs -o mode=0755,nosuid,nodev run /run
ln -sfn /run /var/run 2>/dev/null
mkdir -p /run/lock /run/dlite /run/sshd
chmod 0755 /run/sshd
stage init

# the boot set (fw_cfg, ext4, virtio-net, ...) was loaded by the initrd; docker's
# modules load in the background (docker also loads what it misses on demand), with
# the balloon whose free page reporting gives memory the guest freed back to the host
modprobe -a overlay bridge br_netfilter veth ip_tables iptable_filter iptable_nat xt_conntrack \
  xt_MASQUERADE xt_addrtype iptable_raw nf_nat virtio_balloon 2>/dev/null &
DLITE_PORT=$(dlite_port "$DLITE_READY_PORT" || true)
export DLITE_PORT
stage modules
# the guest's clock follows the host's (a host that slept, a clock the host set), and the shares come and go
# around a saved state; see control-agent
/usr/lib/dlite/control-agent </dev/null >/dev/null 2>&1 &

# ---------------------------------------------------------------- settings
S=/run/dlite/settings
mkdir -p -m 0700 $S
FW=/sys/firmware/qemu_fw_cfg/by_name/$DLITE_SETTINGS_FW_CFG/raw
if [ -r "$FW" ]; then
  # the bundle holds the TLS server key and the ssh host key: root's alone, from the first byte
  boot_umask=$(umask)
  umask 077
  cat "$FW" > /run/dlite/settings.tar && tar -x -C $S -f /run/dlite/settings.tar || fail "settings: cannot unpack fw_cfg bundle"
  rm -f /run/dlite/settings.tar
  umask "$boot_umask"
else
  warn "settings: no fw_cfg $DLITE_SETTINGS_FW_CFG; using defaults (DHCP, no TLS, no ssh keys)"
fi
HOSTNAME=dlite IP= GATEWAY= DNS= HOST_ADDR= MAC= DATA_LABEL=$DLITE_DATA_SERIAL
: > /run/dlite/shares
: > /run/dlite/docker-args
if [ -r $S/settings.env ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    key=${line%%=*} val=${line#*=}
    case "$key" in
      HOSTNAME) HOSTNAME=$val ;;
      IP) IP=$val ;;
      GATEWAY) GATEWAY=$val ;;
      DNS) DNS=$val ;;
      HOST_ADDR) HOST_ADDR=$val ;;
      MAC) MAC=$val ;;
      SHARE) printf '%s\n' "$val" >> /run/dlite/shares ;;
      DOCKER_ARG) printf '%s\n' "$val" >> /run/dlite/docker-args ;;
      *) warn "settings: unknown key $key" ;;
    esac
  done < $S/settings.env
fi
stage settings

# ---------------------------------------------------------------- data disk
datadev=
for s in /sys/block/vd*/serial; do
  [ -r "$s" ] || continue
  if [ "$(cat "$s")" = "$DLITE_DATA_SERIAL" ]; then d=${s%/serial}; datadev=/dev/${d##*/}; fi
done
if [ -n "$datadev" ]; then
  # blank (first 1 MiB all zero) -> format; anything else is never reformatted
  if [ "$(dd if="$datadev" bs=64k count=16 2>/dev/null | tr -d '\000' | wc -c)" = 0 ]; then
    stage data-format
    mkfs.ext4 -q -F -L "$DATA_LABEL" -m 0 -E lazy_itable_init=1,lazy_journal_init=1,nodiscard "$datadev" \
      || fail "data: mkfs.ext4 $datadev"
  elif [ "$(od -A n -t x1 -j 1080 -N 4 "$datadev" | tr -d ' \n')" = 53ef0100 ] \
      && [ $((0x$(od -A n -t x1 -j 1120 -N 1 "$datadev" | tr -d ' \n') & 4)) = 0 ]; then
    # ext4 magic, state "cleanly unmounted", no journal to replay: nothing for e2fsck to do
    emit "DLITE-FSCK 0 $datadev: clean (superblock)"
  else
    e2fsck -p "$datadev" > /run/dlite/fsck.log 2>&1
    rc=$?
    if [ $rc -ge 4 ]; then
      warn "data: e2fsck -p exit $rc, retrying with -y"
      e2fsck -y "$datadev" >> /run/dlite/fsck.log 2>&1
    fi
    emit "DLITE-FSCK $rc $(tail -n1 /run/dlite/fsck.log)"
  fi
  if mount -t ext4 -o discard,noatime "$datadev" /mnt/data; then
    for d in docker containerd dlite; do mkdir -p /mnt/data/$d; done
    # A disk the host made bigger (dlite config set disk=N): the file system grows into it, online. The size
    # it was grown to is kept, so an unchanged disk costs one file read per boot.
    disk_bytes=$(( $(cat /sys/block/${datadev##*/}/size) * 512 ))
    if [ "$(cat /mnt/data/dlite/disk-bytes 2>/dev/null)" != "$disk_bytes" ]; then
      if resize2fs "$datadev" > /run/dlite/resize.log 2>&1; then
        echo "$disk_bytes" > /mnt/data/dlite/disk-bytes
        grep -q ' is now ' /run/dlite/resize.log && stage data-grown
      else
        warn "data: resize2fs $datadev failed: $(tail -n 1 /run/dlite/resize.log)"
      fi
    fi
    chmod 0710 /mnt/data/docker
    mount --bind /mnt/data/docker /var/lib/docker
    mount --bind /mnt/data/containerd /var/lib/containerd
  else
    fail "data: cannot mount $datadev; docker state will not persist"
  fi
else
  warn "data: no virtio disk with serial $DLITE_DATA_SERIAL; docker state will not persist"
fi
stage data

# ---------------------------------------------------------------- containerd
mkdir -p /run/containerd
start_containerd() {
  containerd >> /var/log/containerd.log 2>&1 &
  echo $! > /run/containerd.pid
}
start_containerd
stage containerd-start

# ---------------------------------------------------------------- identity, network
hostname "$HOSTNAME"
echo "$HOSTNAME" > /run/dlite/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' "$HOSTNAME" > /etc/hosts
ip link set lo up
iface=
for n in /sys/class/net/*; do
  name=${n##*/}
  [ "$name" = lo ] && continue
  [ -e "$n/device" ] || continue
  if [ -n "$MAC" ]; then
    [ "$(cat "$n/address")" = "$MAC" ] && { iface=$name; break; }
  else
    iface=$name; break
  fi
done
: > /run/resolv.conf
for ns in $(echo "$DNS" | tr ',' ' '); do echo "nameserver $ns" >> /run/resolv.conf; done
if [ -z "$iface" ]; then
  warn "network: no network interface"
elif [ "$IP" = dhcp ]; then
  # vmnet (macOS): its bridge lets through only the addresses its DHCP server handed out. udhcpc stays to renew the
  # lease (no -q); its hook keeps the lease in /run/dlite and reports it (DLITE-READY address), how the host learns it
  ip link set "$iface" up
  udhcpc -i "$iface" -b -t 20 -p /run/udhcpc.pid -s /usr/lib/dlite/udhcpc.script -x hostname:"$HOSTNAME" >/var/log/udhcpc.log 2>&1
  IP=$(cat /run/dlite/dhcp-address 2>/dev/null)
  [ -z "$DNS" ] && DNS=$(cat /run/dlite/dhcp-dns 2>/dev/null)
  [ -n "$IP" ] || warn "network: no DHCP lease within 20 tries; still asking in the background"
elif [ -n "$IP" ]; then
  ip link set "$iface" up
  ip addr add "$IP" dev "$iface" || fail "network: ip addr add $IP dev $iface"
  [ -n "$GATEWAY" ] && { ip route add default via "$GATEWAY" dev "$iface" || warn "network: no default route"; }
else
  ip link set "$iface" up
  udhcpc -i "$iface" -b -q -t 20 -s /usr/lib/dlite/udhcpc.script -x hostname:"$HOSTNAME" >/var/log/udhcpc.log 2>&1
fi
stage network

# ---------------------------------------------------------------- DNS for the guest and its containers
# dnsmasq on the NIC's own address: containers get a resolver that is not loopback (docker swaps a
# loopback-only resolv.conf for public servers), host.docker.internal names the host, and only the
# host's upstreams are asked (none given: names outside the VM fail; offline stays offline).
guest_ip=${IP%/*}
if [ -n "$guest_ip" ] && [ -x /usr/sbin/dnsmasq ]; then
  set -- --listen-address="$guest_ip" --bind-interfaces --no-resolv --no-hosts --user=nobody --group=nogroup \
    --pid-file=/run/dnsmasq.pid --log-facility=/var/log/dnsmasq.log --cache-size=1000
  for ns in $(echo "$DNS" | tr ',' ' '); do set -- "$@" --server="$ns"; done
  [ -n "$HOST_ADDR" ] && set -- "$@" --address=/host.docker.internal/"$HOST_ADDR" --address=/gateway.docker.internal/"$HOST_ADDR"
  if dnsmasq "$@"; then echo "nameserver $guest_ip" > /run/resolv.conf; else warn "dns: dnsmasq did not start; containers get the upstreams directly"; fi
fi
stage dns

# ---------------------------------------------------------------- dockerd
TLS=$S/tls
set -- --host unix:///var/run/docker.sock --containerd /run/containerd/containerd.sock --group docker
if [ -r $TLS/ca.pem ] && [ -r $TLS/server-cert.pem ] && [ -r $TLS/server-key.pem ]; then
  # the VM's own address, not 0.0.0.0 (docker's bridges); and the guest's loopback, where host_to_loopback
  # sends the host's connections once its rule is in
  if [ -n "$guest_ip" ]; then
    set -- "$@" --host "tcp://$guest_ip:$DLITE_DOCKER_TLS_PORT" --host "tcp://127.0.0.1:$DLITE_DOCKER_TLS_PORT"
  else
    warn "docker: no static address in settings; the TLS API listens on every address"
    set -- "$@" --host "tcp://0.0.0.0:$DLITE_DOCKER_TLS_PORT"
  fi
  set -- "$@" --tlsverify --tlscacert $TLS/ca.pem --tlscert $TLS/server-cert.pem --tlskey $TLS/server-key.pem
else
  warn "docker: no TLS material in settings; the API listens on the unix socket only"
fi
[ -r $S/daemon.json ] && set -- "$@" --config-file $S/daemon.json
# Extra dockerd arguments, one per line as the host sent them (an argument may hold spaces; nothing is
# split). The host checked them; the guest refuses again what would open the API: a -H that is not a unix
# socket while this boot has no TLS, or TLS verification turned off. Then none of them is used.
extra_refused=
prev=
while IFS= read -r a; do
  host=
  case "$prev" in -H|--host) host=$a ;; esac
  case "$a" in --host=*) host=${a#--host=} ;; -H?*) host=${a#-H}; host=${host#=} ;; esac
  case "$a" in --tlsverify=0|--tlsverify=f|--tlsverify=F|--tlsverify=false|--tlsverify=FALSE|--tlsverify=False) extra_refused="$a" ;; esac
  if [ -n "$host" ] && ! [ -r $TLS/ca.pem ]; then
    case "$host" in unix://*|fd://*) ;; *) extra_refused="-H $host without TLS" ;; esac
  fi
  prev=$a
done < /run/dlite/docker-args
if [ -n "$extra_refused" ]; then
  warn "docker: extra arguments refused ($extra_refused would open the docker API); starting dockerd without them"
  : > /run/dlite/docker-args
fi
# dockerd's own iptables set-up costs ~100 iptables runs (~15 s under TCG). With
# --iptables=false among the extra arguments, published ports go through docker-proxy and the
# guest adds the one rule containers need to reach out (masquerade via the NIC).
if grep -qx -- '--iptables=false' /run/dlite/docker-args; then
  echo 1 > /proc/sys/net/ipv4/ip_forward
  [ -n "$iface" ] && iptables -t nat -A POSTROUTING -o "$iface" -j MASQUERADE
fi
# The whole argument list, one per line, for this start and every restart by keep_docker.
: > /run/dlite/dockerd.args
for a in "$@"; do printf '%s\n' "$a" >> /run/dlite/dockerd.args; done
cat /run/dlite/docker-args >> /run/dlite/dockerd.args
start_dockerd() {
  set --
  while IFS= read -r a; do set -- "$@" "$a"; done < /run/dlite/dockerd.args
  dockerd "$@" >> /var/log/dockerd.log 2>&1 &
  echo $! > /run/dockerd.pid
}
start_dockerd
stage dockerd-start

# ---------------------------------------------------------------- shares
# One line per shared directory, "TAG TRANSPORT ro|rw PATH", a directory before those under it; each is mounted
# at its host path. "share-<transports>" tells the host they are all mounted.
if [ -s /run/dlite/shares ]; then
  used=
  while read -r tag transport mode path; do
    case "$mode" in ro|rw) ;; *) warn "share: bad line for tag $tag"; continue ;; esac
    how=$(mount_share "$tag" "$transport" "$mode" "$path") || { warn "share: cannot mount tag $tag at $path"; continue; }
    case "+$used+" in *"+$how+"*) ;; *) used="${used:+$used+}$how" ;; esac
  done < /run/dlite/shares
  [ -n "$used" ] && stage "share-$used"
  # host file changes under the shares reach the guest's inotify watchers
  /usr/lib/dlite/share-events-agent </dev/null >/dev/null 2>/var/log/share-events.log &
  echo $! > /run/dlite/share-events.pid
fi

# ---------------------------------------------------------------- sshd, acpid
mkdir -p -m 0755 /run/dlite/ssh /run/dlite/ssh/authorized_keys
for k in ssh_host_ed25519_key ssh_host_ecdsa_key ssh_host_rsa_key; do
  [ -r $S/ssh/$k ] && install -m 0600 $S/ssh/$k /run/dlite/ssh/$k
done
if ! ls /run/dlite/ssh/ssh_host_*_key >/dev/null 2>&1; then
  warn "ssh: no host key in settings; generating one (the host cannot pin it)"
  ssh-keygen -q -t ed25519 -N '' -f /run/dlite/ssh/ssh_host_ed25519_key
fi
[ -r $S/ssh/authorized_keys ] && install -m 0644 $S/ssh/authorized_keys /run/dlite/ssh/authorized_keys/docker
acpid -c /etc/acpi -l /var/log/acpid.log
start_sshd() { /usr/sbin/sshd -E /var/log/sshd.log && ready ssh; }
# Published ports reach the host as "host -> guest port": the host side listens on its own loopback and
# connects to the same port here. A port docker bound to the guest's 127.0.0.1 (-p 127.0.0.1:X:Y) must
# answer too, so traffic from the host's address that docker's own DNAT did not take goes to 127.0.0.1.
# Appended after dockerd made its PREROUTING jump, so docker's rules see the packet first. Packets that
# arrive on the NIC already addressed to 127/8 are dropped before NAT (route_localnet would take them).
# Only traffic from the host's address to the guest's own address: not to docker's bridges, not from
# containers (they arrive on docker0). -w: wait for dockerd's xtables lock rather than fail.
host_to_loopback() {
  [ -n "$HOST_ADDR" ] && [ -n "$iface" ] && [ -n "$guest_ip" ] || return 0
  iptables -w -t raw -A PREROUTING -i "$iface" -d 127.0.0.0/8 -j DROP &&
    echo 1 > "/proc/sys/net/ipv4/conf/$iface/route_localnet" &&
    iptables -w -t nat -A PREROUTING -i "$iface" -s "$HOST_ADDR" -d "$guest_ip" -p tcp -j DNAT --to-destination 127.0.0.1 &&
    iptables -w -t nat -A PREROUTING -i "$iface" -s "$HOST_ADDR" -d "$guest_ip" -p udp -j DNAT --to-destination 127.0.0.1 ||
    warn "ports: host traffic to ports bound to the guest's loopback is not redirected"
}

# dockerd and containerd are kept running once docker was ready, as docker's own service unit would keep
# them: one that exits (a crash, an OOM kill) is started again within ~2 s, and the host hears of it.
# Five exits within 10 minutes: the guest stops trying and says so. rc.shutdown stops this loop first.
keep_docker() {
  # this shell's own pid: read (a builtin) opens /proc/self in this process; a $(...) would be a child's
  read -r keeper_pid _ < /proc/self/stat
  echo "$keeper_pid" > /run/dlite/keeper.pid
  exits=
  while :; do
    usleep 2000000
    for svc in containerd dockerd; do
      kill -0 "$(cat /run/$svc.pid 2>/dev/null)" 2>/dev/null && continue
      now=$(cut -d. -f1 /proc/uptime)
      recent=
      for t in $exits; do [ $((now - t)) -lt 600 ] && recent="$recent $t"; done
      exits="$recent $now"
      n=$(echo $exits | wc -w)
      last=$(tail -n 1 /var/log/$svc.log 2>/dev/null | cut -c1-200)
      if [ "$n" -gt 5 ]; then
        fail "docker: $svc exited $n times in 10 minutes; not starting it again (dlite stop && dlite start); its last line: $last"
        return 1
      fi
      warn "docker: $svc exited; started it again ($n in 10 min); its last line: $last"
      lines=$(wc -l < /var/log/dockerd.log)
      start_$svc
      if [ $svc = dockerd ]; then
        i=0
        until tail -n +$((lines + 1)) /var/log/dockerd.log | grep -q 'API listen on /var/run/docker.sock'; do
          i=$((i + 1))
          [ $i -gt 1200 ] && break
          usleep 100000
        done
        [ $i -le 1200 ] && warn "docker: dockerd answers again ($(uptime_s) s)"
      fi
    done
  done
}

# What the boot read and no process maps any more (modules, the rest of each 1 MiB squashfs block a page of a
# binary came from) is dropped once the start is over: the balloon hands it back to the host (~90 MiB). Clean
# pages only; what a later command needs is read again.
drop_boot_cache() {
  usleep 20000000
  echo 1 > /proc/sys/vm/drop_caches
}

# ---------------------------------------------------------------- readiness
(
  i=0
  while [ $i -lt 1800 ]; do
    if grep -q 'API listen on /var/run/docker.sock' /var/log/dockerd.log 2>/dev/null; then
      host_to_loopback   # before "ready": the host starts forwarding published ports as soon as it hears it
      ready docker
      start_sshd   # after docker: sshd's start-up would compete with dockerd's for the vCPUs
      drop_boot_cache &
      keep_docker
      exit 0
    fi
    if ! kill -0 "$(cat /run/dockerd.pid)" 2>/dev/null; then
      fail "docker: dockerd exited; last lines:"
      tail -n 5 /var/log/dockerd.log > /dev/console
      start_sshd
      exit 1
    fi
    i=$((i+1))
    # a slow start says what dockerd is doing, so a host-side timeout comes with a reason
    [ $((i % 300)) -eq 0 ] && warn "docker: no API yet at $(uptime_s) s; dockerd.log: $(tail -n 1 /var/log/dockerd.log 2>/dev/null | cut -c1-240)"
    usleep 100000
  done
  fail "docker: no API after 1800 polls; dockerd.log: $(tail -n 1 /var/log/dockerd.log 2>/dev/null | cut -c1-240)"
  start_sshd
) &
stage boot-done
