// What `dlite start` needs from the host, as a list of checks. Pure: every fact comes in through
// `HostFacts`, so each verdict is unit-tested without touching the machine.
import {chooseShareTransport, VIRTIOFSD_AS_USER_FIX} from '../daemon/share-server.js'
import {isSupportedQemu, MIN_QEMU_VERSION, type QemuVersion, type Virtiofsd} from '../hypervisor/qemu-binary.js'

export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface CheckResult {
  id: string
  title: string
  status: CheckStatus
  detail: string
  /** What to do about it; present whenever status is not ok. */
  fix?: string
  /** A failing required check makes `doctor` exit 1: `start` cannot work without it. */
  required: boolean
}

export interface AcceleratorFacts {
  /** What `start` would use. */
  accelerator: 'kvm' | 'hvf' | 'tcg'
  reason: string
  /** Set when the native addon could not be loaded. */
  addonError?: string
  /** The platform's hardware accelerator as probed (kvm on Linux, hvf on macOS): present, usable, why. */
  hardware?: {name: 'kvm' | 'hvf'; present: boolean; usable: boolean; reason: string} | null
}

export interface HostFacts {
  platform: NodeJS.Platform
  /** The home's network mode (user when not installed): only bridged needs the tap, bridge and NAT. */
  network: 'user' | 'bridged'
  qemu: {binaryName: string; path?: string; version?: QemuVersion; versionError?: string}
  accelerator: AcceleratorFacts
  virtiofsds: Virtiofsd[]
  /** doctor runs as root: its VM's daemon would too, and any virtiofsd serves it. */
  root?: boolean
  tunDevice: boolean
  /** Root, or holding CAP_NET_ADMIN: needed for bridge, tap and NAT. */
  netAdmin: boolean
  /** A user's bridged VM: whether the home is registered with the root helper, and whether it answers. */
  rootHelper?: {registered: boolean; answers: boolean; socket: string}
  nft?: string
  iptables?: string
  ip?: string
  ssh?: string
  docker?: string
  home: string
  freeBytes?: number
  /** The VM of this home when its daemon says it runs: does docker answer through the host socket now? */
  runningVm?: {dockerSocket: string; dockerVersion?: string; error?: string}
}

const GiB = 1024 ** 3
export const MIN_FREE_BYTES = 2 * GiB
export const COMFORTABLE_FREE_BYTES = 10 * GiB

const INSTALL_QEMU = 'install QEMU: sudo apt-get install qemu-system-x86 (Debian/Ubuntu) or brew install qemu (macOS)'

function result(
  id: string, title: string, required: boolean, status: CheckStatus, detail: string, fix?: string,
): CheckResult {
  return status === 'ok' ? {id, title, status, detail, required} : {id, title, status, detail, fix, required}
}

export function checkQemu(f: HostFacts): CheckResult {
  const title = 'QEMU'
  if (!f.qemu.path) return result('qemu', title, true, 'fail', `${f.qemu.binaryName} not found`, INSTALL_QEMU)
  if (!f.qemu.version) {
    return result('qemu', title, true, 'fail', `${f.qemu.path} did not report a version: ${f.qemu.versionError ?? 'no output'}`,
      `reinstall QEMU; ${INSTALL_QEMU}`)
  }
  const min = `${MIN_QEMU_VERSION.major}.${MIN_QEMU_VERSION.minor}`
  if (!isSupportedQemu(f.qemu.version)) {
    return result('qemu', title, true, 'fail', `${f.qemu.path} is version ${f.qemu.version.text}; dlite needs >= ${min}`,
      `upgrade QEMU to ${min} or newer`)
  }
  return result('qemu', title, true, 'ok', `${f.qemu.path} ${f.qemu.version.text}`)
}

export function checkAccelerator(f: HostFacts): CheckResult {
  const title = 'Accelerator'
  const {accelerator, reason, addonError} = f.accelerator
  if (addonError) {
    return result('accelerator', title, true, 'fail', `cannot probe the hypervisor: ${addonError}`,
      'rebuild the native addon: npm rebuild dlite-native (or run scripts/setup.sh)')
  }
  if (accelerator === 'tcg') {
    return result('accelerator', title, true, 'warn', `tcg (software emulation, much slower): ${reason}`,
      f.platform === 'darwin'
        ? 'use a Mac whose CPU supports Hypervisor.framework'
        : 'for hardware speed run dlite on a host with working KVM (kvm_intel or kvm_amd loaded, /dev/kvm accessible)')
  }
  return result('accelerator', title, true, 'ok', `${accelerator}: ${reason}`)
}

export function checkVirtiofsd(f: HostFacts): CheckResult {
  if (f.platform === 'darwin') return result('virtiofsd', 'virtiofsd', false, 'ok', 'not needed on macOS (9p share)')
  const choice = chooseShareTransport({runningAsRoot: f.root === true, virtiofsds: f.virtiofsds})
  if (choice.virtiofsd) {
    return result('virtiofsd', 'virtiofsd', false, 'ok', `${choice.virtiofsd.path} ${choice.virtiofsd.version}${f.root ? '' : ', serves your shares as you'}`)
  }
  return f.root
    ? result('virtiofsd', 'virtiofsd', false, 'warn', 'not found: shares fall back to 9p, which is slower',
      'install virtiofsd: sudo apt-get install virtiofsd (newer distributions) or qemu-system-x86 7.x, which bundles it')
    : result('virtiofsd', 'virtiofsd', false, 'warn', `${choice.reason}: host file changes raise no inotify events in your VM`,
      VIRTIOFSD_AS_USER_FIX)
}

const USER_MODE_NETWORK = 'not needed: user-mode networking (QEMU, no root)'

export function checkNetworkPermissions(f: HostFacts): CheckResult {
  const title = 'Tap and bridge'
  if (f.network === 'user') return result('network', title, false, 'ok', USER_MODE_NETWORK)
  if (f.platform === 'darwin') return result('network', title, true, 'ok', 'vmnet (macOS) needs no tap device')
  if (!f.tunDevice) {
    return result('network', title, true, 'fail', '/dev/net/tun is missing',
      'load the tun module: sudo modprobe tun (in a container: run it with --device /dev/net/tun)')
  }
  if (!f.netAdmin && f.rootHelper) {
    // a user's VM: the root helper makes them and hands the tap over
    if (!f.rootHelper.registered) return result('network', title, true, 'fail', 'this home is not registered with the root helper, which makes the bridge and tap', 'run `sudo dlite network setup` once')
    if (!f.rootHelper.answers) return result('network', title, true, 'fail', `the root helper does not answer at ${f.rootHelper.socket}`, 'start it again: sudo dlite network setup')
    return result('network', title, true, 'ok', `made by the root helper (${f.rootHelper.socket})`)
  }
  if (!f.netAdmin) {
    return result('network', title, true, 'fail', 'creating the bridge and tap needs root or CAP_NET_ADMIN',
      'run `sudo dlite network setup` once: the root helper makes them for you')
  }
  return result('network', title, true, 'ok', '/dev/net/tun present, CAP_NET_ADMIN held')
}

export function checkFirewall(f: HostFacts): CheckResult {
  const title = 'NAT (nft or iptables)'
  if (f.network === 'user') return result('firewall', title, false, 'ok', USER_MODE_NETWORK)
  if (f.platform === 'darwin') return result('firewall', title, true, 'ok', 'vmnet does NAT on macOS')
  if (f.nft) return result('firewall', title, true, 'ok', f.nft)
  if (f.iptables) return result('firewall', title, true, 'ok', f.iptables)
  return result('firewall', title, true, 'fail', 'neither nft nor iptables found', 'sudo apt-get install nftables')
}

export function checkIp(f: HostFacts): CheckResult {
  if (f.network === 'user') return result('ip', 'ip (iproute2)', false, 'ok', USER_MODE_NETWORK)
  if (f.platform === 'darwin') return result('ip', 'ip (iproute2)', false, 'ok', 'not needed on macOS')
  return f.ip
    ? result('ip', 'ip (iproute2)', true, 'ok', f.ip)
    : result('ip', 'ip (iproute2)', true, 'fail', 'ip not found', 'sudo apt-get install iproute2')
}

export function checkSsh(f: HostFacts): CheckResult {
  return f.ssh
    ? result('ssh', 'SSH client', true, 'ok', f.ssh)
    : result('ssh', 'SSH client', true, 'fail', 'ssh not found (dlite ssh and key checks need it)',
      'sudo apt-get install openssh-client')
}

export function checkFreeSpace(f: HostFacts): CheckResult {
  const title = 'Free space'
  if (f.freeBytes === undefined) {
    return result('space', title, true, 'warn', `could not measure free space under ${f.home}`, `check ${f.home} is on a mounted filesystem`)
  }
  const gib = (f.freeBytes / GiB).toFixed(1)
  if (f.freeBytes < MIN_FREE_BYTES) {
    return result('space', title, true, 'fail', `${gib} GiB free under ${f.home}; at least ${MIN_FREE_BYTES / GiB} GiB needed`,
      'free some space, or point DLITE_HOME at a larger filesystem')
  }
  if (f.freeBytes < COMFORTABLE_FREE_BYTES) {
    return result('space', title, true, 'warn', `${gib} GiB free under ${f.home}: the sparse disk can grow past it`,
      'free some space, or point DLITE_HOME at a larger filesystem')
  }
  return result('space', title, true, 'ok', `${gib} GiB free under ${f.home}`)
}

export function checkDockerCli(f: HostFacts): CheckResult {
  return f.docker
    ? result('docker', 'docker CLI (optional)', false, 'ok', f.docker)
    : result('docker', 'docker CLI (optional)', false, 'warn', 'not found: dlite works, but you will want a docker client',
      'install the docker CLI: sudo apt-get install docker.io (Debian) or brew install docker (macOS)')
}

export function checkRunningVm(f: HostFacts): CheckResult {
  const title = 'docker in the VM'
  if (!f.runningVm) return result('vm', title, false, 'ok', 'the VM is not running')
  if (f.runningVm.dockerVersion) return result('vm', title, false, 'ok', `docker ${f.runningVm.dockerVersion} answers at ${f.runningVm.dockerSocket}`)
  return result('vm', title, false, 'fail', `the VM runs, but docker does not answer at ${f.runningVm.dockerSocket}: ${f.runningVm.error ?? 'no answer'}`,
    'look at `dlite logs` and `dlite logs --console`; `dlite stop && dlite start` restarts the VM')
}

export const CHECKS = [
  checkQemu, checkAccelerator, checkVirtiofsd, checkNetworkPermissions, checkFirewall, checkIp, checkSsh,
  checkFreeSpace, checkDockerCli, checkRunningVm,
]

export interface DoctorReport {
  ok: boolean
  /** What `start` would use, and why. */
  accelerator: AcceleratorFacts['accelerator']
  acceleratorReason: string
  /** The hardware accelerator as probed, so a user sees e.g. "kvm present but not usable" and the reason. */
  hardware: AcceleratorFacts['hardware'] | null
  checks: CheckResult[]
}

export function diagnose(facts: HostFacts): DoctorReport {
  const checks = CHECKS.map((check) => check(facts))
  return {
    ok: !checks.some((c) => c.required && c.status === 'fail'),
    accelerator: facts.accelerator.accelerator,
    acceleratorReason: facts.accelerator.reason,
    hardware: facts.accelerator.hardware ?? null,
    checks,
  }
}
