// One home's registration with the root helper: which user owns it and the host network it may ask for (bridge,
// tap, NAT table, subnet, the hosts-file name). Root writes it at `sudo dlite network setup`; the helper acts only
// on what it says, never on the user's own config. It is readable by all (nothing in it is secret). Parsing is
// strict: a field out of shape is an error.
import {readFileSync} from 'node:fs'

import {cidrsOverlap, isRfc1918, parsePrefix, requireCidr} from 'dlite-kit/ipv4'

import {endsInReservedSuffix, publicNamesAllowed} from '../network/reserved-names.js'
import {homeId, networkNames} from '../network/names.js'
import {parseSubnet} from '../network/subnet.js'
import {rootOnlyPathProblems} from '../service/root-owned.js'
import {registrationPath} from './system-paths.js'

export interface HelperRegistration {
  version: 1
  homeId: string
  /** The home's path, for messages only: root never reads or writes in it. */
  home: string
  owner: {uid: number; gid: number}
  bridge: string
  tap: string
  natTable: string
  /** The VM network, aligned CIDR: the bridge takes .1, the VM .2. */
  subnet: string
  /** The VM's name in the hosts file. */
  hostname: string
  hostsFile: string
  /** The one domain whose resolver file the helper writes (dlite-dns's `--domain`). */
  dnsDomain: string
}

export const DEFAULT_DNS_DOMAIN = 'docker'

const IFNAME = /^[A-Za-z0-9_-]{1,15}$/
const HOSTNAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/
const DOMAIN = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

export function makeRegistration(options: {home: string; owner: {uid: number; gid: number}; subnet: string; hostname: string; hostsFile?: string; dnsDomain?: string; defaultHome?: string}): HelperRegistration {
  // a user's home never gets root's default names (dlite0): two users' ~/.dlite would share a bridge
  const names = networkNames(options.home, options.defaultHome, options.owner.uid === 0)
  return checkRegistration({
    version: 1, homeId: names.homeId, home: options.home, owner: options.owner,
    bridge: names.bridge, tap: names.tap, natTable: names.natTable,
    subnet: parseSubnet(options.subnet).cidr, hostname: options.hostname.toLowerCase(), hostsFile: options.hostsFile ?? '/etc/hosts',
    dnsDomain: (options.dnsDomain ?? DEFAULT_DNS_DOMAIN).toLowerCase().replace(/\.$/, ''),
  })
}

/** The registration, or an error naming the first field out of shape. */
export function checkRegistration(value: unknown): HelperRegistration {
  const r = value as Partial<HelperRegistration> | null
  const bad = (field: string) => new Error(`the root helper's registration has a bad ${field}; run \`sudo dlite network setup\` again`)
  if (typeof r !== 'object' || r === null || r.version !== 1) throw bad('version')
  if (typeof r.homeId !== 'string' || !/^[0-9a-f]{6}$/.test(r.homeId)) throw bad('homeId')
  if (typeof r.home !== 'string' || !r.home.startsWith('/')) throw bad('home')
  const owner = r.owner
  if (!owner || !Number.isInteger(owner.uid) || !Number.isInteger(owner.gid) || owner.uid < 0 || owner.gid < 0) throw bad('owner')
  for (const field of ['bridge', 'tap'] as const) if (typeof r[field] !== 'string' || !IFNAME.test(r[field]!)) throw bad(field)
  if (typeof r.natTable !== 'string' || !/^dlite_[0-9a-f]{6}$/.test(r.natTable)) throw bad('natTable')
  const prefix = typeof r.subnet === 'string' ? parsePrefix(r.subnet) : undefined
  // the VM network is a private one, /16 to /29 as install allows
  if (!prefix || !isRfc1918(prefix) || prefix.prefix < 16 || prefix.prefix > 29 || parseSubnet(r.subnet!).cidr !== r.subnet) throw bad('subnet')
  if (typeof r.hostname !== 'string' || !HOSTNAME.test(r.hostname) || (r.hostname.includes('.') && !endsInReservedSuffix(r.hostname) && !publicNamesAllowed())) throw bad('hostname')
  if (typeof r.hostsFile !== 'string' || !r.hostsFile.startsWith('/')) throw bad('hostsFile')
  const dnsDomain = r.dnsDomain ?? DEFAULT_DNS_DOMAIN
  if (typeof dnsDomain !== 'string' || dnsDomain.length > 253 || !DOMAIN.test(dnsDomain) || /(^|\.)arpa$/.test(dnsDomain) || (!endsInReservedSuffix(dnsDomain) && !publicNamesAllowed())) throw bad('dnsDomain')
  return {
    version: 1, homeId: r.homeId, home: r.home, owner: {uid: owner.uid, gid: owner.gid}, bridge: r.bridge!, tap: r.tap!,
    natTable: r.natTable, subnet: r.subnet!, hostname: r.hostname, hostsFile: r.hostsFile, dnsDomain,
  }
}

/**
 * Why `candidate` may not be registered beside the others (empty when it may): one home's id is never taken over
 * by another home or user, and no two homes share a bridge, a tap, a network or the domain their resolver file
 * is for — any of those would let one owner's verbs act on another's VM.
 */
export function registrationConflicts(candidate: HelperRegistration, others: HelperRegistration[]): string[] {
  const problems: string[] = []
  for (const other of others) {
    if (other.homeId === candidate.homeId) {
      if (other.home !== candidate.home || other.owner.uid !== candidate.owner.uid) {
        problems.push(`the home id ${other.homeId} is registered for ${other.home} of uid ${other.owner.uid}: \`sudo dlite network remove\` for that home first, or use another DLITE_HOME or --profile`)
      }
      continue
    }
    const whose = `${other.home} (uid ${other.owner.uid})`
    if (other.bridge === candidate.bridge || other.tap === candidate.tap) problems.push(`${whose} is registered with the same bridge or tap (${other.bridge}, ${other.tap}): use another DLITE_HOME or --profile`)
    if (cidrsOverlap(requireCidr(other.subnet), requireCidr(candidate.subnet))) problems.push(`${whose} is registered for ${other.subnet}, which overlaps ${candidate.subnet}: choose another --subnet`)
    if (other.dnsDomain === candidate.dnsDomain) problems.push(`${whose} is registered for the DNS domain ${other.dnsDomain}: choose another --dns-domain (e.g. ${candidate.owner.uid === 0 ? 'root' : 'mine'}.docker)`)
  }
  return problems
}

export function parseRegistration(text: string): HelperRegistration {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new Error('the root helper\'s registration is not JSON; run `sudo dlite network setup` again')
  }
  return checkRegistration(value)
}

/** The home's registration with the root helper, or undefined when there is none. Anyone may read it. */
export function readRegistration(home: string): HelperRegistration | undefined {
  let text: string
  try {
    text = readFileSync(registrationPath(homeId(home)), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  return parseRegistration(text)
}

/** The registration as root may act on it: the file and every directory above it are root's alone. */
export function readRegistrationAsRoot(id: string): HelperRegistration {
  const path = registrationPath(id)
  const problems = rootOnlyPathProblems(path)
  if (problems.length > 0) throw new Error(`refusing to serve from ${path}: ${problems.join('; ')}`)
  return parseRegistration(readFileSync(path, 'utf8'))
}
