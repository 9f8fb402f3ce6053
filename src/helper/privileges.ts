// What a VM needs done as root, as one interface: the daemon and the plugins ask it, whoever does the work. For a
// user's VM the root helper does it over its socket (client.ts); for root's own VM the daemon does it itself
// (actions.ts). Both apply the same rules.
import type {RemoveOutcome, ResolverOutcome, ResolverSetting} from 'dlite-kit/resolver-file'

/** The host side of a bridged VM's network, as the helper made it. */
export interface BridgeLink {
  bridge: string
  tap: string
  /** The VM network, aligned CIDR. */
  subnet: string
  hostIp: string
  vmIp: string
  hostname: string
}

export interface HostPrivileges {
  /** Bridge, forwarding, NAT and the hosts line (idempotent). macOS: nothing to make (socket_vmnet has vmnet's). */
  networkUp(): Promise<BridgeLink>
  /** The VM's tap on the bridge, as an fd this process owns (QEMU inherits it). */
  openTap(): Promise<number>
  /** Undoes networkUp; routes through the VM go with the bridge. */
  networkDown(): Promise<void>
  /**
   * macOS (vmnet): the address the VM got from vmnet's DHCP, inside the registered network. The hosts line names it,
   * and routes go via it. Refused on Linux, where the VM's address is the network's .2.
   */
  setVmAddress(ip: string): Promise<void>
  /** A host route for a private subnet via the VM; refused for public space or a conflict. */
  addRoute(subnet: string): Promise<void>
  removeRoute(subnet: string): Promise<void>
  /** A socket on the DNS port (53) of the bridge's host address, as an fd: UDP bound, TCP listening. */
  dnsSocket(protocol: 'udp' | 'tcp'): Promise<number>
  /** The host resolver told that names under `domain` (the registered one) go to the bridge address. */
  writeResolver(domain: string, mode: ResolverSetting): Promise<ResolverOutcome>
  /** Removes the resolver files written for this VM that still carry dlite's marker. */
  removeResolver(): Promise<RemoveOutcome>
}
