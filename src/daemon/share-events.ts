// Carries file changes the host sees under the shares to the guest, where virtiofs raises no inotify events
// of its own: dev servers and watchers in containers reload when an editor on the host saves. Each
// changed file or directory goes out as `touch MTIME PATH` on the org.dlite.files port; the guest's agent sets
// that same modification time on it (os/src/share-events-agent.c), which its watchers see as IN_MODIFY
// and which leaves the host's file as it was. That setting comes back to the host as a change of its own:
// a file whose modification time is the one last sent is not sent again, so nothing echoes.
import {lstat} from 'node:fs/promises'
import type {Socket} from 'node:net'

import {connectForCurrent} from '../util/unix-connect.js'
import {ShareWatch} from './share-watch.js'

export interface ShareEventsOptions {
  socketPath: string
  roots: string[]
  /** Trees under the roots whose changes are not forwarded (dlite's own directories). */
  exclude?: string[]
  log: (line: string) => void
  /** Changes within this window go out together (an editor's save is several events). */
  batchMs?: number
  maxDirectories?: number
}

/** Lines the guest has not read yet, beyond which changes are dropped rather than held in memory. */
const MAX_PENDING_BYTES = 1024 * 1024
/** Modification times remembered for the echo check; forgotten all at once past this. */
const MAX_REMEMBERED = 50_000

/** The line for one file: seconds.nanoseconds, then the path (the guest reads the path as the rest of the line). */
export function touchLine(path: string, mtimeNs: bigint): string | undefined {
  if (/[\n\r\0]/.test(path)) return undefined // the line protocol cannot carry it
  const seconds = mtimeNs / 1_000_000_000n
  const nanos = (mtimeNs % 1_000_000_000n).toString().padStart(9, '0')
  return `touch ${seconds}.${nanos} ${path}\n`
}

export class ShareEvents {
  private socket?: Socket
  /** Bumped by every disconnect: a connect still trying for an earlier VM process must not take the new one's port. */
  private generation = 0
  private watch?: ShareWatch
  private readonly pending = new Set<string>()
  private timer?: NodeJS.Timeout
  private readonly sent = new Map<string, bigint>()
  private dropped = 0
  /** Files sent to the guest, for the log and the benchmark. */
  forwarded = 0

  constructor(private readonly options: ShareEventsOptions) {}

  /** Starts watching the trees (the walk goes on in the background) and returns at once. */
  start(): void {
    if (this.watch || this.options.roots.length === 0) return
    const watch = new ShareWatch({
      roots: this.options.roots, exclude: this.options.exclude, log: this.options.log, maxDirectories: this.options.maxDirectories,
      onChange: (path) => this.changed(path),
    })
    this.watch = watch
    const began = Date.now()
    watch.start().then(
      () => this.options.log(`share events: watching ${watch.watchedDirectories} directories (${Date.now() - began} ms)`),
      (error) => this.options.log(`share events: ${(error as Error).message}`),
    )
  }

  /** A new VM process: connect to its end of the port (QEMU makes the socket as it starts). */
  async connect(deadlineMs = 30_000): Promise<void> {
    this.disconnect()
    const generation = this.generation
    const current = () => generation === this.generation
    let socket: Socket | undefined
    try {
      socket = await connectForCurrent(this.options.socketPath, deadlineMs, current)
    } catch (error) {
      if (current()) this.options.log(`share events: cannot reach the guest's port (${(error as Error).message}); host changes raise no inotify events in the VM`)
      return
    }
    if (!socket) return
    this.socket = socket
    socket.on('error', (error) => this.options.log(`share events: ${error.message}`))
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined
    })
    socket.resume()
  }

  disconnect(): void {
    this.generation++
    this.socket?.destroy()
    this.socket = undefined
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.watch?.close()
    this.watch = undefined
    this.disconnect()
  }

  private changed(path: string): void {
    this.pending.add(path)
    this.timer ??= setTimeout(() => void this.flush(), this.options.batchMs ?? 50)
  }

  /** Sends what changed since the last flush; exposed for tests. */
  async flush(): Promise<void> {
    this.timer = undefined
    const paths = [...this.pending]
    this.pending.clear()
    const lines: Array<{path: string; mtimeNs: bigint; line: string}> = []
    for (const path of paths) {
      const stat = await lstat(path, {bigint: true}).catch(() => undefined)
      // a removed file cannot be shown to the guest's watchers without removing it; a directory goes too (a new
      // one is then a change in its parent for the watchers there)
      if (!stat) continue
      if (this.sent.get(path) === stat.mtimeNs) continue
      const line = touchLine(path, stat.mtimeNs)
      if (!line) continue
      lines.push({path, mtimeNs: stat.mtimeNs, line})
    }
    if (lines.length === 0) return
    const socket = this.socket
    // a guest that does not read (not booted yet, agent gone) must not make the daemon hold it all
    if (!socket || socket.writableLength > MAX_PENDING_BYTES) {
      if (this.dropped++ === 0) this.options.log('share events: the guest does not read its port; changes are not forwarded until it does')
      return
    }
    this.dropped = 0
    if (this.sent.size + lines.length > MAX_REMEMBERED) this.sent.clear()
    for (const {path, mtimeNs} of lines) this.sent.set(path, mtimeNs)
    this.forwarded += lines.length
    socket.write(lines.map((l) => l.line).join(''))
  }
}
