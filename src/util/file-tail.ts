// Reading what was appended to a growing file (logs, the guest console) since a known offset.
import {closeSync, openSync, readSync, statSync} from 'node:fs'

export function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/**
 * How many leading bytes of `buffer` end on a whole UTF-8 character. A writer may be half-way through a
 * multibyte character when we read; those bytes wait for the next read instead of decoding to U+FFFD.
 */
export function wholeUtf8Length(buffer: Buffer): number {
  for (let back = 1; back <= Math.min(4, buffer.length); back++) {
    const byte = buffer[buffer.length - back]
    if ((byte & 0xc0) === 0x80) continue // a continuation byte: look further back for the lead byte
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1
    return length > back ? buffer.length - back : buffer.length
  }
  return buffer.length
}

/**
 * The bytes after `offset` as text, and the new offset; a truncated file is read from the start. The text
 * ends on a whole character: the offset stays before one that is still being written.
 */
export function readAppended(path: string, offset: number): {text: string; offset: number} {
  const size = fileSize(path)
  const from = size < offset ? 0 : offset
  if (size === from) return {text: '', offset: from}
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.alloc(size - from)
    readSync(fd, buffer, 0, buffer.length, from)
    const whole = wholeUtf8Length(buffer)
    return {text: buffer.toString('utf8', 0, whole), offset: from + whole}
  } finally {
    closeSync(fd)
  }
}
