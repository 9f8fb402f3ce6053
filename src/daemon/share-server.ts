// The host side of the home-directory share. virtiofs needs a virtiofsd; the one this design can trust with a
// user's files runs as that user. QEMU's C virtiofsd (Debian 12's) insists on root and serves every request as
// root with no uid mapping, so a daemon that runs as the user shares over 9p instead: QEMU itself serves it,
// with the user's own uid (security_model=none: the guest's chown and setuid never reach the host as root).
import {spawn, type ChildProcess} from 'node:child_process'
import {closeSync, existsSync, openSync, rmSync} from 'node:fs'

import {dieWithParent} from '../host/parent-death.js'
import {findVirtiofsd} from '../hypervisor/qemu-binary.js'
import {which} from '../util/exec.js'
import type {ShareTransport} from '../vm/backend.js'

export interface ShareChoice {
  transport: ShareTransport
  /** Why this transport, for the start pipeline. */
  reason: string
}

/** virtiofs only where its server would run as root anyway (a root daemon, bridged mode); 9p otherwise. */
export function chooseShareTransport(options: {runningAsRoot: boolean; forced?: string; virtiofsd?: string}): ShareChoice {
  if (options.forced === '9p') return {transport: '9p', reason: '9p (DLITE_SHARE_TRANSPORT=9p)'}
  if (!options.runningAsRoot) return {transport: '9p', reason: '9p, served by QEMU as you'}
  if (!options.virtiofsd) return {transport: '9p', reason: '9p (virtiofsd not found)'}
  return {transport: 'virtiofs', reason: 'virtiofs'}
}

export class ShareServer {
  private virtiofsd?: ChildProcess
  readonly choice: ShareChoice
  private readonly binary?: string

  private stopping = false

  /** `onExit`: virtiofsd ended without being asked to (killed, crashed); it serves one QEMU and exits with it, too. */
  constructor(private readonly options: {path: string; socketPath: string; logPath: string; onExit?: (how: string) => void}) {
    this.binary = findVirtiofsd(which)
    this.choice = chooseShareTransport({runningAsRoot: process.getuid?.() === 0, forced: process.env.DLITE_SHARE_TRANSPORT, virtiofsd: this.binary})
  }

  /** QEMU's view of the share. */
  get qemuShare(): {type: 'virtiofs'; socketPath: string} | {type: '9p'; path: string} {
    return this.choice.transport === 'virtiofs' ? {type: 'virtiofs', socketPath: this.options.socketPath} : {type: '9p', path: this.options.path}
  }

  /** Starts virtiofsd when the share needs one and none runs (it serves one QEMU and exits with it). */
  async ensureRunning(): Promise<void> {
    if (this.choice.transport !== 'virtiofs' || alive(this.virtiofsd)) return
    rmSync(this.options.socketPath, {force: true})
    const log = openSync(this.options.logPath, 'a')
    // it dies with the daemon, as QEMU does (host/parent-death.ts)
    const {binary, args} = dieWithParent({binary: this.binary!, args: [`--socket-path=${this.options.socketPath}`, '-o', `source=${this.options.path}`, '-o', 'cache=auto']})
    const child = spawn(binary, args, {stdio: ['ignore', log, log]})
    closeSync(log)
    this.virtiofsd = child
    this.stopping = false
    child.once('exit', (code, signal) => {
      if (!this.stopping && this.virtiofsd === child) this.options.onExit?.(signal ? `killed by ${signal}` : `exited with code ${code}`)
    })
    const deadline = Date.now() + 10_000
    while (!existsSync(this.options.socketPath)) {
      if (child.exitCode !== null) throw new Error(`virtiofsd exited with code ${child.exitCode}`)
      if (Date.now() > deadline) throw new Error('virtiofsd did not open its socket')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  stop(): void {
    this.stopping = true
    this.virtiofsd?.kill('SIGTERM')
  }
}

function alive(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null
}
