// Which host loopback listeners a container's published ports need, read from its docker inspect document.
// Pure: no sockets, no docker calls, so the rules (loopback choice, dedupe, skips) are testable on their own.

export type PortProto = 'tcp' | 'udp'
export type LoopbackAddress = '127.0.0.1' | '::1'

export const LOOPBACK_ADDRESSES: readonly LoopbackAddress[] = ['127.0.0.1', '::1']

/** One published container port, as the host should serve it. */
export interface PortBinding {
  containerId: string
  containerName: string
  proto: PortProto
  /** The port docker published in the guest; the host listens on the same number and forwards to it. */
  hostPort: number
  containerPort: number
  listen: LoopbackAddress[]
}

/** The parts of `GET /containers/<id>/json` this module reads. */
export interface ContainerInspect {
  Id: string
  Name?: string
  State?: {Running?: boolean}
  NetworkSettings?: {
    Ports?: Record<string, Array<{HostIp?: string; HostPort?: string}> | null> | null
  } | null
}

/**
 * The host loopbacks a docker HostIp maps to. A loopback-only publish stays on that loopback; anything else
 * (wildcards, empty, a guest address) is "reachable from outside the container", which on the host means
 * both loopbacks: dlite never exposes container ports beyond the host itself.
 */
export function loopbacksFor(hostIp: string | undefined): LoopbackAddress[] {
  const ip = (hostIp ?? '').trim().replace(/^\[(.*)\]$/, '$1')
  if (ip === '127.0.0.1') return ['127.0.0.1']
  if (ip === '::1') return ['::1']
  return [...LOOPBACK_ADDRESSES]
}

/**
 * The published ports of a running container, one entry per (proto, hostPort, containerPort), with every
 * listen address at most once per (proto, hostPort). Docker lists a default publish twice (HostIp 0.0.0.0
 * and ::), and both collapse into the same two loopbacks here. sctp has no host-side forwarder: skipped.
 */
export function bindingsOf(inspect: ContainerInspect): PortBinding[] {
  if (inspect.State?.Running === false) return []
  const containerName = (inspect.Name ?? '').replace(/^\//, '') || inspect.Id.slice(0, 12)
  const byPorts = new Map<string, PortBinding>()
  const claimed = new Set<string>()
  for (const [key, entries] of Object.entries(inspect.NetworkSettings?.Ports ?? {})) {
    const match = /^(\d+)(?:\/(\w+))?$/.exec(key)
    if (!match || !entries) continue
    const proto = (match[2] ?? 'tcp').toLowerCase()
    if (proto !== 'tcp' && proto !== 'udp') continue
    const containerPort = Number(match[1])
    for (const entry of entries) {
      const hostPort = parsePort(entry.HostPort)
      if (hostPort === undefined) continue
      const id = `${proto}/${hostPort}/${containerPort}`
      let binding = byPorts.get(id)
      for (const address of loopbacksFor(entry.HostIp)) {
        const claim = forwardKey(proto, address, hostPort)
        if (claimed.has(claim)) continue
        claimed.add(claim)
        if (!binding) {
          binding = {containerId: inspect.Id, containerName, proto, hostPort, containerPort, listen: []}
          byPorts.set(id, binding)
        }
        binding.listen.push(address)
      }
    }
  }
  const bindings = [...byPorts.values()]
  for (const binding of bindings) binding.listen.sort(byLoopbackOrder)
  return bindings.sort((a, b) => a.hostPort - b.hostPort || (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : 0) || a.containerPort - b.containerPort)
}

/** Identifies one host listener: two forwards with the same key would fight over the same socket. */
export function forwardKey(proto: PortProto, address: LoopbackAddress, port: number): string {
  return `${proto}:${formatHostPort(address, port)}`
}

/** `127.0.0.1:8080` / `[::1]:8080`, the way people write a socket address. */
export function formatHostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}

function parsePort(text: string | undefined): number | undefined {
  if (!text || !/^\d+$/.test(text.trim())) return undefined
  const port = Number(text)
  return port >= 1 && port <= 65535 ? port : undefined
}

function byLoopbackOrder(a: LoopbackAddress, b: LoopbackAddress): number {
  return LOOPBACK_ADDRESSES.indexOf(a) - LOOPBACK_ADDRESSES.indexOf(b)
}
