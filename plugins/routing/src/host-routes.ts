// The conflict rule of dlite-routing, on the host's routing table as the kit parses it: a docker subnet may be
// routed to the VM only when no other route covers any part of it (the default route aside). Pure functions;
// reading the table is in route-backend.ts.
import {cidrsOverlap, parsePrefix} from 'dlite-kit/ipv4'
import type {HostRoute} from 'dlite-kit/routes'

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
