// The host's IPv4 routing table as text tools print it, parsed into one shape: `ip -j route` (Linux),
// /proc/net/route (Linux without iproute2's JSON) and `netstat -rn -f inet` (macOS). Pure functions; reading
// them is the caller's, through a Runner.
import {endianness} from 'node:os'

import {cidrsOverlap, formatCidr, formatIpv4, networkOf, normalizePrefix, parsePrefix, prefixMask} from './ipv4.js'

export interface HostRoute {
  /** Canonical aligned `a.b.c.d/n`; the default route is 0.0.0.0/0. */
  dst: string
  gateway?: string
  dev?: string
  /** The route type when not a plain unicast route (unreachable, blackhole, reject, ...). */
  type?: string
}

/** Parses `ip -j -4 route show` (iproute2's JSON). Entries that are not IPv4 prefixes are skipped. */
export function parseIpRouteJson(json: string): HostRoute[] {
  const parsed: unknown = JSON.parse(json || '[]')
  if (!Array.isArray(parsed)) throw new Error('ip -j route: expected a JSON array')
  const routes: HostRoute[] = []
  for (const entry of parsed as Array<Record<string, unknown> | null>) {
    if (!entry || typeof entry !== 'object' || typeof entry.dst !== 'string') continue
    const dst = entry.dst === 'default' ? '0.0.0.0/0' : normalizePrefix(entry.dst)
    if (!dst) continue
    const route: HostRoute = {dst}
    if (typeof entry.gateway === 'string') route.gateway = entry.gateway
    if (typeof entry.dev === 'string') route.dev = entry.dev
    if (typeof entry.type === 'string' && entry.type !== 'unicast') route.type = entry.type
    routes.push(route)
  }
  return routes
}

function hexToIpv4(hex: string, littleEndian: boolean): number {
  const value = Number.parseInt(hex, 16) >>> 0
  if (!littleEndian) return value
  // /proc/net/route prints the in-memory (network order) u32 as a host-order number.
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0
}

function countTrailingZeros(value: number): number {
  if (value === 0) return 32
  let n = 0
  while (((value >>> n) & 1) === 0) n++
  return n
}

/** Parses /proc/net/route (the kernel's main table, hex fields in host byte order). */
export function parseProcNetRoute(text: string, littleEndian = endianness() === 'LE'): HostRoute[] {
  const routes: HostRoute[] = []
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 8 || !/^[0-9A-Fa-f]{8}$/.test(fields[1]) || !/^[0-9A-Fa-f]{8}$/.test(fields[7])) continue
    const destination = hexToIpv4(fields[1], littleEndian)
    const mask = hexToIpv4(fields[7], littleEndian)
    const prefix = 32 - countTrailingZeros(mask)
    if (prefixMask(prefix) !== mask) continue // non-contiguous mask: not something we can reason about
    const route: HostRoute = {dst: formatCidr({network: networkOf(destination, prefix), prefix}), dev: fields[0]}
    const gateway = /^[0-9A-Fa-f]{8}$/.test(fields[2]) ? hexToIpv4(fields[2], littleEndian) : 0
    if (gateway !== 0) route.gateway = formatIpv4(gateway)
    routes.push(route)
  }
  return routes
}

/**
 * macOS netstat abbreviates destinations: `172.17` is 172.17.0.0/16, `10` is 10.0.0.0/8, `172.16/12` keeps its
 * length, four octets are a host. Returns undefined for what is not IPv4.
 */
export function parseNetstatDestination(text: string): string | undefined {
  if (text === 'default') return '0.0.0.0/0'
  const [address, bits] = text.split('/')
  const octets = address.split('.')
  if (octets.length === 0 || octets.length > 4 || octets.some((o) => !/^\d{1,3}$/.test(o))) return undefined
  const padded = [...octets, '0', '0', '0'].slice(0, 4).join('.')
  return normalizePrefix(`${padded}/${bits ?? octets.length * 8}`)
}

/**
 * Parses `netstat -rn -f inet` (macOS). Link-layer entries (flag L: the ARP cache, broadcast addresses) are
 * neighbours, not routes, and are left out.
 */
export function parseNetstatRoutes(text: string): HostRoute[] {
  const routes: HostRoute[] = []
  // the IPv4 table: after the `Internet:` title (absent with -f inet on some versions) and its header, up
  // to the `Internet6:` section that follows without -f inet
  let section = 'Internet'
  let inTable = false
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (/^Internet6?:$/.test(fields[0])) {
      section = fields[0].slice(0, -1)
      inTable = false
      continue
    }
    if (fields[0] === 'Destination') {
      inTable = section === 'Internet'
      continue
    }
    if (!inTable || fields.length < 3) continue
    const [destination, gateway, flags, netif] = fields
    if (flags.includes('L')) continue
    const dst = parseNetstatDestination(destination)
    if (!dst) continue
    const route: HostRoute = {dst}
    if (!gateway.startsWith('link#') && parsePrefix(gateway)) route.gateway = gateway
    if (netif) route.dev = netif
    if (flags.includes('B')) route.type = 'blackhole'
    else if (flags.includes('R')) route.type = 'reject'
    routes.push(route)
  }
  return routes
}

/** One route as `ip route` would print it: `[type] dst [via gateway] [dev dev]`. */
export function describeRoute(route: HostRoute): string {
  const parts = [route.type, route.dst === '0.0.0.0/0' ? 'default' : route.dst]
  if (route.gateway) parts.push(`via ${route.gateway}`)
  if (route.dev) parts.push(`dev ${route.dev}`)
  return parts.filter(Boolean).join(' ')
}

// The conflict rule of dlite-routing, which the root helper applies again before it adds a route: a docker subnet
// may be routed to the VM only when no other route covers any part of it (the default route aside).

/**
 * Routes through the VM's address are dlite-routing's: nothing else sends traffic for other networks to the
 * dlite VM. That makes the routing table itself the record of what is installed (no state to lose in a crash).
 */
function isViaVm(route: HostRoute, vmIp: string): boolean {
  return route.gateway === vmIp && route.type === undefined
}

export function routesViaVm(routes: HostRoute[], vmIp: string): HostRoute[] {
  return routes.filter((route) => isViaVm(route, vmIp))
}

/**
 * The routes that stand in the way of routing `subnet` to the VM: any route other than ours that covers part of
 * it, wider (adding ours would take that part away from it) or narrower (it would take the part away from
 * us). The default route is the only wider one that does not count.
 */
export function conflictingRoutes(subnet: string, routes: HostRoute[], vmIp: string): HostRoute[] {
  const wanted = parsePrefix(subnet)
  if (!wanted) throw new Error(`not an IPv4 subnet: ${subnet}`)
  return routes.filter((route) => {
    if (isViaVm(route, vmIp)) return false
    const other = parsePrefix(route.dst)
    return other !== undefined && other.prefix > 0 && cidrsOverlap(wanted, other)
  })
}
