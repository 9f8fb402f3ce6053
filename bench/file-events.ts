// File events (host changes under a share -> inotify in the VM): what watching costs the host. A tree of
// 10,000 files in 1,000 directories is watched by the daemon's ShareEvents in a process of its own, beside a
// bare Node process with the same module loaded (the baseline); a local socket stands in for the guest's port
// and counts the lines. Measured: CPU while nothing changes; CPU to forward a burst of 1,000 changed files
// against the CPU it took to write them; the host's share of the latency (write -> line on the port).
// The guest's half (the agent's touch) is timed by the rootless end-to-end test, which prints it.
import {fork, type ChildProcess} from 'node:child_process'
import {appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {performance} from 'node:perf_hooks'

import {median, round} from './stats.js'
import type {BenchResult} from './result.js'

const DIRECTORIES = 1000
const FILES_PER_DIRECTORY = 10
const IDLE_S = 20
const BURST = 1000
const SINGLES = 20

type Sample = {cpuMs: number; rssMiB: number}

function startWatcher(mode: 'watch' | 'bare', socketPath: string, root: string): Promise<{child: ChildProcess; log: string[]}> {
  const child = fork(join(import.meta.dirname, 'file-events-watcher.ts'), [mode, socketPath, root], {execArgv: ['--import', 'tsx'], stdio: 'inherit'})
  return new Promise((resolve, reject) => {
    child.once('message', (m: {ready: boolean; log: string[]}) => resolve({child, log: m.log}))
    child.once('exit', (code) => reject(new Error(`the ${mode} process exited (${code}) before it was ready`)))
  })
}

function sample(child: ChildProcess): Promise<Sample> {
  return new Promise((resolve) => {
    child.once('message', (m: Sample) => resolve(m))
    child.send('cpu')
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function fileEvents(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'dlite-bench-events-'))
  const root = join(dir, 'tree')
  const files: string[] = []
  for (let d = 0; d < DIRECTORIES; d++) {
    const sub = join(root, `group${d % 10}`, `dir${d}`)
    mkdirSync(sub, {recursive: true})
    for (let f = 0; f < FILES_PER_DIRECTORY; f++) {
      const file = join(sub, `file${f}.js`)
      writeFileSync(file, 'x')
      files.push(file)
    }
  }
  // the guest's end of the port: when each path's line arrived
  const arrived = new Map<string, number>()
  let lines = 0
  const server = createServer((socket) => {
    let rest = ''
    socket.setEncoding('utf8')
    socket.on('data', (data: string) => {
      const now = performance.now()
      const parts = (rest + data).split('\n')
      rest = parts.pop()!
      for (const line of parts) {
        lines++
        arrived.set(line.split(' ').slice(2).join(' '), now)
      }
    })
  })
  const socketPath = join(dir, 'files.sock')
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  const children: ChildProcess[] = []
  try {
    const walkStart = performance.now()
    const watch = await startWatcher('watch', socketPath, root)
    const walkMs = performance.now() - walkStart
    const bare = await startWatcher('bare', socketPath, root)
    children.push(watch.child, bare.child)
    process.stderr.write(`${watch.log.join('\n')}\n`)

    // idle: nothing changes
    const [w0, b0] = [await sample(watch.child), await sample(bare.child)]
    await sleep(IDLE_S * 1000)
    const [w1, b1] = [await sample(watch.child), await sample(bare.child)]
    const idleWatch = (w1.cpuMs - w0.cpuMs) / IDLE_S
    const idleBare = (b1.cpuMs - b0.cpuMs) / IDLE_S

    // a burst: 1,000 files changed as fast as one process can append to them
    const burstFiles = files.filter((_, i) => i % (files.length / BURST) === 0).slice(0, BURST)
    arrived.clear()
    const linesBefore = lines
    const w2 = await sample(watch.child)
    const writerBefore = process.cpuUsage()
    const burstStart = performance.now()
    for (const file of burstFiles) appendFileSync(file, 'y')
    const writerCpuMs = (() => {
      const {user, system} = process.cpuUsage(writerBefore)
      return (user + system) / 1000
    })()
    const deadline = performance.now() + 30_000
    while (burstFiles.some((f) => !arrived.has(f)) && performance.now() < deadline) await sleep(10)
    const burstMs = Math.max(...burstFiles.map((f) => arrived.get(f) ?? Number.NaN)) - burstStart
    await sleep(500) // anything after the last file's line (echoes) counts too
    const w3 = await sample(watch.child)
    const burstWatch = w3.cpuMs - w2.cpuMs
    const burstLines = lines - linesBefore

    // one change at a time: the host's latency, write to line
    const latencies: number[] = []
    for (let i = 0; i < SINGLES; i++) {
      const file = files[(i * 397) % files.length]
      arrived.delete(file)
      const start = performance.now()
      appendFileSync(file, 'z')
      while (!arrived.has(file) && performance.now() - start < 5000) await sleep(2)
      latencies.push((arrived.get(file) ?? Number.NaN) - start)
      await sleep(200)
    }
    const rss = await sample(watch.child)
    const rssBare = await sample(bare.child)

    return {
      name: 'file-events',
      method: `${DIRECTORIES * FILES_PER_DIRECTORY} files in ${DIRECTORIES} directories watched by ShareEvents in a process of its own, ` +
        `beside a bare Node process with the same module loaded; a unix socket stands in for the guest's port. Idle: ${IDLE_S} s of CPU ` +
        `of both. Burst: ${BURST} files appended to by the benchmark, the watcher's CPU until every line arrived (+0.5 s) against ` +
        `the writer's own CPU. Latency: ${SINGLES} single appends 200 ms apart, write to line on the port (the 50 ms batch window is in it).`,
      rows: [
        {metric: 'idle CPU, 10,000 files watched', value: round(idleWatch, 3), unit: 'ms CPU/s', baseline: round(idleBare, 3), baselineName: 'bare node',
          ratio: round(idleWatch / Math.max(idleBare, 0.001))},
        {metric: `CPU for a burst of ${BURST} changes`, value: round(burstWatch, 0), unit: 'ms CPU', baseline: round(writerCpuMs, 0), baselineName: 'writing them',
          ratio: round(burstWatch / writerCpuMs)},
        {metric: `burst: last of ${BURST} lines sent (${burstLines} lines)`, value: round(burstMs, 0), unit: 'ms'},
        {metric: `host latency, write to line (median of ${SINGLES})`, value: round(median(latencies), 1), unit: 'ms', target: '< 1000 ms with the guest', met: median(latencies) < 1000},
        {metric: 'resident memory, 10,000 files watched', value: round(rss.rssMiB, 1), unit: 'MiB', baseline: round(rssBare.rssMiB, 1), baselineName: 'bare node',
          ratio: round(rss.rssMiB / rssBare.rssMiB)},
        {metric: `watcher ready: its process started and ${DIRECTORIES} directories walked`, value: round(walkMs, 0), unit: 'ms'},
      ],
      samples: {latencyMs: latencies.map((l) => round(l, 1))},
    }
  } finally {
    for (const child of children) child.kill()
    server.close()
    rmSync(dir, {recursive: true, force: true})
  }
}
