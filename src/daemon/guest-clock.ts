// Keeps the guest's clock on the host's. The host writes its time on the guest's control port (virtio-serial
// org.dlite.control) as `clock SECONDS.MILLIS`; the guest's control agent steps its own clock when it is off by
// more than half a second (os/rootfs/usr/lib/dlite/control-agent). The host writes when the agent says it
// listens (DLITE-READY clock: a time queued before that would be stale when read), every pushEveryMs, at once
// when the host's wall clock jumps against its monotonic clock — a host that slept (the VM's clock stood still
// meanwhile) or a clock set by hand or by NTP — and when the guest runs again after a pause (QEMU's RESUME
// event; nothing is written while it is paused).
import type {Socket} from 'node:net'

import {connectForCurrent} from '../util/unix-connect.js'

export interface GuestClockOptions {
  socketPath: string
  log: (line: string) => void
  /** Host wall clock, ms since the epoch. */
  now?: () => number
  /** Host monotonic clock, ms (stands still while the host sleeps). */
  monotonic?: () => number
  tickMs?: number
  pushEveryMs?: number
  /** A wall-clock step larger than this between two ticks is a jump. */
  jumpMs?: number
}

export class GuestClock {
  private socket?: Socket
  private connecting?: Promise<void>
  /** Bumped by every disconnect: a connect still trying for an earlier VM process must not take the new one's port. */
  private generation = 0
  private listening = false
  private timer?: NodeJS.Timeout
  private last?: {wall: number; mono: number}
  private lastPush = 0
  private guestPaused = false
  private readonly now: () => number
  private readonly monotonic: () => number

  constructor(private readonly options: GuestClockOptions) {
    this.now = options.now ?? Date.now
    this.monotonic = options.monotonic ?? (() => performance.now())
  }

  /** A new VM process: connect to its end of the control port (QEMU makes the socket as it starts). */
  connect(deadlineMs = 30_000): Promise<void> {
    this.connecting = this.connectPort(deadlineMs)
    return this.connecting
  }

  /** Resolves once the connection that connect() began is made, or given up. */
  async connected(): Promise<void> {
    await this.connecting
  }

  private async connectPort(deadlineMs: number): Promise<void> {
    this.disconnect()
    const generation = this.generation
    const current = () => generation === this.generation
    let socket: Socket | undefined
    try {
      socket = await connectForCurrent(this.options.socketPath, deadlineMs, current)
    } catch (error) {
      if (current()) this.options.log(`guest clock: cannot reach the guest's control port (${(error as Error).message}); the guest keeps its own clock`)
      return
    }
    if (!socket) return
    this.socket = socket
    socket.on('error', (error) => this.options.log(`guest clock: ${error.message}`))
    socket.on('close', () => {
      if (this.socket !== socket) return
      this.socket = undefined
      this.listening = false
    })
    // the guest writes nothing here; drain anyway so nothing piles up
    socket.resume()
  }

  disconnect(): void {
    this.generation++
    this.socket?.destroy()
    this.socket = undefined
    this.listening = false
    // a pause belonged to the VM process this port was of
    this.guestPaused = false
  }

  /** The guest's control agent reads the port from now on: give it the time at once. */
  guestListening(): void {
    this.listening = true
    this.push('the guest started listening')
  }

  /**
   * The guest's CPUs stopped: write nothing until it runs again, since a time written now would wait in the port
   * and be read stale after the resume.
   */
  paused(): void {
    this.guestPaused = true
  }

  /** The guest runs again after a pause, its clock as far behind as the pause was long: set it now. */
  resumed(): void {
    this.guestPaused = false
    this.push('the guest ran again after a pause')
  }

  start(): void {
    const tickMs = this.options.tickMs ?? 2000
    this.timer ??= setInterval(() => this.tick(), tickMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.disconnect()
  }

  /** Called every tick: a wall-clock jump is answered at once, and the time goes out every pushEveryMs anyway. */
  tick(): void {
    const wall = this.now()
    const mono = this.monotonic()
    const last = this.last
    this.last = {wall, mono}
    if (last) {
      const drift = (wall - last.wall) - (mono - last.mono)
      if (Math.abs(drift) > (this.options.jumpMs ?? 1000)) {
        this.push(`the host clock jumped by ${(drift / 1000).toFixed(1)} s`)
        return
      }
    }
    if (mono - this.lastPush >= (this.options.pushEveryMs ?? 30_000)) this.push()
  }

  /**
   * The control port carries the host's other requests to the guest's agent too (os/rootfs/usr/lib/dlite/
   * control-agent): one line, on the connection the time goes on; false when the agent does not listen.
   */
  request(line: string): boolean {
    if (!this.socket || !this.listening || this.guestPaused || /[\n\r]/.test(line)) return false
    this.socket.write(`${line}\n`)
    return true
  }

  /** Writes the host's time to the guest; false when nobody listens yet. */
  push(reason?: string): boolean {
    this.lastPush = this.monotonic()
    if (!this.socket || !this.listening || this.guestPaused) return false
    if (reason) this.options.log(`guest clock: set from the host (${reason})`)
    this.socket.write(`clock ${(this.now() / 1000).toFixed(3)}\n`)
    return true
  }
}
