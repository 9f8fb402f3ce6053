// Registering `dlite daemon` with the host's service manager, and driving it. systemd when PID 1 is
// systemd, launchd on macOS; otherwise (containers, these build machines) there is none and the caller
// spawns the daemon itself. Every systemctl/launchctl call goes through an injected Runner.
import {existsSync, readFileSync} from 'node:fs'
import {mkdir, rm} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join} from 'node:path'

import {writeFileAtomic} from 'dlite-kit/atomic-write'
import {run, type Runner} from 'dlite-kit/exec'
import {launchdPlistText, systemdUnitText, type ServiceNames, type ServiceSpec} from './definitions.js'
import {rootServiceProblems, UNSAFE_ROOT_SERVICE_OVERRIDE} from './root-owned.js'

export type ServiceManagerKind = 'systemd' | 'launchd' | 'none'

export interface ServiceHostFacts {
  platform: NodeJS.Platform
  pathExists: (path: string) => boolean
  /** Contents of /proc/1/comm, when readable. */
  pid1Name?: string
}

export function realServiceHostFacts(): ServiceHostFacts {
  let pid1Name: string | undefined
  try {
    pid1Name = readFileSync('/proc/1/comm', 'utf8').trim()
  } catch {
    pid1Name = undefined
  }
  return {platform: process.platform, pathExists: existsSync, pid1Name}
}

/** systemd's own test (sd_booted: /run/systemd/system exists), confirmed by PID 1's name where known. */
export function detectServiceManager(facts: ServiceHostFacts = realServiceHostFacts()): ServiceManagerKind {
  if (facts.platform === 'darwin') return 'launchd'
  if (facts.platform !== 'linux') return 'none'
  if (!facts.pathExists('/run/systemd/system')) return 'none'
  if (facts.pid1Name !== undefined && facts.pid1Name !== 'systemd') return 'none'
  return 'systemd'
}

export interface ServiceManager {
  kind: 'systemd' | 'launchd'
  /** The unit or label the manager knows the service by. */
  id: string
  /** Where the definition file is written. */
  path: string
  /** Writes the definition and makes the manager load it. Idempotent. */
  install(): Promise<void>
  /** Stops the service if running, unloads and deletes the definition. Idempotent. */
  uninstall(): Promise<void>
  start(): Promise<void>
  stop(): Promise<void>
  isActive(): Promise<boolean>
  /** Whether the manager starts the daemon by itself: at login for a user's service, at boot for the system's. */
  setAutostart(on: boolean): Promise<void>
}

export interface ServiceManagerOptions {
  runner?: Runner
  /**
   * Where definitions go. Default: /etc/systemd/system or /Library/LaunchDaemons (system scope);
   * ~/.config/systemd/user or ~/Library/LaunchAgents (user scope).
   */
  dir?: string
  /** The user's home and uid, for user scope (defaults: this process's). */
  user?: {home: string; uid: number}
  /** What would let a non-root user change what a system service runs (default: the real files, root-owned.ts). */
  rootPathProblems?: (command: string[], path: string | undefined) => string[]
}

/** Refuses a system service whose node, code or PATH someone other than root could change (root-owned.ts). */
function checkRootOwned(spec: ServiceSpec, opts: ServiceManagerOptions): void {
  if (spec.scope === 'user') return
  const problems = (opts.rootPathProblems ?? rootServiceProblems)(spec.command, spec.env?.PATH)
  if (problems.length === 0) return
  if (process.env[UNSAFE_ROOT_SERVICE_OVERRIDE] === '1') {
    process.stderr.write(`warning: ${UNSAFE_ROOT_SERVICE_OVERRIDE}=1: registering a root service that others can change: ${problems.join('; ')}\n`)
    return
  }
  throw new Error(`refusing to register a root service that someone other than root could change: ${problems.join('; ')}. ` +
    `Fix: install dlite as root (sudo npm i -g dlite-cli) so its files are root's, and run this from there; ` +
    `for a development checkout only, ${UNSAFE_ROOT_SERVICE_OVERRIDE}=1 registers anyway`)
}

export const SYSTEMD_UNIT_DIR = '/etc/systemd/system'
export const LAUNCHD_DAEMON_DIR = '/Library/LaunchDaemons'

/** Where each manager keeps its definitions, and how its commands address them, for one scope. */
function scopeOf(spec: ServiceSpec, opts: ServiceManagerOptions) {
  const user = spec.scope === 'user'
  const home = opts.user?.home ?? homedir()
  const uid = opts.user?.uid ?? process.getuid?.() ?? 0
  return {
    systemdDir: opts.dir ?? (user ? join(process.env.XDG_CONFIG_HOME ?? join(home, '.config'), 'systemd', 'user') : SYSTEMD_UNIT_DIR),
    systemctl: user ? ['--user'] : [],
    launchdDir: opts.dir ?? (user ? join(home, 'Library', 'LaunchAgents') : LAUNCHD_DAEMON_DIR),
    // a LaunchAgent lives in the user's GUI session domain, a LaunchDaemon in the system domain
    launchdDomain: user ? `gui/${uid}` : 'system',
  }
}

async function must(runner: Runner, cmd: string, args: string[]): Promise<string> {
  const result = await runner(cmd, args, {timeoutMs: 120_000})
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim()}`)
  }
  return result.stdout
}

/** The manager for `kind`, or undefined for 'none' (the caller spawns `dlite daemon` itself). */
export function serviceManager(kind: ServiceManagerKind, spec: ServiceSpec, names: ServiceNames, opts: ServiceManagerOptions = {}): ServiceManager | undefined {
  const runner = opts.runner ?? run
  const scope = scopeOf(spec, opts)
  if (kind === 'systemd') {
    const unit = names.systemdUnit
    const path = join(scope.systemdDir, unit)
    const text = systemdUnitText({...spec, name: names.name})
    const systemctl = (args: string[]) => [...scope.systemctl, ...args]
    return {
      kind,
      id: unit,
      path,
      async install() {
        checkRootOwned(spec, opts)
        await mkdir(scope.systemdDir, {recursive: true})
        await writeFileAtomic(path, text)
        await must(runner, 'systemctl', systemctl(['daemon-reload']))
      },
      async uninstall() {
        await runner('systemctl', systemctl(['stop', unit]), {timeoutMs: 180_000}) // not loaded or not running: fine
        await runner('systemctl', systemctl(['disable', unit]), {timeoutMs: 30_000}) // its wants/ link, if autostart made one
        await rm(path, {force: true})
        await must(runner, 'systemctl', systemctl(['daemon-reload']))
        await runner('systemctl', systemctl(['reset-failed', unit]), {timeoutMs: 30_000})
      },
      start: async () => void (await must(runner, 'systemctl', systemctl(['start', unit]))),
      stop: async () => void (await must(runner, 'systemctl', systemctl(['stop', unit]))),
      async isActive() {
        const result = await runner('systemctl', systemctl(['is-active', '--quiet', unit]), {timeoutMs: 30_000})
        return result.code === 0
      },
      // [Install] WantedBy default.target (a user's manager starts at login) or multi-user.target (boot)
      setAutostart: async (on) => void (await must(runner, 'systemctl', systemctl([on ? 'enable' : 'disable', unit]))),
    }
  }
  if (kind === 'launchd') {
    const label = names.launchdLabel
    const target = `${scope.launchdDomain}/${label}`
    const path = join(scope.launchdDir, `${label}.plist`)
    const text = launchdPlistText({...spec, name: names.name}, label)
    return {
      kind,
      id: label,
      path,
      async install() {
        checkRootOwned(spec, opts)
        await mkdir(scope.launchdDir, {recursive: true})
        await writeFileAtomic(path, text)
        // Reload so a changed plist takes effect; bootout fails harmlessly when it was not loaded.
        await runner('launchctl', ['bootout', target], {timeoutMs: 120_000})
        await must(runner, 'launchctl', ['bootstrap', scope.launchdDomain, path])
      },
      async uninstall() {
        await runner('launchctl', ['bootout', target], {timeoutMs: 180_000})
        await rm(path, {force: true})
      },
      start: async () => void (await must(runner, 'launchctl', ['kickstart', target])),
      stop: async () => void (await must(runner, 'launchctl', ['kill', 'SIGTERM', target])),
      async isActive() {
        const result = await runner('launchctl', ['print', target], {timeoutMs: 30_000})
        return result.code === 0 && /\bstate = running\b/.test(result.stdout)
      },
      // RunAtLoad in the plist: launchd reads it at the next login (or boot). Reloading now would start the VM.
      async setAutostart(on) {
        await writeFileAtomic(path, launchdPlistText({...spec, name: names.name, autostart: on}, label))
      },
    }
  }
  return undefined
}

