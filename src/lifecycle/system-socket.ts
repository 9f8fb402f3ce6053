// The optional /var/run/docker.sock link (DLite's default socket), for tools that hard-code that path: a
// symbolic link, made by root when asked (`sudo dlite docker-socket link`), to the user's own docker socket.
// The link grants nothing: the socket it leads to stays the user's (0600), so other users are refused there.
// Root only makes or removes the link in a root-owned directory, never follows it, and never replaces what
// it did not make: a Docker Engine's own socket is refused, another link only with --force. On a systemd
// host a tmpfiles.d entry makes the link again at every boot (/run is a tmpfs).
import {randomBytes} from 'node:crypto'
import {existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

export const SYSTEM_DOCKER_SOCKET = '/var/run/docker.sock'
export const TMPFILES_ENTRY = '/etc/tmpfiles.d/dlite-docker-sock.conf'

export class SystemSocketError extends Error {
  readonly code = 'DLITE_SYSTEM_SOCKET'
  constructor(message: string, readonly fix: string) {
    super(message)
    this.name = 'SystemSocketError'
  }
}

export type SystemSocketKind = 'absent' | 'ours' | 'other link' | 'socket' | 'other'

export interface SystemSocketState {
  path: string
  /** Where the link should lead: this home's docker socket. */
  target: string
  kind: SystemSocketKind
  /** Where the link there leads, when it is a link. */
  linkTarget?: string
  /** Whether a boot-time entry makes the link again (systemd-tmpfiles). */
  persistent: boolean
}

export interface SystemSocketPaths {
  path?: string
  tmpfilesEntry?: string
}

export function systemSocketState(target: string, paths: SystemSocketPaths = {}): SystemSocketState {
  const path = paths.path ?? SYSTEM_DOCKER_SOCKET
  const entry = paths.tmpfilesEntry ?? TMPFILES_ENTRY
  const persistent = readEntryTarget(entry) === target
  let stat
  try {
    stat = lstatSync(path)
  } catch {
    return {path, target, kind: 'absent', persistent}
  }
  if (stat.isSymbolicLink()) {
    const linkTarget = readlinkSync(path)
    return {path, target, kind: linkTarget === target ? 'ours' : 'other link', linkTarget, persistent}
  }
  return {path, target, kind: stat.isSocket() ? 'socket' : 'other', persistent}
}

/** Root may act in a directory only root can change: a link made elsewhere could be swapped under it. */
function checkRootOwnedDirectory(dir: string): void {
  const real = realpathSync(dir)
  const stat = lstatSync(real)
  if (stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new SystemSocketError(`${dir} is not a directory only root can change (owner ${stat.uid}, mode ${(stat.mode & 0o7777).toString(8)})`,
      `dlite makes the link only in a root-owned directory that is not group- or world-writable; fix ${real}'s owner and mode`)
  }
}

/** The link's target is written as is into the tmpfiles entry, a line of space-separated fields. */
function checkTarget(target: string): void {
  if (!target.startsWith('/') || /[\s\\]/.test(target) || /[\u0000-\u001f]/.test(target)) {
    throw new SystemSocketError(`the docker socket ${JSON.stringify(target)} cannot be linked: it must be an absolute path without spaces or backslashes`,
      'reinstall with --docker-socket naming a path without spaces')
  }
}

export interface LinkResult {
  state: SystemSocketState
  changed: boolean
  replaced?: string
}

/** Makes the link (atomically: made beside it under a random name, then renamed into place). */
export function linkSystemSocket(target: string, options: SystemSocketPaths & {force?: boolean; persist?: boolean} = {}): LinkResult {
  checkTarget(target)
  const before = systemSocketState(target, options)
  checkRootOwnedDirectory(dirname(before.path))
  if (before.kind === 'socket' || before.kind === 'other') {
    throw new SystemSocketError(`${before.path} is ${before.kind === 'socket' ? 'a socket of another docker engine' : 'not a link dlite made'}; dlite does not replace it`,
      'stop that engine and remove it yourself, or reach dlite through its context (dlite start makes it current) or `eval "$(dlite env)"`')
  }
  if (before.kind === 'other link' && !options.force) {
    throw new SystemSocketError(`${before.path} already leads to ${before.linkTarget}`, `pass --force to point it at ${target} instead`)
  }
  let changed = false
  if (before.kind !== 'ours') {
    const temporary = join(dirname(before.path), `.${basename(before.path)}.dlite-${randomBytes(6).toString('hex')}`)
    symlinkSync(target, temporary) // fails if the name exists: nothing is followed or overwritten
    try {
      // what was checked is still what is there: a socket made meanwhile is not replaced
      const now = systemSocketState(target, options)
      if (now.kind === 'socket' || now.kind === 'other') throw new SystemSocketError(`${before.path} changed while dlite linked it`, 'run the command again')
      renameSync(temporary, before.path)
    } catch (error) {
      rmSync(temporary, {force: true})
      throw error
    }
    changed = true
  }
  const entry = options.tmpfilesEntry ?? TMPFILES_ENTRY
  if (options.persist !== false && existsSync(dirname(entry)) && readEntryTarget(entry) !== target) {
    checkRootOwnedDirectory(dirname(entry))
    writeEntry(entry, before.path, target)
    changed = true
  }
  return {state: systemSocketState(target, options), changed, ...(before.kind === 'other link' ? {replaced: before.linkTarget} : {})}
}

/** Removes the link and its boot entry when they lead to this home's socket; anything else is left alone. */
export function unlinkSystemSocket(target: string, options: SystemSocketPaths = {}): LinkResult {
  const before = systemSocketState(target, options)
  if (before.kind === 'other link' || before.kind === 'socket' || before.kind === 'other') {
    throw new SystemSocketError(`${before.path} is not dlite's link to ${target}${before.linkTarget ? ` (it leads to ${before.linkTarget})` : ''}; it is left alone`,
      'remove it yourself if it is no longer used')
  }
  let changed = false
  if (before.kind === 'ours') {
    checkRootOwnedDirectory(dirname(before.path))
    rmSync(before.path)
    changed = true
  }
  const entry = options.tmpfilesEntry ?? TMPFILES_ENTRY
  if (before.persistent) {
    rmSync(entry)
    changed = true
  }
  return {state: systemSocketState(target, options), changed}
}

const ENTRY_HEADER = '# made by `dlite docker-socket link`; `dlite docker-socket unlink` removes it'

function writeEntry(entry: string, path: string, target: string): void {
  // tmpfiles.d wants the canonical /run path; L: make the link when nothing is there, never replace
  const linkPath = join(realpathSync(dirname(path)), basename(path))
  const temporary = `${entry}.dlite-${randomBytes(6).toString('hex')}`
  writeFileSync(temporary, `${ENTRY_HEADER}\nL ${linkPath} - - - - ${target}\n`, {mode: 0o644, flag: 'wx'})
  renameSync(temporary, entry)
}

function readEntryTarget(entry: string): string | undefined {
  let text: string
  try {
    if (!lstatSync(entry).isFile()) return undefined
    text = readFileSync(entry, 'utf8')
  } catch {
    return undefined
  }
  if (!text.startsWith(ENTRY_HEADER)) return undefined
  const line = text.split('\n').find((l) => l.startsWith('L '))
  return line?.trim().split(/\s+/)[6]
}
