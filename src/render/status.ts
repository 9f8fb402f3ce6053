import type {StatusReport} from '../lifecycle/status-report.js'

const GiB = 1024 ** 3

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${seconds % 60}s` : `${seconds}s`
}

export function renderStatus(r: StatusReport): string {
  if (r.state === 'not-installed') return `dlite is not installed in ${r.home}. Run: dlite install`
  const rows: Array<[string, string | undefined]> = [
    ['state', r.state + (r.lastError ? ` (${r.lastError})` : '')],
    ['pid', r.pid === undefined ? undefined : `${r.pid} (QEMU ${r.qemuPid ?? '-'})`],
    ['accelerator', r.accelerator && `${r.accelerator}: ${r.acceleratorReason}`],
    ['cpus', String(r.cpus)],
    ['memory', `${r.memoryGiB} GiB`],
    ['disk', r.disk && `${r.disk.sizeGiB} GiB, ${(r.disk.allocatedBytes / GiB).toFixed(2)} GiB allocated`],
    ['ip', r.ip],
    ['hostname', r.hostname],
    ['docker', r.dockerVersion],
    ['socket', r.dockerSocket],
    ['uptime', r.uptimeSeconds === undefined ? undefined : duration(r.uptimeSeconds)],
    ['restarts', r.restarts ? String(r.restarts) : undefined],
    ['os image', r.image && `${r.image.version}${r.image.rollbackAvailable ? ` (rollback to ${r.image.previous} available)` : ''}`],
    ['home', r.home],
  ]
  return rows.filter(([, v]) => v !== undefined).map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n')
}
