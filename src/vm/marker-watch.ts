// Follows a log the guest writes — its serial console, or its readiness port — and reports the guest's DLITE-*
// lines (stage markers, readiness, warnings, failures; see os/README.md) and the kernel's own panic line (on
// the console only). Polling a file is cheap and works for every QEMU chardev backend.
import {renameSync} from 'node:fs'

import {fileSize, readAppended} from '../util/file-tail.js'

export interface GuestMarker {
  /** PANIC: the kernel's `Kernel panic - not syncing: <text>` (an oops panics too: oops=panic). */
  kind: 'STAGE' | 'READY' | 'WARN' | 'FAIL' | 'FSCK' | 'CLOCK' | 'PANIC'
  text: string
  /** Guest uptime in seconds, where the marker carries it. */
  uptime?: number
}

export function parseMarker(line: string): GuestMarker | undefined {
  const panic = /Kernel panic - not syncing: ?(.*)$/.exec(line.trim())
  if (panic) return {kind: 'PANIC', text: panic[1].trim()}
  const match = /DLITE-(STAGE|READY|WARN|FAIL|FSCK|CLOCK) ?(.*)$/.exec(line.trim())
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

/** A marker as the guest (or its kernel) said it, for logs and errors. */
export function describeMarker(marker: GuestMarker): string {
  if (marker.kind === 'PANIC') return `guest kernel panic: ${marker.text}`
  return `DLITE-${marker.kind} ${marker.text}${marker.uptime === undefined ? '' : ` ${marker.uptime}`}`
}

export class MarkerWatcher {
  private offset: number
  private partial = ''
  private timer?: NodeJS.Timeout
  /** Set once the file has grown at all this boot: the guest (or firmware) shows a sign of life. */
  sawOutput = false
  /** The guest's last marker, and its last warning or failure, this boot: what a boot timeout quotes. */
  lastMarker?: GuestMarker
  lastProblem?: GuestMarker

  /** `previousPath`: where startNewBoot keeps the log of the boot before. */
  constructor(private readonly path: string, private readonly previousPath: string, private readonly onMarker: (marker: GuestMarker) => void) {
    this.offset = fileSize(path)
  }

  start(intervalMs = 100): void {
    this.timer = setInterval(() => this.poll(), intervalMs)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.poll()
  }

  /**
   * Call right before a QEMU starts writing the log: QEMU truncates it, and a watcher that merely remembered
   * the old size could miss or misplace the new boot's first lines. The old boot's log is kept at
   * `previousPath` for diagnosis, and the watcher reads the new one from its first byte.
   */
  startNewBoot(): void {
    try {
      renameSync(this.path, this.previousPath)
    } catch {
      // no log yet
    }
    this.offset = 0
    this.partial = ''
    this.sawOutput = false
    this.lastMarker = undefined
    this.lastProblem = undefined
  }

  poll(): void {
    const {text, offset} = readAppended(this.path, this.offset)
    this.offset = offset
    if (!text) return
    this.sawOutput = true
    const lines = (this.partial + text).split(/\r?\n/)
    this.partial = lines.pop() ?? ''
    for (const line of lines) {
      const marker = parseMarker(line)
      if (!marker) continue
      this.lastMarker = marker
      if (marker.kind === 'WARN' || marker.kind === 'FAIL' || marker.kind === 'PANIC') this.lastProblem = marker
      this.onMarker(marker)
    }
  }
}
