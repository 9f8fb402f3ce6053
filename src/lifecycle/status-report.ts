// Everything `dlite status` reports, from the config, the daemon, the disk and docker itself.
import {isInstalled, readConfig} from '../config/index.js'
import type {VmState} from '../daemon/control-protocol.js'
import {diskUsage} from '../disk/index.js'
import {isImageInstalled} from '../image/index.js'
import {parseSubnet} from '../network/subnet.js'
import {homeLayout} from '../paths.js'
import {vmStatus} from './vm-control.js'

export interface StatusReport {
  home: string
  state: VmState | 'not-installed'
  pid?: number
  qemuPid?: number
  accelerator?: string
  acceleratorReason?: string
  cpus?: number
  memoryGiB?: number
  disk?: {sizeGiB: number; apparentBytes: number; allocatedBytes: number}
  ip?: string
  hostname?: string
  subnet?: string
  dockerSocket?: string
  dockerVersion?: string
  uptimeSeconds?: number
  restarts?: number
  lastError?: string
  image?: {version: string; rollbackAvailable: boolean; previous?: string}
}

export async function statusReport(home: string): Promise<StatusReport> {
  if (!isInstalled(home)) return {home, state: 'not-installed'}
  const config = await readConfig(home)
  const layout = homeLayout(home)
  const live = await vmStatus(home)
  const usage = await diskUsage(layout.disk).catch(() => undefined)
  const previous = config.image.previous
  const report: StatusReport = {
    home,
    state: live?.state ?? 'stopped',
    pid: live?.pid,
    qemuPid: live?.qemuPid,
    accelerator: live?.accelerator,
    acceleratorReason: live?.acceleratorReason,
    cpus: config.cpus,
    memoryGiB: config.memoryGiB,
    disk: usage && {sizeGiB: config.diskGiB, ...usage},
    ip: parseSubnet(config.subnet).vmIp,
    hostname: config.hostname,
    subnet: config.subnet,
    dockerSocket: config.dockerSocket,
    uptimeSeconds: live?.readyAt ? Math.round((Date.now() - live.startedAt!) / 1000) : undefined,
    restarts: live?.restarts,
    lastError: live?.lastError,
    image: {
      version: config.image.current,
      rollbackAvailable: previous !== undefined && isImageInstalled(layout.images, previous),
      previous,
    },
  }
  // The version the daemon read when docker became ready: asking docker again would cost a TLS handshake with
  // the guest on every `status` (the slowest part of it under emulation); `dlite doctor` is the live check.
  if (live?.state === 'running') report.dockerVersion = live.dockerVersion
  return report
}
