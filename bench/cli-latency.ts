// CLI latency: `dlite status --json` and `dlite ip` against `node -e 0` (the floor for any Node CLI), run in
// turn, repeated, medians compared. Measured against a running VM, as a user would call them, after untimed
// warm-up rounds. The bench runs as root (sudo), and a root process never uses dlite's compile cache (V8's code
// cache of the CommonJS modules, src/host/compile-cache.ts): these are the numbers without it; a user's commands
// fill theirs on their first run and use it after.
import {performance} from 'node:perf_hooks'

import {CLI} from '../test/helpers/dlite-cli.js'
import {median, round} from './stats.js'
import type {BenchResult} from './result.js'
import {sandboxVm} from './sandbox-vm.js'

const ROUNDS = 15
const WARMUP_ROUNDS = 2

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
    for (let round = -WARMUP_ROUNDS; round < ROUNDS; round++) {
      for (const [name, args] of Object.entries(commands)) {
        const start = performance.now()
        const result = await vm.ns.run(process.execPath, args, {env})
        const elapsed = performance.now() - start
        if (result.code !== 0) throw new Error(`${name} failed: ${result.stderr}`)
        if (round >= 0) samples[name].push(elapsed)
      }
    }
    const floor = median(samples['node -e 0'])
    const row = (name: string) => {
      const value = median(samples[name])
      const ratio = round(value / floor)
      return {metric: `${name} (median of ${ROUNDS})`, value: round(value, 0), unit: 'ms', baseline: round(floor, 0),
        baselineName: 'node -e 0', ratio, target: '<= 2x', met: ratio <= 2}
    }
    return {
      name: 'cli-latency',
      method: `${WARMUP_ROUNDS} untimed warm-up rounds, then ${ROUNDS} rounds; each round runs node -e 0, dlite status --json and ` +
        'dlite ip once, in that order, inside the benchmark namespace against a running VM (ip netns exec adds the same cost ' +
        'to all three). As root, as the bench runs: dlite\'s compile cache (V8 code cache of its CommonJS modules, in the ' +
        'user\'s ~/.cache/dlite/compile-cache, filled by the first run in a fresh cache directory) is never used by root, ' +
        'so the warm-up warms only the page cache and these are the numbers without the compile cache.',
      rows: [row('dlite status --json'), row('dlite ip')],
      samples,
    }
  } finally {
    await vm.close()
  }
}
