// Everything `dlite status` reports, from the config, the daemon, the disk and docker itself. What a running VM in
// user mode does not need (leftovers and a saved state: a stopped VM's; the bridge's names, subnet and hosts line:
// a bridged VM's; the image store: a rollback's; the docker context's name: an old daemon's) is imported where it
// is needed: `status` is the command scripts call most, and every module loaded is startup time.
import {isInstalled, readConfig} from '../config/read.js'
import type {ForwardedPort, VmState} from '../daemon/control-protocol.js'
import {diskUsage} from '../disk/sparse-disk.js'
import {homeLayout} from '../paths.js'
import {savedStatePaths} from '../daemon/daemon-paths.js'
import {vmStatus} from './vm-status.js'

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
  network?: 'user' | 'bridged'
  /** Where published ports answer: the VM's own address (bridged) or 127.0.0.1 (user). */
  ip?: string
  /** How the host reaches the guest's docker API (TLS) and sshd. */
  dockerEndpoint?: string
  ssh?: {host: string; port: number}
  hostname?: string
  /** The bridged network (absent in user mode). */
  subnet?: string
  dockerSocket?: string
  /** The docker context dlite keeps pointing at dockerSocket. */
  dockerContext?: string
  /** Everything a running VM made on the host, by kind. */
  madeOnHost?: string[]
  /** What a daemon that died left behind (`dlite stop` removes it). */
  leftBehind?: string[]
  dockerVersion?: string
  uptimeSeconds?: number
  restarts?: number
  /** Whether the service manager starts the VM at login or boot (`dlite autostart`). */
  autostart?: boolean
  /** The last restart while the VM ran (QEMU by the daemon, dockerd or containerd by the guest), why and when. */
  lastRestart?: string
  lastError?: string
  /** `dlite pause` stopped the guest at this time (ms since the epoch). */
  pausedSince?: number
  /** The running VM was resumed from the state saved at this time, not booted. */
  resumedFrom?: number
  /** Why the running VM booted although a state was saved. */
  coldBoot?: string
  /** A stopped VM whose state `dlite stop` saved: the next start resumes it. */
  savedState?: {savedAt: number; bytes: number}
  image?: {version: string; rollbackAvailable: boolean; previous?: string}
  /** Published container ports on the host's loopback, and those that could not be bound. */
  ports?: {forwarded: ForwardedPort[]; failed: ForwardedPort[]}
}

export async function statusReport(home: string): Promise<StatusReport> {
  if (!isInstalled(home)) return {home, state: 'not-installed'}
  const config = await readConfig(home)
  const layout = homeLayout(home)
  const live = await vmStatus(home)
  const stopped = live ? undefined : await import('./leftovers.js')
  const left = stopped ? await stopped.findLeftovers(home, config) : undefined
  const usage = await diskUsage(layout.disk).catch(() => undefined)
  const previous = config.image.previous
  const report: StatusReport = {
    home,
    state: live?.state ?? (left?.vm ? 'orphaned' : 'stopped'),
    pid: live?.pid,
    qemuPid: live?.qemuPid ?? left?.vm?.pid,
    accelerator: live?.accelerator,
    acceleratorReason: live?.acceleratorReason,
    cpus: config.cpus,
    memoryGiB: config.memoryGiB,
    disk: usage && {sizeGiB: config.diskGiB, ...usage},
    network: config.network,
    ip: live?.ip ?? (config.network === 'user' ? '127.0.0.1' : (await import('../network/subnet.js')).parseSubnet(config.subnet).vmIp),
    dockerEndpoint: live?.dockerEndpoint || undefined,
    ssh: live?.ssh,
    hostname: config.hostname,
    subnet: config.network === 'bridged' ? config.subnet : undefined,
    dockerSocket: config.dockerSocket,
    dockerContext: live?.dockerContext ?? (await import('../docker/context.js')).contextName(home),
    uptimeSeconds: live?.readyAt ? Math.round((Date.now() - live.startedAt!) / 1000) : undefined,
    autostart: config.autostart ?? false,
    restarts: live?.restarts,
    lastRestart: live?.lastRestart,
    pausedSince: live?.pausedSince,
    resumedFrom: live?.resumedFrom,
    coldBoot: live?.coldBoot,
    lastError: live?.lastError ?? (left?.vm ? `QEMU runs without its daemon; \`dlite stop\` stops it, \`dlite start\` starts afresh` : undefined),
    image: {
      version: config.image.current,
      rollbackAvailable: previous !== undefined && (await import('../image/store.js')).isImageInstalled(layout.images, previous),
      previous,
    },
  }
  // The version the daemon read when docker became ready: asking docker again would cost a TLS handshake with
  // the guest on every `status` (the slowest part of it under emulation); `dlite doctor` is the live check.
  if (live?.state === 'running') report.dockerVersion = live.dockerVersion
  if (live?.ports) report.ports = live.ports
  if (live && live.state !== 'stopped') report.madeOnHost = await madeOnHost(home, config, live.dockerContext)
  const saved = live ? undefined : (await import('../vm/saved-state.js')).readSavedState(savedStatePaths(layout))
  if (saved !== undefined && typeof saved !== 'string') report.savedState = {savedAt: saved.savedAt, bytes: saved.state.bytes}
  const leftBehind = left && stopped ? stopped.describeLeftovers(left) : []
  if (leftBehind.length > 0) report.leftBehind = leftBehind
  return report
}

async function madeOnHost(home: string, config: Awaited<ReturnType<typeof readConfig>>, context: string): Promise<string[]> {
  const layout = homeLayout(home)
  const made = [`docker socket ${config.dockerSocket}`, `docker context ${context}`, `control socket ${layout.run}/control.sock`]
  if (config.network === 'bridged') {
    const [{hostsLine}, {networkNames}, {parseSubnet}] = await Promise.all([
      import('../network/hosts-file.js'), import('../network/names.js'), import('../network/subnet.js')])
    const names = networkNames(home)
    const subnet = parseSubnet(config.subnet)
    made.push(`bridge ${names.bridge} (${subnet.hostIp}/${subnet.prefix})`, `tap ${names.tap}`, `NAT for ${subnet.cidr}`,
      `hosts line "${hostsLine({ip: subnet.vmIp, hostname: config.hostname, homeId: names.homeId})}"`)
  }
  return made
}
