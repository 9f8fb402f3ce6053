// Deciding that the guest is up: the guest's own markers on its serial console (DLITE-READY docker), and,
// at the same time, dockerd answering over TLS. Whichever comes first wins, so one lost or garbled console
// line costs nothing. A guest that prints nothing at all trips the watchdog (a hypervisor that cannot run
// it), which the daemon answers by booting again under tcg.
import type {DockerClient} from '../docker/client.js'
import {ConsoleWatcher, type GuestMarker} from '../vm/console-watch.js'

/** The boot watchdog's verdict: not one byte on the console. */
export class SilentGuestError extends Error {}

export interface ReadinessOptions {
  consoleLog: string
  previousConsoleLog: string
  /** Seconds to wait for docker after QEMU starts. */
  bootTimeoutS: number
  /** Seconds without any console output before the watchdog acts. */
  watchdogS: number
  docker: () => DockerClient
  log: (line: string) => void
}

export class Readiness {
  private watcher?: ConsoleWatcher
  private guestReady?: () => void
  private guestFailed?: (error: Error) => void
  /** Set by stop(): no wait may go on after it (a stopped daemon must not mistake the next VM's dockerd for its own). */
  private stopped = false

  constructor(private readonly options: ReadinessOptions) {}

  /** Follows the console from now on; call once per daemon. */
  start(): void {
    this.stopped = false
    this.watcher ??= new ConsoleWatcher(this.options.consoleLog, this.options.previousConsoleLog, (marker) => this.onMarker(marker))
    this.watcher.start()
  }

  /** Each QEMU launch starts a new console log. */
  newBoot(): void {
    this.watcher?.startNewBoot()
  }

  /** Ends every wait in progress (it rejects) and the console watch. */
  stop(): void {
    this.stopped = true
    this.abandon(new Error('the VM was stopped before it was ready'))
    this.watcher?.stop()
  }

  /** Ends a wait in progress with this error (the VM is gone for good). */
  abandon(error: Error): void {
    this.guestFailed?.(error)
  }

  private onMarker(marker: GuestMarker): void {
    this.options.log(`guest: DLITE-${marker.kind} ${marker.text}${marker.uptime === undefined ? '' : ` (${marker.uptime}s)`}`)
    if (marker.kind === 'READY' && marker.text === 'docker') this.guestReady?.()
    if (marker.kind === 'FAIL') this.options.log(`guest reported a failure: ${marker.text}`)
  }

  /** What the guest said last (and its last complaint), for a boot that timed out. */
  private lastWords(): string {
    const show = (m: GuestMarker) => `DLITE-${m.kind} ${m.text}${m.uptime === undefined ? '' : ` ${m.uptime}`}`
    const said = [this.watcher?.lastProblem, this.watcher?.lastMarker].filter((m, i, all): m is GuestMarker => m !== undefined && all.indexOf(m) === i)
    return said.length === 0 ? '' : ` (last from the guest: ${said.map(show).join('; ')})`
  }

  /** Resolves when the guest says docker is ready or docker answers over TLS; `accel` names the accelerator for errors. */
  waitForGuest(accel: string): Promise<string> {
    const {bootTimeoutS, watchdogS, consoleLog} = this.options
    const started = Date.now()
    let done = false
    if (this.stopped) return Promise.reject(new Error('the VM was stopped before it was ready'))
    return new Promise<string>((resolve, reject) => {
      const watchdog = setTimeout(() => {
        if (this.watcher?.sawOutput) return
        finish(new SilentGuestError(`the guest showed no sign of life within ${watchdogS} s (accelerator ${accel}); see ${consoleLog}`))
      }, watchdogS * 1000)
      const timeout = setTimeout(() => finish(new Error(`the guest did not report docker ready within ${bootTimeoutS} s${this.lastWords()}; see ${consoleLog}`)), bootTimeoutS * 1000)
      const finish = (error?: Error, how?: string) => {
        if (done) return
        done = true
        clearTimeout(watchdog)
        clearTimeout(timeout)
        this.guestReady = undefined
        this.guestFailed = undefined
        if (error) reject(error)
        else resolve(`${((Date.now() - started) / 1000).toFixed(1)} s${how ? ` (${how})` : ''}`)
      }
      this.guestReady = () => finish()
      this.guestFailed = finish
      void this.pollDocker(() => done).then((answered) => {
        if (answered) {
          this.options.log('docker answered over TLS before the guest\'s console marker')
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
