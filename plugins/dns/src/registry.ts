// The running containers and their DNS entries, kept current by docker's event stream rather than polling:
// subscribe first, then list what already runs, then apply events in order. A container that starts is
// inspected and added; one that dies, pauses or is destroyed is dropped at once (no inspect needed, so a
// stopped container's names go within milliseconds of docker's `die`). If the stream breaks (docker
// restarted, the VM came back), it reconnects with backoff and lists everything again.
import {containerEntry, type ContainerEntry, type ContainerFacts} from './container-names.js'

/** The part of dlite's DockerClient the registry uses (and tests fake). */
export interface DockerApi {
  request<T = unknown>(method: string, path: string): Promise<{status: number; body: T}>
  events(onEvent: (event: DockerEventLike) => void, filters?: Record<string, string[]>): {stop(): void; done: Promise<void>}
}

export interface DockerEventLike {
  Type: string
  Action: string
  Actor: {ID: string; Attributes?: Record<string, string>}
}

/** The events that change what is served; everything else is filtered out by docker. */
export const EVENT_FILTERS = {
  type: ['container', 'network'],
  event: ['start', 'unpause', 'rename', 'die', 'pause', 'destroy', 'connect', 'disconnect'],
}
const DROP_ACTIONS = new Set(['die', 'pause', 'destroy'])

interface InspectBody {
  Id: string
  Name: string
  Image: string
  Config?: {Image?: string; Labels?: Record<string, string> | null; Env?: string[] | null}
  State?: {Running?: boolean; Paused?: boolean}
  HostConfig?: {NetworkMode?: string}
  NetworkSettings?: {Networks?: Record<string, {IPAddress?: string; GlobalIPv6Address?: string}> | null}
}

function factsFromInspect(body: InspectBody): ContainerFacts {
  return {
    id: body.Id,
    name: body.Name,
    image: body.Config?.Image ?? '',
    imageId: body.Image,
    labels: body.Config?.Labels ?? {},
    env: body.Config?.Env ?? [],
    networks: body.NetworkSettings?.Networks ?? {},
    networkMode: body.HostConfig?.NetworkMode,
  }
}

interface RegistryOptions {
  /** The VM's address, for containers on the host network. */
  vmIp?: string
  log?: (line: string) => void
  /** Called after every change to the served entries. */
  onChange?: () => void
  /** Waits between reconnection attempts (the last one repeats). */
  retryDelaysMs?: number[]
}

export type StreamState = 'connecting' | 'connected' | 'reconnecting' | 'stopped'

export class ContainerRegistry {
  private readonly byId = new Map<string, ContainerEntry>()
  private queue: Promise<void> = Promise.resolve()
  private stream?: {stop(): void; done: Promise<void>}
  private stopped = false
  private failures = 0
  private retryTimer?: NodeJS.Timeout
  private firstSync?: Promise<void>
  state: StreamState = 'connecting'
  lastError?: string

  constructor(private readonly docker: DockerApi, private readonly options: RegistryOptions = {}) {}

  entries(): ContainerEntry[] {
    return [...this.byId.values()]
  }

  /** Subscribes and lists; resolves once the first listing is applied (or failed: it keeps retrying then). */
  start(): Promise<void> {
    this.firstSync ??= this.connect()
    return this.firstSync
  }

  stop(): void {
    this.stopped = true
    this.state = 'stopped'
    clearTimeout(this.retryTimer)
    this.stream?.stop()
    this.stream = undefined
  }

  /** Waits until every event received so far has been applied (tests, and `ls` after a change). */
  settled(): Promise<void> {
    return this.queue
  }

  private log(line: string): void {
    this.options.log?.(line)
  }

  /** Runs one step after all earlier ones, so events apply in the order docker sent them. */
  private enqueue(step: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(step).catch((error: Error) => this.log(`${error.message}`))
    return this.queue
  }

  private async connect(): Promise<void> {
    if (this.stopped) return
    const stream = this.docker.events((event) => {
      try {
        this.onEvent(event)
      } catch (error) {
        this.log(`bad docker event: ${(error as Error).message}`)
      }
    }, EVENT_FILTERS)
    this.stream = stream
    stream.done.then(() => 'the docker event stream ended', (error: Error) => `the docker event stream failed: ${error.message}`).then((reason) => {
      if (this.stopped || this.stream !== stream) return
      this.stream = undefined
      this.scheduleReconnect(reason)
    })
    let failure: string | undefined
    await this.enqueue(() => this.resync().catch((error: Error) => {
      failure = error.message
    }))
    if (this.stopped || this.stream !== stream) return
    if (failure !== undefined) {
      // Without the list the entries may be stale: start over, stream and all.
      this.stream = undefined
      stream.stop()
      this.scheduleReconnect(`could not list the containers: ${failure}`)
      return
    }
    this.state = 'connected'
    this.lastError = undefined
    this.failures = 0
  }

  private scheduleReconnect(reason: string): void {
    this.state = 'reconnecting'
    this.lastError = reason
    const delays = this.options.retryDelaysMs ?? [250, 500, 1000, 2000, 5000]
    const delay = delays[Math.min(this.failures, delays.length - 1)]
    this.failures++
    this.log(`${reason}; reconnecting in ${delay} ms`)
    this.retryTimer = setTimeout(() => void this.connect(), delay)
  }

  private onEvent(event: DockerEventLike): void {
    const id = event.Type === 'network' ? event.Actor.Attributes?.container : event.Actor.ID
    if (!id) return
    if (event.Type === 'container' && DROP_ACTIONS.has(event.Action)) {
      // Drop synchronously: a stopped container must stop resolving now, not after queued inspects.
      this.remove(id)
      void this.enqueue(async () => this.remove(id))
      return
    }
    void this.enqueue(() => this.refresh(id))
  }

  private remove(id: string): void {
    if (this.byId.delete(id)) this.changed()
  }

  private changed(): void {
    this.options.onChange?.()
  }

  /** Inspects one container and adds, updates or removes its entry. */
  private async refresh(id: string): Promise<void> {
    const response = await this.docker.request<InspectBody>('GET', `/containers/${encodeURIComponent(id)}/json`)
    if (response.status === 404) {
      this.remove(id)
      return
    }
    if (response.status !== 200) throw new Error(`docker inspect ${id.slice(0, 12)} answered ${response.status}`)
    const body = response.body
    const running = body.State?.Running === true && body.State?.Paused !== true
    const entry = running ? containerEntry(factsFromInspect(body), {vmIp: this.options.vmIp}) : undefined
    if (entry) {
      this.byId.set(body.Id, entry)
      this.changed()
    } else {
      this.remove(body.Id)
    }
  }

  /** Lists the running containers and rebuilds every entry. */
  private async resync(): Promise<void> {
    const response = await this.docker.request<Array<{Id: string}>>('GET', '/containers/json')
    if (response.status !== 200 || !Array.isArray(response.body)) throw new Error(`docker answered ${response.status} to the container list`)
    const running = new Set(response.body.map((c) => c.Id))
    for (const id of [...this.byId.keys()]) if (!running.has(id)) this.remove(id)
    for (const id of running) {
      if (this.stopped) return
      await this.refresh(id).catch((error: Error) => this.log(`${error.message}`))
    }
  }
}
