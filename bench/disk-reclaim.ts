// Disk reclaim: the VM's data disk is a sparse file; a container writes 1 GiB, is removed, and the guest's
// discards must punch the blocks out of the host file again. Measures the host file's allocated bytes
// before, at the peak and after, and how long the shrink took.
import {statSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {round} from './stats.js'
import type {BenchResult} from './result.js'
import {sandboxVm} from './sandbox-vm.js'

const WRITE_MIB = 1024
const WINDOW_S = 60

export async function diskReclaim(): Promise<BenchResult> {
  const vm = await sandboxVm({start: true})
  try {
    await vm.importBusybox()
    const allocatedMiB = () => (statSync(join(vm.home, 'disk.img')).blocks * 512) / 1048576
    const before = allocatedMiB()
    // random data: zeros would be turned into discards by QEMU's detect-zeroes and never allocate
    await vm.docker(['run', '--name', 'filler', 'busybox:local', 'busybox', 'sh', '-c',
      `busybox dd if=/dev/urandom of=/data bs=1M count=${WRITE_MIB} 2>/dev/null && busybox sync`])
    const peak = allocatedMiB()
    const removedAt = Date.now()
    await vm.docker(['rm', 'filler'])
    let after = allocatedMiB()
    let shrinkS: number | undefined
    while (Date.now() - removedAt < WINDOW_S * 1000) {
      after = allocatedMiB()
      if ((peak - after) / (peak - before) >= 0.9) {
        shrinkS = (Date.now() - removedAt) / 1000
        break
      }
      await sleep(500)
    }
    const returned = (peak - after) / (peak - before)
    process.stderr.write(`allocated: ${round(before, 0)} MiB before, ${round(peak, 0)} MiB with the container, ${round(after, 0)} MiB after\n`)
    return {
      name: 'disk-reclaim',
      method: `A container writes ${WRITE_MIB} MiB of random data to its layer and is removed (docker rm); the host's ` +
        `allocated bytes of DLITE_HOME/disk.img (st_blocks) are read before, at the peak, and every 0.5 s for ${WINDOW_S} s ` +
        'after the removal, until 90% of the growth is gone. The guest mounts its data disk with discard; QEMU passes ' +
        'discards to the file (discard=unmap).',
      rows: [
        {metric: 'allocated before', value: round(before, 0), unit: 'MiB'},
        {metric: 'allocated with the container', value: round(peak, 0), unit: 'MiB'},
        {metric: 'allocated after removal', value: round(after, 0), unit: 'MiB', baseline: round(before, 0), baselineName: 'before'},
        {metric: 'growth returned', value: round(returned * 100, 0), unit: '%', target: `>= 90% within ${WINDOW_S} s`, met: shrinkS !== undefined},
        ...(shrinkS === undefined ? [] : [{metric: 'time to return 90%', value: round(shrinkS, 1), unit: 's'}]),
      ],
    }
  } finally {
    await vm.close()
  }
}
