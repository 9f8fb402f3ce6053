// A guest QEMU paused because a disk write failed. QEMU's default for the data disk is werror=enospc: when the
// host filesystem that holds the disk image is full, the VM stops before the guest sees a write error (which
// would turn its filesystem read-only or corrupt what it was writing). The watch notices, says so in status,
// and lets the guest go on by itself once the host has room again.
import {statfs} from 'node:fs/promises'
import {dirname} from 'node:path'

import type {VmInstance} from '../vm/backend.js'

export interface PausedGuestWatchOptions {
  vm: () => VmInstance | undefined
  /** The disk image whose filesystem is watched for room. */
  disk: string
  /** Called with why the guest is paused, and with undefined once it runs again. */
  onChange: (paused: string | undefined) => void
  log: (line: string) => void
  everyMs?: number
  /** Room the host filesystem needs before the guest goes on (so it does not pause again at once). */
  minFreeBytes?: number
  freeBytes?: (dir: string) => Promise<number>
}

const MiB = 1024 ** 2

export class PausedGuestWatch {
  private timer?: NodeJS.Timeout
  private paused = false
  private busy = false

  constructor(private readonly options: PausedGuestWatchOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.options.everyMs ?? 3000)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** One look: pause noticed, room checked, guest resumed. Exported for tests. */
  async check(): Promise<void> {
    const vm = this.options.vm()
    if (!vm || vm.pid === undefined || this.busy) return
    this.busy = true
    try {
      const state = await vm.runState()
      if (state.status !== 'io-error') {
        if (this.paused) this.changed(undefined)
        return
      }
      const dir = dirname(this.options.disk)
      const free = await (this.options.freeBytes ?? hostFreeBytes)(dir)
      const needed = this.options.minFreeBytes ?? 256 * MiB
      if (!this.paused) {
        this.options.log(`the guest is paused: a write to ${this.options.disk} failed (${Math.round(free / MiB)} MiB free on its filesystem)`)
        this.changed(`paused: the host disk that holds ${dir} is full; free at least ${Math.round(needed / MiB)} MiB there and the VM goes on by itself`)
      }
      if (free < needed) return
      this.options.log(`${Math.round(free / MiB)} MiB free again on the host: resuming the guest`)
      await vm.resume()
      this.changed(undefined)
    } catch (error) {
      // QEMU gone or busy: the next look tells
      this.options.log(`paused-guest watch: ${(error as Error).message}`)
    } finally {
      this.busy = false
    }
  }

  private changed(why: string | undefined): void {
    this.paused = why !== undefined
    this.options.onChange(why)
  }
}

async function hostFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}
