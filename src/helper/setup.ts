// `sudo dlite network setup` and `sudo dlite network remove`: the one-time root part of a user's bridged VM. Setup
// registers the home with the root helper (root's file, root's directories) and makes sure the helper runs —
// as a service where a service manager exists (started again at every boot), else as a process of its own until
// the host reboots. Remove stops it, takes down what it made and forgets the home. Nothing is written in the
// user's home: root never acts on paths a user controls.
import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {connect} from 'node:net'
import {userInfo} from 'node:os'
import {dirname, join} from 'node:path'

import {writeFileAtomic} from 'dlite-kit/atomic-write'
import {RESOLVER_DIR_ENV} from 'dlite-kit/resolver-file'

import {homeId} from '../network/names.js'
import {PUBLIC_NAMES_ENV} from '../network/reserved-names.js'
import {detectServiceManager, serviceManager, type ServiceManager} from '../service/manager.js'
import {rootOnlyPathProblems, rootServiceProblems, UNSAFE_ROOT_SERVICE_OVERRIDE} from '../service/root-owned.js'
import {rootActions} from './for-home.js'
import {makeRegistration, readRegistrationAsRoot, registrationConflicts, type HelperRegistration} from './registration.js'
import {helperLogPath, helperSocketPath, registrationPath, resolverStateDir, SYSTEM_DIR_ENV, systemDirs} from './system-paths.js'

export interface HelperSetupOptions {
  home: string
  owner: {uid: number; gid: number}
  subnet: string
  hostname: string
  dnsDomain?: string
  /** bin/run.js of this CLI: what the helper runs. */
  entry: string
  defaultHome?: string
}

export interface HelperSetupResult {
  registration: HelperRegistration
  socket: string
  /** How the helper runs: a service (started at boot) or a process until the next reboot. */
  runsAs: 'systemd' | 'launchd' | 'process'
  /** Whether this setup started it (false: it was running and serves the new registration at once). */
  started: boolean
}

/** The systemd unit or LaunchDaemon that runs the helper for one home; undefined where there is no manager. */
export function helperService(registration: HelperRegistration, entry: string): ServiceManager | undefined {
  const name = `dlite-helper-${registration.homeId}`
  const {PATH, HOME, ...env} = helperEnvironment()
  return serviceManager(detectServiceManager(), {
    scope: 'system', description: `dlite root helper for ${registration.home} (uid ${registration.owner.uid})`, name, command: [process.execPath, entry, 'helper', registration.homeId],
    env: {PATH: PATH!, ...(env as Record<string, string>)}, logFile: helperLogPath(registration.homeId), autostart: true,
  }, {name, systemdUnit: `${name}.service`, launchdLabel: `io.dlite.helper.${registration.homeId}`})
}

/** What root passes on to the settings the helper honours; nothing else of whoever ran sudo. */
const PASSED_TO_HELPER = [SYSTEM_DIR_ENV, RESOLVER_DIR_ENV, PUBLIC_NAMES_ENV]

/**
 * The helper's whole environment: a fixed PATH for `ip` and `nft`, root's own home (so oclif loads no plugins but
 * root's), and only the settings above from the environment of the setup that starts it.
 */
export function helperEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const rootHome = userInfo().homedir
  const passed = Object.fromEntries(PASSED_TO_HELPER.filter((key) => env[key]).map((key) => [key, env[key]]))
  return {PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: rootHome, DLITE_DATA_DIR: join(rootHome, '.local', 'share', 'dlite'), ...passed}
}

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} is root's work: run it with sudo`)
}

/**
 * The directories root keeps the helper's files in, checked to be root's alone — where they would be made, before
 * root makes anything there — then made if missing.
 */
export function ensureSystemDirs(): void {
  const dirs = systemDirs()
  for (const dir of [dirs.registrations, dirs.sockets, dirs.logs]) {
    let existing = dir
    while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing)
    const problems = rootOnlyPathProblems(existing)
    if (problems.length > 0) throw new Error(`refusing to keep the root helper's files in ${dir}: ${problems.join('; ')}`)
    mkdirSync(dir, {recursive: true, mode: 0o755})
  }
}

export function helperAnswers(socketPath: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath)
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(false)
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
  })
}

async function waitForHelper(id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await helperAnswers(helperSocketPath(id))) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`the root helper did not come up within ${timeoutMs / 1000} s (its log: ${helperLogPath(id)})`)
}

export async function setUpHelper(options: HelperSetupOptions): Promise<HelperSetupResult> {
  requireRoot('`dlite network setup`')
  const registration = makeRegistration({home: options.home, owner: options.owner, subnet: options.subnet, hostname: options.hostname, dnsDomain: options.dnsDomain, defaultHome: options.defaultHome})
  ensureSystemDirs()
  const registered = allRegistrations()
  const conflicts = registrationConflicts(registration, registered)
  if (conflicts.length > 0) throw new Error(conflicts.join('; '))
  const earlier = registered.find((other) => other.homeId === registration.homeId)
  const socket = helperSocketPath(registration.homeId)
  const service = helperService(registration, options.entry)
  if (service) {
    const problems = rootServiceProblems([process.execPath, options.entry], service.kind === 'systemd' ? '/usr/sbin:/usr/bin:/sbin:/bin' : undefined)
    if (problems.length > 0 && process.env[UNSAFE_ROOT_SERVICE_OVERRIDE] !== '1') {
      throw new Error(`refusing to register a root service that runs code others can change: ${problems.join('; ')}. Install dlite where only root can write (npm install -g as root), or set ${UNSAFE_ROOT_SERVICE_OVERRIDE}=1 on a development machine`)
    }
  }
  await writeRegistration(registration)
  // a helper already serving reads the registration at every request: the new one counts at once
  if (await helperAnswers(socket)) return {registration, socket, runsAs: service?.kind ?? 'process', started: false}
  try {
    if (service) {
      await service.install()
      await service.setAutostart(true)
      await service.start()
    } else {
      spawnHelper(registration.homeId, options.entry)
    }
    await waitForHelper(registration.homeId, 15_000)
  } catch (error) {
    // nothing half-made: the registration is as this setup found it
    if (earlier) await writeRegistration(earlier)
    else rmSync(registrationPath(registration.homeId), {force: true})
    await service?.uninstall().catch(() => {})
    throw error
  }
  return {registration, socket, runsAs: service?.kind ?? 'process', started: true}
}

/** Every home registered on this host (a file out of shape or not root's is skipped: it serves nobody). */
export function allRegistrations(): HelperRegistration[] {
  let names: string[]
  try {
    names = readdirSync(systemDirs().registrations)
  } catch {
    return []
  }
  const found: HelperRegistration[] = []
  for (const name of names) {
    const id = /^([0-9a-f]{6})\.json$/.exec(name)?.[1]
    if (!id) continue
    try {
      found.push(readRegistrationAsRoot(id))
    } catch {
      // not one the helper would serve
    }
  }
  return found
}

/** Root's file, readable by all; a helper that runs reads it again at its next request. */
export async function writeRegistration(registration: HelperRegistration): Promise<void> {
  await writeFileAtomic(registrationPath(registration.homeId), `${JSON.stringify(registration, null, 2)}\n`, 0o644)
}

/** No service manager: the helper is a process of its own, in its own session, logging to root's log file. */
function spawnHelper(id: string, entry: string): void {
  const logPath = helperLogPath(id)
  mkdirSync(dirname(logPath), {recursive: true, mode: 0o755})
  const log = openSync(logPath, 'a', 0o644)
  try {
    const child = spawn(process.execPath, [entry, 'helper', id], {detached: true, stdio: ['ignore', log, log], env: helperEnvironment(), cwd: '/'})
    child.unref()
  } finally {
    closeSync(log)
  }
}

export function helperPidPath(id: string): string {
  return helperSocketPath(id).replace(/\.sock$/, '.pid')
}

export interface HelperRemoveResult {
  homeId: string
  /** What was taken down: the helper, the network it had made, the registration. */
  removed: string[]
}

export async function removeHelper(home: string, entry: string): Promise<HelperRemoveResult> {
  requireRoot('`dlite network remove`')
  const id = homeId(home)
  const removed: string[] = []
  if (!existsSync(registrationPath(id))) return {homeId: id, removed}
  const registration = readRegistrationAsRoot(id)
  const service = helperService(registration, entry)
  if (service && existsSync(service.path)) {
    await service.uninstall()
    removed.push(`service ${service.id}`)
  } else {
    const pid = helperPid(id)
    if (pid !== undefined) {
      process.kill(pid, 'SIGTERM')
      removed.push(`helper pid ${pid}`)
    }
  }
  const actions = rootActions(registration)
  await actions.networkDown()
  removed.push(`network ${registration.bridge}`)
  const resolver = await actions.removeResolver()
  removed.push(...resolver.removed.map((path) => `resolver file ${path}`))
  rmSync(resolverStateDir(id), {recursive: true, force: true})
  rmSync(registrationPath(id), {force: true})
  removed.push(`registration ${registrationPath(id)}`)
  return {homeId: id, removed}
}

/** The helper's pid, from the pid file it keeps in root's run directory, when that process is still a helper. */
function helperPid(id: string): number | undefined {
  try {
    const pid = Number(readFileSync(helperPidPath(id), 'utf8').trim())
    if (!Number.isInteger(pid) || pid <= 1) return undefined
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    return cmdline.includes('helper') && cmdline.includes(id) ? pid : undefined
  } catch {
    return undefined
  }
}
