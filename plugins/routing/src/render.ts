// Plain-text summaries of the commands' outcomes (--json prints the outcome objects themselves).
import type {DisableOutcome, EnableOutcome, StatusOutcome} from './pipelines.js'
import type {RouteEntry} from './router.js'

function routeLines(routes: RouteEntry[]): string[] {
  const width = Math.max(0, ...routes.map((r) => r.subnet.length))
  return routes.map((r) => `  ${r.subnet.padEnd(width)}  ${(r.network ?? '(no docker network)').padEnd(12)}  via ${r.via}${r.dev ? ` dev ${r.dev}` : ''}`)
}

export function renderEnable(outcome: EnableOutcome): string {
  if (outcome.applied === 'next start') return 'Routing enabled. The VM is not running: container IPs become reachable at the next `dlite start`.'
  const lines = ['Routing enabled. Container IPs are reachable from this host:', ...routeLines(outcome.routes)]
  for (const s of outcome.skipped) lines.push(`  not routed: ${s.name}${s.subnet ? ` ${s.subnet}` : ''} (${s.reason})`)
  lines.push('New docker networks are routed as they are created.')
  return lines.join('\n')
}

export function renderDisable(outcome: DisableOutcome): string {
  if (!outcome.vmRunning) return 'Routing disabled.'
  return `Routing disabled: ${outcome.removedRoutes.length > 0 ? `removed ${outcome.removedRoutes.join(', ')}` : 'no routes were there'}; the guest forwards no host traffic to containers.`
}

export function renderStatus(outcome: StatusOutcome): string {
  const lines = [`Routing: ${outcome.enabled ? 'enabled' : 'disabled'}${outcome.vmRunning ? '' : ' (the VM is not running)'}`]
  if (!outcome.vmRunning) return lines.join('\n')
  lines.push(`Following docker network events: ${outcome.watching ? 'yes' : 'no'}`)
  lines.push(`Guest forwarding rule: ${outcome.guestRule}`)
  if (outcome.routes.length > 0) lines.push(`Routes via ${outcome.vmIp}:`, ...routeLines(outcome.routes))
  else lines.push(`Routes via ${outcome.vmIp}: none`)
  for (const n of outcome.networks.filter((n) => n.state !== 'routed')) {
    lines.push(`  ${n.state === 'conflict' ? 'conflict' : 'not routed'}: ${n.name} ${n.subnet}${n.conflict ? ` (host route ${n.conflict.join(', ')})` : ''}`)
  }
  for (const s of outcome.skipped) lines.push(`  not routed: ${s.name}${s.subnet ? ` ${s.subnet}` : ''} (${s.reason})`)
  const {results, reachable} = outcome.liveCheck
  if (reachable === null) {
    lines.push('Live check: no running container on a routed network to try')
  } else {
    lines.push('Live check (TCP connect):')
    for (const r of results) {
      const verdict = r.answered ? `answered (${r.outcome === 'open' ? 'port open' : 'connection refused by the container'})` : `no answer (${r.outcome}${r.detail ? `: ${r.detail}` : ''})`
      lines.push(`  ${r.container} ${r.ip}:${r.port} on ${r.network}: ${verdict} in ${r.ms} ms`)
    }
  }
  return lines.join('\n')
}
