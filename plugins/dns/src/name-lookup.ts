// Which containers a query name means, with dnsdock's rules. A container is known as
// `<container-name>.<image-name>.<domain>`; a query may leave parts out from the left (`busybox.docker` is
// every container of that image, `docker` every container), may put anything in front
// (`api.web.busybox.docker` is still `web`), and may use `*` for any one label (`web.*.docker`). Aliases are
// whole names matched the same way. The VM's hostname is one more name, matched only literally in full (with
// anything in front), so `*.docker` and `docker` list containers only, as in dnsdock. Pure.
import {toLabels, type ContainerEntry} from './container-names.js'

export interface Zone {
  /** The served domain, e.g. `docker`. */
  domain: string
  /** TTL for containers without their own. */
  defaultTtl: number
  /** The VM itself: its hostname (a bare name gets the domain appended) and address. */
  vm?: {hostname: string; ip: string}
}

/** What answers one name: a container, or the VM. */
interface Match {
  /** The container's name, or `(vm)`. */
  source: string
  id?: string
  ttl: number
  ipv4: string[]
  ipv6: string[]
}

export interface LookupResult {
  /** The zone the name belongs to (the domain, an alias outside it, or the VM's hostname): the SOA's owner. */
  apex: string
  /** Whether the name is the apex itself (which exists even with nothing in it). */
  isApex: boolean
  /** Everything the name means; empty means the name does not exist. */
  matches: Match[]
}

const VM_SOURCE = '(vm)'

/**
 * dnsdock's comparison: from the right, every label both have must be equal or `*` in the query. The query
 * may be longer (`<anything>.` in front) or shorter (parts left out from the left).
 */
export function labelsMatch(query: string[], name: string[]): boolean {
  for (let i = query.length - 1, j = name.length - 1; i >= 0 && j >= 0; i--, j--) {
    if (query[i] !== name[j] && query[i] !== '*') return false
  }
  return true
}

/** Whether `name` ends with `suffix`, literally: zones are chosen by exact labels, never by wildcard. */
function endsWith(name: string[], suffix: string[]): boolean {
  if (name.length < suffix.length) return false
  return suffix.every((label, k) => name[name.length - suffix.length + k] === label)
}

function vmHostname(zone: Zone): string[] | undefined {
  if (!zone.vm) return undefined
  const labels = toLabels(zone.vm.hostname)
  if (labels.length === 0) return undefined
  return labels.length === 1 ? [...labels, ...toLabels(zone.domain)] : labels
}

/** The full names a container is known by (before any left-out parts or wildcards), as label lists. */
function schemeName(entry: ContainerEntry, domain: string[]): string[] {
  return [...entry.name, ...entry.image, ...domain]
}

/**
 * A container's aliases that are inside the domain (and not the domain itself). Labels and env are anyone's to
 * set who can run a container: an alias `com` or `github.com` would make us answer for names not ours.
 */
function aliasesIn(entry: ContainerEntry, domain: string[]): string[][] {
  return entry.aliases.filter((alias) => alias.length > domain.length && endsWith(alias, domain))
}

function ttlOf(entry: ContainerEntry, zone: Zone): number {
  return entry.ttl ?? zone.defaultTtl
}

/** The zone a query name falls in, or undefined when it is none of ours (forward or refuse it). */
function apexFor(query: string[], domain: string[], vm: string[] | undefined): string[] | undefined {
  const candidates: string[][] = [domain]
  if (vm) candidates.push(vm)
  let best: string[] | undefined
  for (const candidate of candidates) {
    if (endsWith(query, candidate) && (!best || candidate.length < best.length)) best = candidate
  }
  return best
}

export function lookupName(qname: string, zone: Zone, entries: ContainerEntry[]): LookupResult | undefined {
  const query = toLabels(qname)
  const domain = toLabels(zone.domain)
  const vm = vmHostname(zone)
  const apex = apexFor(query, domain, vm)
  if (!apex) return undefined
  const matches: Match[] = []
  for (const entry of entries) {
    const byScheme = endsWith(query, domain) && labelsMatch(query, schemeName(entry, domain))
    const byAlias = aliasesIn(entry, domain).some((alias) => labelsMatch(query, alias))
    if (byScheme || byAlias) matches.push({source: entry.container, id: entry.id, ttl: ttlOf(entry, zone), ipv4: entry.ipv4, ipv6: entry.ipv6})
  }
  if (vm && zone.vm && endsWith(query, vm)) {
    matches.push({source: VM_SOURCE, ttl: zone.defaultTtl, ipv4: [zone.vm.ip], ipv6: []})
  }
  matches.sort((a, b) => a.source.localeCompare(b.source))
  return {apex: apex.join('.'), isApex: query.length === apex.length, matches}
}

/** One name the responder serves now, with everything it answers (for `dlite dns ls`). */
export interface ServedName {
  name: string
  ttl: number
  ipv4: string[]
  ipv6: string[]
  sources: string[]
}

/** Every full name served now: each container's `name.image.domain`, `image.domain`, its aliases, the VM. */
export function servedNames(zone: Zone, entries: ContainerEntry[]): ServedName[] {
  const domain = toLabels(zone.domain)
  const names = new Set<string>()
  for (const entry of entries) {
    if (entry.name.length > 0) names.add(schemeName(entry, domain).join('.'))
    if (entry.image.length > 0) names.add([...entry.image, ...domain].join('.'))
    for (const alias of aliasesIn(entry, domain)) names.add(alias.join('.'))
  }
  const vm = vmHostname(zone)
  if (vm) names.add(vm.join('.'))
  const served: ServedName[] = []
  for (const name of [...names].sort()) {
    const result = lookupName(name, zone, entries)
    if (!result || result.matches.length === 0) continue
    served.push({
      name,
      ttl: Math.min(...result.matches.map((m) => m.ttl)),
      ipv4: unique(result.matches.flatMap((m) => m.ipv4)),
      ipv6: unique(result.matches.flatMap((m) => m.ipv6)),
      sources: unique(result.matches.map((m) => m.source)),
    })
  }
  return served
}

/** The names of whatever has this address (for PTR queries), with its TTL. */
export function reverseLookup(ip: string, zone: Zone, entries: ContainerEntry[]): {names: string[]; ttl: number} | undefined {
  const domain = toLabels(zone.domain)
  const names: string[] = []
  let ttl = zone.defaultTtl
  for (const entry of entries) {
    if (!entry.ipv4.includes(ip) && !entry.ipv6.includes(ip)) continue
    ttl = Math.min(ttl, ttlOf(entry, zone))
    if (entry.name.length > 0) names.push(schemeName(entry, domain).join('.'))
    else if (entry.image.length > 0) names.push([...entry.image, ...domain].join('.'))
    for (const alias of aliasesIn(entry, domain)) names.push(alias.join('.'))
  }
  const vm = vmHostname(zone)
  if (vm && zone.vm?.ip === ip) names.push(vm.join('.'))
  return names.length > 0 ? {names: unique(names), ttl} : undefined
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)]
}
