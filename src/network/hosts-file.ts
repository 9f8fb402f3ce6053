// The VM's line in /etc/hosts: `<ip> <hostname> # added by dlite <home-id>`. Edits are idempotent, keyed
// by the home id (several DLITE_HOMEs coexist), keep every other byte as it was, and are never left
// half-written: temp file + rename, or, where /etc/hosts is a bind mount (containers, `ip netns exec`)
// and rename fails with EBUSY/EXDEV, one in-place write of the whole file under a lock.
import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {chown, open, readFile, realpath, rename, stat, unlink, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {parseIpv4} from 'dlite-kit/ipv4'

export const HOSTS_MARKER = '# added by dlite'

export interface HostsEntry {
  ip: string
  hostname: string
  /** Keys the line to one DLITE_HOME (see network/names.ts homeId). */
  homeId: string
}

export interface HostsEditResult {
  /** False when the file already said exactly this (nothing was written). */
  changed: boolean
  /** Other lines that map the same hostname (another home or a hand-written entry); they win or lose by order. */
  conflicts: string[]
}

export interface HostsFileOptions {
  /** Injectable for tests that simulate a bind-mounted file (rename failing with EBUSY). */
  rename?: (from: string, to: string) => Promise<void>
  /** How long to wait for another dlite editing the same file. */
  lockTimeoutMs?: number
}

const HOME_ID = /^[A-Za-z0-9_-]{1,64}$/
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/

function assertEntry(entry: HostsEntry): void {
  if (parseIpv4(entry.ip) === undefined) throw new Error(`hosts entry: not an IPv4 address: ${JSON.stringify(entry.ip)}`)
  if (!HOSTNAME.test(entry.hostname)) throw new Error(`hosts entry: not a hostname: ${JSON.stringify(entry.hostname)}`)
  assertHomeId(entry.homeId)
}

function assertHomeId(homeId: string): void {
  if (!HOME_ID.test(homeId)) throw new Error(`hosts entry: bad home id: ${JSON.stringify(homeId)}`)
}

export function hostsLine(entry: HostsEntry): string {
  assertEntry(entry)
  return `${entry.ip} ${entry.hostname} ${HOSTS_MARKER} ${entry.homeId}`
}

/** Lines with their own terminators, so joining them gives back the exact input. */
function splitLines(content: string): string[] {
  return content.match(/[^\n]*\n|[^\n]+$/g) ?? []
}

function body(line: string): string {
  return line.replace(/\r?\n$/, '')
}

function isOurs(line: string, homeId: string): boolean {
  const text = body(line).trimEnd()
  return text.endsWith(`${HOSTS_MARKER} ${homeId}`) && !text.trimStart().startsWith('#')
}

/** The content with exactly one line for this home, in place of the first old one, else appended. */
export function withHostsEntry(content: string, entry: HostsEntry): string {
  const wanted = hostsLine(entry)
  const lines = splitLines(content)
  const out: string[] = []
  let placed = false
  for (const line of lines) {
    if (!isOurs(line, entry.homeId)) {
      out.push(line)
    } else if (!placed) {
      out.push(wanted + (line.endsWith('\n') ? line.slice(body(line).length) : '\n'))
      placed = true
    }
  }
  if (!placed) {
    const last = out.at(-1)
    if (last !== undefined && !last.endsWith('\n')) out[out.length - 1] = `${last}\n`
    out.push(`${wanted}\n`)
  }
  return out.join('')
}

/** The content without this home's line(s); everything else untouched. */
export function withoutHostsEntry(content: string, homeId: string): string {
  assertHomeId(homeId)
  return splitLines(content).filter((line) => !isOurs(line, homeId)).join('')
}

/** Lines other than this home's that map the same hostname. */
export function hostsConflicts(content: string, entry: HostsEntry): string[] {
  return splitLines(content)
    .map(body)
    .filter((line) => !isOurs(line, entry.homeId))
    .filter((line) => {
      const fields = line.replace(/#.*/, '').trim().split(/\s+/)
      return fields.length > 1 && fields.slice(1).some((name) => name.toLowerCase() === entry.hostname.toLowerCase())
    })
}

export async function addHostsEntry(path: string, entry: HostsEntry, opts: HostsFileOptions = {}): Promise<HostsEditResult> {
  assertEntry(entry)
  let conflicts: string[] = []
  const changed = await editHostsFile(path, (content) => {
    conflicts = hostsConflicts(content, entry)
    return withHostsEntry(content, entry)
  }, opts)
  return {changed, conflicts}
}

export async function removeHostsEntry(path: string, homeId: string, opts: HostsFileOptions = {}): Promise<HostsEditResult> {
  assertHomeId(homeId)
  const changed = await editHostsFile(path, (content) => withoutHostsEntry(content, homeId), opts)
  return {changed, conflicts: []}
}

/**
 * Applies `edit` to the file's content under a lock and writes the result safely. Content is handled as
 * latin1 so arbitrary bytes survive unchanged. Returns whether anything was written.
 */
export async function editHostsFile(path: string, edit: (content: string) => string, opts: HostsFileOptions = {}): Promise<boolean> {
  // Write the real file when /etc/hosts is a symlink, instead of replacing the link with a file.
  const target = await realpath(path).catch(() => path)
  const release = await acquireLock(target, opts.lockTimeoutMs ?? 5000)
  try {
    let before: string
    try {
      before = await readFile(target, 'latin1')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      before = ''
    }
    const after = edit(before)
    if (after === before) return false
    await replaceFile(target, Buffer.from(after, 'latin1'), opts.rename ?? rename)
    return true
  } finally {
    await release()
  }
}

/** Temp file + rename; false when the file must be rewritten in place instead. */
async function replaceByRename(target: string, data: Buffer, renameFn: (from: string, to: string) => Promise<void>): Promise<boolean> {
  const existing = await stat(target).catch(() => undefined)
  const temp = join(dirname(target), `.${basename(target)}.dlite-${randomBytes(6).toString('hex')}`)
  let handle
  try {
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, existing ? existing.mode & 0o7777 : 0o644)
  } catch (error) {
    if (existing && CREATE_IN_PLACE_CODES.has((error as NodeJS.ErrnoException).code ?? '')) return false
    throw error
  }
  try {
    await handle.writeFile(data)
    if (existing) await handle.chmod(existing.mode & 0o7777)
    await handle.sync()
  } finally {
    await handle.close()
  }
  if (existing) await chown(temp, existing.uid, existing.gid).catch(() => {})
  try {
    await renameFn(temp, target)
    return true
  } catch (error) {
    await unlink(temp).catch(() => {})
    if (RENAME_IN_PLACE_CODES.has((error as NodeJS.ErrnoException).code ?? '')) return false
    throw error
  }
}

async function replaceFile(target: string, data: Buffer, renameFn: (from: string, to: string) => Promise<void>): Promise<void> {
  if (await replaceByRename(target, data, renameFn)) return
  // A bind-mounted file cannot be replaced (EBUSY/EXDEV), nor can one whose directory is read-only
  // while the file itself is writable (some containers): rewrite it instead, in one write, then truncate. The lock keeps other dlite processes out; a resolver reading at that instant may see the
  // old tail for a moment, but the file is never left short or mixed once we return.
  const inPlace = await open(target, 'r+')
  try {
    const {bytesWritten} = await inPlace.write(data, 0, data.length, 0)
    if (bytesWritten !== data.length) throw new Error(`short write to ${target}: ${bytesWritten} of ${data.length} bytes`)
    await inPlace.truncate(data.length)
    await inPlace.sync()
  } finally {
    await inPlace.close()
  }
}

/** rename() errors that mean "a mount point": rewrite in place. */
const RENAME_IN_PLACE_CODES = new Set(['EBUSY', 'EXDEV'])
/** Errors creating the temp file that mean "read-only directory": rewrite the existing file in place. */
const CREATE_IN_PLACE_CODES = new Set(['EROFS', 'EACCES', 'EPERM'])

const STALE_LOCK_MS = 30_000

/** An O_EXCL lock file next to the target, so two dlite processes never interleave their edits. */
async function acquireLock(target: string, timeoutMs: number): Promise<() => Promise<void>> {
  const lock = `${target}.dlite-lock`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, {flag: 'wx', mode: 0o600})
      return () => unlink(lock).catch(() => {})
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // A read-only directory (bind-mounted hosts file in a container) cannot hold a lock: go without.
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return async () => {}
      if (code !== 'EEXIST') throw error
    }
    const info = await stat(lock).catch(() => undefined)
    if (info && Date.now() - info.mtimeMs > STALE_LOCK_MS) {
      await unlink(lock).catch(() => {}) // left by a process that died mid-edit
      continue
    }
    if (Date.now() > deadline) throw new Error(`${target} is locked by another dlite (${lock}); remove the lock file if no dlite is running`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
