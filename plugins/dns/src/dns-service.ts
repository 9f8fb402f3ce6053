// The responder as it runs in the dlite daemon for one VM: the container registry fed by docker's events,
// the UDP/TCP servers on the bridge address (and 127.0.0.1:1053 if asked), and forwarding of other names.
import {LOOPBACK_ADDRESS, formatUpstream, type DnsSettings, type Upstream} from './settings.js'
import {serveDns, type DnsServer, type ListenAddress} from './dns-server.js'
import {servedNames, type ServedName, type Zone} from './name-lookup.js'
import {sourceFilter} from './source-filter.js'
import type {QueryCounts} from './protocol.js'
import {ContainerRegistry, type DockerApi} from './registry.js'
import {Responder, type Forwarder} from './responder.js'
import {RESOLVED_UPSTREAMS_FILE, forwardQuery, parseUpstreams, resolveUpstreams, systemUpstreams, type ConfiguredUpstream} from './upstream.js'

export const DNS_PORT = 53
/** How long a start waits for the first container listing before serving what it has. */
const FIRST_SYNC_WAIT_MS = 10_000
/** The host's resolvers are read again at most this often. */
const SYSTEM_UPSTREAMS_CACHE_MS = 5000

interface ServiceDeps {
  docker: DockerApi
  /** subnet: the VM's network (a.b.c.d/n); only it and loopback are answered. */
  vm: {ip: string; hostname: string; hostIp: string; subnet: string}
  log: (line: string) => void
  /** Where to listen instead of `<hostIp>:53` (+ loopback): tests use 127.0.0.1:0. */
  listen?: ListenAddress[]
  /** resolv.conf files for the `system` upstream, first non-empty wins. */
  resolvConfFiles?: string[]
}

/** Query counts before the first query. */
export function noQueries(): QueryCounts {
  return {answer: 0, nodata: 0, nxdomain: 0, forwarded: 0, refused: 0, error: 0}
}

export class DnsService {
  readonly startedAt = new Date()
  readonly queries: QueryCounts = noQueries()
  private systemCache?: {at: number; servers: Upstream[]}
  /** The settings' upstreams, parsed once; `system` is filled in per query. */
  private readonly configuredUpstreams: ConfiguredUpstream[]

  private constructor(
    readonly settings: DnsSettings,
    readonly zone: Zone,
    readonly registry: ContainerRegistry,
    private readonly deps: ServiceDeps,
    private server?: DnsServer,
  ) {
    this.configuredUpstreams = parseUpstreams(settings.upstream)
  }

  static async start(settings: DnsSettings, deps: ServiceDeps): Promise<DnsService> {
    const zone: Zone = {domain: settings.domain, defaultTtl: settings.ttl, vm: {hostname: deps.vm.hostname, ip: deps.vm.ip}}
    const registry = new ContainerRegistry(deps.docker, {vmIp: deps.vm.ip, log: deps.log})
    const service = new DnsService(settings, zone, registry, deps)
    const responder = new Responder({
      state: () => ({zone, entries: registry.entries()}),
      forward: () => service.forwarder(),
      onAnswer: (kind) => service.queries[kind]++,
    })
    const addresses = deps.listen ?? [
      {host: deps.vm.hostIp, port: DNS_PORT},
      ...(settings.loopback ? [LOOPBACK_ADDRESS] : []),
    ]
    service.server = await serveDns(addresses, responder, sourceFilter(deps.vm.subnet), (error) => deps.log(`${error.message}`))
    // Serve from the first moment; names appear as the first listing lands (normally well within a second).
    let timer: NodeJS.Timeout | undefined
    await Promise.race([registry.start(), new Promise((resolve) => {
      timer = setTimeout(resolve, FIRST_SYNC_WAIT_MS)
    })])
    clearTimeout(timer)
    return service
  }

  get listening(): ListenAddress[] {
    return this.server?.addresses ?? []
  }

  /** The upstreams as they are now (the host's resolvers may change while the VM runs). */
  upstreams(): Upstream[] {
    return resolveUpstreams(this.configuredUpstreams, () => {
      const now = Date.now()
      if (!this.systemCache || now - this.systemCache.at > SYSTEM_UPSTREAMS_CACHE_MS) {
        const files = this.deps.resolvConfFiles ?? [RESOLVED_UPSTREAMS_FILE, '/etc/resolv.conf']
        this.systemCache = {at: now, servers: systemUpstreams(files, this.listening)}
      }
      return this.systemCache.servers
    })
  }

  private forwarder(): Forwarder | undefined {
    const upstreams = this.upstreams()
    if (upstreams.length === 0) return undefined
    return (query, transport) => forwardQuery(query, upstreams, transport)
  }

  names(): ServedName[] {
    return servedNames(this.zone, this.registry.entries())
  }

  upstreamList(): string[] {
    return this.upstreams().map(formatUpstream)
  }

  async stop(): Promise<void> {
    this.registry.stop()
    await this.server?.close()
    this.server = undefined
  }
}
