// Memory: what QEMU and the dlite daemon hold after 60 s idle, and whether memory a container used comes
// back to the host after it exits (the guest's balloon reports freed pages; QEMU drops them). The container
// fills a 1 GiB tmpfs, which the guest frees as soon as the container is gone.
import {setTimeout as sleep} from 'node:timers/promises'

import {rssMiB} from '../test/helpers/proc.js'
import {round} from './stats.js'
import type {BenchResult} from './result.js'
import {sandboxVm} from './sandbox-vm.js'

const CONFIGURED_MIB = 2048
const FILL_MIB = 1024
const SETTLE_S = 60

export async function memory(): Promise<BenchResult> {
  const vm = await sandboxVm({start: true})
  try {
    await vm.importBusybox()
    const status = (await vm.cli.json<{pid: number; qemuPid: number}>(['status'])).body
    await sleep(60_000)
    const idleQemu = rssMiB(status.qemuPid)
    const idleDaemon = rssMiB(status.pid)
    process.stderr.write(`idle: QEMU ${round(idleQemu, 0)} MiB, daemon ${round(idleDaemon, 0)} MiB\n`)

    // QEMU's RSS is sampled while the container runs too, for the true peak
    const during: number[] = []
    const sampler = setInterval(() => during.push(rssMiB(status.qemuPid)), 250)
    await vm.docker(['run', '--rm', '--tmpfs', `/fill:size=${FILL_MIB + 64}m`, 'busybox:local',
      'busybox', 'dd', 'if=/dev/zero', 'of=/fill/data', 'bs=1M', `count=${FILL_MIB}`]).finally(() => clearInterval(sampler))
    const peak = Math.max(...during, rssMiB(status.qemuPid))
    const trace: number[] = [rssMiB(status.qemuPid)]
    for (let s = 0; s < SETTLE_S; s += 5) {
      await sleep(5000)
      trace.push(rssMiB(status.qemuPid))
    }
    const settled = trace.at(-1)!
    const returned = (peak - settled) / (peak - idleQemu)
    process.stderr.write(`QEMU RSS: idle ${round(idleQemu, 0)}, peak ${round(peak, 0)}, then every 5 s after the exit: ${trace.map((v) => round(v, 0)).join(' ')} MiB\n`)
    return {
      name: 'memory',
      method: `A ${CONFIGURED_MIB} MiB, 2 vCPU dlite VM under the benchmark's accelerator: VmRSS of QEMU and of the daemon after ` +
        `60 s idle; then a container fills a ${FILL_MIB} MiB tmpfs and exits, and QEMU's VmRSS is read every 5 s for ` +
        `${SETTLE_S} s (and every 0.25 s while it runs, for the peak). "returned" is (peak - last) / (peak - idle): the ` +
        'growth the guest freed and the balloon\'s free page reporting handed back. The idle baseline is the memory ' +
        'configured for the guest.',
      rows: [
        {metric: 'QEMU RSS idle', value: round(idleQemu, 0), unit: 'MiB', baseline: CONFIGURED_MIB, baselineName: 'configured',
          ratio: round(idleQemu / CONFIGURED_MIB), target: '<= 400 MiB', met: idleQemu <= 400},
        {metric: 'daemon RSS idle', value: round(idleDaemon, 0), unit: 'MiB'},
        {metric: 'QEMU RSS peak with the 1 GiB container', value: round(peak, 0), unit: 'MiB', baseline: round(idleQemu, 0), baselineName: 'idle'},
        {metric: `QEMU RSS ${SETTLE_S} s after it exited`, value: round(settled, 0), unit: 'MiB', baseline: round(idleQemu, 0),
          baselineName: 'idle', ratio: round(settled / idleQemu)},
        {metric: 'growth returned to the host', value: round(returned * 100, 0), unit: '%'},
      ],
      samples: {qemuRssDuringMiB: during, qemuRssAfterMiB: trace},
    }
  } finally {
    await vm.close()
  }
}
