// The host's IPv4 routes, so install can refuse a VM subnet that would collide with a network the host
// already reaches. Parsing is pure; reading tries `ip -j route` and falls back to /proc/net/route.
import {readFile} from 'node:fs/promises'
import {endianness} from 'node:os'

import {run, type Runner} from '../util/exec.js'
import {formatCidr, formatIpv4, networkOf, parseCidr, parseIpv4, prefixMask} from './ipv4.js'

export interface HostRoute {
  /** Destination as an aligned CIDR; the default route is 0.0.0.0/0. */
  dst: string
  dev?: string
}

function normalizeDst(dst: string): string | undefined {
  if (dst === 'default') return '0.0.0.0/0'
  const cidr = dst.includes('/') ? parseCidr(dst) : (() => {
    const address = parseIpv4(dst)
    return address === undefined ? undefined : {address, prefix: 32}
  })()
  if (!cidr) return undefined // IPv6 or something we do not understand
  return formatCidr({network: networkOf(cidr.address, cidr.prefix), prefix: cidr.prefix})
}

/** Parses `ip -j route` output (iproute2's JSON). Non-IPv4 entries are skipped. */
export function parseIpJsonRoutes(json: string): HostRoute[] {
  const parsed: unknown = JSON.parse(json)
  if (!Array.isArray(parsed)) throw new Error('ip -j route: expected a JSON array')
  const routes: HostRoute[] = []
  for (const entry of parsed) {
    if (!entry || typeof entry !== 'object') continue
    const {dst, dev} = entry as {dst?: unknown; dev?: unknown}
    if (typeof dst !== 'string') continue
    const normalized = normalizeDst(dst)
    if (normalized) routes.push({dst: normalized, ...(typeof dev === 'string' ? {dev} : {})})
  }
  return routes
}

function hexToIpv4(hex: string, littleEndian: boolean): number {
  const value = Number.parseInt(hex, 16) >>> 0
  if (!littleEndian) return value
  // /proc/net/route prints the in-memory (network order) u32 as a host-order number.
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0
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
    routes.push({dst: `${formatIpv4(networkOf(destination, prefix))}/${prefix}`, dev: fields[0]})
  }
  return routes
}

function countTrailingZeros(value: number): number {
  if (value === 0) return 32
  let n = 0
  while (((value >>> n) & 1) === 0) n++
  return n
}

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
      return parseIpJsonRoutes(result.stdout)
    } catch {
      // old iproute2 without JSON: fall through to /proc
    }
  }
  return parseProcNetRoute(await readText('/proc/net/route'))
}
