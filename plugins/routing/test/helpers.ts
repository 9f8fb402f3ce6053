// Shared test doubles: a recording command runner, fixtures, and an in-memory host routing table.
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import type {ExecResult, Runner} from 'dlite-kit/exec'
import type {HostRoute} from 'dlite-kit/routes'
import type {RouteBackend, VmLink} from '../src/route-backend.js'

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8')
}

export interface RecordingRunner extends Runner {
  calls: string[][]
}

/** A runner that records each argv (program first) and answers from `answer`, else exit 0 with no output. */
export function recordingRunner(answer: (argv: string[]) => Partial<ExecResult> | undefined = () => undefined): RecordingRunner {
  const calls: string[][] = []
  const runner = (async (cmd: string, args: string[]) => {
    const argv = [cmd, ...args]
    calls.push(argv)
    return {code: 0, stdout: '', stderr: '', ...answer(argv)}
  }) as RecordingRunner
  runner.calls = calls
  return runner
}

export const VM: VmLink & {subnet: string} = {ip: '192.168.64.2', hostIp: '192.168.64.1', bridge: 'dlbr-test', subnet: '192.168.64.0/24'}

/** A routing table in memory, changed by add/remove the way the kernel would. */
export class FakeBackend implements RouteBackend {
  readonly log: string[] = []
  constructor(public routes: HostRoute[] = [{dst: '192.168.64.0/24', dev: 'dlbr-test'}]) {}

  async readRoutes(): Promise<HostRoute[]> {
    return this.routes.map((r) => ({...r}))
  }

  async addRoute(subnet: string): Promise<void> {
    this.log.push(`add ${subnet}`)
    this.routes = [...this.routes.filter((r) => r.dst !== subnet), {dst: subnet, gateway: VM.ip, dev: VM.bridge}]
  }

  async removeRoute(subnet: string): Promise<void> {
    this.log.push(`del ${subnet}`)
    this.routes = this.routes.filter((r) => !(r.dst === subnet && r.gateway === VM.ip))
  }
}

/** Docker's API for the router: networks and containers to list, and an event stream the test drives. */
export class FakeDocker {
  networks: DockerNetworkLike[] = []
  containers: unknown[] = []
  requests: string[] = []
  streams: Array<{filters?: Record<string, string[]>; emit: (event: unknown) => void; end: (error?: Error) => void; stopped: boolean}> = []

  async request<T>(method: string, path: string): Promise<{status: number; body: T}> {
    this.requests.push(`${method} ${path}`)
    if (path === '/networks') return {status: 200, body: structuredClone(this.networks) as T}
    if (path === '/containers/json') return {status: 200, body: structuredClone(this.containers) as T}
    return {status: 404, body: {message: 'not found'} as T}
  }

  events(onEvent: (event: never) => void, filters?: Record<string, string[]>): {stop(): void; done: Promise<void>} {
    let resolve!: () => void
    let reject!: (error: Error) => void
    const done = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    const stream = {
      filters,
      emit: (event: unknown) => onEvent(event as never),
      end: (error?: Error) => (error ? reject(error) : resolve()),
      stopped: false,
    }
    this.streams.push(stream)
    return {
      stop: () => {
        stream.stopped = true
        resolve()
      },
      done,
    }
  }

  addBridge(name: string, subnet: string, options: {internal?: boolean} = {}): string {
    const id = `${name}-id`.padEnd(64, '0')
    this.networks.push({Id: id, Name: name, Driver: 'bridge', Internal: options.internal ?? false, IPAM: {Config: [{Subnet: subnet}]}})
    return id
  }
}

export interface DockerNetworkLike {
  Id: string
  Name: string
  Driver: string
  Internal?: boolean
  IPAM?: {Config?: Array<{Subnet?: string}> | null}
}

/** Resolves once `check` holds, polling the event loop; fails the test after `ms`. */
export async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
