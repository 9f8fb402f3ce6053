// Validation of every `dlite install` option before anything is written. Pure: the host's facts (cores,
// RAM, home directory, routes, file system) come in as a parameter, so every rule is unit-testable.
// Each failure names the flag and says how to fix it; success yields normalized options.
import {accessSync, constants, openSync, readdirSync, readSync, closeSync, statSync} from 'node:fs'
import {cpus as osCpus, homedir, totalmem} from 'node:os'
import {dirname, isAbsolute, join, resolve} from 'node:path'

import {ACCELS, NETWORK_MODES, type Accel, type DliteConfig, type Mount, type NetworkMode} from '../config/schema.js'
import {controlSocketPath, guestControlSocketPath, qmpSocketPath, virtiofsSocketPath} from '../daemon/daemon-paths.js'
import {defaultHomebrewPrefix, homebrewPrefix, socketVmnetPaths} from '../doctor/macos.js'
import {readRegistration} from '../helper/registration.js'
import {probeSocketVmnet} from '../host/socket-vmnet.js'
import {underSudo} from '../host/invoking-user.js'
import {readHostRoutes, type HostRoute} from '../network/host-routes.js'
import {cidrsOverlap, formatCidr, isRfc1918, networkOf, parseCidr, requireCidr, type Cidr} from 'dlite-kit/ipv4'
import {endsInReservedSuffix, publicNamesAllowed, reservedNameFix} from '../network/reserved-names.js'
import {socketVmnetMissing, VMNET_DEFAULT_SUBNET, type SocketVmnetFacts} from '../network/vmnet.js'
import {homeLayout} from '../paths.js'
import {dockerdArgsProblem} from '../guest/dockerd-args.js'
import {parseImageSource, type ImageSource} from '../image/source.js'
import {noImageError} from './image-source.js'
import {ShellSplitError, splitShellWords} from './shell-words.js'

const GiB = 1024 ** 3

/** Raw option values as flags or wizard answers give them; undefined means "use the default". */
export interface InstallInput {
  cpus?: number | string
  memory?: number | string
  disk?: number | string
  hostname?: string
  /** `PATH[:ro]`, one or several; `none` alone shares nothing. */
  mounts?: string | string[]
  /** Path of a public key, or `none` for no key (the wizard's empty answer means none too). */
  sshKey?: string
  /** Extra dockerd arguments as one shell-like string or several. */
  extra?: string | string[]
  os?: string
  subnet?: string
  dockerSocket?: string
  accel?: string
  /** user (default) or bridged. */
  network?: string
}

/** The validated options: the config fields that install takes from the user. */
export type InstallOptions = Omit<DliteConfig, 'image' | 'createdAt'>

export type PathKind = 'file' | 'directory' | 'socket' | 'other' | 'missing'

/** The file-system questions validation asks; injectable so tests need no real files. */
export interface FsProbe {
  kind(path: string): PathKind
  readable(path: string): boolean
  /** For a directory: whether entries can be created in it. */
  writable(path: string): boolean
  /** The first `maxBytes` of a file as UTF-8, or undefined if it cannot be read. */
  readHead(path: string, maxBytes: number): string | undefined
  /** For a directory: whether it has no entries (one that cannot be listed is not empty). Unasked when absent. */
  isEmptyDirectory?(path: string): boolean
}

export interface InstallHostFacts {
  platform: NodeJS.Platform
  cpuCores: number
  memoryBytes: number
  /** The invoking user's home directory (default mount, ~ expansion, default SSH keys). */
  homeDir: string
  /** Resolves relative paths given on the command line. */
  cwd: string
  /** The host's IPv4 routes; a route the caller knows to be this home's own bridge should be left out. */
  routes: HostRoute[]
  fs: FsProbe
  /** The DLITE_HOME being installed (the user-mode docker socket lives in it); default ~/.dlite. */
  dliteHome?: string
  /** Whether install runs as root: root's own bridged VM does its host network itself. */
  isRoot?: boolean
  /** The home's registration with the root helper (`sudo dlite network setup`): a user's bridged VM needs one. */
  helperRegistration?: {subnet: string; hostname: string}
  /** Root through sudo for another user: a user-mode VM must be made by that user, never by root in their home. */
  underSudo?: boolean
  /** Used when --os is not given: what findImageSource found (image-source.ts); without it --os is required. */
  defaultOsSource?: string
  /** Where findImageSource looked, named in the error when it found nothing. */
  osSearched?: string[]
  /** DLITE_ALLOW_PUBLIC_NAMES=1: a dotted --hostname may end outside the reserved suffixes (a name the user owns). */
  publicNamesAllowed?: boolean
  /** macOS: socket_vmnet, which a bridged VM's QEMU connects to (host/socket-vmnet.ts), under Homebrew's prefix. */
  socketVmnet?: SocketVmnetFacts
  homebrewPrefix?: string
}

export interface ValidationError {
  /** The long flag, e.g. `--cpus` (or `DLITE_HOME` for the home itself). */
  flag: string
  message: string
  fix: string
}

export type Checked<T> = {ok: true; value: T} | {ok: false; error: ValidationError}
export type ValidationResult = {ok: true; options: InstallOptions} | {ok: false; errors: ValidationError[]}

export const DEFAULT_HOSTNAME = 'local.docker'
export const DEFAULT_SUBNET = '192.168.64.0/24'
export const DEFAULT_DISK_GIB = 20
export const DEFAULT_MEMORY_GIB = 2
export const MIN_DISK_GIB = 8
export const MAX_DISK_GIB = 65_536
export const MIN_PREFIX = 16
export const MAX_PREFIX = 29
export const LINUX_DEFAULT_DOCKER_SOCKET = '/var/run/dlite/docker.sock'
/** sun_path is 108 bytes on Linux and 104 on macOS, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = {linux: 107, darwin: 103} as Record<string, number>

const ok = <T>(value: T): Checked<T> => ({ok: true, value})
const fail = <T>(flag: string, message: string, fix: string): Checked<T> => ({ok: false, error: {flag, message, fix}})

function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir
  if (path.startsWith('~/')) return join(homeDir, path.slice(2))
  return path
}

function isUnset(value: unknown): boolean {
  return value === undefined || (typeof value === 'string' && value.trim() === '')
}

/** Any digits (a huge number is then out of range, not "not a number"); no sign, point, exponent or hex. */
function parseWholeNumber(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined
  return /^\s*[0-9]+\s*$/.test(value) ? Number(value) : undefined
}

/** C0 controls, DEL and C1 controls: no flag value needs them, and echoed back they garble a terminal. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/

/** A value as messages show it: quoted, with control characters escaped (\n, \t, \u001b). */
export function shown(value: string): string {
  // JSON escapes C0 controls; DEL and C1 it leaves raw
  return JSON.stringify(value).replace(/[\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * What no flag value may be, whatever the flag: empty (an unset shell variable, most likely), padded with
 * whitespace, or holding control characters. `--extra` may have whitespace around its words (it is split like
 * a shell line). The wizard trims its answers, so this only ever refuses what was typed on the command line.
 */
export function checkFlagText(flag: string, raw: string, opts: {emptyFix?: string; spacesAllowed?: boolean} = {}): Checked<string> {
  const control = CONTROL_CHARACTER.exec(raw)
  if (control) {
    return fail(flag, `${shown(raw)} contains the control character ${shown(control[0])}`, `remove it: ${flag} takes printable characters only`)
  }
  if (raw.trim() === '') return fail(flag, `the value is empty`, opts.emptyFix ?? `give a value, or leave ${flag} out for the default`)
  if (!opts.spacesAllowed && raw.trim() !== raw) {
    const trimmed = raw.trim()
    return fail(flag, `${shown(raw)} starts or ends with whitespace`, `drop it: ${flag} ${/\s/.test(trimmed) ? shown(trimmed) : trimmed}`)
  }
  return ok(raw)
}

/** Runs `check` on a value that passed checkFlagText (numbers, as unit tests give them, need no screening). */
function screened<T>(flag: string, raw: unknown, check: () => Checked<T>, opts?: Parameters<typeof checkFlagText>[2]): Checked<T> {
  if (typeof raw !== 'string') return check()
  const text = checkFlagText(flag, raw, opts)
  return text.ok ? check() : {ok: false, error: text.error}
}

// ---- cpus, memory, disk --------------------------------------------------------------------------

export function defaultCpus(facts: Pick<InstallHostFacts, 'cpuCores'>): number {
  return Math.max(1, Math.floor(facts.cpuCores / 2))
}

export function maxMemoryGiB(facts: Pick<InstallHostFacts, 'memoryBytes'>): number {
  // Leave the host at least 1 GiB.
  return Math.floor(facts.memoryBytes / GiB) - 1
}

export function checkCpus(raw: number | string | undefined, facts: InstallHostFacts): Checked<number> {
  const max = Math.max(1, facts.cpuCores)
  if (isUnset(raw)) return ok(defaultCpus(facts))
  const value = parseWholeNumber(raw!)
  if (value === undefined) return fail('--cpus', `"${raw}" is not a whole number of CPUs`, `give a number from 1 to ${max}, e.g. --cpus ${defaultCpus(facts)}`)
  if (value < 1 || value > max) {
    return fail('--cpus', `${String(raw).trim()} CPUs is outside 1..${max} (this host has ${max} cores)`, `give a number from 1 to ${max}`)
  }
  return ok(value)
}

export function checkMemory(raw: number | string | undefined, facts: InstallHostFacts): Checked<number> {
  const max = maxMemoryGiB(facts)
  if (max < 1) {
    return fail('--memory', `this host has ${(facts.memoryBytes / GiB).toFixed(1)} GiB of RAM, too little to leave 1 GiB to the host`, 'run dlite on a host with at least 2 GiB of RAM')
  }
  if (isUnset(raw)) return ok(Math.min(DEFAULT_MEMORY_GIB, max))
  const value = parseWholeNumber(raw!)
  if (value === undefined) return fail('--memory', `"${raw}" is not a whole number of GiB`, `give GiB from 1 to ${max}, e.g. --memory ${DEFAULT_MEMORY_GIB}`)
  if (value < 1 || value > max) {
    return fail('--memory', `${String(raw).trim()} GiB is outside 1..${max} GiB (the host keeps at least 1 GiB)`, `give GiB from 1 to ${max}`)
  }
  return ok(value)
}

export function checkDisk(raw: number | string | undefined): Checked<number> {
  if (isUnset(raw)) return ok(DEFAULT_DISK_GIB)
  const value = parseWholeNumber(raw!)
  if (value === undefined) return fail('--disk', `"${raw}" is not a whole number of GiB`, `give GiB of at least ${MIN_DISK_GIB}, e.g. --disk ${DEFAULT_DISK_GIB}`)
  if (value < MIN_DISK_GIB) return fail('--disk', `${value} GiB is too small for docker's data`, `give at least ${MIN_DISK_GIB} GiB (the disk is sparse: it only uses what is written)`)
  if (value > MAX_DISK_GIB) return fail('--disk', `${String(raw).trim()} GiB is more than ${MAX_DISK_GIB} GiB`, `give at most ${MAX_DISK_GIB} GiB`)
  return ok(value)
}

// ---- hostname ------------------------------------------------------------------------------------

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

export function checkHostname(raw: string | undefined, facts: Pick<InstallHostFacts, 'publicNamesAllowed'> = {}): Checked<string> {
  if (isUnset(raw)) return ok(DEFAULT_HOSTNAME)
  const value = raw!.trim().toLowerCase()
  const fix = `use letters, digits and hyphens in dot-separated labels, e.g. --hostname ${DEFAULT_HOSTNAME}`
  if (value.length > 253) return fail('--hostname', `"${raw}" is longer than 253 characters`, fix)
  const labels = value.split('.')
  for (const label of labels) {
    if (label === '') return fail('--hostname', `"${raw}" has an empty label (leading, trailing or double dot)`, fix)
    if (label.length > 63) return fail('--hostname', `label "${label}" is longer than 63 characters`, fix)
    if (!LABEL.test(label)) {
      return fail('--hostname', `label "${label}" is not valid per RFC 1123 (only a-z, 0-9 and inner hyphens)`, fix)
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) {
    return fail('--hostname', `"${raw}" ends in an all-numeric label and would read as an IP address`, fix)
  }
  if (value === 'localhost' || value.endsWith('.localhost')) {
    return fail('--hostname', `"${raw}" is reserved for the host's loopback`, fix)
  }
  if (labels.length > 1 && !endsInReservedSuffix(value) && !facts.publicNamesAllowed) {
    return fail('--hostname', `"${raw}" ends in .${labels[labels.length - 1]}, a name that may belong to someone on the internet: the VM's name goes into /etc/hosts and would take it from every program on this host`,
      `use a single label (dlite), or ${reservedNameFix(DEFAULT_HOSTNAME)}`)
  }
  return ok(value)
}

// ---- mounts --------------------------------------------------------------------------------------

/** Where a share would hide the guest's own system or dlite's state: refused, with everything under them. */
const GUEST_OWN_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run', '/sbin', '/sys', '/usr',
  '/mnt/data', '/var/lib/docker', '/var/lib/containerd', '/var/log', '/var/run']
/** Refused only as themselves: a share of one of these would hide the trees above. */
const GUEST_OWN_PARENTS = ['/', '/mnt', '/var', '/var/lib']

/** `PATH`, `PATH:ro` or `PATH:rw`; `~` expands to the home directory. */
export function parseMount(raw: string, homeDir: string): Mount {
  const suffix = /:(ro|rw)$/.exec(raw)
  const path = expandHome(suffix ? raw.slice(0, -3) : raw, homeDir)
  return suffix?.[1] === 'ro' ? {path, readOnly: true} : {path}
}

/** How a mount is written back (`dlite config get`, the wizard's default). */
export function formatMount(mount: Mount): string {
  return mount.readOnly ? `${mount.path}:ro` : mount.path
}

function checkMount(raw: string, facts: InstallHostFacts): Checked<Mount> {
  const mount = parseMount(raw, facts.homeDir)
  const suffix = mount.readOnly ? ':ro' : ''
  if (!isAbsolute(mount.path)) {
    return fail('--mount', `"${raw}" is not an absolute path`, `give an absolute directory, e.g. --mount ${resolve(facts.cwd, mount.path)}${suffix}`)
  }
  const path = resolve(mount.path)
  const hidden = GUEST_OWN_PARENTS.includes(path) ? path : GUEST_OWN_TREES.find((tree) => path === tree || path.startsWith(`${tree}/`))
  if (hidden) return fail('--mount', `${path} would hide the VM's own ${hidden}`, 'share a directory of your own, e.g. your home or a project directory')
  const kind = facts.fs.kind(path)
  if (kind === 'missing') return fail('--mount', `${path} does not exist`, 'create the directory first or share an existing one')
  if (kind !== 'directory') return fail('--mount', `${path} is not a directory`, 'share a directory (its contents appear at the same path in the VM)')
  return ok({...mount, path})
}

/**
 * `--mount PATH[:ro]`, repeatable; none given: the home directory, read-write; `none`: nothing shared. Each
 * directory appears at the same path in the VM.
 */
export function checkMounts(raw: string | string[] | undefined, facts: InstallHostFacts): Checked<Mount[]> {
  const given = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw])
  if (given.length === 0) return ok([{path: facts.homeDir}])
  if (given.length === 1 && given[0].trim() === 'none') return ok([])
  const mounts: Mount[] = []
  for (const piece of given) {
    const text = checkFlagText('--mount', piece, {emptyFix: 'give a directory, or leave --mount out to share your home'})
    if (!text.ok) return {ok: false, error: text.error}
    if (piece === 'none') return fail('--mount', '"none" cannot be combined with directories', 'give --mount none alone to share nothing')
    const checked = checkMount(piece, facts)
    if (!checked.ok) return checked
    if (mounts.some((m) => m.path === checked.value.path)) return fail('--mount', `${checked.value.path} is given twice`, 'give each directory once')
    mounts.push(checked.value)
  }
  return ok(mounts)
}

// ---- ssh key -------------------------------------------------------------------------------------

const PUBLIC_KEY = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}(\s|$)/

function defaultSshKey(facts: InstallHostFacts): string | null {
  for (const name of ['id_ed25519.pub', 'id_rsa.pub']) {
    const path = join(facts.homeDir, '.ssh', name)
    if (facts.fs.kind(path) === 'file' && facts.fs.readable(path) && PUBLIC_KEY.test(facts.fs.readHead(path, 16_384) ?? '')) return path
  }
  return null
}

export function checkSshKey(raw: string | undefined, facts: InstallHostFacts): Checked<string | null> {
  if (raw === undefined) return ok(defaultSshKey(facts))
  const trimmed = raw.trim()
  if (trimmed === '' || trimmed === 'none') return ok(null)
  const path = resolve(facts.cwd, expandHome(trimmed, facts.homeDir))
  const kind = facts.fs.kind(path)
  if (kind === 'missing') return fail('--ssh-key', `${path} does not exist`, 'give the path of your public key (e.g. ~/.ssh/id_ed25519.pub), or --ssh-key none')
  if (kind !== 'file') return fail('--ssh-key', `${path} is not a file`, 'give the path of your public key file, or --ssh-key none')
  const text = facts.fs.readable(path) ? facts.fs.readHead(path, 16_384) : undefined
  if (text === undefined) return fail('--ssh-key', `${path} is not readable`, 'fix its permissions or give another key, or --ssh-key none')
  if (text.includes('PRIVATE KEY')) {
    const pub = `${path}.pub`
    const hint = facts.fs.kind(pub) === 'file' ? `use ${pub} instead` : 'give the matching .pub file instead'
    return fail('--ssh-key', `${path} is a private key; dlite only needs (and must only see) the public key`, hint)
  }
  const firstLine = text.split('\n').find((line) => line.trim() !== '' && !line.startsWith('#')) ?? ''
  if (!PUBLIC_KEY.test(firstLine.trim())) {
    return fail('--ssh-key', `${path} is not an OpenSSH public key`, 'give a file like ~/.ssh/id_ed25519.pub (one line starting with ssh-ed25519, ssh-rsa or ecdsa-...)')
  }
  return ok(path)
}

// ---- extra dockerd args --------------------------------------------------------------------------

export function checkExtraArgs(raw: string | string[] | undefined): Checked<string[]> {
  const pieces = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  const args: string[] = []
  for (const piece of pieces) {
    try {
      args.push(...splitShellWords(piece))
    } catch (error) {
      if (error instanceof ShellSplitError) return fail('--extra', `cannot split "${piece}": ${error.message}`, 'quote the arguments as you would in a shell')
      throw error
    }
  }
  const problem = dockerdArgsProblem(args)
  return problem ? fail('--extra', problem.message, problem.fix) : ok(args)
}

// ---- subnet --------------------------------------------------------------------------------------

function overlappingRoute(cidr: Cidr, routes: HostRoute[]): HostRoute | undefined {
  return routes.find((route) => {
    const parsed = parseCidr(route.dst)
    if (!parsed || parsed.prefix === 0) return false // the default route overlaps everything by design
    return cidrsOverlap(cidr, {network: networkOf(parsed.address, parsed.prefix), prefix: parsed.prefix})
  })
}

/** A free /24 to suggest: the first 192.168.N.0/24 from 64 up that no route touches. */
export function suggestFreeSubnet(routes: HostRoute[]): string | undefined {
  for (let n = 64; n < 255; n++) {
    const candidate = requireCidr(`192.168.${n}.0/24`)
    if (!overlappingRoute(candidate, routes)) return formatCidr(candidate)
  }
  return undefined
}

/**
 * The VM network when none is given. macOS: socket_vmnet's own (a bridged VM gets its address there, and a user-mode
 * one keeps it for a later switch); Linux: DLite's.
 */
export function defaultSubnet(platform: NodeJS.Platform): string {
  return platform === 'darwin' ? VMNET_DEFAULT_SUBNET : DEFAULT_SUBNET
}

/** On macOS the bridged VM's network is socket_vmnet's, routed on its vmnet bridge (bridge100...): no clash with it. */
export function routesOutsideVmnet(platform: NodeJS.Platform, routes: HostRoute[]): HostRoute[] {
  return platform === 'darwin' ? routes.filter((route) => !/^bridge\d+$/.test(route.dev ?? '')) : routes
}

export function checkSubnet(raw: string | undefined, facts: Pick<InstallHostFacts, 'routes'>, fallback = DEFAULT_SUBNET): Checked<string> {
  const text = isUnset(raw) ? fallback : raw!.trim()
  const suggestion = () => suggestFreeSubnet(facts.routes) ?? '10.213.0.0/24'
  const parsed = parseCidr(text)
  if (!parsed) return fail('--subnet', `"${text}" is not an IPv4 CIDR`, `give a network like ${DEFAULT_SUBNET}`)
  if (parsed.prefix < MIN_PREFIX || parsed.prefix > MAX_PREFIX) {
    return fail('--subnet', `/${parsed.prefix} is outside /${MIN_PREFIX}../${MAX_PREFIX}`, `give a prefix length from ${MIN_PREFIX} to ${MAX_PREFIX}, e.g. ${DEFAULT_SUBNET}`)
  }
  const cidr = {network: networkOf(parsed.address, parsed.prefix), prefix: parsed.prefix}
  if (cidr.network !== parsed.address) {
    return fail('--subnet', `${text} is not a network address (host bits are set)`, `use ${formatCidr(cidr)}`)
  }
  if (!isRfc1918(cidr)) {
    return fail('--subnet', `${text} is not a private network (RFC 1918)`, `use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. ${suggestion()}`)
  }
  const clash = overlappingRoute(cidr, facts.routes)
  if (clash) {
    const via = clash.dev ? ` (dev ${clash.dev})` : ''
    return fail('--subnet', `${text} overlaps the host route ${clash.dst}${via}`, `choose a subnet no route uses, e.g. --subnet ${suggestion()}`)
  }
  return ok(formatCidr(cidr))
}

// ---- docker socket -------------------------------------------------------------------------------

/**
 * Not /var/run/docker.sock: a native Docker's socket must never be clobbered. A user's VM keeps its socket in
 * its own home (a user cannot create /var/run/dlite, and the socket is that user's alone); the root-run
 * bridged VM keeps DLite's shared place on Linux.
 */
export function defaultDockerSocket(facts: Pick<InstallHostFacts, 'platform' | 'homeDir' | 'dliteHome' | 'isRoot'>, network: NetworkMode = 'user'): string {
  if (network === 'bridged' && facts.platform !== 'darwin' && facts.isRoot !== false) return LINUX_DEFAULT_DOCKER_SOCKET
  return join(facts.dliteHome ?? join(facts.homeDir, '.dlite'), 'docker.sock')
}

export function checkDockerSocket(raw: string | undefined, facts: InstallHostFacts, network: NetworkMode = 'user'): Checked<string> {
  const given = isUnset(raw) ? defaultDockerSocket(facts, network) : expandHome(raw!.trim(), facts.homeDir)
  if (!isAbsolute(given)) {
    return fail('--docker-socket', `"${raw}" is not an absolute path`, `give an absolute path, e.g. --docker-socket ${resolve(facts.cwd, given)}`)
  }
  const path = resolve(given)
  const limit = MAX_SOCKET_PATH_BYTES[facts.platform] ?? 103
  if (Buffer.byteLength(path) > limit) {
    return fail('--docker-socket', `${path} is longer than a unix socket path may be (${limit} bytes)`, 'choose a shorter path, e.g. /var/run/dlite/docker.sock')
  }
  const kind = facts.fs.kind(path)
  if (kind === 'socket') {
    return fail('--docker-socket', `${path} already exists: another docker engine or a running dlite serves it`, 'choose another path, or stop whatever serves it (remove the file if it is stale)')
  }
  if (kind !== 'missing') return fail('--docker-socket', `${path} exists and is not a socket`, 'choose a path where nothing exists yet')
  // The directory must exist and be writable, or its nearest existing ancestor must be (we create the rest).
  let dir = dirname(path)
  while (facts.fs.kind(dir) === 'missing' && dirname(dir) !== dir) dir = dirname(dir)
  const dirKind = facts.fs.kind(dir)
  if (dirKind !== 'directory') return fail('--docker-socket', `${dir} is not a directory, so ${dirname(path)} cannot be created`, 'choose a path under an existing directory')
  if (!facts.fs.writable(dir)) {
    return fail('--docker-socket', `cannot create ${dirname(path) === dir ? path : dirname(path)}: ${dir} is not writable`, 'choose a path under a directory you can write')
  }
  return ok(path)
}

// ---- network mode ---------------------------------------------------------------------------------

/**
 * Where a bridged (routable) VM cannot be made, why and what to do instead. Bridged is Linux's bridge, tap and
 * nft; on macOS it is vmnet through socket_vmnet, which must be installed (`brew install socket_vmnet`). Whether it
 * runs is asked at each start, which names the command that starts it.
 */
export function bridgedUnavailable(platform: NodeJS.Platform, mac: Pick<InstallHostFacts, 'socketVmnet' | 'homebrewPrefix'> = {}): {message: string; fix: string} | undefined {
  if (platform === 'linux') return undefined
  if (platform === 'darwin') {
    const prefix = mac.homebrewPrefix ?? defaultHomebrewPrefix(process.arch)
    return socketVmnetMissing(mac.socketVmnet ?? {...socketVmnetPaths(prefix), binaryExists: false, socketExists: false}, prefix)
  }
  return {message: `bridged networking is Linux only (got ${platform})`, fix: 'use network=user, the default (leave --network out, or --network user)'}
}

export function checkNetwork(raw: string | undefined, facts: Pick<InstallHostFacts, 'platform' | 'isRoot' | 'underSudo' | 'helperRegistration' | 'socketVmnet' | 'homebrewPrefix'>): Checked<NetworkMode> {
  const value = isUnset(raw) ? 'user' : raw!.trim().toLowerCase()
  if (value === 'user' && facts.underSudo) {
    return fail('--network', 'a user-mode VM runs as you, and sudo would make its home and keys root\'s', 'run `dlite install` without sudo, or use --network bridged')
  }
  if (value === 'user') return ok('user')
  if (!(NETWORK_MODES as readonly string[]).includes(value)) return fail('--network', `"${raw}" is not a network mode`, `use one of ${NETWORK_MODES.join(', ')}`)
  const unavailable = value === 'bridged' ? bridgedUnavailable(facts.platform, facts) : undefined
  if (unavailable) return fail('--network', unavailable.message, unavailable.fix)
  if (value === 'bridged' && facts.underSudo) {
    // (`sudo dlite install --network bridged` on the command line never gets here: it installs as the user)
    return fail('--network', 'a bridged VM runs as you too, and sudo would make its home and keys root\'s', 'give --network bridged on the command line (sudo then does the root part and installs as you), or run `sudo dlite network setup` once, then `dlite install --network bridged` without sudo')
  }
  if (value === 'bridged' && facts.isRoot === false && !facts.helperRegistration) {
    const rootsPart = facts.platform === 'darwin' ? 'its hosts line and routes written by root' : 'its bridge, tap and NAT made by root'
    return fail('--network', `a bridged VM needs ${rootsPart}, and this home is not registered with the root helper`, 'run `sudo dlite network setup` once, then install again (no sudo)')
  }
  return ok(value as NetworkMode)
}

// ---- accelerator, OS source ----------------------------------------------------------------------

export function checkAccel(raw: string | undefined, facts: Pick<InstallHostFacts, 'platform'>): Checked<Accel> {
  if (isUnset(raw)) return ok('auto')
  const value = raw!.trim().toLowerCase()
  if (!(ACCELS as readonly string[]).includes(value)) return fail('--accel', `"${raw}" is not an accelerator`, `use one of ${ACCELS.join(', ')}`)
  if (value === 'kvm' && facts.platform !== 'linux') return fail('--accel', 'kvm exists only on Linux', 'use auto, hvf or tcg')
  if (value === 'hvf' && facts.platform !== 'darwin') return fail('--accel', 'hvf exists only on macOS', 'use auto, kvm or tcg')
  return ok(value as Accel)
}

export function checkOsSource(raw: string | undefined, facts: Pick<InstallHostFacts, 'cwd' | 'homeDir' | 'fs' | 'defaultOsSource' | 'osSearched'>): Checked<string> {
  const given = isUnset(raw) ? facts.defaultOsSource : raw!.trim()
  if (given === undefined) return {ok: false, error: noImageError(facts.osSearched)}
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(given)) return checkManifestFile(resolve(facts.cwd, expandHome(given, facts.homeDir)), facts.fs)
  let source: ImageSource
  try {
    source = parseImageSource(given, facts.cwd)
  } catch (error) {
    return fail('--os', (error as Error).message, 'give an https:// or file:// URL of a manifest.json (pinned with #sha256=<hex> if you can), or a path')
  }
  // a URL is kept as given, so its pin (#sha256=) goes into the config and every update checks by it
  if (source.kind === 'url') return ok(new URL(given).href)
  const file = checkManifestFile(source.manifestPath, facts.fs)
  return file.ok && source.manifestSha256 ? ok(new URL(given).href) : file
}

function checkManifestFile(path: string, fs: FsProbe): Checked<string> {
  const kind = fs.kind(path)
  if (kind === 'missing') return fail('--os', `${path} does not exist`, 'give the path of a manifest.json (`sudo dlite os build` makes one; in a checkout, npm run os:build writes os/dist/manifest.json)')
  if (kind !== 'file') return fail('--os', `${path} is not a file`, 'give the manifest.json itself, not its directory')
  return ok(path)
}

// ---- DLITE_HOME ----------------------------------------------------------------------------------

/**
 * The home install builds (DLITE_HOME, not a flag, but as much the user's input). Install moves a staged home
 * over it at the end, so what is there must be nothing, an empty directory or an install (replaced only with
 * --force, which the command decides): never a file, nor a directory of someone's own files. The VM's sockets
 * live in it, so it must also be short enough for a unix socket path.
 */
export function checkHome(facts: Pick<InstallHostFacts, 'dliteHome' | 'platform' | 'fs'>): Checked<string | undefined> {
  const home = facts.dliteHome
  if (home === undefined) return ok(undefined)
  const flag = 'DLITE_HOME'
  if (CONTROL_CHARACTER.test(home)) return fail(flag, `${shown(home)} contains a control character`, 'set DLITE_HOME to a path of printable characters')
  const limit = MAX_SOCKET_PATH_BYTES[facts.platform] ?? 103
  const layout = homeLayout(home)
  const sockets = [controlSocketPath(layout), qmpSocketPath(layout), virtiofsSocketPath(layout), guestControlSocketPath(layout)]
  const longest = sockets.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a))
  if (Buffer.byteLength(longest) > limit) {
    const room = limit - (Buffer.byteLength(longest) - Buffer.byteLength(home))
    return fail(flag, `${home} is too long: the VM's socket ${longest} would be longer than a unix socket path may be (${limit} bytes)`,
      `set DLITE_HOME to a path of at most ${room} bytes, e.g. ~/.dlite-2`)
  }
  const kind = facts.fs.kind(home)
  if (kind === 'directory') {
    const installed = facts.fs.kind(join(home, 'config.json')) === 'file'
    if (!installed && facts.fs.isEmptyDirectory?.(home) === false) {
      return fail(flag, `${home} is a directory with files in it and no dlite install: install would replace it, and them`,
        'set DLITE_HOME to a new or empty directory, e.g. ~/.dlite-2')
    }
  } else if (kind !== 'missing') {
    return fail(flag, `${home} exists and is not a directory`, 'set DLITE_HOME to a path where nothing exists yet, e.g. ~/.dlite-2')
  }
  // The new home is staged next to it: the nearest existing ancestor must be a directory we can write.
  let dir = dirname(home)
  while (facts.fs.kind(dir) === 'missing' && dirname(dir) !== dir) dir = dirname(dir)
  if (facts.fs.kind(dir) !== 'directory') return fail(flag, `${dir} is not a directory, so ${home} cannot be created`, 'set DLITE_HOME to a path under a directory')
  if (!facts.fs.writable(dir)) return fail(flag, `cannot create ${home}: ${dir} is not writable`, 'set DLITE_HOME to a path under a directory you can write')
  return ok(home)
}

// ---- everything ----------------------------------------------------------------------------------

/** Validates all options at once, so the user sees every problem in one go. */
export function validateInstallOptions(input: InstallInput, facts: InstallHostFacts): ValidationResult {
  const network = screened('--network', input.network, () => checkNetwork(input.network, facts))
  const mode = network.ok ? network.value : 'user'
  const home = checkHome(facts)
  const checks = {
    home,
    network,
    cpus: screened('--cpus', input.cpus, () => checkCpus(input.cpus, facts)),
    memoryGiB: screened('--memory', input.memory, () => checkMemory(input.memory, facts)),
    diskGiB: screened('--disk', input.disk, () => checkDisk(input.disk)),
    hostname: registered(mode, facts, '--hostname', 'hostname', input.hostname, screened('--hostname', input.hostname, () => checkHostname(input.hostname, facts))),
    mounts: checkMounts(input.mounts, facts),
    sshKey: screened('--ssh-key', input.sshKey, () => checkSshKey(input.sshKey, facts), {emptyFix: 'give the path of your public key, or --ssh-key none for no key'}),
    extraArgs: screenedExtra(input.extra),
    osSource: screened('--os', input.os, () => checkOsSource(input.os, facts), {emptyFix: 'give the path or URL of a manifest.json, or leave --os out for the default'}),
    // a user-mode VM has no bridge: its (kept) subnet cannot clash with a host route
    // (a user's bridged VM takes the network root registered, whose routes were checked then)
    subnet: registered(mode, facts, '--subnet', 'subnet', input.subnet, screened('--subnet', input.subnet, () => checkSubnet(input.subnet,
      mode === 'user' || facts.helperRegistration ? {routes: []} : {routes: routesOutsideVmnet(facts.platform, facts.routes)}, defaultSubnet(facts.platform)))),
    // a socket defaulted into a home that is already refused would only repeat that error
    dockerSocket: !home.ok && isUnset(input.dockerSocket)
      ? ok('')
      : screened('--docker-socket', input.dockerSocket, () => checkDockerSocket(input.dockerSocket, facts, mode)),
    accel: screened('--accel', input.accel, () => checkAccel(input.accel, facts)),
  }
  const errors = Object.values(checks).flatMap((check) => (check.ok ? [] : [check.error]))
  if (errors.length > 0) return {ok: false, errors}
  const value = <T>(check: Checked<T>) => (check as {ok: true; value: T}).value
  return {
    ok: true,
    options: {
      network: value(checks.network),
      cpus: value(checks.cpus),
      memoryGiB: value(checks.memoryGiB),
      diskGiB: value(checks.diskGiB),
      hostname: value(checks.hostname),
      mounts: value(checks.mounts),
      sshKey: value(checks.sshKey),
      extraArgs: value(checks.extraArgs),
      osSource: value(checks.osSource),
      subnet: value(checks.subnet),
      dockerSocket: value(checks.dockerSocket),
      accel: value(checks.accel),
    },
  }
}

/** A user's bridged VM gets the network root registered for it: a flag may repeat it, not change it. */
function registered(mode: NetworkMode, facts: Pick<InstallHostFacts, 'helperRegistration' | 'isRoot'>, flag: string, field: 'subnet' | 'hostname', raw: string | undefined, checked: Checked<string>): Checked<string> {
  const registration = facts.helperRegistration
  if (mode !== 'bridged' || facts.isRoot !== false || !registration) return checked
  if (isUnset(raw)) return ok(registration[field])
  if (!checked.ok) return checked
  if (checked.value !== registration[field]) {
    return fail(flag, `the root helper is registered for ${field} ${registration[field]}, not ${checked.value}`, `leave ${flag} out, or run \`sudo dlite network setup ${flag} ${checked.value}\` first`)
  }
  return checked
}

function screenedExtra(raw: string | string[] | undefined): Checked<string[]> {
  for (const piece of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
    const text = checkFlagText('--extra', piece, {spacesAllowed: true, emptyFix: 'leave --extra out for no extra dockerd arguments'})
    if (!text.ok) return {ok: false, error: text.error}
  }
  return checkExtraArgs(raw)
}

/**
 * `--os` of a command other than install (`update`): the same rules, the same messages. Yields the source
 * normalized (an absolute path, or the URL).
 */
export function checkOsFlag(raw: string, facts: Pick<InstallHostFacts, 'cwd' | 'homeDir' | 'fs'>): Checked<string> {
  return screened('--os', raw, () => checkOsSource(raw, {...facts, defaultOsSource: undefined}),
    {emptyFix: 'give the path or URL of a manifest.json, or leave --os out for where the current image came from'})
}

/** One line per error, for text output: `--cpus: 9 CPUs is outside 1..8 ... Fix: ...`. */
export function formatValidationErrors(errors: ValidationError[]): string {
  return errors.map((e) => `${e.flag}: ${e.message}. Fix: ${e.fix}.`).join('\n')
}

// ---- the real host -------------------------------------------------------------------------------

/** An FsProbe over the real file system. */
export const realFsProbe: FsProbe = {
  kind(path) {
    try {
      const stats = statSync(path)
      if (stats.isFile()) return 'file'
      if (stats.isDirectory()) return 'directory'
      if (stats.isSocket()) return 'socket'
      return 'other'
    } catch {
      return 'missing'
    }
  },
  readable: (path) => canAccess(path, constants.R_OK),
  writable: (path) => canAccess(path, constants.W_OK | constants.X_OK),
  isEmptyDirectory(path) {
    try {
      return readdirSync(path).length === 0
    } catch {
      return false
    }
  },
  readHead(path, maxBytes) {
    let fd: number | undefined
    try {
      fd = openSync(path, 'r')
      const buffer = Buffer.alloc(maxBytes)
      const n = readSync(fd, buffer, 0, maxBytes, 0)
      return buffer.subarray(0, n).toString('utf8')
    } catch {
      return undefined
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  },
}

function canAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode)
    return true
  } catch {
    return false
  }
}

/** Gathers InstallHostFacts from this machine (reads routes through `ip`, else /proc/net/route). */
export async function gatherInstallHostFacts(overrides: Partial<InstallHostFacts> = {}): Promise<InstallHostFacts> {
  return {
    platform: process.platform,
    cpuCores: osCpus().length,
    memoryBytes: totalmem(),
    homeDir: homedir(),
    cwd: process.cwd(),
    routes: overrides.routes ?? (await readHostRoutes()),
    fs: realFsProbe,
    isRoot: process.getuid?.() === 0,
    underSudo: underSudo(),
    publicNamesAllowed: publicNamesAllowed(),
    helperRegistration: process.getuid?.() !== 0 && overrides.dliteHome ? readRegistration(overrides.dliteHome) : undefined,
    ...(process.platform === 'darwin' ? {homebrewPrefix: homebrewPrefix(process.arch), socketVmnet: probeSocketVmnet()} : {}),
    ...overrides,
  }
}
