// Load, not speed: one user-mode VM, and at the same time, through the host docker socket (the daemon's unix
// socket, which pipes every connection to dockerd over TLS):
//   (a) 50 clients, each making 200 Docker API requests in a row (a mix of /_ping, /version,
//       /containers/json, /images/json and now and then /info). Even-numbered clients hold one keep-alive
//       connection for all their requests; odd-numbered ones open a fresh connection for every request, so
//       the daemon's connection setup and teardown is soaked as well as its piping;
//   (b) 20 busybox containers created, started, waited for, their logs read and removed, all in parallel;
//   (c) 5 long-running containers with an attach stream (HTTP upgrade) and a `logs --follow` stream each,
//       held open through the whole soak and checked to still deliver output at the end.
// Goals: no failed request, the daemon's RSS grows by less than 10 %, and its open file descriptors do not
// grow (after the soak, streams still open, against before it; and once the streams are closed, against idle).
// DLITE_SOAK_CLIENTS, DLITE_SOAK_REQUESTS and DLITE_SOAK_CONTAINERS change the counts.
import {readdirSync, readFileSync} from 'node:fs'
import {Agent, request, type IncomingMessage} from 'node:http'
import type {Socket} from 'node:net'
import {join} from 'node:path'
import {performance} from 'node:perf_hooks'
import {setTimeout as sleep} from 'node:timers/promises'

import {rssMiB} from '../test/helpers/proc.js'
import {percentile, round} from './stats.js'
import type {BenchResult} from './result.js'
import {sandboxVm} from './sandbox-vm.js'

const CLIENTS = Number(process.env.DLITE_SOAK_CLIENTS ?? 50)
const REQUESTS_PER_CLIENT = Number(process.env.DLITE_SOAK_REQUESTS ?? 200)
const CONTAINERS = Number(process.env.DLITE_SOAK_CONTAINERS ?? 20)
const STREAM_CONTAINERS = 5
const WARMUP_REQUESTS = 5
// A request fails when it errs or never answers, not when it is slow: under TCG, 20 container starts behind
// 10,000 API calls take minutes (measured: the first run with 120 s failed every start and remove on time alone).
const REQUEST_TIMEOUT_MS = 900_000
const IMAGE = 'busybox:local'

// One client's requests cycle through these 20 (8 pings, 4 versions, 4 container lists, 3 image lists, 1 info),
// each client starting at its own offset so that the /info calls are spread out.
type Endpoint = 'ping' | 'version' | 'containers' | 'images' | 'info'
const PATHS: Record<Endpoint, string> = {
  ping: '/_ping', version: '/version', containers: '/containers/json?all=1', images: '/images/json', info: '/info',
}
const MIX: Endpoint[] = [
  'ping', 'version', 'containers', 'ping', 'images', 'ping', 'version', 'containers', 'ping', 'images',
  'ping', 'version', 'containers', 'ping', 'info', 'ping', 'version', 'containers', 'ping', 'images',
]

interface Failure {
  what: string
  reason: string
}

/** Every request the bench sends, with its failures and, per label, the latencies of those that succeeded. */
class Tally {
  requests = 0
  readonly failures: Failure[] = []
  readonly latencies = new Map<string, number[]>()

  constructor(readonly socketPath: string) {}

  fail(what: string, reason: string): void {
    this.failures.push({what, reason})
    process.stderr.write(`FAILED ${what}: ${reason}\n`)
  }

  /**
   * One request and its whole response. Returns the body, or undefined when it failed (already recorded): a
   * connection error, a timeout, a status not in `expect`, or a body `check` rejects (it returns the reason).
   */
  async call(what: string, label: string, method: string, path: string, options: {
    expect?: number[]; body?: unknown; agent?: Agent | false; check?: (body: Buffer) => string | undefined
  } = {}): Promise<Buffer | undefined> {
    this.requests++
    const started = performance.now()
    try {
      const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body))
      const {status, body} = await new Promise<{status: number; body: Buffer}>((resolve, reject) => {
        const req = request({
          socketPath: this.socketPath, method, path, agent: options.agent ?? false,
          headers: payload ? {'Content-Type': 'application/json', 'Content-Length': payload.length} : {},
        }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks)}))
          res.on('error', reject)
          res.on('aborted', () => reject(new Error('response aborted')))
        })
        req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)))
        req.on('error', reject)
        req.end(payload)
      })
      const expect = options.expect ?? [200]
      if (!expect.includes(status)) {
        this.fail(what, `HTTP ${status} (expected ${expect.join(' or ')}): ${body.toString('utf8').trim().slice(0, 300)}`)
        return undefined
      }
      const bad = options.check?.(body)
      if (bad) {
        this.fail(what, bad)
        return undefined
      }
      const ms = performance.now() - started
      const list = this.latencies.get(label) ?? []
      list.push(ms)
      this.latencies.set(label, list)
      return body
    } catch (error) {
      this.fail(what, `${(error as NodeJS.ErrnoException).code ?? 'error'}: ${(error as Error).message}`)
      return undefined
    }
  }

  /** call() for a JSON answer: the parsed body, or undefined when it failed or was not JSON. */
  async json<T>(what: string, label: string, method: string, path: string, options: {expect?: number[]; body?: unknown} = {}): Promise<T | undefined> {
    let parsed: T | undefined
    const body = await this.call(what, label, method, path, {...options, check: (raw) => {
      try {
        parsed = JSON.parse(raw.toString('utf8')) as T
        return undefined
      } catch {
        return `not JSON: ${raw.toString('utf8').slice(0, 200)}`
      }
    }})
    return body === undefined ? undefined : parsed
  }
}

const jsonCheck = (raw: Buffer) => {
  try {
    JSON.parse(raw.toString('utf8'))
    return undefined
  } catch {
    return `not JSON: ${raw.toString('utf8').slice(0, 200)}`
  }
}

/** Docker's multiplexed stdout/stderr framing (a container without a TTY): 8-byte headers, then the payload. */
class Demux {
  private pending: Buffer = Buffer.alloc(0)
  private partial = ''
  lines = 0
  text = ''

  constructor(private readonly keepText = false) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4)
      if (this.pending.length < 8 + size) break
      const payload = this.pending.subarray(8, 8 + size).toString('utf8')
      this.pending = this.pending.subarray(8 + size)
      if (this.keepText) this.text += payload
      const parts = (this.partial + payload).split('\n')
      this.partial = parts.pop() ?? ''
      this.lines += parts.length
    }
  }
}

function demuxed(raw: Buffer): string {
  const demux = new Demux(true)
  demux.push(raw)
  return demux.text
}

/** One client's run: `count` requests in a row, on its own keep-alive connection or a fresh one each time. */
async function client(tally: Tally, index: number, count: number, phase: string): Promise<void> {
  const keepAlive = index % 2 === 0
  const agent = keepAlive ? new Agent({keepAlive: true, maxSockets: 1}) : false
  try {
    for (let r = 0; r < count; r++) {
      const endpoint = MIX[(r + index) % MIX.length]
      const label = `${phase} ${endpoint}`
      await tally.call(`${phase} client ${index} request ${r + 1} GET ${PATHS[endpoint]}`, label, 'GET', PATHS[endpoint], {
        agent, check: endpoint === 'ping' ? (body) => (body.toString('utf8') === 'OK' ? undefined : `body ${JSON.stringify(body.toString('utf8').slice(0, 100))}, not OK`) : jsonCheck,
      })
    }
  } finally {
    if (agent) agent.destroy()
  }
}

/** One short container: create, start, wait, its logs, remove. Its seconds from create to removed, or undefined when a step failed. */
async function shortContainer(tally: Tally, name: string): Promise<number | undefined> {
  const started = performance.now()
  const label = 'container'
  const created = await tally.json<{Id: string}>(`${name}: create`, label, 'POST', `/containers/create?name=${name}`,
    {expect: [201], body: {Image: IMAGE, Cmd: ['/bin/sh', '-c', 'echo hi; sleep 2']}})
  if (!created) return undefined
  let ok = true
  try {
    if (!(await tally.call(`${name}: start`, label, 'POST', `/containers/${created.Id}/start`, {expect: [204]}))) return undefined
    const waited = await tally.json<{StatusCode: number}>(`${name}: wait`, `${label} wait`, 'POST', `/containers/${created.Id}/wait`)
    if (!waited) return undefined
    if (waited.StatusCode !== 0) {
      tally.fail(`${name}: wait`, `exited with ${waited.StatusCode}`)
      ok = false
    }
    const logs = await tally.call(`${name}: logs`, label, 'GET', `/containers/${created.Id}/logs?stdout=1&stderr=1`,
      {check: (raw) => (demuxed(raw) === 'hi\n' ? undefined : `logs ${JSON.stringify(demuxed(raw).slice(0, 100))}, not "hi"`)})
    if (!logs) ok = false
  } finally {
    if (!(await tally.call(`${name}: remove`, label, 'DELETE', `/containers/${created.Id}?force=1`, {expect: [204]}))) ok = false
  }
  return ok ? (performance.now() - started) / 1000 : undefined
}

/** An attach or `logs --follow` stream held open on its own connection, counting the lines it delivers. */
interface HeldStream {
  name: string
  readonly demux: Demux
  /** Why it ended, when it ended before close(). */
  ended?: string
  close(): void
}

function holdStream(tally: Tally, kind: 'attach' | 'logs', containerId: string, name: string): Promise<HeldStream> {
  tally.requests++
  const demux = new Demux()
  let closing = false
  let destroy = () => {}
  const stream: HeldStream = {
    name, demux,
    close() {
      closing = true
      destroy()
    },
  }
  const ended = (reason: string) => {
    if (closing || stream.ended) return
    stream.ended = reason
    tally.fail(name, `the stream ended during the soak: ${reason}`)
  }
  const follow = (source: Socket | IncomingMessage) => {
    source.on('data', (chunk: Buffer) => demux.push(chunk))
    source.on('end', () => ended('end of stream'))
    source.on('close', () => ended('connection closed'))
    source.on('error', (error: Error) => ended(error.message))
  }
  return new Promise<HeldStream>((resolve, reject) => {
    const req = kind === 'attach'
      ? request({socketPath: tally.socketPath, method: 'POST', agent: false, path: `/containers/${containerId}/attach?stream=1&stdout=1&stderr=1`,
          headers: {Connection: 'Upgrade', Upgrade: 'tcp'}})
      : request({socketPath: tally.socketPath, method: 'GET', agent: false, path: `/containers/${containerId}/logs?follow=1&stdout=1&stderr=1`})
    destroy = () => req.destroy()
    let open = false
    const failed = (reason: string) => {
      tally.fail(name, reason)
      req.destroy()
      reject(new Error(`${name}: ${reason}`))
    }
    req.on('upgrade', (_res, socket, head) => {
      open = true
      destroy = () => socket.destroy()
      if (head.length > 0) demux.push(head)
      follow(socket)
      resolve(stream)
    })
    req.on('response', (res) => {
      if (kind === 'attach' || res.statusCode !== 200) {
        res.resume()
        failed(`HTTP ${res.statusCode}${kind === 'attach' ? ', not 101 (upgrade)' : ''}`)
        return
      }
      open = true
      destroy = () => res.destroy()
      follow(res)
      resolve(stream)
    })
    req.on('error', (error: NodeJS.ErrnoException) => {
      const reason = `${error.code ?? 'error'}: ${error.message}`
      if (open) ended(reason)
      else failed(reason)
    })
    req.end()
  })
}

/** Waits until every stream has delivered more lines than `from` (its count when called); the ones that did. */
async function streamsDeliver(streams: HeldStream[], timeoutS: number): Promise<HeldStream[]> {
  const from = new Map(streams.map((s) => [s, s.demux.lines]))
  const deadline = Date.now() + timeoutS * 1000
  const delivered = () => streams.filter((s) => !s.ended && s.demux.lines > from.get(s)!)
  while (delivered().length < streams.length && Date.now() < deadline) await sleep(250)
  return delivered()
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return Number.NaN
  }
}

/** The daemon's fd count once it is at most `atMost`, or what it is after `maxS` seconds of waiting for that. */
async function settledFds(pid: number, atMost: number, maxS: number): Promise<number> {
  for (let s = 0; ; s++) {
    const n = fdCount(pid)
    if (!(n > atMost) || s >= maxS) return n
    await sleep(1000)
  }
}

/** The pid in the home's run/daemon.pid, if there is one. */
function pidFile(home: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(home, 'run', 'daemon.pid'), 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function daemonPid(home: string, fromStatus: number | undefined): number {
  const pid = fromStatus ?? pidFile(home)
  if (pid === undefined) throw new Error('no daemon pid in `dlite status --json` or run/daemon.pid')
  return pid
}

export async function soak(): Promise<BenchResult> {
  const vm = await sandboxVm({start: true, network: 'user'})
  const streams: HeldStream[] = []
  const streamContainers: string[] = []
  const tally = new Tally(vm.socket)
  try {
    await vm.importBusybox()
    const pid = daemonPid(vm.home, (await vm.cli.json<{pid?: number}>(['status'])).body.pid)
    process.stderr.write(`daemon pid ${pid}\n`)

    // A short warm-up, so that the before figures are the daemon's state under load, not its first allocations.
    await Promise.all([
      ...Array.from({length: CLIENTS}, (_, i) => client(tally, i, WARMUP_REQUESTS, 'warm-up')),
      shortContainer(tally, 'soak-warmup'),
    ])
    await sleep(10_000)
    const idleFds = fdCount(pid)

    // (c) the streams, open before the soak and through it
    for (let i = 0; i < STREAM_CONTAINERS; i++) {
      const name = `soak-stream-${i}`
      const created = await tally.json<{Id: string}>(`${name}: create`, 'setup', 'POST', `/containers/create?name=${name}`,
        {expect: [201], body: {Image: IMAGE, Cmd: ['/bin/sh', '-c', 'i=0; while :; do echo tick $i; i=$((i+1)); sleep 1; done']}})
      if (!created) throw new Error(`could not create ${name}`)
      streamContainers.push(created.Id)
      if (!(await tally.call(`${name}: start`, 'setup', 'POST', `/containers/${created.Id}/start`, {expect: [204]}))) throw new Error(`could not start ${name}`)
      streams.push(await holdStream(tally, 'attach', created.Id, `${name} attach stream`))
      streams.push(await holdStream(tally, 'logs', created.Id, `${name} logs --follow stream`))
    }
    const first = await streamsDeliver(streams, 60)
    if (first.length < streams.length) throw new Error(`streams with no output before the soak: ${streams.filter((s) => !first.includes(s)).map((s) => s.name).join(', ')}`)
    await sleep(5000)
    const rssBefore = rssMiB(pid)
    const fdsBefore = fdCount(pid)
    process.stderr.write(`before: daemon RSS ${round(rssBefore, 1)} MiB, ${fdsBefore} fds (${idleFds} idle, without the ${streams.length} streams)\n`)

    // (a) and (b) at once
    const rssTrace: number[] = [rssBefore]
    const sampler = setInterval(() => rssTrace.push(rssMiB(pid)), 1000)
    const soakStarted = performance.now()
    let clientsMs = 0
    const containerSeconds: Array<number | undefined> = []
    try {
      await Promise.all([
        Promise.all(Array.from({length: CLIENTS}, (_, i) => client(tally, i, REQUESTS_PER_CLIENT, 'soak'))).then(() => {
          clientsMs = performance.now() - soakStarted
        }),
        Promise.all(Array.from({length: CONTAINERS}, (_, i) => shortContainer(tally, `soak-run-${i}`))).then((s) => containerSeconds.push(...s)),
      ])
    } finally {
      clearInterval(sampler)
    }
    const soakS = (performance.now() - soakStarted) / 1000
    process.stderr.write(`soak done in ${round(soakS, 1)} s\n`)

    const delivering = await streamsDeliver(streams, 20)
    for (const s of streams) if (!delivering.includes(s) && !s.ended) tally.fail(s.name, 'open, but no new output in 20 s after the soak')
    await sleep(5000)
    const fdsAfter = await settledFds(pid, fdsBefore, 30)
    const rssAfter = rssMiB(pid)
    rssTrace.push(rssAfter)
    if (Number.isNaN(rssAfter)) tally.fail('daemon', `pid ${pid} is gone after the soak`)
    else if (pidFile(vm.home) !== pid) tally.fail('daemon', `run/daemon.pid no longer names pid ${pid}`)

    // the streams closed and their containers removed: the daemon should be back at its idle fd count
    for (const s of streams.splice(0)) s.close()
    for (const id of streamContainers.splice(0)) await tally.call(`stream container ${id.slice(0, 12)}: remove`, 'setup', 'DELETE', `/containers/${id}?force=1`, {expect: [204]})
    await sleep(5000)
    const fdsClosed = await settledFds(pid, idleFds, 30)

    const soakLatencies = [...tally.latencies].filter(([label]) => label.startsWith('soak ')).flatMap(([, v]) => v)
    for (const [label, values] of [...tally.latencies].sort((a, b) => a[0].localeCompare(b[0]))) {
      process.stderr.write(`${label}: ${values.length} ok, p50 ${round(percentile(values, 50))} ms, p99 ${round(percentile(values, 99))} ms, max ${round(Math.max(...values))} ms\n`)
    }
    const failures = tally.failures
    if (failures.length > 0) {
      process.stderr.write(`${failures.length} failures:\n`)
      for (const f of failures.slice(0, 100)) process.stderr.write(`  ${f.what}: ${f.reason}\n`)
      if (failures.length > 100) process.stderr.write(`  ... and ${failures.length - 100} more\n`)
      const byReason = new Map<string, number>()
      for (const f of failures) byReason.set(f.reason, (byReason.get(f.reason) ?? 0) + 1)
      for (const [reason, n] of [...byReason].sort((a, b) => b[1] - a[1])) process.stderr.write(`  ${n} x ${reason}\n`)
    }
    const clientRequests = CLIENTS * REQUESTS_PER_CLIENT
    const okContainers = containerSeconds.filter((s): s is number => s !== undefined)
    const growth = ((rssAfter - rssBefore) / rssBefore) * 100
    return {
      name: 'soak',
      method: `One user-mode VM (2 vCPU, 2 GiB) under ${process.env.DLITE_ACCEL ?? 'the default accelerator'}; all requests from the benchmark ` +
        'process with Node\'s http module through the host docker socket (the daemon\'s unix socket, piped to dockerd over TLS). ' +
        `At once: ${CLIENTS} clients of ${REQUESTS_PER_CLIENT} sequential requests each (in every 20: 8 GET /_ping, 4 /version, ` +
        '4 /containers/json?all=1, 3 /images/json, 1 /info), even-numbered clients on one keep-alive connection each ' +
        '(an Agent with keepAlive and maxSockets 1), odd-numbered ones on a fresh connection per request; and ' +
        `${CONTAINERS} busybox containers (\`sh -c 'echo hi; sleep 2'\`) created, started, waited for, their logs checked and ` +
        `removed in parallel through the API. Meanwhile ${STREAM_CONTAINERS} containers printing a line a second each have an attach ` +
        'stream (HTTP upgrade) and a logs follow=1 stream open from before the soak to after it, where each must deliver a new line ' +
        `within 20 s. A request fails on a connection error, a ${REQUEST_TIMEOUT_MS / 1000} s timeout, an unexpected status or a ` +
        'malformed body. Latency is from request to the end of the response, over the soak clients\' successful requests. ' +
        `The "before" figures are taken after a warm-up (${CLIENTS} x ${WARMUP_REQUESTS} requests and one container) and a 10 s settle, ` +
        'with the streams open; "after" 5 s after the soak, the streams still open (fds: the first count within 30 s at or below ' +
        'before). "Idle" is the fd count before the streams opened, compared with after they closed and their containers went. ' +
        'RSS is VmRSS from /proc; fds are the entries of /proc/PID/fd. Failed requests count every request the benchmark sent, ' +
        'warm-up and set-up included.',
      rows: [
        {metric: 'failed requests', value: failures.length, unit: `of ${tally.requests}`, target: '0', met: failures.length === 0},
        {metric: 'API requests through the host socket', value: tally.requests, unit: 'requests'},
        {metric: `client requests (${CLIENTS} x ${REQUESTS_PER_CLIENT}) throughput`, value: round(clientRequests / (clientsMs / 1000), 0), unit: 'req/s'},
        {metric: 'client request latency p50', value: round(percentile(soakLatencies, 50)), unit: 'ms'},
        {metric: 'client request latency p99', value: round(percentile(soakLatencies, 99)), unit: 'ms'},
        {metric: 'containers created, run and removed', value: okContainers.length, unit: `of ${CONTAINERS}`, target: `${CONTAINERS}`, met: okContainers.length === CONTAINERS},
        {metric: 'container create to removed, slowest', value: round(Math.max(...okContainers), 1), unit: 's'},
        {metric: 'streams still delivering at the end', value: delivering.length, unit: `of ${STREAM_CONTAINERS * 2}`,
          target: `${STREAM_CONTAINERS * 2}`, met: delivering.length === STREAM_CONTAINERS * 2},
        {metric: 'daemon RSS after the soak', value: round(rssAfter, 1), unit: 'MiB', baseline: round(rssBefore, 1), baselineName: 'before',
          ratio: round(rssAfter / rssBefore)},
        {metric: 'daemon RSS growth', value: round(growth, 1), unit: '%', target: '< 10 %', met: growth < 10},
        {metric: 'daemon RSS peak during the soak', value: round(Math.max(...rssTrace), 1), unit: 'MiB'},
        {metric: 'daemon open fds after the soak, streams open', value: fdsAfter, unit: 'fds', baseline: fdsBefore, baselineName: 'before',
          target: 'no growth', met: fdsAfter <= fdsBefore},
        {metric: 'daemon open fds after the streams closed', value: fdsClosed, unit: 'fds', baseline: idleFds, baselineName: 'idle',
          target: 'no growth', met: fdsClosed <= idleFds},
      ],
      samples: {daemonRssMiB: rssTrace, containerSeconds: okContainers, soakSeconds: [soakS]},
    }
  } finally {
    for (const s of streams) s.close()
    await vm.close()
  }
}
