/**
 * A minimal ustar writer: regular files and directories, in memory.
 * Enough for the guest settings bundle, which busybox tar unpacks in the guest.
 */

export interface TarEntry {
  /** relative path, '/'-separated, no '..' */
  name: string
  /** file contents; omit for a directory */
  data?: Buffer | string
  /** permission bits; default 0644 for files, 0755 for directories */
  mode?: number
  /** modification time in seconds; default 0 (reproducible bundles) */
  mtime?: number
}

const BLOCK = 512

function octal(value: number, width: number): string {
  // width-1 octal digits followed by NUL
  return value.toString(8).padStart(width - 1, '0') + '\0'
}

function splitName(name: string): {prefix: string; base: string} {
  if (Buffer.byteLength(name) <= 100) return {prefix: '', base: name}
  const i = name.lastIndexOf('/', 155)
  if (i <= 0 || Buffer.byteLength(name.slice(i + 1)) > 100 || Buffer.byteLength(name.slice(0, i)) > 155) {
    throw new Error(`tar: path too long for ustar: ${name}`)
  }
  return {prefix: name.slice(0, i), base: name.slice(i + 1)}
}

function header(entry: TarEntry, size: number, isDir: boolean): Buffer {
  const h = Buffer.alloc(BLOCK, 0)
  const name = isDir && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name
  const {prefix, base} = splitName(name)
  h.write(base, 0, 100, 'utf8')
  h.write(octal(entry.mode ?? (isDir ? 0o755 : 0o644), 8), 100, 8, 'ascii')
  h.write(octal(0, 8), 108, 8, 'ascii') // uid
  h.write(octal(0, 8), 116, 8, 'ascii') // gid
  h.write(octal(size, 12), 124, 12, 'ascii')
  h.write(octal(entry.mtime ?? 0, 12), 136, 12, 'ascii')
  h.write('        ', 148, 8, 'ascii') // checksum placeholder
  h.write(isDir ? '5' : '0', 156, 1, 'ascii')
  h.write('ustar\u000000', 257, 8, 'ascii')
  h.write('root', 265, 32, 'ascii')
  h.write('root', 297, 32, 'ascii')
  h.write(prefix, 345, 155, 'utf8')
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii')
  return h
}

function checkName(name: string): void {
  if (!name || name.startsWith('/') || name.split('/').some((p) => p === '..') || name.includes('\0')) {
    throw new Error(`tar: invalid entry name ${JSON.stringify(name)}`)
  }
}

/** Serialise entries into a ustar archive (with the two zero end blocks). */
export function createTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = []
  for (const e of entries) {
    checkName(e.name)
    if (e.data === undefined) {
      parts.push(header(e, 0, true))
      continue
    }
    const data = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : e.data
    parts.push(header(e, data.length, false), data)
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK
    if (pad) parts.push(Buffer.alloc(pad, 0))
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0))
  return Buffer.concat(parts)
}

/** Read back a ustar archive made by createTar (for tests and diagnostics). */
export function readTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = []
  let off = 0
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK)
    if (h.every((b) => b === 0)) break
    const str = (s: number, l: number) => h.subarray(s, s + l).toString('utf8').replace(/\0.*$/s, '')
    const num = (s: number, l: number) => Number.parseInt(str(s, l).trim() || '0', 8)
    const prefix = str(345, 155)
    const name = (prefix ? `${prefix}/` : '') + str(0, 100)
    const size = num(124, 12)
    const type = str(156, 1)
    const mode = num(100, 8)
    const mtime = num(136, 12)
    off += BLOCK
    if (type === '5') out.push({name: name.replace(/\/$/, ''), mode, mtime})
    else out.push({name, mode, mtime, data: Buffer.from(buf.subarray(off, off + size))})
    off += Math.ceil(size / BLOCK) * BLOCK
  }
  return out
}
