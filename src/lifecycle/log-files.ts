// dlite's log files and reading them: the daemon's own log and the guest's serial console (this boot's, and
// the one before: each QEMU launch moves console.log to console.previous.log).
import {closeSync, existsSync, openSync, readSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {homeLayout} from '../paths.js'
import {fileSize, readAppended} from '../util/file-tail.js'

export type LogName = 'daemon' | 'console' | 'console.previous'

export function logPath(home: string, name: LogName): string {
  return join(homeLayout(home).logs, `${name}.log`)
}

/** The last `count` lines of a file (reads only the tail, however large the file; chunks are decoded together). */
export function tailLines(path: string, count: number): string[] {
  if (!existsSync(path)) return []
  const size = statSync(path).size
  const fd = openSync(path, 'r')
  try {
    let start = size
    let tail = Buffer.alloc(0)
    let newlines = 0
    while (start > 0 && newlines <= count) {
      const length = Math.min(64 * 1024, start)
      start -= length
      const buffer = Buffer.alloc(length)
      readSync(fd, buffer, 0, length, start)
      for (const byte of buffer) if (byte === 0x0a) newlines++
      tail = Buffer.concat([buffer, tail])
    }
    const lines = tail.toString('utf8').split('\n')
    if (lines.at(-1) === '') lines.pop()
    return lines.slice(-count)
  } finally {
    closeSync(fd)
  }
}

/** Calls `onText` with whatever is appended to the file from now on, until the signal aborts. */
export async function followFile(path: string, onText: (text: string) => void, signal: AbortSignal, intervalMs = 200): Promise<void> {
  let offset = fileSize(path)
  while (!signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
    const appended = readAppended(path, offset)
    offset = appended.offset
    if (appended.text) onText(appended.text)
  }
}
