// dlite benchmarks: each compares dlite with a baseline side by side in one run, alternating the compared
// runs, repeating them, and printing medians and ratios next to the target. Everything that boots a VM
// runs inside a private network namespace (DESIGN.md §5).
//   npm run bench                 every benchmark
//   npm run bench -- cli-latency  one (cli-latency, image-size, docker-api)
import {execFileSync} from 'node:child_process'
import {cpus, totalmem} from 'node:os'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {cliLatency} from './cli-latency.js'
import {dockerApi} from './docker-api.js'
import {imageSize} from './image-size.js'
import type {BenchResult} from './result.js'
import {REPO} from '../test/helpers/dlite-cli.js'

const BENCHMARKS: Record<string, () => Promise<BenchResult>> = {
  'image-size': imageSize,
  'cli-latency': cliLatency,
  'docker-api': dockerApi,
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
const table = [
  `# dlite benchmark results`, '',
  `${machine.date}; ${machine.cpus}; ${machine.memoryGiB} GiB; Node ${machine.node}; ${machine.qemu}.`, '',
  '| benchmark | metric | dlite | baseline | ratio | target | met |', '| --- | --- | --- | --- | --- | --- | --- |',
  ...results.flatMap((r) => r.rows.map((row) =>
    `| ${r.name} | ${row.metric} | ${row.value} ${row.unit} | ${row.baseline === undefined ? '' : `${row.baseline} ${row.unit} (${row.baselineName})`} | ` +
    `${row.ratio ?? ''} | ${row.target ?? ''} | ${row.target ? (row.met ? 'yes' : 'no') : ''} |`)),
  '', ...results.flatMap((r) => [`## ${r.name}`, '', r.method, '']),
]
if (wanted.length === 0) writeFileSync(join(dir, 'README.md'), table.join('\n'))
process.stdout.write(JSON.stringify({machine, results}, null, 2) + '\n')
