// The host side of the shared directories. virtiofs needs a virtiofsd, and the one this design can trust with a
// user's files runs as that user: the Rust virtiofsd (1.x) does. QEMU's C virtiofsd (Debian 12's) insists on root
// and serves every request as root with no uid mapping, so it serves only a root daemon; a daemon that runs as the
// user without a Rust virtiofsd shares over 9p instead, served by QEMU itself with the user's own uid
// (security_model=none: the guest's chown and setuid never reach the host as root).
// A read-only directory is 9p everywhere: QEMU enforces readonly=on, which the C virtiofsd has no option for.
import {spawn, type ChildProcess} from 'node:child_process'
import {closeSync, existsSync, rmSync} from 'node:fs'

import type {Mount} from '../config/index.js'
import {dieWithParent} from '../host/parent-death.js'
import type {GuestShare} from '../guest/settings.js'
import type {ShareSpec} from '../hypervisor/qemu-argv.js'
import {findVirtiofsds, type Virtiofsd} from '../hypervisor/qemu-binary.js'
import {which} from 'dlite-kit/exec'
import {openLogForAppend} from '../util/append-log.js'
import type {ShareTransport} from '../vm/backend.js'

export interface ShareChoice {
  transport: ShareTransport
  /** Why this transport, for the start pipeline. */
  reason: string
  /** virtiofs: the virtiofsd that serves it. */
  virtiofsd?: Virtiofsd
}

/**
 * virtiofs where a virtiofsd can serve as this daemon's user (any one for a root daemon, the Rust one for a user's),
 * 9p otherwise.
 */
export function chooseShareTransport(options: {runningAsRoot: boolean; forced?: string; virtiofsds: Virtiofsd[]}): ShareChoice {
  if (options.forced === '9p') return {transport: '9p', reason: '9p (DLITE_SHARE_TRANSPORT=9p)'}
  if (options.runningAsRoot) {
    const virtiofsd = options.virtiofsds[0]
    return virtiofsd ? {transport: 'virtiofs', reason: 'virtiofs', virtiofsd} : {transport: '9p', reason: '9p (virtiofsd not found)'}
  }
  const virtiofsd = options.virtiofsds.find((found) => found.runsAsUser)
  if (virtiofsd) return {transport: 'virtiofs', reason: 'virtiofs, served by virtiofsd as you', virtiofsd}
  const rootOnly = options.virtiofsds[0]
  return {transport: '9p', reason: `9p, served by QEMU as you (${rootOnly ? `${rootOnly.path} ${rootOnly.version} needs root` : 'no virtiofsd found'})`}
}

/** How a user gets a virtiofsd that serves their shares as them (file events and speed in their VM). */
export const VIRTIOFSD_AS_USER_FIX = 'install the Rust virtiofsd 1.x, e.g. sudo apt-get install virtiofsd (Debian 13, Ubuntu 24.04)'

/** virtiofsd's arguments for one share; both kinds serve a socket QEMU connects to, and exit with it. */
export function virtiofsdArgs(virtiofsd: Virtiofsd, share: {path: string; socketPath: string}, runningAsRoot: boolean): string[] {
  if (!virtiofsd.runsAsUser) return [`--socket-path=${share.socketPath}`, '-o', `source=${share.path}`, '-o', 'cache=auto']
  // As a user, its namespace sandbox (with no newuidmap mapping) would show the guest every file as nobody's;
  // without it, it has the user's authority and no more: what QEMU's own 9p server has.
  return [`--socket-path=${share.socketPath}`, `--shared-dir=${share.path}`, '--cache=auto', ...(runningAsRoot ? [] : ['--sandbox=none'])]
}

/** One shared directory as QEMU and the guest see it: a device tag of its own, mounted at the same path. */
export interface PlannedShare {
  path: string
  readOnly: boolean
  tag: string
  transport: ShareTransport
  /** virtiofs: the socket of its virtiofsd. */
  socketPath?: string
}

/**
 * The mounts in the order the guest mounts them (a directory before the directories under it), each with its tag
 * and transport.
 */
export function planShares(mounts: Mount[], choice: ShareChoice, socketPathFor: (index: number) => string): PlannedShare[] {
  return [...mounts]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((mount, index) => {
      const transport: ShareTransport = mount.readOnly ? '9p' : choice.transport
      return {
        path: mount.path, readOnly: mount.readOnly === true, tag: `share${index}`, transport,
        ...(transport === 'virtiofs' ? {socketPath: socketPathFor(index)} : {}),
      }
    })
}

/** The start pipeline's line for the share stage. */
export function describeShares(shares: PlannedShare[], choice: ShareChoice): string {
  if (shares.length === 0) return 'nothing shared'
  const transports = new Set(shares.map((s) => s.transport))
  const how = transports.size === 1 && transports.has(choice.transport) ? choice.reason : [...transports].join(' and ')
  const readOnly = shares.filter((s) => s.readOnly).length
  return `${shares.length === 1 ? shares[0].path : `${shares.length} directories`}${readOnly ? ` (${readOnly} read-only)` : ''}: ${how}`
}

export interface FileEventRoots {
  watched: string[]
  unwatched: Array<{path: string; why: string}>
}

/**
 * The shares whose host changes can be shown to the guest's inotify watchers: virtiofs ones mounted read-write.
 * A read-only share refuses the guest's touch. An uncached 9p mount gives every lookup a fresh inode, so no
 * touch reaches a watcher's; holding its directories open would keep one, but then a lookup refreshed the
 * size of a file the VM was still writing and a page of it was lost (os/src/share-events-agent.c).
 */
export function fileEventRoots(shares: PlannedShare[]): FileEventRoots {
  const roots: FileEventRoots = {watched: [], unwatched: []}
  for (const share of shares) {
    if (share.readOnly) roots.unwatched.push({path: share.path, why: 'read-only'})
    else if (share.transport !== 'virtiofs') roots.unwatched.push({path: share.path, why: `9p gives watchers in the VM no events; for them, ${VIRTIOFSD_AS_USER_FIX}`})
    else roots.watched.push(share.path)
  }
  return roots
}

export class ShareServer {
  private readonly servers = new Map<string, ChildProcess>()
  readonly choice: ShareChoice
  readonly shares: PlannedShare[]
  private stopping = false

  /** `onExit`: a virtiofsd ended without being asked to (killed, crashed); each serves one QEMU and exits with it, too. */
  constructor(private readonly options: {
    mounts: Mount[]
    socketPathFor: (index: number) => string
    logPath: string
    onExit?: (how: string, path: string) => void
  }) {
    this.choice = chooseShareTransport({runningAsRoot: isRoot(), forced: process.env.DLITE_SHARE_TRANSPORT, virtiofsds: findVirtiofsds(which)})
    this.shares = planShares(options.mounts, this.choice, options.socketPathFor)
  }

  get reason(): string {
    return describeShares(this.shares, this.choice)
  }

  /** QEMU's view of the shares. */
  get qemuShares(): ShareSpec[] {
    return this.shares.map((s) => (s.transport === 'virtiofs'
      ? {type: 'virtiofs', socketPath: s.socketPath!, tag: s.tag}
      : {type: '9p', path: s.path, tag: s.tag, readOnly: s.readOnly}))
  }

  /** The guest's view: what to mount where. */
  get guestShares(): GuestShare[] {
    return this.shares.map((s) => ({path: s.path, tag: s.tag, transport: s.transport, readOnly: s.readOnly}))
  }

  /** The shares whose host changes reach the guest's inotify watchers, and why the others do not. */
  get eventRoots(): FileEventRoots {
    return fileEventRoots(this.shares)
  }

  /** Starts a virtiofsd for each virtiofs share that has none running (each serves one QEMU and exits with it). */
  async ensureRunning(): Promise<void> {
    this.stopping = false
    for (const share of this.shares) {
      if (share.transport === 'virtiofs' && !alive(this.servers.get(share.path))) await this.startVirtiofsd(share)
    }
  }

  private async startVirtiofsd(share: PlannedShare): Promise<void> {
    const socketPath = share.socketPath!
    rmSync(socketPath, {force: true})
    const log = openLogForAppend(this.options.logPath)
    // it dies with the daemon, as QEMU does (host/parent-death.ts)
    const virtiofsd = this.choice.virtiofsd!
    const {binary, args} = dieWithParent({binary: virtiofsd.path, args: virtiofsdArgs(virtiofsd, {path: share.path, socketPath}, isRoot())})
    const child = spawn(binary, args, {stdio: ['ignore', log, log]})
    closeSync(log)
    this.servers.set(share.path, child)
    child.once('exit', (code, signal) => {
      if (!this.stopping && this.servers.get(share.path) === child) this.options.onExit?.(signal ? `killed by ${signal}` : `exited with code ${code}`, share.path)
    })
    const deadline = Date.now() + 10_000
    while (!existsSync(socketPath)) {
      if (child.exitCode !== null) throw new Error(`virtiofsd for ${share.path} exited with code ${child.exitCode}`)
      if (Date.now() > deadline) throw new Error(`virtiofsd for ${share.path} did not open its socket`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  stop(): void {
    this.stopping = true
    for (const child of this.servers.values()) child.kill('SIGTERM')
  }
}

function isRoot(): boolean {
  return process.getuid?.() === 0
}

function alive(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null
}
