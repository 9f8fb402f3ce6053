// Reading what was appended to a growing file (logs, the guest console) since a known offset.
import {closeSync, openSync, readSync, statSync} from 'node:fs'

export function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/** The bytes after `offset` as text, and the new offset; a truncated file is read from the start. */
export function readAppended(path: string, offset: number): {text: string; offset: number} {
  const size = fileSize(path)
  const from = size < offset ? 0 : offset
  if (size === from) return {text: '', offset: from}
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.alloc(size - from)
    readSync(fd, buffer, 0, buffer.length, from)
    return {text: buffer.toString('utf8'), offset: size}
  } finally {
    closeSync(fd)
  }
}
