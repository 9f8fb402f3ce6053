// What a container is called in DNS, following dnsdock: its name (without docker's leading slash), the last
// path part of the image it was created from (without tag or digest), any aliases, and its addresses; labels
// `com.dnsdock.*` and the older `DNSDOCK_*` environment variables override each. Pure: no docker calls here.
import {isIP} from 'node:net'

import {MAX_TTL} from './settings.js'

/** The facts of one running container that naming needs (from `GET /containers/{id}/json`). */
export interface ContainerFacts {
  id: string
  /** Docker's name, e.g. `/web`. */
  name: string
  /** The image as given at create time (`Config.Image`), e.g. `busybox:local` or `registry:5000/team/app:1@sha256:…`. */
  image: string
  /** The image ID (`Image`), `sha256:…`. */
  imageId?: string
  labels: Record<string, string>
  /** `Config.Env`, `KEY=value` strings. */
  env: string[]
  /** `NetworkSettings.Networks`. */
  networks: Record<string, {IPAddress?: string; GlobalIPv6Address?: string}>
  /** `HostConfig.NetworkMode`: `host` containers share the VM's address. */
  networkMode?: string
}

/** One container as the responder serves it. Names are lower case and split into DNS labels. */
export interface ContainerEntry {
  id: string
  /** Docker's name without the slash, for display. */
  container: string
  /** The name part, e.g. ['web'] (a name or label with dots gives several labels); empty when unset. */
  name: string[]
  /** The image part, e.g. ['busybox']; empty when the image has no usable name. */
  image: string[]
  /** Fully qualified names from `com.dnsdock.alias` / `DNSDOCK_ALIAS`, as label lists. */
  aliases: string[][]
  /** From `com.dnsdock.ttl` / `DNSDOCK_TTL`; undefined means the zone's default. */
  ttl?: number
  ipv4: string[]
  ipv6: string[]
}

const LABEL_PREFIX = 'com.dnsdock.'
const ENV_PREFIX = 'DNSDOCK_'

export function toLabels(name: string): string[] {
  return name.trim().toLowerCase().replace(/\.$/, '').split('.').filter((label) => label !== '')
}

/**
 * dnsdock's image part: the last path component of the image reference without tag or digest, so
 * `registry:5000/team/app:1.2@sha256:…` is `app`. A container created from a bare image ID has none.
 */
export function imageName(reference: string, imageId = ''): string {
  let ref = reference.trim().toLowerCase()
  if (ref.startsWith('sha256:')) return ''
  const at = ref.indexOf('@')
  if (at >= 0) ref = ref.slice(0, at)
  ref = ref.slice(ref.lastIndexOf('/') + 1)
  const colon = ref.lastIndexOf(':')
  if (colon >= 0) ref = ref.slice(0, colon)
  // `docker run 3f57d9401f8d` records the ID prefix as the image: that is not a name.
  if (ref.length >= 4 && /^[0-9a-f]+$/.test(ref) && imageId.replace(/^sha256:/, '').startsWith(ref)) return ''
  return ref
}

/** The overrides one source (labels or environment) sets; undefined fields leave the value as it is. */
interface Overrides {
  ignore?: boolean
  name?: string
  image?: string
  aliases?: string[]
  ttl?: number
  ipAddr?: string
}

function parseTtl(value: string): number | undefined {
  if (!/^\s*\d+\s*$/.test(value)) return undefined
  const ttl = Number(value)
  return ttl <= MAX_TTL ? ttl : undefined
}

/** dnsdock ignores a container that merely has the key; we also accept an explicit false/0/no to mean "don't". */
function isIgnore(value: string | undefined): boolean {
  return value !== undefined && !/^\s*(false|0|no)\s*$/i.test(value)
}

function overrides(get: (key: string) => string | undefined, keys: {ignore: string; name: string; image: string; alias: string; ttl: string; ipAddr: string[]}): Overrides {
  const result: Overrides = {}
  if (isIgnore(get(keys.ignore))) result.ignore = true
  const name = get(keys.name)
  if (name !== undefined) result.name = name
  const image = get(keys.image)
  if (image !== undefined) result.image = image
  const alias = get(keys.alias)
  if (alias !== undefined) result.aliases = alias.split(',')
  const ttl = get(keys.ttl)
  if (ttl !== undefined) result.ttl = parseTtl(ttl)
  for (const key of keys.ipAddr) {
    const ip = get(key)?.trim()
    if (ip !== undefined && isIP(ip) !== 0) result.ipAddr = ip
  }
  return result
}

function labelOverrides(labels: Record<string, string>): Overrides {
  return overrides((key) => labels[`${LABEL_PREFIX}${key}`], {
    ignore: 'ignore', name: 'name', image: 'image', alias: 'alias', ttl: 'ttl', ipAddr: ['ip_addr'],
  })
}

function envOverrides(env: string[]): Overrides {
  const vars = new Map<string, string>()
  for (const entry of env) {
    const eq = entry.indexOf('=')
    vars.set(eq < 0 ? entry.trim() : entry.slice(0, eq).trim(), eq < 0 ? '' : entry.slice(eq + 1).trim())
  }
  return overrides((key) => vars.get(`${ENV_PREFIX}${key}`), {
    ignore: 'IGNORE', name: 'NAME', image: 'IMAGE', alias: 'ALIAS', ttl: 'TTL', ipAddr: ['IPADDRESS', 'IP_ADDR'],
  })
}

/**
 * The DNS entry for a running container, or undefined when it is ignored or has no address. Labels win over
 * `DNSDOCK_*` variables: an image's baked-in environment should not override what the user set at `docker run`.
 */
export function containerEntry(facts: ContainerFacts, options: {vmIp?: string} = {}): ContainerEntry | undefined {
  const fromEnv = envOverrides(facts.env)
  const fromLabels = labelOverrides(facts.labels)
  if (fromEnv.ignore || fromLabels.ignore) return undefined
  const chosen: Overrides = {...stripUndefined(fromEnv), ...stripUndefined(fromLabels)}

  const container = facts.name.replace(/^\/+/, '')
  let ipv4: string[] = []
  let ipv6: string[] = []
  for (const network of Object.keys(facts.networks).sort()) {
    const {IPAddress, GlobalIPv6Address} = facts.networks[network] ?? {}
    if (IPAddress && isIP(IPAddress) === 4 && !ipv4.includes(IPAddress)) ipv4.push(IPAddress)
    if (GlobalIPv6Address && isIP(GlobalIPv6Address) === 6 && !ipv6.includes(GlobalIPv6Address)) ipv6.push(GlobalIPv6Address)
  }
  if (facts.networkMode === 'host' && options.vmIp) ipv4 = [options.vmIp]
  if (chosen.ipAddr) {
    ipv4 = isIP(chosen.ipAddr) === 4 ? [chosen.ipAddr] : []
    ipv6 = isIP(chosen.ipAddr) === 6 ? [chosen.ipAddr] : []
  }
  if (ipv4.length === 0 && ipv6.length === 0) return undefined

  return {
    id: facts.id,
    container,
    name: toLabels(chosen.name ?? container),
    image: toLabels(chosen.image ?? imageName(facts.image, facts.imageId)),
    aliases: (chosen.aliases ?? []).map(toLabels).filter((labels) => labels.length > 0),
    ttl: chosen.ttl,
    ipv4,
    ipv6,
  }
}

function stripUndefined(value: Overrides): Overrides {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Overrides
}
