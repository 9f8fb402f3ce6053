// Deciding that the guest is up, from three sources at once, whichever answers first: the guest's marker
// (DLITE-READY docker) on its readiness port, a virtio-serial channel of its own; the same marker on the serial
// console, where kernel messages can land in the middle of a line; and dockerd answering over TLS. A lost or
// garbled line costs nothing. A guest that prints nothing at all trips the watchdog (a hypervisor that cannot
// run it), which the daemon answers by booting again under tcg.
import type {DockerClient} from '../docker/client.js'
import {describeMarker, MarkerWatcher, type GuestMarker} from '../vm/marker-watch.js'

/** Where a marker arrived. */
export type MarkerChannel = 'port' | 'console'

/** The boot watchdog's verdict: not one byte on the console. */
export class SilentGuestError extends Error {}

export interface ReadinessOptions {
  consoleLog: string
  previousConsoleLog: string
  /** What QEMU writes of the guest's readiness port. */
  portLog: string
  previousPortLog: string
  /** Seconds to wait for docker after QEMU starts. */
  bootTimeoutS: number
  /** Seconds without any console output before the watchdog acts. */
  watchdogS: number
  docker: () => DockerClient
  log: (line: string) => void
  /** Each marker once per boot, from whichever channel brought it first (the guest's control agent listens on READY clock). */
  onMarker?: (marker: GuestMarker) => void
}

export class Readiness {
  private watchers?: Record<MarkerChannel, MarkerWatcher>
  /**
   * Every wait in progress. More than one can be: the start's own, and a restart's when QEMU exits during the
   * first boot. (With one slot, as before, the restart's wait took it over and the start's wait never saw the
   * marker: "did not report docker ready within 300 s (last from the guest: DLITE-READY ssh)".)
   */
  private readonly waits = new Set<{ready: () => void; failed: (error: Error) => void}>()
  /** Markers seen this boot, each with the channel that brought it first. */
  private seen = new Map<string, MarkerChannel>()
  /** Set by stop(): no wait may go on after it (a stopped daemon must not mistake the next VM's dockerd for its own). */
  private stopped = false
  private panic?: string
  /** When the boot in progress began (its QEMU's launch): what the silent-guest watchdog counts from. */
  private bootStartedAt = Date.now()

  constructor(private readonly options: ReadinessOptions) {}

  /** Follows the console and the readiness port from now on; call once per daemon. */
  start(): void {
    this.stopped = false
    const {consoleLog, previousConsoleLog, portLog, previousPortLog} = this.options
    this.watchers ??= {
      port: new MarkerWatcher(portLog, previousPortLog, (marker) => this.onMarker(marker, 'port')),
      console: new MarkerWatcher(consoleLog, previousConsoleLog, (marker) => this.onMarker(marker, 'console')),
    }
    for (const watcher of Object.values(this.watchers)) watcher.start()
  }

  /** Each QEMU launch starts new logs. */
  newBoot(): void {
    for (const watcher of Object.values(this.watchers ?? {})) watcher.startNewBoot()
    this.seen.clear()
    this.panic = undefined
    this.bootStartedAt = Date.now()
  }

  /** The kernel's panic message this boot, if it panicked; reads what the console has so far first. */
  kernelPanic(): string | undefined {
    this.watchers?.console.poll()
    return this.panic
  }

  /** Ends every wait in progress (it rejects) and the watch. */
  stop(): void {
    this.stopped = true
    this.abandon(new Error('the VM was stopped before it was ready'))
    for (const watcher of Object.values(this.watchers ?? {})) watcher.stop()
  }

  /** Ends a wait in progress with this error (the VM is gone for good). */
  abandon(error: Error): void {
    for (const wait of [...this.waits]) wait.failed(error)
  }

  /** Which channel brought a marker this boot first (`READY docker`, say); undefined when none has. */
  channelOf(kind: GuestMarker['kind'], text: string): MarkerChannel | undefined {
    return this.seen.get(`${kind} ${text}`)
  }

  private onMarker(marker: GuestMarker, channel: MarkerChannel): void {
    const key = `${marker.kind} ${marker.text}`
    // A marker is acted on once, whichever channel brings it first; stage markers may repeat (each its own).
    if (this.seen.has(key)) return
    this.seen.set(key, channel)
    if (marker.kind === 'PANIC') this.panic = marker.text
    if (marker.kind === 'PANIC') this.options.log(describeMarker(marker))
    else this.options.log(`guest: DLITE-${marker.kind} ${marker.text}${marker.uptime === undefined ? '' : ` (${marker.uptime}s)`}${channel === 'console' ? ' [console]' : ''}`)
    if (marker.kind === 'READY' && marker.text === 'docker') for (const wait of [...this.waits]) wait.ready()
    if (marker.kind === 'FAIL') this.options.log(`guest reported a failure: ${marker.text}`)
    this.options.onMarker?.(marker)
  }

  private get sawOutput(): boolean {
    return Object.values(this.watchers ?? {}).some((watcher) => watcher.sawOutput)
  }

  /** What the guest said last (and its last complaint), for a boot that timed out. */
  private lastWords(): string {
    const show = describeMarker
    const watchers = Object.values(this.watchers ?? {})
    const said = watchers.flatMap((w) => [w.lastProblem, w.lastMarker])
      .filter((m): m is GuestMarker => m !== undefined)
      .filter((m, i, all) => all.findIndex((o) => show(o) === show(m)) === i)
    return said.length === 0 ? '' : ` (last from the guest: ${said.map(show).join('; ')})`
  }

  /** Resolves when the guest says docker is ready or docker answers over TLS; `accel` names the accelerator for errors. */
  waitForGuest(accel: string): Promise<string> {
    const {bootTimeoutS, watchdogS, consoleLog} = this.options
    const started = Date.now()
    let done = false
    if (this.stopped) return Promise.reject(new Error('the VM was stopped before it was ready'))
    return new Promise<string>((resolve, reject) => {
      // The watchdog counts from the start of the boot in progress: a QEMU the supervisor launched again (after a
      // guest kernel panic, say) gets its own watchdogS, as the first boot did.
      let watchdog: NodeJS.Timeout
      const watch = (ms: number) => {
        watchdog = setTimeout(() => {
          if (this.sawOutput) return
          const left = watchdogS * 1000 - (Date.now() - this.bootStartedAt)
          if (left > 0) return watch(left)
          finish(new SilentGuestError(`the guest showed no sign of life within ${watchdogS} s (accelerator ${accel}); see ${consoleLog}`))
        }, ms)
      }
      watch(watchdogS * 1000)
      const timeout = setTimeout(() => finish(new Error(`the guest did not report docker ready within ${bootTimeoutS} s${this.lastWords()}; see ${consoleLog}`)), bootTimeoutS * 1000)
      const finish = (error?: Error, how?: string) => {
        if (done) return
        done = true
        clearTimeout(watchdog)
        clearTimeout(timeout)
        this.waits.delete(wait)
        if (error) reject(error)
        else resolve(`${((Date.now() - started) / 1000).toFixed(1)} s${how ? ` (${how})` : ''}`)
      }
      const wait = {ready: () => finish(), failed: finish}
      this.waits.add(wait)
      void this.pollDocker(() => done).then((answered) => {
        if (answered) {
          this.options.log('docker answered over TLS before the guest\'s marker')
          finish(undefined, 'docker answered first')
        }
      })
    })
  }

  /** Polls dockerd once a second until it answers (true) or `over()` says the wait ended (false). */
  private async pollDocker(over: () => boolean): Promise<boolean> {
    const client = this.options.docker()
    while (!over() && !this.stopped) {
      if (await client.ping()) return !over() && !this.stopped
      await sleep(1000)
    }
    return false
  }

  /** docker's version over TLS, retried for a minute (the marker can come a moment before the API). */
  async waitForDocker(describe: string): Promise<string> {
    const client = this.options.docker()
    const deadline = Date.now() + 60_000
    let lastError = ''
    while (Date.now() < deadline && !this.stopped) {
      try {
        const {Version} = await client.version()
        if (!this.stopped) return Version
      } catch (error) {
        lastError = (error as Error).message
      }
      await sleep(250)
    }
    if (this.stopped) throw new Error('the VM was stopped before it was ready')
    throw new Error(`docker did not answer over TLS at ${describe}: ${lastError}`)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
