// Keeps host loopback listeners in step with the ports running containers publish in the VM. Docker's
// event stream drives it (no polling); a full list-and-inspect pass runs at start and after the stream
// breaks, to catch what happened while nobody was listening. Failures are recorded and logged, never thrown.
import type {DockerClient, DockerEvent} from '../../docker/client.js'
import {bindingsOf, forwardKey, type ContainerInspect, type LoopbackAddress, type PortProto} from './bindings.js'
import {describeForward} from './loopback.js'
import type {ForwardHandle, ForwardTransport} from './transports.js'


export interface PortForwarderOptions {
  docker: Pick<DockerClient, 'request' | 'events'>
  transport: ForwardTransport
  /** Whether the host has [::1]; without it only 127.0.0.1 is served. */
  ipv6: boolean
  log: (line: string) => void
  /** Wait before resubscribing after the event stream broke; doubles on each quick failure. */
  retryDelayMs?: number
  maxRetryDelayMs?: number
}

export interface ForwardedPort {
  proto: PortProto
  address: LoopbackAddress
  hostPort: number
  containerName: string
  containerPort: number
}

export interface FailedPort {
  proto: PortProto
  address: LoopbackAddress
  hostPort: number
  containerName: string
  reason: string
}

export interface PortForwardStatus {
  forwarded: ForwardedPort[]
  failed: FailedPort[]
}

/** One host listener a container needs. */
interface WantedForward {
  key: string
  proto: PortProto
  address: LoopbackAddress
  hostPort: number
  containerPort: number
}

interface ContainerForwards {
  name: string
  wanted: Map<string, WantedForward>
  open: Map<string, WantedForward & {handle: ForwardHandle}>
  failed: Map<string, WantedForward & {reason: string}>
}

/** Container events that change what is published: `stop` and `kill` are always followed by `die`. */
const EVENT_FILTERS = {type: ['container'], event: ['start', 'die', 'destroy']}
/** An event stream that lived this long was healthy: the next failure starts the backoff afresh. */
const STABLE_SUBSCRIPTION_MS = 10_000

export class PortForwarder {
  private readonly containers = new Map<string, ContainerForwards>()
  /** Which container holds (or is opening) each host listener, so two never fight over one port. */
  private readonly owners = new Map<string, string>()
  /** Listeners being closed; a container about to open the same one waits instead of failing. */
  private readonly releasing = new Map<string, Promise<void>>()
  /** Per-container work chains: a start and a die of one container never overlap. */
  private readonly queues = new Map<string, Promise<void>>()
  private subscription: {stop(): void; done: Promise<void>} | undefined
  private subscribedAt = 0
  private retryTimer: NodeJS.Timeout | undefined
  private quickFailures = 0
  private started = false
  private closed = false

  constructor(private readonly options: PortForwarderOptions) {}

  /** Subscribes to events, then forwards the ports of the containers already running. Never rejects. */
  async start(): Promise<void> {
    if (this.started || this.closed) return
    this.started = true
    // Events first: a container starting during the initial pass is then seen by one or the other.
    this.subscribe()
    await this.reconcile()
  }

  status(): PortForwardStatus {
    const forwarded: ForwardedPort[] = []
    const failed: FailedPort[] = []
    for (const state of this.containers.values()) {
      for (const f of state.open.values()) {
        forwarded.push({proto: f.proto, address: f.address, hostPort: f.hostPort, containerName: state.name, containerPort: f.containerPort})
      }
      for (const f of state.failed.values()) {
        failed.push({proto: f.proto, address: f.address, hostPort: f.hostPort, containerName: state.name, reason: f.reason})
      }
    }
    return {forwarded: forwarded.sort(byListener), failed: failed.sort(byListener)}
  }

  /** Stops following docker and closes every listener. */
  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.subscription?.stop()
    this.subscription = undefined
    const ids = new Set([...this.containers.keys(), ...this.queues.keys()])
    await Promise.all([...ids].map((id) => this.enqueue(id, () => this.release(id))))
  }

  private log(line: string): void {
    try {
      this.options.log(`ports: ${line}`)
    } catch {
      // A broken logger must not take forwarding down.
    }
  }

  private subscribe(): void {
    let subscription: {stop(): void; done: Promise<void>}
    try {
      subscription = this.options.docker.events((event) => this.onEvent(event), EVENT_FILTERS)
    } catch (error) {
      this.resync(`docker events could not be followed: ${messageOf(error)}`)
      return
    }
    this.subscription = subscription
    this.subscribedAt = Date.now()
    subscription.done.then(
      () => this.onEventsEnded(subscription, 'docker events stream ended'),
      (error) => this.onEventsEnded(subscription, `docker events stream failed: ${messageOf(error)}`),
    )
  }

  private onEventsEnded(subscription: {stop(): void}, reason: string): void {
    if (this.closed || this.subscription !== subscription) return
    this.subscription = undefined
    if (Date.now() - this.subscribedAt >= STABLE_SUBSCRIPTION_MS) this.quickFailures = 0
    this.resync(reason)
  }

  /** Drops the event stream, waits a backoff, follows events again and reconciles what was missed. */
  private resync(reason: string): void {
    if (this.closed || this.retryTimer) return
    this.subscription?.stop()
    this.subscription = undefined
    const base = this.options.retryDelayMs ?? 250
    const delay = Math.min(this.options.maxRetryDelayMs ?? 5000, base * 2 ** this.quickFailures++)
    this.log(`${reason}; following events again in ${delay} ms`)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (this.closed) return
      this.subscribe()
      void this.reconcile()
    }, delay)
  }

  /** Brings every running container's forwards up and every other container's down. */
  private async reconcile(): Promise<void> {
    let running: string[]
    try {
      const response = await this.options.docker.request<Array<{Id: string}>>('GET', '/containers/json')
      if (response.status !== 200 || !Array.isArray(response.body)) throw new Error(`docker API /containers/json answered ${response.status}`)
      running = response.body.map((container) => container.Id)
    } catch (error) {
      this.resync(`listing containers failed: ${messageOf(error)}`)
      return
    }
    if (this.closed) return
    // Known containers are inspected too rather than dropped: one may have started after the list was taken.
    const ids = new Set([...running, ...this.containers.keys()])
    await Promise.all([...ids].map((id) => this.enqueue(id, () => this.sync(id))))
  }

  private onEvent(event: DockerEvent): void {
    // Runs inside the docker client's stream parser, where a throw would end the stream: it only queues.
    const id = event.Actor?.ID
    if (this.closed || !id || (event.Type && event.Type !== 'container')) return
    if (event.Action === 'start') void this.enqueue(id, () => this.sync(id))
    else if (event.Action === 'die' || event.Action === 'destroy') void this.enqueue(id, () => this.release(id))
  }

  private enqueue(id: string, task: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(id) ?? Promise.resolve())
      .then(task)
      .catch((error) => this.log(`container ${id.slice(0, 12)}: ${messageOf(error)}`))
    this.queues.set(id, next)
    void next.then(() => {
      if (this.queues.get(id) === next) this.queues.delete(id)
    })
    return next
  }

  /** Inspects one container and makes its forwards match what it publishes now. */
  private async sync(id: string): Promise<void> {
    if (this.closed) return this.release(id)
    let inspect: ContainerInspect | undefined
    try {
      const response = await this.options.docker.request<ContainerInspect>('GET', `/containers/${encodeURIComponent(id)}/json`)
      if (response.status === 200) inspect = response.body
      else if (response.status !== 404) throw new Error(`docker API answered ${response.status}`)
    } catch (error) {
      // Whatever is open stays: the next event or reconcile pass decides again.
      this.log(`inspecting container ${id.slice(0, 12)} failed: ${messageOf(error)}`)
      return
    }
    if (!inspect || this.closed) return this.release(id)

    const bindings = bindingsOf(inspect)
    const wanted = new Map<string, WantedForward>()
    for (const binding of bindings) {
      for (const address of binding.listen) {
        if (address === '::1' && !this.options.ipv6) continue
        const key = forwardKey(binding.proto, address, binding.hostPort)
        if (!wanted.has(key)) wanted.set(key, {key, proto: binding.proto, address, hostPort: binding.hostPort, containerPort: binding.containerPort})
      }
    }
    if (wanted.size === 0) return this.release(id)

    const state = this.containers.get(id) ?? {name: '', wanted, open: new Map(), failed: new Map()}
    this.containers.set(id, state)
    state.name = bindings[0].containerName
    state.wanted = wanted
    for (const key of state.failed.keys()) if (!wanted.has(key)) state.failed.delete(key)
    await Promise.all([...state.open.values()].filter((f) => !wanted.has(f.key)).map((f) => this.closeForward(id, state, f)))
    for (const forward of state.open.values()) forward.containerPort = wanted.get(forward.key)!.containerPort
    // Earlier failures are retried too: a reconcile pass is also the way a freed port gets picked up.
    await Promise.all([...wanted.values()].filter((w) => !state.open.has(w.key)).map((w) => this.openForward(id, state, w)))
  }

  private async openForward(id: string, state: ContainerForwards, wanted: WantedForward): Promise<void> {
    const name = describeForward(wanted.proto, wanted.address, wanted.hostPort)
    state.failed.delete(wanted.key)
    await this.releasing.get(wanted.key)
    const owner = this.owners.get(wanted.key)
    if (owner !== undefined && owner !== id) {
      const reason = `${name} is already forwarded for container ${this.containers.get(owner)?.name ?? owner.slice(0, 12)}`
      state.failed.set(wanted.key, {...wanted, reason})
      this.log(`cannot forward ${name} for ${state.name}: ${reason}`)
      return
    }
    this.owners.set(wanted.key, id)
    try {
      const handle = await this.options.transport.open({proto: wanted.proto, listenAddress: wanted.address, hostPort: wanted.hostPort})
      state.open.set(wanted.key, {...wanted, handle})
      this.log(`forwarding ${name} to ${state.name}:${wanted.containerPort}`)
    } catch (error) {
      this.owners.delete(wanted.key)
      state.failed.set(wanted.key, {...wanted, reason: messageOf(error)})
      this.log(`cannot forward ${name} for ${state.name}: ${messageOf(error)}`)
    }
  }

  private async closeForward(id: string, state: ContainerForwards, forward: WantedForward & {handle: ForwardHandle}): Promise<void> {
    const name = describeForward(forward.proto, forward.address, forward.hostPort)
    state.open.delete(forward.key)
    const closing: Promise<void> = forward.handle
      .close()
      .then(
        () => this.log(`stopped forwarding ${name} (${state.name})`),
        (error) => this.log(`closing ${name} (${state.name}) failed: ${messageOf(error)}`),
      )
      .finally(() => {
        if (this.releasing.get(forward.key) === closing) this.releasing.delete(forward.key)
        if (this.owners.get(forward.key) === id) this.owners.delete(forward.key)
      })
    this.releasing.set(forward.key, closing)
    await closing
  }

  /** Closes a container's forwards; containers that failed for want of those ports try again. */
  private async release(id: string): Promise<void> {
    const state = this.containers.get(id)
    if (!state) return
    this.containers.delete(id)
    const freed = new Set(state.open.keys())
    await Promise.all([...state.open.values()].map((forward) => this.closeForward(id, state, forward)))
    if (this.closed) return
    for (const [otherId, other] of this.containers) {
      if ([...other.failed.keys()].some((key) => freed.has(key))) void this.enqueue(otherId, () => this.retryFailed(otherId))
    }
  }

  private async retryFailed(id: string): Promise<void> {
    const state = this.containers.get(id)
    if (!state || this.closed) return
    const retry = [...state.failed.keys()].map((key) => state.wanted.get(key)).filter((w): w is WantedForward => w !== undefined)
    await Promise.all(retry.map((wanted) => this.openForward(id, state, wanted)))
  }
}

function byListener(a: {hostPort: number; proto: string; address: string; containerName: string}, b: typeof a): number {
  return a.hostPort - b.hostPort || compare(a.proto, b.proto) || compare(a.address, b.address) || compare(a.containerName, b.containerName)
}

/** Code-unit order: locale collation ignores punctuation and would sort ::1 before 127.0.0.1. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
