// The root helper's verbs, done: what one registration allows and nothing more. A route must be private space
// (RFC 1918, /8 or narrower), outside the VM's own network and clear of every other host route; it always goes
// via this VM on this bridge. The network is the registration's own (bridge, tap, NAT table, hosts line); the DNS
// port only on the bridge's address; the resolver file only for the registered domain, sending it there.
import {isRfc1918, normalizePrefix, parsePrefix, cidrsOverlap, requireCidr} from 'dlite-kit/ipv4'
import {installResolver, realResolverHost, removeResolverFiles, type RemoveOutcome, type ResolverHost, type ResolverOutcome, type ResolverSetting} from 'dlite-kit/resolver-file'
import {conflictingRoutes, describeRoute} from 'dlite-kit/routes'

import {linkExists} from '../network/bridge.js'
import {parseSubnet} from '../network/subnet.js'
import {routeCommandsFor, type RouteCommands} from '../network/route-commands.js'
import {openTapOnBridge, setUpHostNetwork, tearDownHostNetwork, type HostNetworkSpec} from './host-network.js'
import type {BridgeLink, HostPrivileges} from './privileges.js'
import type {HelperRegistration} from './registration.js'

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
}

/** The port the responder answers on, on the bridge address: the one resolvers and containers ask. */
export const DNS_PORT = 53

/** Why `subnet` may not be routed to the VM, or undefined when it may (the table is the host's main one). */
export function routeRefusal(subnet: string, registration: HelperRegistration, table: Parameters<typeof conflictingRoutes>[1]): string | undefined {
  const prefix = parsePrefix(subnet)
  if (!prefix || normalizePrefix(subnet) !== subnet) return `${JSON.stringify(subnet)} is not an aligned IPv4 subnet (a.b.c.d/n)`
  if (!isRfc1918(prefix)) return `refusing a host route for ${subnet}: only private (RFC 1918) subnets, /8 or narrower, are routed to a VM`
  if (cidrsOverlap(prefix, requireCidr(registration.subnet))) return `refusing a host route for ${subnet}: it overlaps the VM's own network ${registration.subnet}`
  const conflicts = conflictingRoutes(subnet, table, parseSubnet(registration.subnet).vmIp)
  if (conflicts.length > 0) return `refusing a host route for ${subnet}: the host already routes ${conflicts.map(describeRoute).join(', ')}`
  return undefined
}

export class HostNetworkActions implements HostPrivileges {
  private readonly spec: HostNetworkSpec
  private readonly routes: RouteCommands

  constructor(readonly registration: HelperRegistration, private readonly deps: ActionDeps) {
    const {homeId, bridge, tap, natTable} = registration
    this.spec = {names: {homeId, bridge, tap, natTable}, subnet: parseSubnet(registration.subnet), hostname: registration.hostname, hostsFile: registration.hostsFile}
    this.routes = deps.routes ?? routeCommandsFor(process.platform)
  }

  private get link(): BridgeLink {
    const {subnet} = this.spec
    return {bridge: this.spec.names.bridge, tap: this.spec.names.tap, subnet: subnet.cidr, hostIp: subnet.hostIp, vmIp: subnet.vmIp, hostname: this.spec.hostname}
  }

  private vm() {
    return {ip: this.spec.subnet.vmIp, hostIp: this.spec.subnet.hostIp, bridge: this.spec.names.bridge}
  }

  async networkUp(): Promise<BridgeLink> {
    await setUpHostNetwork(this.spec)
    return this.link
  }

  async openTap(): Promise<number> {
    if (!(await (this.deps.linkExists ?? linkExists)(this.spec.names.bridge))) throw new RefusedRequest(`the bridge ${this.spec.names.bridge} is not up: ask for network-up first`)
    return openTapOnBridge(this.spec, this.deps.openTap, this.deps.closeFd)
  }

  async networkDown(): Promise<void> {
    await tearDownHostNetwork(this.spec)
  }

  async addRoute(subnet: string): Promise<void> {
    const refusal = routeRefusal(subnet, this.registration, await this.routes.readRoutes())
    if (refusal) throw new RefusedRequest(refusal)
    if (!(await (this.deps.linkExists ?? linkExists)(this.spec.names.bridge))) throw new RefusedRequest(`the VM's network (${this.spec.names.bridge}) is not up`)
    await this.routes.addRoute(subnet, this.vm())
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
    await this.routes.removeRoute(subnet, this.vm())
  }
}
