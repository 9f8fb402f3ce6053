// The guest half of routing: one iptables rule that lets traffic from the host reach containers.
//
// docker sets the guest's FORWARD policy to DROP and accepts forwarded traffic into a bridge only when it is
// a reply (conntrack ESTABLISHED) or a published port (the DOCKER chain). A connection the host opens to a
// container's own address is neither, so it is dropped, on user-defined networks and the default bridge
// alike. DOCKER-USER is the chain docker keeps for rules like ours: it runs first and docker never flushes
// it. Our rule lives in a chain of its own, DLITE-ROUTING, so removing it cannot touch anything else; without
// DOCKER-USER (dockerd run with --iptables=false) the jump goes into FORWARD instead.
//
// The script is a constant; the VM's address and subnet reach it as positional arguments, never spliced into
// the text, and guestExec quotes each argument for the guest's shell.

export const GUEST_CHAIN = 'DLITE-ROUTING'

export const GUEST_SCRIPT = `
PATH=/usr/sbin:/usr/bin:/sbin:/bin
set -eu
action=$1 vm_ip=$2 vm_subnet=$3
chain=${GUEST_CHAIN}
ipt() { iptables -w 10 "$@"; }
ipcmd() { if command -v ip >/dev/null 2>&1; then ip "$@"; else busybox ip "$@"; fi; }
unhook() {
  for parent in DOCKER-USER FORWARD; do
    while ipt -D "$parent" -j "$chain" 2>/dev/null; do :; done
  done
}
case $action in
  apply)
    # the guest's NIC is the interface that holds the VM's address ("2: eth0    inet <vm ip>/<len> ...")
    set -- $(ipcmd -o -4 addr show to "$vm_ip/32")
    nic=\${2:-}
    [ -n "$nic" ] || { echo "no interface in the guest holds $vm_ip" >&2; exit 3; }
    ipt -N "$chain" 2>/dev/null || ipt -F "$chain"
    ipt -A "$chain" -i "$nic" -s "$vm_subnet" -j ACCEPT
    unhook
    if ipt -n -L DOCKER-USER >/dev/null 2>&1; then parent=DOCKER-USER; else parent=FORWARD; fi
    ipt -I "$parent" 1 -j "$chain"
    echo "$parent $nic"
    ;;
  remove)
    unhook
    ipt -F "$chain" 2>/dev/null || true
    ipt -X "$chain" 2>/dev/null || true
    ;;
  check)
    if ipt -C DOCKER-USER -j "$chain" 2>/dev/null || ipt -C FORWARD -j "$chain" 2>/dev/null; then echo present; else echo absent; fi
    ;;
  *)
    echo "unknown action $action" >&2; exit 2 ;;
esac
`

export type GuestAction = 'apply' | 'remove' | 'check'

/** The argv guestExec runs as root in the guest for one action. */
export function guestRuleArgv(action: GuestAction, vm: {ip: string; subnet: string}): string[] {
  return ['/bin/sh', '-c', GUEST_SCRIPT, 'dlite-routing', action, vm.ip, vm.subnet]
}

export interface GuestRule {
  /** The chain our jump sits in: DOCKER-USER, or FORWARD when docker manages no iptables rules. */
  parent: string
  /** The guest's network interface the host's traffic arrives on. */
  nic: string
}

export function parseApplyOutput(stdout: string): GuestRule {
  const [parent, nic] = stdout.trim().split('\n').at(-1)?.split(' ') ?? []
  if (!parent || !nic) throw new Error(`unexpected answer from the guest: ${JSON.stringify(stdout)}`)
  return {parent, nic}
}
