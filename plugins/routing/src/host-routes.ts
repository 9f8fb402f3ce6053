// The host's IPv4 routing table as dlite-routing sees it: parsed from `ip -j route` (Linux) or
// `netstat -rn -f inet` (macOS), and the conflict rule: a docker subnet may be routed to the VM only when no
// other route covers any part of it (the default route aside). Pure functions; reading is in route-backend.ts.
import {normalizePrefix, overlaps, parsePrefix} from './ipv4.js'

export interface HostRoute {
  /** Canonical `a.b.c.d/n`; the default route is 0.0.0.0/0. */
  dst: string
  gateway?: string
  dev?: string
  /** Linux route type when not a plain unicast route (unreachable, blackhole, ...). */
  type?: string
}

/** Parses `ip -j -4 route show table main`. Entries that are not IPv4 prefixes are skipped. */
export function parseIpRouteJson(json: string): HostRoute[] {
  const parsed: unknown = JSON.parse(json || '[]')
  if (!Array.isArray(parsed)) throw new Error('ip -j route: expected a JSON array')
  const routes: HostRoute[] = []
  for (const entry of parsed as Array<Record<string, unknown>>) {
    if (!entry || typeof entry.dst !== 'string') continue
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
    return other !== undefined && other.prefix > 0 && overlaps(wanted, other)
  })
}

export function describeRoute(route: HostRoute): string {
  const parts = [route.type, route.dst === '0.0.0.0/0' ? 'default' : route.dst]
  if (route.gateway) parts.push(`via ${route.gateway}`)
  if (route.dev) parts.push(`dev ${route.dev}`)
  return parts.filter(Boolean).join(' ')
}

