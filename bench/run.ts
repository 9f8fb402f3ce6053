// dlite benchmarks: each compares dlite with a baseline side by side in one run, alternating the compared
// runs, repeating them, and printing medians and ratios next to the target. Everything that boots a VM
// runs inside a private network namespace (DESIGN.md §5).
//   npm run bench                 every benchmark
//   npm run bench -- cli-latency  one or more (start-to-ready, image-size, cli-latency, docker-api, memory, disk-reclaim, file-sharing, file-events, port-forward, start-stop-cycles, soak)
// Each result is kept in bench/results/<name>.json; the README table there is rebuilt from all of them.
import {execFileSync} from 'node:child_process'
import {cpus, totalmem} from 'node:os'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {cliLatency} from './cli-latency.js'
import {diskReclaim} from './disk-reclaim.js'
import {dockerApi} from './docker-api.js'
import {fileEvents} from './file-events.js'
import {fileSharing} from './file-sharing.js'
import {imageSize} from './image-size.js'
import {memory} from './memory.js'
import {portForward} from './port-forward.js'
import {soak} from './soak.js'
import {startStopCycles} from './start-stop-cycles.js'
import {startToReady} from './start-to-ready.js'
import type {BenchResult} from './result.js'
import {REPO} from '../test/helpers/dlite-cli.js'

const BENCHMARKS: Record<string, () => Promise<BenchResult>> = {
  'start-to-ready': startToReady,
  'image-size': imageSize,
  'cli-latency': cliLatency,
  'docker-api': dockerApi,
  memory,
  'disk-reclaim': diskReclaim,
  'file-sharing': fileSharing,
  'file-events': fileEvents,
  'port-forward': portForward,
  'start-stop-cycles': startStopCycles,
  soak,
}

const machine = {
  date: new Date().toISOString(),
  cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
  qemu: execFileSync('qemu-system-x86_64', ['--version'], {encoding: 'utf8'}).split('\n')[0],
  accelerator: 'see each result',
}

const wanted = process.argv.slice(2)
for (const name of wanted) if (!BENCHMARKS[name]) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(BENCHMARKS).join(', ')}`)
const results: BenchResult[] = []
for (const [name, bench] of Object.entries(BENCHMARKS)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue
  process.stderr.write(`\n== ${name}\n`)
  const result = await bench()
  results.push(result)
  for (const row of result.rows) {
    process.stderr.write(`${row.metric}: ${row.value} ${row.unit}${row.baseline === undefined ? '' : ` vs ${row.baseline} ${row.unit} (${row.baselineName})`}` +
      `${row.ratio === undefined ? '' : `, ratio ${row.ratio}`}${row.target ? `  [target ${row.target}: ${row.met ? 'met' : 'NOT met'}]` : ''}\n`)
  }
}

const dir = join(REPO, 'bench', 'results')
mkdirSync(dir, {recursive: true})
for (const result of results) writeFileSync(join(dir, `${result.name}.json`), JSON.stringify({machine, ...result}, null, 2) + '\n')
type Stored = BenchResult & {machine: typeof machine}
const stored = Object.keys(BENCHMARKS)
  .filter((name) => existsSync(join(dir, `${name}.json`)))
  .map((name) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Stored)
const table = [
  `# dlite benchmark results`, '',
  'Each benchmark\'s run, with its date and machine, is in its own JSON file here; `npm run bench` reruns them all.', '',
  '| benchmark | run | metric | dlite | baseline | ratio | target | met |', '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...stored.flatMap((r) => r.rows.map((row) =>
    `| ${r.name} | ${r.machine.date.slice(0, 10)} | ${row.metric} | ${row.value} ${row.unit} | ${row.baseline === undefined ? '' : `${row.baseline} ${row.unit} (${row.baselineName})`} | ` +
    `${row.ratio ?? ''} | ${row.target ?? ''} | ${row.target ? (row.met ? 'yes' : 'no') : ''} |`)),
  '', 'Machines:', '', ...[...new Set(stored.map((r) => `${r.machine.cpus}; ${r.machine.memoryGiB} GiB; Node ${r.machine.node}; ${r.machine.qemu}`))].map((m) => `- ${m}`),
  '', ...stored.flatMap((r) => [`## ${r.name}`, '', r.method, '']),
]
writeFileSync(join(dir, 'README.md'), table.join('\n'))
process.stdout.write(JSON.stringify({machine, results}, null, 2) + '\n')
