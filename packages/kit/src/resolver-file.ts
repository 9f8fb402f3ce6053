// Telling the host's resolver that names under a domain are answered by dlite-dns's responder. Root's work (files
// under /etc): root's own VM's daemon does it, and the root helper does it for a user's VM (dlite-dns asks it). macOS: a file per
// domain in /etc/resolver. Linux with systemd-resolved: a drop-in with `DNS=` and `Domains=~<domain>`, then a
// reload. Anything else: nothing is written and the message says what to do by hand. Every file written is
// recorded (path and content) so that `dns disable` removes exactly those, and only while they still carry
// our marker: a file someone else wrote, or changed, is left alone.
import {existsSync, mkdirSync, readFileSync, rmSync} from 'node:fs'
import {isIP} from 'node:net'
import {dirname, join, resolve} from 'node:path'

import {writeFileAtomicSync} from './atomic-write.js'
import {run, type Runner} from './exec.js'

export const RESOLVER_MODES = ['auto', 'macos', 'systemd-resolved', 'manual'] as const
/** How the host's resolver learns the domain: found out (auto), or named. */
export type ResolverSetting = (typeof RESOLVER_MODES)[number]

function formatServer(address: {host: string; port: number}): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

type ResolverMode = 'macos' | 'systemd-resolved' | 'manual'

export const MARKER = '# added by dlite-dns'
const DEFAULT_DIRS: Record<Exclude<ResolverMode, 'manual'>, string> = {
  'macos': '/etc/resolver',
  'systemd-resolved': '/etc/systemd/resolved.conf.d',
}
/**
 * Where resolver files go instead of the defaults (tests, unusual systems). Read from the environment of the
 * process that writes them (root's), never from a settings file of the user's.
 */
export const RESOLVER_DIR_ENV = 'DLITE_DNS_RESOLVER_DIR'


export interface ResolverHost {
  platform: NodeJS.Platform
  env: NodeJS.ProcessEnv
  exists: (path: string) => boolean
  run: Runner
}

interface WrittenFile {
  path: string
  mode: ResolverMode
  content: string
}

export interface ResolverOutcome {
  mode: ResolverMode
  /** Files that configure the host resolver now. */
  files: string[]
  /** What happened, or what to do by hand, in one or two sentences. */
  message: string
  /** Something went wrong but the responder serves anyway. */
  warning?: string
}

/** systemd-resolved runs when systemd is the init and resolved's runtime files exist. */
function resolvedRunning(host: Pick<ResolverHost, 'exists'>): boolean {
  return host.exists('/run/systemd/system') && (host.exists('/run/systemd/resolve/stub-resolv.conf') || host.exists('/run/systemd/resolve/resolv.conf'))
}

export function chooseMode(setting: ResolverSetting, host: Pick<ResolverHost, 'platform' | 'exists'>): ResolverMode {
  if (setting !== 'auto') return setting
  if (host.platform === 'darwin') return 'macos'
  if (host.platform === 'linux' && resolvedRunning(host)) return 'systemd-resolved'
  return 'manual'
}

export function resolverDir(mode: Exclude<ResolverMode, 'manual'>, env: NodeJS.ProcessEnv): string {
  const override = env[RESOLVER_DIR_ENV]
  return override && override.trim() !== '' ? resolve(override) : DEFAULT_DIRS[mode]
}

function nameserverText(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address
}

/** The file for one mode, domain and responder address. */
export function resolverFile(mode: Exclude<ResolverMode, 'manual'>, domain: string, address: {host: string; port: number}, env: NodeJS.ProcessEnv): {path: string; content: string} {
  const dir = resolverDir(mode, env)
  const why = `${MARKER}: names under .${domain} go to the dlite VM's DNS responder (\`dlite dns disable\` removes this file)`
  if (mode === 'macos') {
    // resolver(5): `nameserver` takes a bare address (IPv6 too, no brackets); `port` defaults to 53, and is written
    // always so the file says where queries go
    return {path: join(dir, domain), content: `${why}\nnameserver ${address.host}\nport ${address.port}\n`}
  }
  const server = address.port === 53 ? nameserverText(address.host) : formatServer(address)
  return {path: join(dir, `dlite-${domain}.conf`), content: `${why}\n[Resolve]\nDNS=${server}\nDomains=~${domain}\n`}
}

/** The manual step when dlite-dns writes nothing. */
export function manualStep(domain: string, address: {host: string; port: number}): string {
  const where = address.port === 53 ? address.host : `${address.host}#${address.port}`
  return `dlite-dns did not change the host resolver (no systemd-resolved here). To resolve *.${domain} on this host, send the domain to ${address.host}: with dnsmasq \`server=/${domain}/${where}\`, or put \`nameserver ${address.host}\` first in /etc/resolv.conf (other names are then forwarded to your other resolvers).`
}

function statePath(stateDir: string): string {
  return join(stateDir, 'resolver-state.json')
}

export function readWritten(stateDir: string): WrittenFile[] {
  try {
    const parsed = JSON.parse(readFileSync(statePath(stateDir), 'utf8')) as {files?: WrittenFile[]}
    return Array.isArray(parsed.files) ? parsed.files.filter((f) => typeof f?.path === 'string' && typeof f?.content === 'string') : []
  } catch {
    return []
  }
}

function recordWritten(stateDir: string, files: WrittenFile[]): void {
  if (files.length === 0) {
    rmSync(statePath(stateDir), {force: true})
    return
  }
  mkdirSync(stateDir, {recursive: true})
  writeFileAtomicSync(statePath(stateDir), `${JSON.stringify({files}, null, 2)}\n`, 0o644)
}

async function reloadResolved(host: ResolverHost): Promise<string | undefined> {
  const result = await host.run('systemctl', ['try-reload-or-restart', 'systemd-resolved.service'])
  if (result.code === 0) return undefined
  return `could not reload systemd-resolved (${(result.stderr || result.stdout).trim() || `exit ${result.code}`}); run \`sudo systemctl restart systemd-resolved\``
}

/**
 * macOS keeps answers, negative ones too, in its directory-service and mDNSResponder caches: after a file in
 * /etc/resolver appears, changes or goes, both are flushed (as DLite's and dnsdock's READMEs did), so a name
 * looked up before is asked again. Absolute paths: root runs these.
 */
export const MACOS_CACHE_FLUSH: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['/usr/bin/dscacheutil', ['-flushcache']],
  ['/usr/bin/killall', ['-HUP', 'mDNSResponder']],
]

/** Best effort: a flush that fails leaves the file in place and comes back as a warning naming the fix. */
async function flushMacosCaches(host: ResolverHost): Promise<string | undefined> {
  const failed: string[] = []
  for (const [command, args] of MACOS_CACHE_FLUSH) {
    const result = await host.run(command, [...args])
    if (result.code !== 0) failed.push(`${command} ${args.join(' ')}: ${(result.stderr || result.stdout).trim() || `exit ${result.code}`}`)
  }
  if (failed.length === 0) return undefined
  return `macOS's DNS cache was not flushed (${failed.join('; ')}), so names looked up before may answer from the cache for a while; run \`sudo dscacheutil -flushcache; sudo killall -HUP mDNSResponder\``
}

/** What a change of resolver files calls for afterwards: resolved reloads it, macOS flushes its caches. */
async function afterChange(host: ResolverHost, changed: Set<ResolverMode>): Promise<string | undefined> {
  const warnings: string[] = []
  if (changed.has('systemd-resolved')) warnings.push(await reloadResolved(host) ?? '')
  // only on macOS itself: a macos-mode file written elsewhere (a test's directory) has no cache to flush
  if (changed.has('macos') && host.platform === 'darwin') warnings.push(await flushMacosCaches(host) ?? '')
  const said = warnings.filter(Boolean)
  return said.length > 0 ? said.join('; ') : undefined
}

/** A recorded file may be removed only where dlite-dns writes (default or overridden dir) and only if it is ours. */
function removable(file: WrittenFile, env: NodeJS.ProcessEnv): boolean {
  if (file.mode === 'manual') return false
  const dirs = new Set([DEFAULT_DIRS[file.mode], resolverDir(file.mode, env)])
  if (!dirs.has(dirname(resolve(file.path)))) return false
  try {
    return readFileSync(file.path, 'utf8').startsWith(MARKER)
  } catch {
    return false
  }
}

export interface RemoveOutcome {
  removed: string[]
  /** Files recorded but left in place, with why. */
  kept: Array<{path: string; reason: string}>
  warning?: string
}

/**
 * Removes the recorded files that are still ours. `except` names files to keep (the ones about to be written
 * again). Throws on a permission error, so a non-root caller can say "run with sudo".
 */
export async function removeResolverFiles(stateDir: string, host: ResolverHost, except: string[] = []): Promise<RemoveOutcome> {
  const {outcome, changed} = removeFiles(stateDir, host, except)
  const warning = await afterChange(host, changed)
  return warning ? {...outcome, warning} : outcome
}

/** Removes the recorded files that are still ours; says which kinds changed, for afterChange. */
function removeFiles(stateDir: string, host: ResolverHost, except: string[]): {outcome: RemoveOutcome; changed: Set<ResolverMode>} {
  const outcome: RemoveOutcome = {removed: [], kept: []}
  const remaining: WrittenFile[] = []
  const changed = new Set<ResolverMode>()
  for (const file of readWritten(stateDir)) {
    if (except.includes(file.path)) {
      remaining.push(file)
      continue
    }
    if (!existsSync(file.path)) continue
    if (!removable(file, host.env)) {
      outcome.kept.push({path: file.path, reason: 'it no longer carries the dlite-dns marker (changed by someone else)'})
      continue
    }
    rmSync(file.path)
    outcome.removed.push(file.path)
    changed.add(file.mode)
  }
  recordWritten(stateDir, remaining)
  return {outcome, changed}
}

/**
 * `dns disable` with the VM stopped: there is no daemon to remove the files, so the command does it (root is
 * needed for /etc); a permission error says to run it with sudo.
 */
export async function removeResolverFilesAsUser(stateDir: string, host: ResolverHost): Promise<RemoveOutcome> {
  try {
    return await removeResolverFiles(stateDir, host)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM') throw new Error(`permission denied removing the resolver file (${(error as Error).message}); run \`sudo dlite dns disable\``)
    throw error
  }
}

/** Writes (or rewrites) the resolver configuration for the domain, removing any earlier file that is no longer wanted. */
export async function installResolver(options: {
  stateDir: string
  setting: ResolverSetting
  domain: string
  address: {host: string; port: number}
  host: ResolverHost
}): Promise<ResolverOutcome> {
  const {stateDir, domain, address, host} = options
  const mode = chooseMode(options.setting, host)
  if (mode === 'manual') {
    const removed = await removeResolverFiles(stateDir, host)
    return {mode, files: [], message: manualStep(domain, address), warning: removed.warning}
  }
  const file = resolverFile(mode, domain, address, host.env)
  const ours = readWritten(stateDir).some((written) => written.path === file.path)
  // an earlier file (another domain) goes first; one reload or flush afterwards covers both changes
  const earlier = removeFiles(stateDir, host, [file.path])
  let current: string | undefined
  try {
    current = readFileSync(file.path, 'utf8')
  } catch {
    current = undefined
  }
  if (current !== undefined && !current.startsWith(MARKER)) {
    await afterChange(host, earlier.changed)
    return {
      mode, files: [], message: `${file.path} exists and was not written by dlite-dns, so it was left alone`,
      warning: `remove or fix ${file.path} yourself (it should say \`nameserver ${address.host}\`), or pick another domain with \`dlite dns enable --domain\``,
    }
  }
  // dlite-dns's, but not recorded here: another VM's (another home's) file for the same domain is not taken over
  if (current !== undefined && !ours && current !== file.content) {
    await afterChange(host, earlier.changed)
    return {
      mode, files: [], message: `${file.path} was written by dlite-dns for another dlite VM, so it was left alone`,
      warning: `pick another domain with \`dlite dns enable --domain\`, or \`dlite dns disable\` in the VM that wrote it`,
    }
  }
  const changed = new Set(earlier.changed)
  if (current !== file.content) {
    mkdirSync(dirname(file.path), {recursive: true, mode: 0o755})
    writeFileAtomicSync(file.path, file.content, 0o644)
    changed.add(mode)
  }
  recordWritten(stateDir, [{path: file.path, mode, content: file.content}])
  // the file is written whatever happens now: a reload or flush that fails is a warning, not a failure
  const warning = await afterChange(host, changed)
  const message = mode === 'macos'
    ? `${file.path} sends *.${domain} to ${address.host}`
    : `${file.path} sends *.${domain} to ${address.host} through systemd-resolved`
  return {mode, files: [file.path], message, warning}
}

// resolvectl and systemctl answer at once or are stuck: do not hold a request for ever.
const RESOLVER_TOOL_TIMEOUT_MS = 30_000

/** This machine: its platform, its environment, the file system, programs run without a shell. */
export function realResolverHost(): ResolverHost {
  return {platform: process.platform, env: process.env, exists: existsSync, run: (command, args) => run(command, args, {timeoutMs: RESOLVER_TOOL_TIMEOUT_MS})}
}
