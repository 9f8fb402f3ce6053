// CLI latency: `dlite status --json` and `dlite ip` against `node -e 0` (the floor for any Node CLI), run in
// turn, repeated, medians compared. Measured against a running VM, as a user would call them.
import {performance} from 'node:perf_hooks'

import {CLI} from '../test/helpers/dlite-cli.js'
import {median, round} from './stats.js'
import type {BenchResult} from './result.js'
import {sandboxVm} from './sandbox-vm.js'

const ROUNDS = 15

export async function cliLatency(): Promise<BenchResult> {
  const vm = await sandboxVm({start: true})
  try {
    const env = {...process.env, DLITE_HOME: vm.home}
    const commands: Record<string, string[]> = {
      'node -e 0': ['-e', '0'],
      'dlite status --json': [CLI, 'status', '--json'],
      'dlite ip': [CLI, 'ip'],
    }
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]))
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, args] of Object.entries(commands)) {
        const start = performance.now()
        const result = await vm.ns.run(process.execPath, args, {env})
        const elapsed = performance.now() - start
        if (result.code !== 0) throw new Error(`${name} failed: ${result.stderr}`)
        samples[name].push(elapsed)
      }
    }
    const floor = median(samples['node -e 0'])
    const row = (name: string) => {
      const value = median(samples[name])
      const ratio = round(value / floor)
      return {metric: `${name} (median of ${ROUNDS})`, value: round(value, 0), unit: 'ms', baseline: round(floor, 0),
        baselineName: 'node -e 0', ratio, target: '<= 3x', met: ratio <= 3}
    }
    return {
      name: 'cli-latency',
      method: `${ROUNDS} rounds; each round runs node -e 0, dlite status --json and dlite ip once, in that order, ` +
        'inside the benchmark namespace against a running VM (ip netns exec adds the same cost to all three).',
      rows: [row('dlite status --json'), row('dlite ip')],
      samples,
    }
  } finally {
    await vm.close()
  }
}
