// Reliability, not speed: N start/stop cycles of one home in a row (default 30, DLITE_CYCLES to change), each
// start timed, with what decided readiness (the guest's readiness port, its console, or dockerd over TLS) and
// whether the console's own `DLITE-READY docker` line arrived intact — the line a missed-marker failure lost.
// A failed start, and a boot whose console line was not intact, keep their daemon log and both guest logs under
// bench/results/cycles-failures/.
import {cpSync, mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {BenchResult} from './result.js'
import {sandboxVm} from './sandbox-vm.js'
import {median} from './stats.js'

export async function startStopCycles(): Promise<BenchResult> {
  const cycles = Number(process.env.DLITE_CYCLES ?? 30)
  const vm = await sandboxVm({start: false, network: 'user'})
  const seconds: number[] = []
  const failures: string[] = []
  const decidedBy: Record<string, number> = {port: 0, console: 0, tls: 0}
  let consoleIntact = 0
  try {
    for (let i = 1; i <= cycles; i++) {
      const logStart = readLog(vm.home, 'daemon.log').length
      const t0 = Date.now()
      const started = await vm.cli(['start', '--timeout', '300'], {timeoutMs: 320_000})
      const s = (Date.now() - t0) / 1000
      const log = readLog(vm.home, 'daemon.log').slice(logStart)
      if (started.code !== 0) {
        failures.push(`cycle ${i}: ${started.stderr.trim().split('\n').at(-1)}`)
        keepLogs(vm.home, `cycle-${i}`)
      } else {
        seconds.push(s)
        const first = /docker answered over TLS before/.test(log.split('stage boot done')[0]) ? 'tls'
          : /guest: DLITE-READY docker \([\d.]+s\) \[console\]/.test(log) ? 'console' : 'port'
        decidedBy[first]++
      }
      // the console's own line, intact, whatever decided; a console without it is kept as evidence
      if (/^DLITE-READY docker [\d.]+\r?$/m.test(readLog(vm.home, 'console.log'))) consoleIntact++
      else keepLogs(vm.home, `console-not-intact-${i}`)
      process.stderr.write(`cycle ${i}/${cycles}: ${started.code === 0 ? `ready in ${s.toFixed(1)} s` : 'FAILED'}\n`)
      // a boot every cycle, as this bench measures: a saved state would be resumed, with no boot markers
      const stopped = await vm.cli(['stop', '--cold'], {timeoutMs: 120_000})
      if (stopped.code !== 0) failures.push(`cycle ${i}: stop failed: ${stopped.stderr.trim()}`)
    }
  } finally {
    await vm.close()
  }
  for (const f of failures) process.stderr.write(`${f}\n`)
  return {
    name: 'start-stop-cycles',
    method: `${cycles} start/stop cycles of one user-mode home under ${process.env.DLITE_ACCEL ?? 'the default accelerator'}; start = \`dlite start\` until docker answers through the host socket`,
    rows: [
      {metric: 'failed starts', value: failures.length, unit: `of ${cycles}`, target: '0', met: failures.length === 0},
      {metric: 'start, median', value: round(median(seconds)), unit: 's'},
      {metric: 'start, slowest', value: round(Math.max(...seconds)), unit: 's'},
      {metric: 'ready decided by the readiness port', value: decidedBy.port, unit: 'starts'},
      {metric: 'ready decided by dockerd over TLS', value: decidedBy.tls, unit: 'starts'},
      {metric: 'ready decided by the console', value: decidedBy.console, unit: 'starts'},
      {metric: 'console READY line intact', value: consoleIntact, unit: `of ${cycles}`},
    ],
    samples: {startSeconds: seconds},
  }
}

/** This boot's daemon, console and readiness logs, under bench/results/cycles-failures/NAME. */
function keepLogs(home: string, name: string): void {
  const keep = join('bench', 'results', 'cycles-failures', name)
  mkdirSync(keep, {recursive: true})
  for (const log of ['daemon.log', 'console.log', 'ready.log']) cpSync(join(home, 'logs', log), join(keep, log), {force: true})
}

function readLog(home: string, name: string): string {
  try {
    return readFileSync(join(home, 'logs', name), 'utf8')
  } catch {
    return ''
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10
}
