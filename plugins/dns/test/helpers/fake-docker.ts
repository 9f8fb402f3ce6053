// An in-memory docker engine for tests: containers to inspect and list, and an event stream the test drives.
import type {DockerApi, DockerEventLike} from '../../src/registry.js'

export interface FakeContainer {
  Id: string
  Name: string
  running: boolean
  paused?: boolean
  ip: string
  labels?: Record<string, string>
}

export class FakeDocker implements DockerApi {
  containers = new Map<string, FakeContainer>()
  calls: string[] = []
  streams: Array<{onEvent: (event: DockerEventLike) => void; end: (error?: Error) => void; stopped: boolean; filters?: Record<string, string[]>}> = []
  failList = 0

  add(c: FakeContainer): void {
    this.containers.set(c.Id, c)
  }

  async request<T>(method: string, path: string): Promise<{status: number; body: T}> {
    this.calls.push(`${method} ${path}`)
    await new Promise((resolve) => setImmediate(resolve))
    if (path === '/containers/json') {
      if (this.failList > 0) {
        this.failList--
        return {status: 500, body: {message: 'boom'} as T}
      }
      return {status: 200, body: [...this.containers.values()].filter((c) => c.running).map((c) => ({Id: c.Id})) as T}
    }
    const id = decodeURIComponent(/^\/containers\/([^/]+)\/json$/.exec(path)![1])
    const c = this.containers.get(id)
    if (!c) return {status: 404, body: {message: 'no such container'} as T}
    return {
      status: 200,
      body: {
        Id: c.Id, Name: c.Name, Image: 'sha256:' + '1'.repeat(64),
        Config: {Image: 'busybox:local', Labels: c.labels ?? {}, Env: []},
        State: {Running: c.running, Paused: c.paused ?? false},
        HostConfig: {NetworkMode: 'bridge'},
        NetworkSettings: {Networks: {bridge: {IPAddress: c.ip}}},
      } as T,
    }
  }

  events(onEvent: (event: DockerEventLike) => void, filters?: Record<string, string[]>) {
    this.calls.push('events')
    let end!: (error?: Error) => void
    const done = new Promise<void>((resolve, reject) => {
      end = (error) => (error ? reject(error) : resolve())
    })
    const stream = {onEvent, end, stopped: false, filters}
    this.streams.push(stream)
    return {
      stop: () => {
        stream.stopped = true
        end()
      },
      done,
    }
  }

  get stream() {
    return this.streams.at(-1)!
  }

  emit(Action: string, id: string, Type = 'container'): void {
    this.stream.onEvent(Type === 'network' ? {Type, Action, Actor: {ID: 'net1', Attributes: {container: id}}} : {Type, Action, Actor: {ID: id, Attributes: {}}})
  }
}
