// Which docker networks get a host route: bridge networks with a private IPv4 subnet, except internal ones
// (`docker network create --internal` promises isolation; routing into it would break that promise). Anyone
// with the docker socket can create a network, so its subnet decides nothing about the host's public routes.
import {formatCidr, isRfc1918, parsePrefix} from 'dlite-kit/ipv4'

/** The part of the Engine API's network object that matters here (GET /networks). */
export interface DockerNetwork {
  Id: string
  Name: string
  Driver: string
  Internal?: boolean
  IPAM?: {Config?: Array<{Subnet?: string}> | null}
}

export interface RoutableNetwork {
  id: string
  name: string
  subnet: string
}

export interface SkippedNetwork {
  name: string
  subnet?: string
  reason: string
}

/** Drivers with no address space of their own: not worth a line in `status`. */
const SILENT_DRIVERS = new Set(['host', 'null'])

export function routableNetworks(networks: DockerNetwork[]): {routable: RoutableNetwork[]; skipped: SkippedNetwork[]} {
  const routable: RoutableNetwork[] = []
  const skipped: SkippedNetwork[] = []
  for (const network of networks) {
    if (SILENT_DRIVERS.has(network.Driver)) continue
    const subnets = (network.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter((s) => s.includes('.'))
    if (network.Driver !== 'bridge') {
      skipped.push({name: network.Name, reason: `driver ${network.Driver}: only bridge networks live behind the VM's address`})
      continue
    }
    if (network.Internal) {
      for (const subnet of subnets) skipped.push({name: network.Name, subnet, reason: 'internal network: isolated from the host by design'})
      continue
    }
    if (subnets.length === 0) skipped.push({name: network.Name, reason: 'no IPv4 subnet'})
    for (const subnet of subnets) {
      const parsed = parsePrefix(subnet)
      if (!parsed) skipped.push({name: network.Name, subnet, reason: 'not an IPv4 subnet'})
      else if (!isRfc1918(parsed)) skipped.push({name: network.Name, subnet, reason: 'not private address space (RFC 1918): the host keeps its own route there'})
      else routable.push({id: network.Id, name: network.Name, subnet: formatCidr(parsed)})
    }
  }
  return {routable, skipped}
}

/** The part of the Engine API's container object used to pick live-check targets (GET /containers/json). */
export interface DockerContainer {
  Id: string
  Names?: string[]
  State?: string
  Ports?: Array<{PrivatePort?: number; Type?: string}>
  NetworkSettings?: {Networks?: Record<string, {IPAddress?: string; NetworkID?: string}>}
}

export interface ProbeTarget {
  network: string
  container: string
  ip: string
  port: number
}

/**
 * One running container per routed network, with the first TCP port it declares (80 if none): what `status`
 * connects to. A refused connection counts as an answer too: the container's own kernel sent the refusal.
 */
export function probeTargets(containers: DockerContainer[], networks: RoutableNetwork[]): ProbeTarget[] {
  const targets: ProbeTarget[] = []
  for (const network of networks) {
    for (const container of containers) {
      if (container.State !== undefined && container.State !== 'running') continue
      const attachment = Object.entries(container.NetworkSettings?.Networks ?? {})
        .find(([name, n]) => n.NetworkID === network.id || (n.NetworkID === undefined && name === network.name))
      if (!attachment?.[1].IPAddress) continue
      const port = container.Ports?.find((p) => (p.Type ?? 'tcp') === 'tcp' && p.PrivatePort)?.PrivatePort ?? 80
      targets.push({network: network.name, container: (container.Names?.[0] ?? container.Id.slice(0, 12)).replace(/^\//, ''), ip: attachment[1].IPAddress, port})
      break
    }
  }
  return targets
}
