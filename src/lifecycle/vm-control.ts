// What the CLI asks of a VM: start it (spawning the daemon when nothing runs it), stop it, read its status.
import {rmSync} from 'node:fs'

import {CommandError} from 'dlite-kit/errors'

import {converse, DaemonUnreachable, queryStatus} from '../daemon/control-client.js'
import type {SaveOutcome, StageEvent, VmStatus} from '../daemon/control-protocol.js'
import {lockHolder, pidHoldsLock} from '../daemon/pid-lock.js'
import {controlSocketPath, pidFilePath, savedStatePaths} from '../daemon/daemon-paths.js'
import {homeOwnerUid} from '../helper/for-home.js'
import {readRegistration} from '../helper/registration.js'
import type {DliteConfig} from '../config/index.js'
import {homeLayout} from '../paths.js'
import {registeredService} from '../service/index.js'
import {launchDaemon, waitForPath} from './daemon-launcher.js'
import {cleanUpLeftovers} from './leftovers.js'
import {discardSavedState} from '../vm/saved-state.js'

export interface StartResult {
  alreadyRunning: boolean
  /** It was paused (`dlite pause`), and this start let it go on. */
  resumed?: boolean
  status: VmStatus
}

/** Why this user may not start the daemon here, with the fix; undefined when it may. */
export function startRefusal(home: string, config: Pick<DliteConfig, 'network' | 'owner'>): {message: string; fix: string} | undefined {
  const uid = process.getuid?.()
  // nothing of a user's VM runs as root: root starting another user's VM would run it as root (the owner is the
  // home directory's, which its user cannot give away, as well as the config's, which they can edit)
  const owner = config.owner && config.owner.uid !== 0 ? config.owner.uid : homeOwnerUid(home)
  if (uid === 0 && owner !== 0) {
    return {message: `the VM in ${home} belongs to uid ${owner} and runs as that user, never as root`, fix: 'run `dlite start` as that user, without sudo'}
  }
  if (config.network === 'user' || uid === 0) return undefined
  // a user's bridged VM: root's part is the root helper's, registered once for this home
  if (readRegistration(home) === undefined) {
    return {message: 'a bridged VM needs the root helper for its bridge, tap and NAT, and this home is not registered with it', fix: 'run `sudo dlite network setup` once (or reinstall with `--network user`, which needs no root)'}
  }
  return undefined
}

export async function startVm(options: {
  home: string
  entry: string
  network: DliteConfig['network']
  timeoutMs: number
  /** Boot, whatever state `dlite stop` saved (it goes). */
  cold?: boolean
  onStage: (event: StageEvent) => void
}): Promise<StartResult> {
  const layout = homeLayout(options.home)
  const socket = controlSocketPath(layout)
  const current = await queryStatus(socket)
  if (current?.state === 'running') return {alreadyRunning: true, status: current}
  // a start is what a user reaches for after a pause too
  if (current?.state === 'paused' && current.pausedSince !== undefined) return {alreadyRunning: true, resumed: true, status: await resumeVm(options.home)}
  if (!current) {
    // read by the daemon as it launches the VM: gone before it runs
    if (options.cold) discardSavedState(savedStatePaths(layout))
    // A daemon that died without cleaning up leaves its socket file; the next one must not mistake it for its own.
    if (lockHolder(pidFilePath(layout)) === undefined) rmSync(socket, {force: true})
    // A registered service (systemd, launchd) runs the daemon; otherwise start spawns it, as DLite did.
    const service = registeredService(options.home, options.entry, options.network)
    if (service && lockHolder(pidFilePath(layout)) === undefined) {
      await service.start()
      await waitForPath(socket, undefined, 15_000)
    } else {
      const pid = lockHolder(pidFilePath(layout)) ?? launchDaemon({entry: options.entry, home: options.home, logDir: layout.logs})
      await waitForPath(socket, pid, 15_000)
    }
  }
  let outcome: StartResult | undefined
  let failure: string | undefined
  await converse(socket, {op: 'watch'}, (message) => {
    if (message.type === 'stage') options.onStage(message)
    if (message.type === 'ready') outcome = {alreadyRunning: false, status: message.status}
    if (message.type === 'failed') failure = message.error
    return message.type === 'ready' || message.type === 'failed'
  }, options.timeoutMs)
  if (failure) throw new Error(`${failure} (logs: ${layout.logs})`)
  if (!outcome) throw new Error(`the daemon stopped before the VM was ready (logs: ${layout.logs})`)
  return outcome
}

/** `dlite pause` / `dlite resume`: the daemon's answer is the VM's status after it; an error names the VM's state. */
export async function pauseVm(home: string): Promise<VmStatus> {
  return askRunningDaemon(home, 'pause')
}

export async function resumeVm(home: string): Promise<VmStatus> {
  return askRunningDaemon(home, 'resume')
}

async function askRunningDaemon(home: string, op: 'pause' | 'resume'): Promise<VmStatus> {
  let status: VmStatus | undefined
  try {
    await converse(controlSocketPath(homeLayout(home)), {op}, (message) => {
      if (message.type === 'status') status = message.status
      return true
    }, 30_000)
  } catch (error) {
    if (error instanceof DaemonUnreachable) throw new CommandError('dlite is not running', 'start it with `dlite start`')
    throw error
  }
  if (!status) throw new Error(`the daemon closed the connection without answering ${op}`)
  return status
}

export interface StopResult {
  /** A daemon or a VM process was running. */
  wasRunning: boolean
  /** What a dead daemon had left and this stop removed. */
  cleanedUp: string[]
  /** The VM's state was saved: the next start resumes it. */
  saved?: SaveOutcome
  /** Why the VM was powered off where its state would have been saved. */
  poweredOff?: string
}

/** Stops the VM, or removes what a daemon that died left behind (its VM process among it). */
/** Beyond the power-off's own timeout: the hooks, and a save (QEMU's migration is bounded at 120 s). */
const STOP_ANSWER_GRACE_MS = 180_000

/** What `dlite stop` says it did. */
export function stopReport(result: StopResult): string {
  if (!result.wasRunning) return 'dlite is not running.'
  if (result.saved) return `dlite stopped; its state was saved (${Math.round(result.saved.bytes / 1024 / 1024)} MiB in ${(result.saved.ms / 1000).toFixed(1)} s): \`dlite start\` resumes it (\`--cold\` boots instead).`
  return result.poweredOff && result.poweredOff !== 'asked to (--cold)' ? `dlite stopped (powered off: ${result.poweredOff}).` : 'dlite stopped.'
}

/**
 * Stops the VM. Only `dlite stop` saves its state for the next start (unless `cold`): a restart, an update or
 * an uninstall boots or removes what comes after, so they pass cold.
 */
export async function stopVm(home: string, config: Pick<DliteConfig, 'network' | 'dockerSocket' | 'subnet' | 'hostname' | 'owner'>, timeoutMs: number, options: {cold: boolean; hostsFile?: string}): Promise<StopResult> {
  const {cold, hostsFile} = options
  const layout = homeLayout(home)
  const pid = lockHolder(pidFilePath(layout))
  let outcome: Pick<StopResult, 'saved' | 'poweredOff'> = {}
  try {
    await converse(controlSocketPath(layout), {op: 'stop', timeoutMs, cold}, (message) => {
      if (message.type !== 'stopped') return false
      outcome = {...(message.saved ? {saved: message.saved} : {}), ...(message.poweredOff ? {poweredOff: message.poweredOff} : {})}
      return true
    }, timeoutMs + STOP_ANSWER_GRACE_MS)
  } catch (error) {
    if (!(error instanceof DaemonUnreachable)) throw error
    if (pid === undefined) {
      const cleanedUp = await cleanUpLeftovers(home, config, hostsFile)
      return {wasRunning: cleanedUp.some((what) => what.startsWith('QEMU')), cleanedUp}
    }
    // a daemon whose socket is gone still honours SIGTERM; but only a pid that holds the daemon's lock is one
    if (pidHoldsLock(pidFilePath(layout), pid) === false) {
      throw new Error(`${pidFilePath(layout)} names pid ${pid}, which does not hold this home's daemon lock: it was not signalled. If no dlite daemon runs for this home, remove that file`)
    }
    process.kill(pid, 'SIGTERM')
  }
  // The daemon exits right after answering; wait for it so a following start finds a clean slate.
  const deadline = Date.now() + 15_000
  while (pid !== undefined && lockHolder(pidFilePath(layout)) === pid && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {wasRunning: true, cleanedUp: [], ...outcome}
}
