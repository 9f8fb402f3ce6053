// The plugin's settings for one VM: what `dlite dns enable` chose, kept in
// `<DLITE_HOME>/plugins/dlite-dns/settings.json`. Commands write it; the daemon reads it at every boot and on each
// request (as root for root's own VM), so everything read here is validated again before use.
import {mkdirSync, readFileSync} from 'node:fs'
import {isIP} from 'node:net'
import {join} from 'node:path'

import {writeFileAtomicSync} from 'dlite-kit/atomic-write'
import {RESOLVER_MODES, type ResolverSetting} from 'dlite-kit/resolver-file'

export {RESOLVER_MODES, type ResolverSetting}

export const PLUGIN_NAME = 'dlite-dns'

export interface DnsSettings {
  enabled: boolean
  /** The domain served, lower case, without a trailing dot: `docker` answers `*.docker`. */
  domain: string
  /** TTL of answers unless a container's label says otherwise; 0 (dnsdock's default) means nobody caches. */
  ttl: number
  /** Where names outside the domain go: `system` (the host's resolvers), `ip[:port]` servers, or none (REFUSED). */
  upstream: string[]
  /** dockerd gets `--dns=<bridge address>`, so containers in the VM use the responder (from the next boot). */
  containerDns: boolean
  /** Also listen on 127.0.0.1:1053, as DLite 2's dnsdock did. */
  loopback: boolean
  /** How the host's resolver learns about the domain. */
  resolver: ResolverSetting
}

export const DEFAULT_SETTINGS: DnsSettings = {
  enabled: false,
  domain: 'docker',
  ttl: 0,
  upstream: ['system'],
  containerDns: true,
  loopback: false,
  resolver: 'auto',
}

export const MAX_TTL = 2_147_483_647
export const LOOPBACK_ADDRESS = {host: '127.0.0.1', port: 1053}

export class SettingsError extends Error {
  constructor(message: string, readonly fix?: string) {
    super(message)
  }
}

/** RFC 1123 host name rules for the served domain: letters, digits and inner hyphens, 1-63 per label. */
export function normalizeDomain(input: string): string {
  const domain = input.trim().toLowerCase().replace(/\.$/, '')
  const fix = 'use a name such as `docker` or `dev.docker`: letters, digits and inner hyphens, labels separated by dots'
  if (domain === '') throw new SettingsError('the domain is empty', fix)
  if (domain.length > 253) throw new SettingsError(`the domain ${input} is longer than 253 characters`, fix)
  for (const label of domain.split('.')) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) throw new SettingsError(`the domain ${input} is not a valid DNS name (label "${label}")`, fix)
  }
  if (/(^|\.)arpa$/.test(domain)) throw new SettingsError(`the domain ${input} is reserved for reverse lookups`, fix)
  return domain
}

/** What the core says about reserved names (plugin-api), so both apply one rule. */
export interface ReservedNames {
  endsInReservedSuffix(name: string): boolean
  publicNamesAllowed(): boolean
  reservedNameFix(example: string): string
}

/**
 * A domain given to `dns enable`: a valid name under a reserved suffix. Containers that use the responder
 * (--dns) would get our answers for a public domain's real names.
 */
export function checkServedDomain(input: string, names: ReservedNames): string {
  const domain = normalizeDomain(input)
  if (!names.endsInReservedSuffix(domain) && !names.publicNamesAllowed()) {
    throw new SettingsError(`the domain ${domain} may belong to someone on the internet: the responder would answer for its real names, and containers using it would get our answers`,
      names.reservedNameFix('docker'))
  }
  return domain
}

export function validateTtl(ttl: number): number {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) throw new SettingsError(`the TTL ${ttl} is not a whole number of seconds from 0 to ${MAX_TTL}`)
  return ttl
}

export interface Upstream {
  host: string
  port: number
}

/** `1.1.1.1`, `1.1.1.1:5353`, `::1`, `[::1]:53`. */
export function parseUpstream(input: string): Upstream {
  const fix = 'give an IP address with an optional port (1.1.1.1, 1.1.1.1:53, [2606:4700::1111]:53), `system` or `none`'
  const text = input.trim()
  let host = text
  let port = 53
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  const v4WithPort = /^([\d.]+):(\d+)$/.exec(text)
  if (bracketed) {
    host = bracketed[1]
    if (bracketed[2] !== undefined) port = Number(bracketed[2])
  } else if (v4WithPort) {
    host = v4WithPort[1]
    port = Number(v4WithPort[2])
  }
  if (isIP(host) === 0) throw new SettingsError(`the upstream ${input} is not an IP address`, fix)
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new SettingsError(`the upstream ${input} has no valid port`, fix)
  return {host, port}
}

export function formatUpstream(upstream: Upstream): string {
  return isIP(upstream.host) === 6 ? `[${upstream.host}]:${upstream.port}` : `${upstream.host}:${upstream.port}`
}

/** `--upstream` values: `system`, `none`, or servers; `none` alone means no forwarding. */
export function normalizeUpstreams(values: string[]): string[] {
  const words = values.flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter(Boolean)
  if (words.includes('none')) {
    if (words.length > 1) throw new SettingsError('`--upstream none` cannot be combined with other upstreams')
    return []
  }
  const result: string[] = []
  for (const word of words) {
    const value = word === 'system' ? 'system' : formatUpstream(parseUpstream(word))
    if (!result.includes(value)) result.push(value)
  }
  return result
}

/** Checks a settings object from disk (or anywhere), filling what is missing from the defaults. */
export function validateSettings(raw: unknown): DnsSettings {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SettingsError('the dlite-dns settings are not a JSON object')
  const value = {...DEFAULT_SETTINGS, ...(raw as Partial<DnsSettings>)}
  if (typeof value.enabled !== 'boolean') throw new SettingsError('settings: enabled must be true or false')
  if (typeof value.domain !== 'string') throw new SettingsError('settings: domain must be a string')
  if (typeof value.ttl !== 'number') throw new SettingsError('settings: ttl must be a number')
  if (!Array.isArray(value.upstream) || !value.upstream.every((u) => typeof u === 'string')) throw new SettingsError('settings: upstream must be a list of strings')
  if (typeof value.containerDns !== 'boolean') throw new SettingsError('settings: containerDns must be true or false')
  if (typeof value.loopback !== 'boolean') throw new SettingsError('settings: loopback must be true or false')
  if (!RESOLVER_MODES.includes(value.resolver)) throw new SettingsError(`settings: resolver must be one of ${RESOLVER_MODES.join(', ')}`)
  return {
    enabled: value.enabled,
    domain: normalizeDomain(value.domain),
    ttl: validateTtl(value.ttl),
    upstream: normalizeUpstreams(value.upstream),
    containerDns: value.containerDns,
    loopback: value.loopback,
    resolver: value.resolver,
  }
}

export function settingsPath(stateDir: string): string {
  return join(stateDir, 'settings.json')
}

/** The saved settings, or the defaults (disabled) when there are none yet. */
export function readSettings(stateDir: string): DnsSettings {
  let text: string
  try {
    text = readFileSync(settingsPath(stateDir), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {...DEFAULT_SETTINGS}
    throw error
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new SettingsError(`${settingsPath(stateDir)} is not valid JSON`, 'run `dlite dns enable` again to rewrite it')
  }
  return validateSettings(parsed)
}

export function writeSettings(stateDir: string, settings: DnsSettings): void {
  mkdirSync(stateDir, {recursive: true, mode: 0o755})
  writeFileAtomicSync(settingsPath(stateDir), `${JSON.stringify(validateSettings(settings), null, 2)}\n`, 0o644)
}
