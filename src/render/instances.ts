import type {Instance} from '../lifecycle/instances.js'
import {renderTable} from './table.js'

const GiB = 1024 ** 3

export function renderInstances(instances: Instance[]): string {
  if (instances.length === 0) return 'No dlite instance is installed. Run: dlite install (or dlite install --profile NAME)'
  const rows = instances.map(({profile, report: r}) => [
    profile ?? '-',
    r.state,
    String(r.cpus ?? '-'),
    r.memoryGiB === undefined ? '-' : `${r.memoryGiB} GiB`,
    r.disk ? `${r.disk.sizeGiB} GiB (${(r.disk.allocatedBytes / GiB).toFixed(2)} used)` : '-',
    r.network ?? '-',
    r.ip ?? '-',
    r.dockerSocket ?? '-',
  ])
  return renderTable(['PROFILE', 'STATE', 'CPUS', 'MEMORY', 'DISK', 'NETWORK', 'ADDRESS', 'SOCKET'], rows)
}
