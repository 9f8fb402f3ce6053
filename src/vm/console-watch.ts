// Follows the guest's serial console log and reports the guest's DLITE-* lines (stage markers, readiness,
// warnings, failures; see os/README.md). Polling a file is cheap and works for every QEMU chardev backend.
import {closeSync, openSync, readSync, statSync} from 'node:fs'

export interface GuestMarker {
  kind: 'STAGE' | 'READY' | 'WARN' | 'FAIL' | 'FSCK'
  text: string
  /** Guest uptime in seconds, where the marker carries it. */
  uptime?: number
}

export function parseMarker(line: string): GuestMarker | undefined {
  const match = /DLITE-(STAGE|READY|WARN|FAIL|FSCK) ?(.*)$/.exec(line.trim())
  if (!match) return undefined
  const kind = match[1] as GuestMarker['kind']
  const rest = match[2].trim()
  if (kind === 'STAGE' || kind === 'READY') {
    const parts = rest.split(/\s+/)
    const uptime = Number(parts.at(-1))
    if (parts.length > 1 && Number.isFinite(uptime)) return {kind, text: parts.slice(0, -1).join(' '), uptime}
  }
  return {kind, text: rest}
}

export class ConsoleWatcher {
  private offset: number
  private partial = ''
  private timer?: NodeJS.Timeout
  /** Set once the file has grown at all: the guest (or firmware) shows a sign of life. */
  sawOutput = false

  constructor(private readonly path: string, private readonly onMarker: (marker: GuestMarker) => void, fromStart = false) {
    this.offset = fromStart ? 0 : safeSize(path)
  }

  start(intervalMs = 100): void {
    this.timer = setInterval(() => this.poll(), intervalMs)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.poll()
  }

  /** Skip what is in the file now (e.g. before a restarted QEMU appends). */
  rewindToEnd(): void {
    this.offset = safeSize(this.path)
    this.partial = ''
  }

  poll(): void {
    const size = safeSize(this.path)
    if (size < this.offset) this.offset = 0 // truncated
    if (size === this.offset) return
    this.sawOutput = true
    const fd = openSync(this.path, 'r')
    try {
      const buffer = Buffer.alloc(size - this.offset)
      readSync(fd, buffer, 0, buffer.length, this.offset)
      this.offset = size
      const lines = (this.partial + buffer.toString('utf8')).split(/\r?\n/)
      this.partial = lines.pop() ?? ''
      for (const line of lines) {
        const marker = parseMarker(line)
        if (marker) this.onMarker(marker)
      }
    } finally {
      closeSync(fd)
    }
  }
}

function safeSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}
