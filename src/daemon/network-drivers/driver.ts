// The daemon's network seam: how one VM is attached to the host, chosen by the config's `network` mode. The
// daemon asks a driver for the VM's network and gets back everything mode-specific as data: QEMU's netdev,
// the fds QEMU inherits, what the guest is told, where the host reaches the guest's docker API and sshd, and
// how published container ports are carried to the host's loopback.
import type {NetworkMode} from '../../config/index.js'
import type {GuestNetwork} from '../../guest/settings.js'
import type {NetSpec} from '../../hypervisor/qemu-argv.js'
import type {GuestMarker} from '../../vm/marker-watch.js'
import type {ForwardTransport} from '../ports/index.js'

export interface HostEndpoint {
  host: string
  port: number
  /**
   * The name dockerd's certificate is checked against when it is not `host`: a vmnet VM's address comes from DHCP,
   * after its certificate was made (naming the config's hostname, never skipping the check).
   */
  servername?: string
}

/**
 * A VM whose address the guest learns from DHCP (vmnet): the daemon hands the driver the guest's markers, and waits
 * for `learnt` before it reaches docker. Once learnt, the VmNetwork's docker, ssh and routableIp are that address.
 */
export interface AddressLearning {
  onMarker(marker: GuestMarker): void
  /** Resolves with the address once the guest reported it and the host followed (the hosts line); rejects with why not. */
  learnt(): Promise<string>
}

export interface VmNetwork {
  mode: NetworkMode
  /** QEMU's netdev; a tap's fd refers to QEMU's fd 3 (the first of inheritFds). */
  qemu: NetSpec
  /** File descriptors QEMU inherits as fd 3, 4, ... */
  inheritFds: number[]
  /** What the guest configures (static address, gateway, upstream DNS, the host's address as it sees it). */
  guest: GuestNetwork
  /** dockerd's TLS port as the host reaches it. */
  docker: HostEndpoint
  /** The guest's sshd as the host reaches it. */
  ssh: HostEndpoint
  /** The VM's own routable address (bridged, vmnet once learnt), or undefined when only forwarded ports reach it (user). */
  routableIp?: string
  /** One line for the start pipeline and the log. */
  summary: string
  /** How published ports reach the guest; `hmp` runs a QEMU human-monitor command (user mode needs it). */
  portTransport(hmp: (commandLine: string) => Promise<string>): ForwardTransport
  /** vmnet: the address is the guest's DHCP lease, known once it reports it. Absent: known at setUp. */
  learnsAddress?: AddressLearning
}

export interface NetworkDriver {
  readonly mode: NetworkMode
  setUp(): Promise<VmNetwork>
  /** Undoes setUp; safe when setUp never ran or failed half-way. */
  tearDown(): Promise<void>
}

/** The guest's address inside the VM, for status and plugins: the routable one, or the guest-side one. */
export function guestAddress(network: VmNetwork): string {
  return network.routableIp ?? network.guest.address
}
