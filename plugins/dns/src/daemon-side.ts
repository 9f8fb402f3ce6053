// The plugin's life inside the dlite daemon. Hooks are separate modules but share this one, and the daemon
// process lives as long as the VM, so the running service is kept here between hook calls: started at
// vm-ready (or by `dns enable`), stopped at vm-stopping (or by `dns disable`). Changes run one at a time.
import {closeSync} from 'node:fs'

import type {GuestConfig, PluginRequestEvent, VmLifecycleEvent, VmReadyEvent} from 'dlite-cli/plugin'
import {daemonLogger} from 'dlite-kit/daemon-log'
import {installResolver, realResolverHost, removeResolverFiles, type RemoveOutcome, type ResolverHost, type ResolverOutcome} from 'dlite-kit/resolver-file'

import {dnsStateDir, type Dlite} from './dlite.js'
import {DnsService, DNS_PORT, noQueries} from './dns-service.js'
import type {DnsRequest, NamesReply, ServiceStatus} from './protocol.js'
import {LOOPBACK_ADDRESS, PLUGIN_NAME, readSettings, type DnsSettings} from './settings.js'

type Log = (line: string) => void

/** The daemon's log (its stdout), each line stamped and tagged as the core's own are. */
export const daemonLog: Log = daemonLogger(PLUGIN_NAME)

interface DaemonState {
  service?: DnsService
  resolver?: ResolverOutcome
  lastError?: string
  /** The `--dns` argument dockerd got at this boot, if any. */
  bootDns?: string
  host: ResolverHost
}

const state: DaemonState = {host: realResolverHost()}
let chain: Promise<unknown> = Promise.resolve()

/** For tests: a host whose resolver files live in a temp dir. */
export function useResolverHost(host: ResolverHost): void {
  state.host = host
}

function serially<T>(work: () => Promise<T>): Promise<T> {
  const next = chain.then(work, work)
  chain = next.catch(() => {})
  return next
}

export function dnsArgument(hostIp: string): string {
  return `--dns=${hostIp}`
}

/** dlite:guest-config: containers use the responder when dlite-dns is enabled with container DNS. */
export function guestConfig(event: VmLifecycleEvent, dlite: Pick<Dlite, 'pluginStateDir'>): GuestConfig | undefined {
  if (event.network === 'user') return undefined // no bridge address to send containers to
  const settings = readSettings(dnsStateDir(dlite, event.home))
  state.bootDns = settings.enabled && settings.containerDns ? dnsArgument(event.hostIp) : undefined
  return state.bootDns ? {dockerArgs: [state.bootDns]} : undefined
}

async function stopService(): Promise<void> {
  const running = state.service
  state.service = undefined
  await running?.stop()
}

type DaemonDlite = Pick<Dlite, 'pluginStateDir' | 'dockerClientFor' | 'hostPrivileges'>

/**
 * Root's part of serving: the DNS port on the bridge address and the resolver file. Root's own VM's daemon does it
 * itself; a user's daemon asks the root helper, which binds the port and writes the file for the registered domain.
 */
interface RootPart {
  /** Where to listen; undefined: the service binds <hostIp>:53 itself. */
  listen(settings: DnsSettings, event: VmReadyEvent): Promise<Array<{host: string; port: number; fds?: {udp: number; tcp: number}}> | undefined>
  install(settings: DnsSettings, event: VmReadyEvent, dir: string): Promise<ResolverOutcome>
  remove(dir: string): Promise<RemoveOutcome>
}

function rootPart(event: VmLifecycleEvent, dlite: DaemonDlite): RootPart {
  if (process.getuid?.() === 0) {
    return {
      listen: async () => undefined,
      install: (settings, ready, dir) => installResolver({stateDir: dir, setting: settings.resolver, domain: settings.domain, address: {host: ready.hostIp, port: DNS_PORT}, host: state.host}),
      remove: (dir) => removeResolverFiles(dir, state.host),
    }
  }
  const privileges = dlite.hostPrivileges(event.home)
  return {
    async listen(settings, ready) {
      const udp = await privileges.dnsSocket('udp')
      let tcp: number
      try {
        tcp = await privileges.dnsSocket('tcp')
      } catch (error) {
        closeSync(udp)
        throw error
      }
      return [{host: ready.hostIp, port: DNS_PORT, fds: {udp, tcp}}, ...(settings.loopback ? [LOOPBACK_ADDRESS] : [])]
    },
    install: (settings) => privileges.writeResolver(settings.domain, settings.resolver),
    remove: () => privileges.removeResolver(),
  }
}

/** Reads the settings and makes the daemon match them: serving and resolver configured, or neither. */
export function apply(event: VmReadyEvent, dlite: DaemonDlite, log: Log): Promise<ServiceStatus> {
  return serially(async () => {
    if (event.network === 'user') {
      log('dlite-dns: not serving: the VM uses user-mode networking (`dlite dns enable` says how to change that)')
      return status(readSettings(dnsStateDir(dlite, event.home)), event)
    }
    const dir = dnsStateDir(dlite, event.home)
    const settings = readSettings(dir)
    const root = rootPart(event, dlite)
    await stopService()
    state.lastError = undefined
    if (!settings.enabled) {
      state.resolver = undefined
      const removed = await root.remove(dir)
      if (removed.removed.length > 0) log(`removed ${removed.removed.join(', ')}`)
      return {...status(settings, event), removed}
    }
    let listen: Awaited<ReturnType<RootPart['listen']>>
    try {
      listen = await root.listen(settings, event)
      state.service = await DnsService.start(settings, {
        docker: dlite.dockerClientFor(event), vm: {ip: event.ip, hostname: event.hostname, hostIp: event.hostIp, subnet: event.subnet}, log, listen,
      })
    } catch (error) {
      // sockets the helper handed over and the service never took
      for (const fd of listen?.flatMap((address) => (address.fds ? [address.fds.udp, address.fds.tcp] : [])) ?? []) {
        try {
          closeSync(fd)
        } catch {
          // taken and closed by the service
        }
      }
      state.lastError = (error as Error).message
      log(`not serving: ${state.lastError}`)
      throw error
    }
    log(`serving *.${settings.domain} on ${state.service.listening.map((a) => `${a.host}:${a.port}`).join(', ')}`)
    try {
      state.resolver = await root.install(settings, event, dir)
    } catch (error) {
      state.resolver = {mode: 'manual', files: [], message: 'the host resolver was not configured', warning: (error as Error).message}
    }
    log(`${state.resolver.message}${state.resolver.warning ? ` (${state.resolver.warning})` : ''}`)
    return status(settings, event)
  })
}

/** dlite:vm-stopping: stop answering; the resolver configuration stays until `dns disable`. */
export function stop(): Promise<void> {
  return serially(stopService)
}

export function status(settings: DnsSettings, event: VmLifecycleEvent): ServiceStatus {
  const service = state.service
  return {
    enabled: settings.enabled,
    serving: service !== undefined,
    domain: settings.domain,
    listening: service?.listening.map((a) => `${a.host}:${a.port}`) ?? [],
    containers: service?.registry.entries().length ?? 0,
    names: service?.names().length ?? 0,
    events: service?.registry.state ?? 'off',
    containerDns: {wanted: settings.enabled && settings.containerDns, active: state.bootDns === dnsArgument(event.hostIp)},
    upstreams: service?.upstreamList() ?? [],
    resolver: state.resolver,
    queries: service ? {...service.queries} : noQueries(),
    startedAt: service?.startedAt.toISOString(),
    lastError: state.lastError ?? service?.registry.lastError,
  }
}

/** dlite:plugin-request, for this plugin. */
export async function handleRequest(event: PluginRequestEvent, dlite: DaemonDlite, log: Log): Promise<ServiceStatus | NamesReply> {
  const request = event.request as DnsRequest
  switch (request?.op) {
    case 'apply':
      return apply(event, dlite, log)
    case 'status':
      return status(readSettings(dnsStateDir(dlite, event.home)), event)
    case 'names': {
      const service = state.service
      if (!service) throw new Error(state.lastError ? `dlite-dns is not serving: ${state.lastError}` : 'dlite-dns is not serving; enable it with `dlite dns enable`')
      await service.registry.settled()
      return {domain: service.zone.domain, names: service.names()}
    }
    default:
      throw new Error(`dlite-dns does not understand the request ${JSON.stringify(request)}; are the plugin and the daemon the same version? Restart dlite`)
  }
}
