// The host's IPv4 routes, so install can refuse a VM subnet that would collide with a network the host
// already reaches. The parsers are the kit's (the routing plugin reads the same tables); this reads them:
// `ip -j route` first, /proc/net/route when iproute2 has no JSON.
import {readFile} from 'node:fs/promises'

import {run, type Runner} from 'dlite-kit/exec'
import {parseIpRouteJson, parseProcNetRoute, type HostRoute} from 'dlite-kit/routes'

export type {HostRoute} from 'dlite-kit/routes'

export interface RouteSources {
  runner?: Runner
  readText?: (path: string) => Promise<string>
}

/** Reads the host's IPv4 routes: `ip -j route`, else /proc/net/route, else an error. */
export async function readHostRoutes(sources: RouteSources = {}): Promise<HostRoute[]> {
  const runner = sources.runner ?? run
  const readText = sources.readText ?? ((path: string) => readFile(path, 'utf8'))
  const result = await runner('ip', ['-j', '-4', 'route', 'show'], {timeoutMs: 10_000})
  if (result.code === 0) {
    try {
      return parseIpRouteJson(result.stdout)
    } catch {
      // old iproute2 without JSON: fall through to /proc
    }
  }
  return parseProcNetRoute(await readText('/proc/net/route'))
}
