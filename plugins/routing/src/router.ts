// The daemon side of dlite-routing for one running VM: host routes for every routable docker network via the
// VM's address, the guest's forwarding rule, and a docker-events watcher that keeps the routes in step with
// networks as they come and go. Every change runs through one queue, so a request from a command and a burst
// of docker events never interleave. No oclif, no core internals: docker, the guest and the host's routes (read
// here, changed by dlite's host privileges) are handed in.
import type {DockerEvent} from 'dlite-cli/plugin'

import {errorDetail, type ExecResult} from 'dlite-kit/exec'
import {describeRoute, type HostRoute} from 'dlite-kit/routes'

import {probeTargets, routableNetworks, type DockerContainer, type DockerNetwork, type ProbeTarget, type RoutableNetwork, type SkippedNetwork} from './docker-networks.js'
import {guestRuleArgv, parseApplyOutput, type GuestAction, type GuestRule} from './guest-rules.js'
import {conflictingRoutes, routesViaVm} from 'dlite-kit/routes'
import type {RouteBackend, VmLink} from './route-backend.js'

/** The slice of dlite's DockerClient the router uses (the client satisfies it as it is). */
export interface DockerApi {
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<{status: number; body: T}>
  events(onEvent: (event: DockerEvent) => void, filters?: Record<string, string[]>): {stop(): void; done: Promise<void>}
}

export interface VmFacts extends VmLink {
  /** The VM network (CIDR): where the host's traffic comes from, as the guest sees it. */
  subnet: string
}

export interface RouterDeps {
  /** Absent when the VM is going away (vm-stopping has no docker endpoint); removal needs none. */
  docker?: DockerApi
  /** Runs argv as root in the guest (dlite's guestExec). */
  guest: (argv: string[]) => Promise<ExecResult>
  backend: RouteBackend
  log: (line: string) => void
  /** First delay before re-subscribing to docker's events after the stream broke; doubles up to 10 s. */
  reconnectMs?: number
}

export interface RouteEntry {
  subnet: string
  /** The docker network the subnet belongs to, when it still exists. */
  network?: string
  via: string
  dev?: string
}

export interface Conflict {
  network: string
  subnet: string
  /** The host routes in the way, described like `ip route` prints them. */
  routes: string[]
}

export interface ApplyResult {
  routes: RouteEntry[]
  added: string[]
  removed: string[]
  skipped: SkippedNetwork[]
  conflicts: Conflict[]
  /** Set when the guest rule was (re)applied. */
  guest?: GuestRule
}

export interface NetworkState {
  name: string
  subnet: string
  state: 'routed' | 'missing' | 'conflict'
  conflict?: string[]
}

export interface StatusReport {
  watching: boolean
  routes: RouteEntry[]
  networks: NetworkState[]
  skipped: SkippedNetwork[]
  guestRule: 'present' | 'absent' | 'unknown'
  guestError?: string
  /** One running container per routed network, for the command's live check. */
  probeTargets: ProbeTarget[]
}

/** Routing a subnet would take address space away from another route: refused, nothing changed. */
export class ConflictError extends Error {
  constructor(readonly conflicts: Conflict[]) {
    super(conflictMessage(conflicts))
  }
}

function conflictMessage(conflicts: Conflict[]): string {
  const lines = conflicts.map((c) => `${c.subnet} (docker network ${c.network}) overlaps the host route ${c.routes.join(', ')}`)
  return `${lines.join('; ')}. Nothing was changed. Recreate the docker network with a free subnet ` +
    '(`docker network create --subnet <cidr> ...`) or remove the host route, then run `dlite routing enable` again.'
}

const NETWORK_EVENTS = {type: ['network'], event: ['create', 'destroy']}
const MAX_RECONNECT_MS = 10_000

export class Router {
  private queue: Promise<unknown> = Promise.resolve()
  private syncQueued = false
  private watcher?: {stop(): void}
  private watching = false
  private reconnectTimer?: NodeJS.Timeout
  private reconnectDelay: number

  constructor(readonly vm: VmFacts, private readonly deps: RouterDeps) {
    this.reconnectDelay = deps.reconnectMs ?? 1000
  }

  get isWatching(): boolean {
    return this.watching
  }

  /**
   * Routes every routable network and opens the guest. Strict (a command asked): any conflict refuses the
   * whole change before anything is touched. Not strict (a VM start): conflicting networks are left out and
   * logged, the rest is routed.
   */
  apply(strict: boolean): Promise<ApplyResult> {
    return this.serial(async () => {
      const {routable, skipped, table, conflicts} = await this.survey(strict)
      // the guest first: a route into a guest that drops the traffic would only turn a fast failure into a timeout
      const guest = parseApplyOutput(await this.runGuest('apply'))
      const changes = await this.reconcile(routable, conflicts, table)
      return {...changes, skipped, conflicts, guest}
    })
  }

  /** Brings the routes in line with docker's networks (after an event); the guest rule is already in place. */
  sync(): Promise<ApplyResult> {
    return this.serial(async () => {
      const {routable, skipped, table, conflicts} = await this.survey(false)
      return {...(await this.reconcile(routable, conflicts, table)), skipped, conflicts}
    })
  }

  /** Removes every route via the VM and, when asked, the guest rule. Idempotent. */
  remove(options: {guest: boolean}): Promise<{removed: string[]; guestRuleRemoved: boolean}> {
    return this.serial(async () => {
      const removed: string[] = []
      for (const route of routesViaVm(await this.deps.backend.readRoutes(), this.vm.ip)) {
        await this.deps.backend.removeRoute(route.dst)
        removed.push(route.dst)
      }
      if (options.guest) await this.runGuest('remove')
      return {removed, guestRuleRemoved: options.guest}
    })
  }

  status(): Promise<StatusReport> {
    return this.serial(async () => {
      const {routable, skipped} = await this.networks()
      const table = await this.deps.backend.readRoutes()
      const ours = routesViaVm(table, this.vm.ip)
      const routedSubnets = new Set(ours.map((r) => r.dst))
      // a network's conflicts depend on its subnet alone
      const conflicts = new Map(findConflicts(routable, table, this.vm.ip).map((c) => [c.subnet, c.routes]))
      const networks: NetworkState[] = routable.map((n) => {
        if (routedSubnets.has(n.subnet)) return {name: n.name, subnet: n.subnet, state: 'routed'}
        const conflict = conflicts.get(n.subnet) ?? []
        return conflict.length > 0 ? {name: n.name, subnet: n.subnet, state: 'conflict', conflict} : {name: n.name, subnet: n.subnet, state: 'missing'}
      })
      let guestRule: StatusReport['guestRule'] = 'unknown'
      let guestError: string | undefined
      try {
        guestRule = (await this.runGuest('check')).trim() === 'present' ? 'present' : 'absent'
      } catch (error) {
        guestError = (error as Error).message
      }
      const containers = await this.dockerGet<DockerContainer[]>('/containers/json')
      return {
        watching: this.watching,
        routes: this.entries(ours, routable),
        networks,
        skipped,
        guestRule,
        ...(guestError ? {guestError} : {}),
        probeTargets: probeTargets(containers, routable.filter((n) => routedSubnets.has(n.subnet))),
      }
    })
  }

  /** Follows docker's network events until unwatch(); a broken stream is re-subscribed, then the routes re-synced. */
  watch(): void {
    if (this.watching) return
    this.watching = true
    this.subscribe()
  }

  unwatch(): void {
    this.watching = false
    clearTimeout(this.reconnectTimer)
    this.watcher?.stop()
    this.watcher = undefined
  }

  /** Handles one docker event: network comings and goings queue a sync (bursts collapse into one). */
  onDockerEvent(event: DockerEvent): void {
    if (event.Type !== 'network' || (event.Action !== 'create' && event.Action !== 'destroy')) return
    this.reconnectDelay = this.deps.reconnectMs ?? 1000
    const name = event.Actor?.Attributes?.name ?? event.Actor?.ID?.slice(0, 12)
    this.requestSync(`network ${name} ${event.Action === 'create' ? 'created' : 'removed'}`)
  }

  private subscribe(): void {
    const docker = this.requireDocker()
    const stream = docker.events((event) => this.onDockerEvent(event), NETWORK_EVENTS)
    this.watcher = stream
    stream.done.then(
      () => this.resubscribe(stream, 'docker closed the event stream'),
      (error: Error) => this.resubscribe(stream, `docker event stream failed: ${error.message}`),
    )
  }

  private resubscribe(stream: {stop(): void}, why: string): void {
    if (!this.watching || this.watcher !== stream) return // stopped on purpose
    this.deps.log(`${why}; following again in ${this.reconnectDelay} ms`)
    this.reconnectTimer = setTimeout(() => {
      if (!this.watching) return
      this.subscribe()
      this.requestSync('catching up after the event stream broke') // events may have been missed meanwhile
    }, this.reconnectDelay)
    this.reconnectTimer.unref?.()
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_MS)
  }

  private requestSync(reason: string): void {
    if (this.syncQueued) return
    this.syncQueued = true
    const started = Date.now()
    void this.sync().then(
      (result) => {
        if (result.added.length > 0 || result.removed.length > 0) {
          this.deps.log(`${reason}: routed ${result.added.join(', ') || 'nothing new'}, removed ${result.removed.join(', ') || 'nothing'} (${Date.now() - started} ms)`)
        }
      },
      (error: Error) => this.deps.log(`${reason}: could not update routes: ${error.message}`),
    )
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(() => {
      this.syncQueued = false // a sync that starts from here on sees every event so far
      return work()
    })
    this.queue = next.catch(() => {})
    return next
  }

  /**
   * Docker's networks, the host's table and the conflicts between them. Strict: any conflict refuses before
   * anything is touched; otherwise each is logged and left out.
   */
  private async survey(strict: boolean): Promise<{routable: RoutableNetwork[]; skipped: SkippedNetwork[]; table: HostRoute[]; conflicts: Conflict[]}> {
    const {routable, skipped} = await this.networks()
    const table = await this.deps.backend.readRoutes()
    const conflicts = findConflicts(routable, table, this.vm.ip)
    if (strict && conflicts.length > 0) throw new ConflictError(conflicts)
    for (const conflict of conflicts) this.deps.log(`not routing ${conflict.subnet} (${conflict.network}): overlaps ${conflict.routes.join(', ')}`)
    return {routable, skipped, table, conflicts}
  }

  private async reconcile(routable: RoutableNetwork[], conflicts: Conflict[], table: HostRoute[]): Promise<{routes: RouteEntry[]; added: string[]; removed: string[]}> {
    const blocked = new Set(conflicts.map((c) => c.subnet))
    const wanted = new Set(routable.map((n) => n.subnet).filter((s) => !blocked.has(s)))
    const present = new Set(routesViaVm(table, this.vm.ip).map((r) => r.dst))
    const added: string[] = []
    const removed: string[] = []
    for (const subnet of present) {
      if (wanted.has(subnet)) continue
      await this.deps.backend.removeRoute(subnet)
      removed.push(subnet)
    }
    for (const subnet of wanted) {
      if (present.has(subnet)) continue
      await this.deps.backend.addRoute(subnet)
      added.push(subnet)
    }
    const routes = [...wanted].map((subnet) => ({dst: subnet, gateway: this.vm.ip, dev: this.vm.bridge}))
    return {routes: this.entries(routes, routable), added, removed}
  }

  private entries(routes: HostRoute[], routable: RoutableNetwork[]): RouteEntry[] {
    const names = new Map(routable.map((n) => [n.subnet, n.name]))
    return routes.map((r) => ({
      subnet: r.dst,
      ...(names.has(r.dst) ? {network: names.get(r.dst)} : {}),
      via: r.gateway ?? this.vm.ip,
      ...(r.dev ? {dev: r.dev} : {}),
    }))
  }

  private async networks(): Promise<{routable: RoutableNetwork[]; skipped: SkippedNetwork[]}> {
    return routableNetworks(await this.dockerGet<DockerNetwork[]>('/networks'))
  }

  private async dockerGet<T>(path: string): Promise<T> {
    const response = await this.requireDocker().request<T>('GET', path)
    if (response.status !== 200) throw new Error(`docker API GET ${path} answered ${response.status}: ${JSON.stringify(response.body)}`)
    return response.body
  }

  private requireDocker(): DockerApi {
    if (!this.deps.docker) throw new Error('no docker endpoint: the VM is stopping')
    return this.deps.docker
  }

  private async runGuest(action: GuestAction): Promise<string> {
    const result = await this.deps.guest(guestRuleArgv(action, this.vm))
    if (result.code !== 0) {
      throw new Error(`the guest's forwarding rule (${action}) failed with exit ${result.code}: ${errorDetail(result)}`)
    }
    return result.stdout
  }
}

export function findConflicts(routable: RoutableNetwork[], table: HostRoute[], vmIp: string): Conflict[] {
  const conflicts: Conflict[] = []
  for (const network of routable) {
    const routes = conflictingRoutes(network.subnet, table, vmIp)
    if (routes.length > 0) conflicts.push({network: network.name, subnet: network.subnet, routes: routes.map(describeRoute)})
  }
  return conflicts
}
