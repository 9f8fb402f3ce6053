import type {ForwardedPort} from '../daemon/control-protocol.js'
import type {StatusReport} from '../lifecycle/status-report.js'

const GiB = 1024 ** 3

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${seconds % 60}s` : `${seconds}s`
}

/** A time of day as the user's clock shows it. */
function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8)
}

export function renderStatus(r: StatusReport): string {
  if (r.state === 'not-installed') return `dlite is not installed in ${r.home}. Run: dlite install`
  const rows: Array<[string, string | undefined]> = [
    ['state', r.pausedSince !== undefined
      ? `paused since ${clockTime(r.pausedSince)} (\`dlite resume\` lets it go on)`
      : r.state + (r.lastError ? ` (${r.lastError})` : '')],
    ['saved state', r.savedState && `from ${clockTime(r.savedState.savedAt)}, ${Math.round(r.savedState.bytes / 1024 / 1024)} MiB: \`dlite start\` resumes it (\`--cold\` boots instead)`],
    ['resumed', r.resumedFrom === undefined ? undefined : `from the state saved at ${clockTime(r.resumedFrom)}`],
    ['cold boot', r.coldBoot],
    ['pid', r.pid === undefined ? undefined : `${r.pid} (QEMU ${r.qemuPid ?? '-'})`],
    ['accelerator', r.accelerator && `${r.accelerator}: ${r.acceleratorReason}`],
    ['cpus', String(r.cpus)],
    ['memory', `${r.memoryGiB} GiB`],
    ['disk', r.disk && `${r.disk.sizeGiB} GiB, ${(r.disk.allocatedBytes / GiB).toFixed(2)} GiB allocated`],
    ['network', r.network && (r.network === 'user'
      ? 'user-mode (no root): the VM has no address of its own; published ports answer on localhost'
      : `bridged ${r.subnet ?? ''}`.trim())],
    ['ip', r.ip],
    ['reached at', r.dockerEndpoint && `docker ${r.dockerEndpoint} (TLS)${r.ssh ? `, ssh ${r.ssh.host}:${r.ssh.port}` : ''}`],
    ['hostname', r.hostname],
    ['docker', r.dockerVersion],
    ['socket', r.dockerSocket],
    ['context', r.dockerContext],
    ['autostart', r.autostart === undefined ? undefined : r.autostart ? 'on: the VM starts when you log in' : 'off'],
    ['uptime', r.uptimeSeconds === undefined ? undefined : duration(r.uptimeSeconds)],
    ['restarts', r.restarts ? String(r.restarts) : undefined],
    ['last restart', r.lastRestart],
    ['ports', r.ports && portsLine(r.ports.forwarded)],
    ['not bound', r.ports && r.ports.failed.length > 0 ? r.ports.failed.map((p) => `${p.address}:${p.hostPort}/${p.proto} (${p.containerName}: ${p.reason})`).join('; ') : undefined],
    ['on the host', r.madeOnHost?.join('; ')],
    ['left behind', r.leftBehind && `${r.leftBehind.join('; ')} (dlite stop removes it)`],
    ['os image', r.image && `${r.image.version}${r.image.rollbackAvailable ? ` (rollback to ${r.image.previous} available)` : ''}`],
    ['home', r.home],
  ]
  return rows.filter(([, v]) => v !== undefined).map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n')
}

function portsLine(forwarded: ForwardedPort[]): string {
  if (forwarded.length === 0) return 'none published'
  return forwarded.map((p) => `${p.address.includes(':') ? `[${p.address}]` : p.address}:${p.hostPort}/${p.proto} -> ${p.containerName}:${p.containerPort ?? p.hostPort}`).join(', ')
}
