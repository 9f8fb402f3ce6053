// The root helper's verbs, done: what one registration allows and nothing more. A route must be private space
// (RFC 1918, /8 or narrower), outside the VM's own network and clear of every other host route; it always goes
// via this VM on this bridge. The network is the registration's own (bridge, tap, NAT table, hosts line); the DNS
// port only on the bridge's address; the resolver file only for the registered domain, sending it there. On macOS
// the network is socket_vmnet's (vmnet-host.ts): no bridge, tap or NAT to make, the VM's address is the one its DHCP
// gave, and the bridge's address is the Mac's on vmnet (.1).
import {isRfc1918, normalizePrefix, parsePrefix, cidrsOverlap, requireCidr} from 'dlite-kit/ipv4'
import {installResolver, realResolverHost, removeResolverFiles, type RemoveOutcome, type ResolverHost, type ResolverOutcome, type ResolverSetting} from 'dlite-kit/resolver-file'
import {conflictingRoutes, describeRoute} from 'dlite-kit/routes'

import {linkExists} from '../network/bridge.js'
import {parseSubnet} from '../network/subnet.js'
import {routeCommandsFor, type RouteCommands} from '../network/route-commands.js'
import {openTapOnBridge, setUpHostNetwork, tearDownHostNetwork, type HostNetworkSpec} from './host-network.js'
import type {BridgeLink, HostPrivileges} from './privileges.js'
import type {HelperRegistration} from './registration.js'
import {vmAddressPath} from './system-paths.js'
import {clearVmnetAddress, recordedVmnetAddress, setVmnetAddress, vmAddressRefusal, type VmnetHostSpec} from './vmnet-host.js'

/** A request the rules refuse: the helper answers with the message and changes nothing. */
export class RefusedRequest extends Error {}

export interface ActionDeps {
  routes?: RouteCommands
  openTap: (name: string) => number
  closeFd: (fd: number) => void
  bindSocket: (protocol: 'udp' | 'tcp', address: string, port: number) => number
  /** Where the resolver files this VM got are recorded (root's own directory). */
  resolverStateDir: string
  resolverHost?: ResolverHost
  linkExists?: (name: string) => Promise<boolean>
  /** The host's; darwin means vmnet through socket_vmnet. Default process.platform. */
  platform?: NodeJS.Platform
  /** Root's record of a vmnet VM's address; default vmAddressPath(homeId). */
  vmAddressFile?: string
}

/** The port the responder answers on, on the bridge address: the one resolvers and containers ask. */
export const DNS_PORT = 53

/** Why `subnet` may not be routed to the VM, or undefined when it may (the table is the host's main one). */
export function routeRefusal(subnet: string, registration: HelperRegistration, table: Parameters<typeof conflictingRoutes>[1], vmIp = parseSubnet(registration.subnet).vmIp): string | undefined {
  const prefix = parsePrefix(subnet)
  if (!prefix || normalizePrefix(subnet) !== subnet) return `${JSON.stringify(subnet)} is not an aligned IPv4 subnet (a.b.c.d/n)`
  if (!isRfc1918(prefix)) return `refusing a host route for ${subnet}: only private (RFC 1918) subnets, /8 or narrower, are routed to a VM`
  if (cidrsOverlap(prefix, requireCidr(registration.subnet))) return `refusing a host route for ${subnet}: it overlaps the VM's own network ${registration.subnet}`
  const conflicts = conflictingRoutes(subnet, table, vmIp)
  if (conflicts.length > 0) return `refusing a host route for ${subnet}: the host already routes ${conflicts.map(describeRoute).join(', ')}`
  return undefined
}

export class HostNetworkActions implements HostPrivileges {
  private readonly spec: HostNetworkSpec
  private readonly routes: RouteCommands
  private readonly vmnet?: VmnetHostSpec

  constructor(readonly registration: HelperRegistration, private readonly deps: ActionDeps) {
    const {homeId, bridge, tap, natTable} = registration
    this.spec = {names: {homeId, bridge, tap, natTable}, subnet: parseSubnet(registration.subnet), hostname: registration.hostname, hostsFile: registration.hostsFile}
    const platform = deps.platform ?? process.platform
    this.routes = deps.routes ?? routeCommandsFor(platform)
    if (platform === 'darwin') {
      this.vmnet = {homeId, subnet: this.spec.subnet, hostname: this.spec.hostname, hostsFile: this.spec.hostsFile, addressFile: deps.vmAddressFile ?? vmAddressPath(homeId)}
    }
  }

  private get link(): BridgeLink {
    const {subnet} = this.spec
    return {bridge: this.spec.names.bridge, tap: this.spec.names.tap, subnet: subnet.cidr, hostIp: subnet.hostIp, vmIp: subnet.vmIp, hostname: this.spec.hostname}
  }

  private vm() {
    return {ip: this.spec.subnet.vmIp, hostIp: this.spec.subnet.hostIp, bridge: this.spec.names.bridge}
  }

  /** macOS: the VM as vmnet has it, by the address it reported (the vmnet bridge is found by the Mac's, hostIp). */
  private vmnetVm(vmnet: VmnetHostSpec) {
    const ip = recordedVmnetAddress(vmnet)
    if (!ip) throw new RefusedRequest('the VM\'s address on vmnet is not known: it is learnt from the VM when it boots (`dlite start`)')
    return {ip, hostIp: this.spec.subnet.hostIp, bridge: this.spec.names.bridge}
  }

  async networkUp(): Promise<BridgeLink> {
    // vmnet: socket_vmnet made the interface, NAT and DHCP; the hosts line waits for the VM's address
    if (!this.vmnet) await setUpHostNetwork(this.spec)
    return this.link
  }

  async openTap(): Promise<number> {
    if (this.vmnet) throw new RefusedRequest('there is no tap on macOS: QEMU connects to socket_vmnet itself')
    if (!(await (this.deps.linkExists ?? linkExists)(this.spec.names.bridge))) throw new RefusedRequest(`the bridge ${this.spec.names.bridge} is not up: ask for network-up first`)
    return openTapOnBridge(this.spec, this.deps.openTap, this.deps.closeFd)
  }

  async networkDown(): Promise<void> {
    if (this.vmnet) await clearVmnetAddress(this.vmnet)
    else await tearDownHostNetwork(this.spec)
  }

  async setVmAddress(ip: string): Promise<void> {
    if (!this.vmnet) throw new RefusedRequest(`the VM's address is ${this.spec.subnet.vmIp} on this host's bridge; only a vmnet VM (macOS) reports its own`)
    const refusal = vmAddressRefusal(ip, this.spec.subnet)
    if (refusal) throw new RefusedRequest(`refusing the VM address: ${refusal}`)
    await setVmnetAddress(this.vmnet, ip)
  }

  async addRoute(subnet: string): Promise<void> {
    const vm = this.vmnet ? this.vmnetVm(this.vmnet) : this.vm()
    const refusal = routeRefusal(subnet, this.registration, await this.routes.readRoutes(), vm.ip)
    if (refusal) throw new RefusedRequest(refusal)
    if (!this.vmnet && !(await (this.deps.linkExists ?? linkExists)(this.spec.names.bridge))) throw new RefusedRequest(`the VM's network (${this.spec.names.bridge}) is not up`)
    await this.routes.addRoute(subnet, vm)
  }

  async dnsSocket(protocol: 'udp' | 'tcp'): Promise<number> {
    return this.deps.bindSocket(protocol, this.spec.subnet.hostIp, DNS_PORT)
  }

  async writeResolver(domain: string, mode: ResolverSetting): Promise<ResolverOutcome> {
    if (domain !== this.registration.dnsDomain) {
      throw new RefusedRequest(`the resolver file is written for .${this.registration.dnsDomain} only (registered), not .${domain}: run \`sudo dlite network setup --dns-domain ${domain}\` to change it`)
    }
    return installResolver({
      stateDir: this.deps.resolverStateDir, setting: mode, domain, address: {host: this.spec.subnet.hostIp, port: DNS_PORT}, host: this.deps.resolverHost ?? realResolverHost(),
    })
  }

  async removeResolver(): Promise<RemoveOutcome> {
    return removeResolverFiles(this.deps.resolverStateDir, this.deps.resolverHost ?? realResolverHost())
  }

  async removeRoute(subnet: string): Promise<void> {
    const prefix = parsePrefix(subnet)
    if (!prefix || normalizePrefix(subnet) !== subnet) throw new RefusedRequest(`${JSON.stringify(subnet)} is not an aligned IPv4 subnet (a.b.c.d/n)`)
    // only ever the route via this VM: `ip route del ... via` leaves anyone else's alone
    await this.routes.removeRoute(subnet, this.vmnet ? this.vmnetVm(this.vmnet) : this.vm())
  }
}
