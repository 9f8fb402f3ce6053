/**
 * The settings bundle the host hands to the guest through QEMU fw_cfg
 * (`opt/org.dlite/settings`): a ustar archive that the guest's boot script
 * unpacks into /run/dlite/settings (tmpfs, 0700). Layout (see os/README.md):
 *
 *   settings.env                 KEY=value lines (HOSTNAME, IP (A.B.C.D/N, or `dhcp`), GATEWAY, DNS, HOST_ADDR, MAC,
 *                                one `DOCKER_ARG=ARG` per dockerd argument, in order, and one
 *                                `SHARE=TAG TRANSPORT ro|rw PATH` per share)
 *   daemon.json                  optional dockerd config file
 *   tls/ca.pem                   CA that client certificates must chain to
 *   tls/server-cert.pem, tls/server-key.pem
 *   ssh/authorized_keys          keys for user docker
 *   ssh/ssh_host_<type>_key      host keys (the host keeps the public halves to pin them)
 */
import {isIP} from 'node:net'
import path from 'node:path'

import {writeFileAtomic} from 'dlite-kit/atomic-write'

import {createTar, type TarEntry} from './tar.js'
import {dockerdArgsProblem} from './dockerd-args.js'

export interface GuestNetwork {
  /**
   * the guest's IPv4 address, or DHCP_ADDRESS: the guest asks DHCP (vmnet, whose DHCP server hands out the
   * addresses its bridge lets through) and reports what it got (DLITE-READY address A.B.C.D/N)
   */
  address: string
  /** prefix length, e.g. 24 (with DHCP, the lease's mask wins) */
  prefix: number
  /** with DHCP: the lease's router when absent */
  gateway?: string
  dns?: string[]
  /** The host as the guest reaches it: what host.docker.internal resolves to, and where forwarded ports come from. */
  hostAddress?: string
  /** MAC of the NIC to configure (default: the first NIC) */
  mac?: string
}

export interface GuestShare {
  /** absolute path; mounted at the same path in the guest as on the host */
  path: string
  tag: string
  transport?: 'virtiofs' | '9p' | 'auto'
  /** mounted read-only in the guest too (the host already refuses writes) */
  readOnly?: boolean
}

export interface GuestTls {
  ca: string
  serverCert: string
  serverKey: string
}

export interface GuestSshHostKeys {
  ed25519?: string
  ecdsa?: string
  rsa?: string
}

export interface GuestSettings {
  hostname: string
  /** static addressing; omitted: the guest uses DHCP */
  network?: GuestNetwork
  /** mounted in this order (a directory before those under it) */
  shares?: GuestShare[]
  /** extra dockerd arguments (DLite's -e); each must be free of white space */
  dockerArgs?: string[]
  /** dockerd config file; must not set hosts or tls* (the guest sets those as flags) */
  daemonJson?: Record<string, unknown>
  /** without it dockerd listens on its unix socket only */
  tls?: GuestTls
  authorizedKeys?: string[]
  sshHostKeys?: GuestSshHostKeys
}

/** GuestNetwork.address for a guest that takes its address from DHCP (settings.env `IP=dhcp`). */
export const DHCP_ADDRESS = 'dhcp'

export class SettingsError extends Error {
  override name = 'SettingsError'
}

const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i
const RESERVED_DAEMON_KEYS = ['hosts', 'tls', 'tlsverify', 'tlscacert', 'tlscert', 'tlskey', 'containerd', 'group']

function value(key: string, v: string): string {
  if (/[\n\r\0]/.test(v)) throw new SettingsError(`${key} must be a single line`)
  return `${key}=${v}\n`
}

function pem(what: string, text: string, kind: RegExp): string {
  if (!kind.test(text)) throw new SettingsError(`${what} is not a PEM block of the expected type`)
  return text.endsWith('\n') ? text : `${text}\n`
}

/** Validate settings; throws SettingsError naming the field. */

export function validateSettings(s: GuestSettings): void {
  if (!HOSTNAME_RE.test(s.hostname)) throw new SettingsError(`hostname ${JSON.stringify(s.hostname)} is not an RFC 1123 host name`)
  if (s.network) {
    const n = s.network
    if (n.address !== DHCP_ADDRESS && isIP(n.address) !== 4) throw new SettingsError(`network.address ${n.address} is not an IPv4 address (nor ${DHCP_ADDRESS})`)
    if (!Number.isInteger(n.prefix) || n.prefix < 8 || n.prefix > 30) throw new SettingsError(`network.prefix ${n.prefix} must be 8..30`)
    if (n.gateway !== undefined && isIP(n.gateway) !== 4) throw new SettingsError(`network.gateway ${n.gateway} is not an IPv4 address`)
    for (const d of n.dns ?? []) if (!isIP(d)) throw new SettingsError(`network.dns entry ${d} is not an IP address`)
    if (n.hostAddress !== undefined && isIP(n.hostAddress) !== 4) throw new SettingsError(`network.hostAddress ${n.hostAddress} is not an IPv4 address`)
    if (n.mac !== undefined && !MAC_RE.test(n.mac)) throw new SettingsError(`network.mac ${n.mac} is not a MAC address`)
  }
  const tags = new Set<string>()
  for (const share of s.shares ?? []) {
    if (!path.isAbsolute(share.path) || share.path === '/') throw new SettingsError(`share path ${share.path} must be an absolute directory other than /`)
    if (!/^[A-Za-z0-9_.-]{1,36}$/.test(share.tag)) throw new SettingsError(`share tag ${share.tag} must be 1-36 of [A-Za-z0-9_.-]`)
    if (tags.has(share.tag)) throw new SettingsError(`share tag ${share.tag} is used twice`)
    tags.add(share.tag)
  }
  if (s.dockerArgs) {
    if (!s.dockerArgs.every((a) => typeof a === 'string')) throw new SettingsError('dockerArgs entries must be strings')
    const problem = dockerdArgsProblem(s.dockerArgs)
    if (problem) throw new SettingsError(`dockerArgs: ${problem.message} (${problem.fix})`)
  }
  if (s.daemonJson) {
    for (const k of RESERVED_DAEMON_KEYS) {
      if (k in s.daemonJson) throw new SettingsError(`daemonJson must not set "${k}": the guest sets it on dockerd's command line`)
    }
  }
  for (const k of s.authorizedKeys ?? []) {
    if (/[\n\r]/.test(k.trim()) || !/^(ssh-|ecdsa-|sk-)/.test(k.trim())) throw new SettingsError('authorizedKeys entries must be single OpenSSH public key lines')
  }
}

/** The settings.env file of the bundle. */
export function renderSettingsEnv(s: GuestSettings): string {
  let out = '# dlite guest settings (generated by the host)\n'
  out += value('HOSTNAME', s.hostname)
  if (s.network) {
    out += value('IP', s.network.address === DHCP_ADDRESS ? DHCP_ADDRESS : `${s.network.address}/${s.network.prefix}`)
    if (s.network.gateway) out += value('GATEWAY', s.network.gateway)
    if (s.network.dns?.length) out += value('DNS', s.network.dns.join(','))
    if (s.network.hostAddress) out += value('HOST_ADDR', s.network.hostAddress)
    if (s.network.mac) out += value('MAC', s.network.mac.toLowerCase())
  }
  // the path goes last: the guest reads the line with `read -r tag transport mode path`, so it may hold spaces
  for (const share of s.shares ?? []) out += value('SHARE', `${share.tag} ${share.transport ?? 'auto'} ${share.readOnly ? 'ro' : 'rw'} ${share.path}`)
  // one line per argument: the guest hands dockerd the list as it is, spaces and all, never a string to split
  for (const arg of s.dockerArgs ?? []) out += value('DOCKER_ARG', arg)
  return out
}

/** Build the bundle (a ustar archive). Validates first. */
export function buildSettingsBundle(s: GuestSettings): Buffer {
  validateSettings(s)
  const entries: TarEntry[] = [{name: 'settings.env', data: renderSettingsEnv(s), mode: 0o600}]
  if (s.daemonJson) entries.push({name: 'daemon.json', data: JSON.stringify(s.daemonJson, null, 2) + '\n', mode: 0o600})
  if (s.tls) {
    entries.push(
      {name: 'tls', mode: 0o700},
      {name: 'tls/ca.pem', data: pem('tls.ca', s.tls.ca, /-----BEGIN CERTIFICATE-----/), mode: 0o644},
      {name: 'tls/server-cert.pem', data: pem('tls.serverCert', s.tls.serverCert, /-----BEGIN CERTIFICATE-----/), mode: 0o644},
      {name: 'tls/server-key.pem', data: pem('tls.serverKey', s.tls.serverKey, /-----BEGIN (EC |RSA )?PRIVATE KEY-----/), mode: 0o600},
    )
  }
  if (s.authorizedKeys?.length || s.sshHostKeys) entries.push({name: 'ssh', mode: 0o700})
  if (s.authorizedKeys?.length) {
    entries.push({name: 'ssh/authorized_keys', data: s.authorizedKeys.map((k) => k.trim()).join('\n') + '\n', mode: 0o644})
  }
  for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
    const key = s.sshHostKeys?.[type]
    if (key) entries.push({name: `ssh/ssh_host_${type}_key`, data: pem(`sshHostKeys.${type}`, key, /-----BEGIN OPENSSH PRIVATE KEY-----/), mode: 0o600})
  }
  return createTar(entries)
}

/**
 * Write the bundle to `file` with mode 0600, atomically (temp file + rename),
 * for QEMU's `-fw_cfg name=opt/org.dlite/settings,file=<file>`.
 */
export async function writeSettingsBundle(file: string, s: GuestSettings): Promise<void> {
  const data = buildSettingsBundle(s)
  await writeFileAtomic(file, data, 0o600)
}
