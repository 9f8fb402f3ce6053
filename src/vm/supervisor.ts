// Keeps one child process (QEMU) alive: an unexpected exit is followed by a restart after a growing delay;
// after `maxRestarts` exits within `windowMs` it gives up and says why. A requested stop is never restarted.
import type {ChildProcess} from 'node:child_process'
import {EventEmitter} from 'node:events'

export interface SupervisorOptions {
  maxRestarts: number
  /** Delay before restart n (0-based); the last value repeats. */
  backoffMs: number[]
  /** Exits older than this no longer count against maxRestarts. */
  windowMs: number
}

export const DEFAULT_SUPERVISION: SupervisorOptions = {maxRestarts: 3, backoffMs: [1000, 3000, 9000], windowMs: 10 * 60_000}

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

export function describeExit({code, signal}: ExitInfo): string {
  return signal ? `killed by ${signal}` : `exited with code ${code}`
}

/**
 * Events: 'spawn' (child), 'exit' (ExitInfo, willRestart: boolean), 'restart' (attempt), 'gave-up' (reason),
 * 'stopped'.
 */
export class Supervisor extends EventEmitter {
  private child?: ChildProcess
  private stopping = false
  private recentExits: number[] = []
  private restartTimer?: NodeJS.Timeout

  constructor(
    private readonly launch: () => Promise<ChildProcess>,
    private readonly options: SupervisorOptions = DEFAULT_SUPERVISION,
  ) {
    super()
  }

  get current(): ChildProcess | undefined {
    return this.child
  }

  get restarts(): number {
    return this.recentExits.length
  }

  async start(): Promise<ChildProcess> {
    this.stopping = false
    const child = await this.launch()
    this.child = child
    child.once('exit', (code, signal) => this.onExit(child, {code, signal}))
    this.emit('spawn', child)
    return child
  }

  /** Marks the coming exit as intended; the caller is responsible for making the child exit. */
  expectExit(): void {
    this.stopping = true
    if (this.restartTimer) clearTimeout(this.restartTimer)
  }

  /** Undoes expectExit: an exit of the child from now on is restarted again. */
  superviseAgain(): void {
    this.stopping = false
  }

  /** Resolves once the child has exited (immediately if none runs). */
  waitForExit(): Promise<void> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => child.once('exit', () => resolve()))
  }

  private onExit(child: ChildProcess, info: ExitInfo): void {
    if (child !== this.child) return
    if (this.stopping) {
      this.emit('exit', info, false)
      this.emit('stopped')
      return
    }
    const now = Date.now()
    this.recentExits = [...this.recentExits.filter((t) => now - t < this.options.windowMs), now]
    const attempt = this.recentExits.length
    if (attempt > this.options.maxRestarts) {
      this.emit('exit', info, false)
      this.emit('gave-up', `QEMU ${describeExit(info)}; gave up after ${this.options.maxRestarts} restarts`)
      return
    }
    this.emit('exit', info, true)
    const delay = this.options.backoffMs[Math.min(attempt - 1, this.options.backoffMs.length - 1)]
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return
      this.emit('restart', attempt)
      this.start().catch((error: Error) => {
        // Could not even launch: count it as another exit.
        this.emit('launch-error', error)
        this.onExit(child, {code: null, signal: null})
      })
    }, delay)
  }
}
