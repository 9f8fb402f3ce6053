// The host's routes as dlite-routing sees them: it reads the table itself (nothing privileged), and asks dlite's
// host privileges to change it — for a user's VM that is the root helper, which checks each route again (private
// space only, no conflict, via this VM). No plugin code changes the host's routes, and none runs as root.
import type {HostPrivileges} from 'dlite-cli/plugin'
import {run, runOrThrow, type Runner} from 'dlite-kit/exec'
import {parseIpRouteJson, parseNetstatRoutes, type HostRoute} from 'dlite-kit/routes'

// A routing tool that hangs (a wedged netlink, a slow netstat) must not hold the daemon's hook for ever.
const HOST_TOOL_TIMEOUT_MS = 15_000

/** The VM as the router knows it: its address, the host's address beside it, the host bridge. */
export interface VmLink {
  ip: string
  hostIp: string
  bridge: string
}

export interface RouteBackend {
  readRoutes(): Promise<HostRoute[]>
  addRoute(subnet: string): Promise<void>
  removeRoute(subnet: string): Promise<void>
}

/** Reads the main IPv4 table with the platform's own tool. */
export function routeReader(platform: NodeJS.Platform, runner: Runner = run): () => Promise<HostRoute[]> {
  const opts = {timeoutMs: HOST_TOOL_TIMEOUT_MS}
  if (platform === 'linux') return async () => parseIpRouteJson(await runOrThrow('ip', ['-j', '-4', 'route', 'show', 'table', 'main'], opts, runner))
  if (platform === 'darwin') return async () => parseNetstatRoutes(await runOrThrow('netstat', ['-rn', '-f', 'inet'], opts, runner))
  throw new Error(`dlite-routing supports Linux and macOS hosts, not ${platform}`)
}

export function privilegedBackend(readRoutes: () => Promise<HostRoute[]>, privileges: Pick<HostPrivileges, 'addRoute' | 'removeRoute'>): RouteBackend {
  return {
    readRoutes,
    addRoute: (subnet) => privileges.addRoute(subnet),
    removeRoute: (subnet) => privileges.removeRoute(subnet),
  }
}
