// Text for people: status lines and the table of names. JSON output never goes through here.
import type {ResolverOutcome} from 'dlite-kit/resolver-file'
import type {NamesReply, ServiceStatus} from './protocol.js'
import type {DnsSettings} from './settings.js'

export function describeResolver(resolver: ResolverOutcome | undefined): string {
  if (!resolver) return 'not configured yet (at `dlite start`)'
  if (resolver.mode === 'manual') return 'not changed (manual step needed, see `dlite dns status`)'
  return resolver.message
}

export function describeContainerDns(containerDns: ServiceStatus['containerDns']): string {
  if (containerDns.wanted && containerDns.active) return 'use the responder (dockerd --dns)'
  if (containerDns.wanted) return 'use the responder from the next start (`dlite stop && dlite start`)'
  if (containerDns.active) return 'keep the responder as their DNS server until the next start'
  return 'do not use the responder (--no-container-dns)'
}

export function statusLines(settings: DnsSettings, running: boolean, daemon?: ServiceStatus, problem?: string): string[] {
  const lines = [`dlite-dns: ${settings.enabled ? 'enabled' : 'disabled'} for *.${settings.domain} (TTL ${settings.ttl})`]
  if (!running) {
    lines.push(settings.enabled ? 'dlite is not running: serving starts with `dlite start`' : 'dlite is not running')
    return lines
  }
  if (problem) {
    lines.push(`daemon: ${problem}`)
    return lines
  }
  if (!daemon) return lines
  lines.push(daemon.serving ? `serving on ${daemon.listening.join(', ')} (UDP and TCP)` : `not serving${daemon.lastError ? `: ${daemon.lastError}` : ''}`)
  if (daemon.serving) {
    lines.push(`containers: ${daemon.containers}, names: ${daemon.names} (docker events: ${daemon.events})`)
    lines.push(`other names: ${daemon.upstreams.length > 0 ? `forwarded to ${daemon.upstreams.join(', ')}` : 'refused (no upstream)'}`)
    const q = daemon.queries
    lines.push(`queries: ${q.answer} answered, ${q.nodata} no data, ${q.nxdomain} NXDOMAIN, ${q.forwarded} forwarded, ${q.refused} refused, ${q.error} errors`)
    if (daemon.lastError) lines.push(`last problem: ${daemon.lastError}`)
  }
  lines.push(`containers ${describeContainerDns(daemon.containerDns)}`)
  if (daemon.resolver) {
    lines.push(`host resolver: ${daemon.resolver.mode === 'manual' ? daemon.resolver.message : describeResolver(daemon.resolver)}`)
    if (daemon.resolver.warning) lines.push(`warning: ${daemon.resolver.warning}`)
  }
  return lines
}

export function namesTable(reply: NamesReply): string[] {
  if (reply.names.length === 0) return [`No names under *.${reply.domain} yet: start a container.`]
  const rows = [['NAME', 'ADDRESSES', 'TTL', 'ANSWERED BY'], ...reply.names.map((n) => [
    n.name, [...n.ipv4, ...n.ipv6].join(', '), String(n.ttl), n.sources.join(', '),
  ])]
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)))
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  '))
}
