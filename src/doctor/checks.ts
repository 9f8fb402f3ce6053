// What `dlite start` needs from the host, as a list of checks. Pure: every fact comes in through
// `HostFacts`, so each verdict is unit-tested without touching the machine.
import {chooseShareTransport, VIRTIOFSD_AS_USER_FIX} from '../daemon/share-server.js'
import {MIN_QEMU_VERSION, type QemuVersion, type Virtiofsd} from '../hypervisor/qemu-binary.js'
import {
  atLeast, defaultHomebrewPrefix, MIN_QEMU_HVF_AARCH64, startSocketVmnet, versionText, type MinimumQemu,
} from './macos.js'

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
  /** The host's CPU (process.arch: x64, arm64); facts recorded before it was gathered lack it. */
  arch?: string
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
  /** macOS: Homebrew's prefix (/opt/homebrew on Apple silicon, /usr/local on Intel), where QEMU and socket_vmnet live. */
  homebrewPrefix?: string
  /**
   * macOS: socket_vmnet, the root daemon that gives a bridged VM's QEMU (running as the user) a vmnet interface:
   * whether Homebrew's binary is there, and whether its socket is, i.e. whether the LaunchDaemon runs.
   */
  socketVmnet?: {binary: string; binaryExists: boolean; socket: string; socketExists: boolean}
}

const GiB = 1024 ** 3
export const MIN_FREE_BYTES = 2 * GiB
export const COMFORTABLE_FREE_BYTES = 10 * GiB

/** The host's CPU; facts recorded without it are taken for what their QEMU runs (the host's own arch, usually). */
function hostArch(f: HostFacts): string {
  return f.arch ?? (f.qemu.binaryName === 'qemu-system-aarch64' ? 'arm64' : 'x64')
}

/** Homebrew's prefix on the Mac the facts come from; without it, the default for its CPU. */
function brewPrefix(f: HostFacts): string {
  return f.homebrewPrefix ?? defaultHomebrewPrefix(hostArch(f))
}

/** Debian's package for the host's QEMU: qemu-system-arm holds qemu-system-aarch64. */
function aptQemuPackage(f: HostFacts): string {
  return f.qemu.binaryName === 'qemu-system-aarch64' ? 'qemu-system-arm' : 'qemu-system-x86'
}

/** dlite's floor for this host: HVF with an aarch64 guest needs more (see MIN_QEMU_HVF_AARCH64); else 7.2. */
export function minimumQemu(f: HostFacts): MinimumQemu {
  const hvfAarch64 = f.platform === 'darwin' && f.accelerator.accelerator === 'hvf' && f.qemu.binaryName === 'qemu-system-aarch64'
  return hvfAarch64 ? MIN_QEMU_HVF_AARCH64 : {...MIN_QEMU_VERSION, patch: 0}
}

function result(
  id: string, title: string, required: boolean, status: CheckStatus, detail: string, fix?: string,
): CheckResult {
  return status === 'ok' ? {id, title, status, detail, required} : {id, title, status, detail, fix, required}
}

export function checkQemu(f: HostFacts): CheckResult {
  const title = 'QEMU'
  const mac = f.platform === 'darwin'
  const min = minimumQemu(f)
  // dlite's general floor is written as major.minor, as the README does
  const minText = min.patch === 0 ? `${min.major}.${min.minor}` : versionText(min)
  if (!f.qemu.path) {
    return mac
      ? result('qemu', title, true, 'fail', `${f.qemu.binaryName} not found on PATH`,
        `install QEMU with Homebrew: brew install qemu (it puts ${f.qemu.binaryName} in ${brewPrefix(f)}/bin, which must be on your PATH)`)
      : result('qemu', title, true, 'fail', `${f.qemu.binaryName} not found`,
        `install QEMU: sudo apt-get install ${aptQemuPackage(f)} (Debian/Ubuntu)`)
  }
  if (!f.qemu.version) {
    return result('qemu', title, true, 'fail', `${f.qemu.path} did not report a version: ${f.qemu.versionError ?? 'no output'}`,
      mac ? 'reinstall QEMU: brew reinstall qemu' : `reinstall QEMU: sudo apt-get install --reinstall ${aptQemuPackage(f)} (Debian/Ubuntu)`)
  }
  if (!atLeast(f.qemu.version, min)) {
    return result('qemu', title, true, 'fail',
      `${f.qemu.path} is version ${f.qemu.version.text}; dlite needs >= ${minText}${min.why ? ` ${min.why}` : ''}`,
      mac ? `upgrade QEMU to ${minText} or newer: brew upgrade qemu` : `upgrade QEMU to ${minText} or newer`)
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
        ? hvfFix(f)
        : 'for hardware speed run dlite on a host with working KVM (kvm_intel or kvm_amd loaded, /dev/kvm accessible)')
  }
  return result('accelerator', title, true, 'ok', `${accelerator}: ${reason}`)
}

/** Why a Mac runs tcg, from what `sysctl kern.hv_support` said, and what would give it hvf. */
function hvfFix(f: HostFacts): string {
  const {hardware} = f.accelerator
  if (hardware && !hardware.present) {
    // no kern.hv_support at all: a macOS older than Hypervisor.framework
    return 'update macOS: Hypervisor.framework needs macOS 10.10 or later on an Intel CPU with VT-x, or any Apple silicon Mac'
  }
  if (hardware && !hardware.usable) {
    // kern.hv_support = 0. Apple silicon: every Mac has it, so this macOS is a VM, and macOS guests get no nested
    // virtualization. Intel: a CPU without VT-x, or a VM whose hypervisor does not pass VT-x through.
    return hostArch(f) === 'arm64'
      ? 'run dlite on the Mac itself: a macOS virtual machine on Apple silicon cannot get nested virtualization, ' +
        'so there it stays on tcg, much slower'
      : 'run dlite on a Mac whose CPU has VT-x; in a macOS virtual machine, turn on nested virtualization in its ' +
        'hypervisor (VMware Fusion: enable hypervisor applications in this virtual machine)'
  }
  return 'use a Mac whose CPU supports Hypervisor.framework (sysctl kern.hv_support must print 1)'
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
  // macOS has no tap or bridge to make: the VM's vmnet interface comes from socket_vmnet, judged by its own check
  if (f.platform === 'darwin') return result('network', title, false, 'ok', 'not needed on macOS: vmnet through socket_vmnet (its own check)')
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
  if (f.platform === 'darwin') return result('firewall', title, false, 'ok', 'not needed on macOS: vmnet does the NAT')
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

export function checkSocketVmnet(f: HostFacts): CheckResult {
  const title = 'socket_vmnet'
  if (f.platform !== 'darwin') return result('socket_vmnet', title, false, 'ok', 'not needed on Linux (a bridged VM gets a tap)')
  if (f.network === 'user') return result('socket_vmnet', title, false, 'ok', USER_MODE_NETWORK)
  const prefix = brewPrefix(f)
  const start = startSocketVmnet(prefix)
  if (!f.socketVmnet) {
    return result('socket_vmnet', title, true, 'warn', 'not probed: these facts say nothing about socket_vmnet',
      'run dlite doctor on the Mac itself')
  }
  const {binary, binaryExists, socket, socketExists} = f.socketVmnet
  if (!binaryExists) {
    return result('socket_vmnet', title, true, 'fail', `${binary} not found: a bridged VM on macOS reaches vmnet through socket_vmnet`,
      `brew install socket_vmnet, then start it as root once: ${start}`)
  }
  if (!socketExists) {
    return result('socket_vmnet', title, true, 'fail', `installed, but not running: no socket at ${socket}`,
      `start it as root once (a LaunchDaemon, so it comes back at boot): ${start}`)
  }
  return result('socket_vmnet', title, true, 'ok', `${binary}, socket ${socket}`)
}

export function checkSsh(f: HostFacts): CheckResult {
  return f.ssh
    ? result('ssh', 'SSH client', true, 'ok', f.ssh)
    : result('ssh', 'SSH client', true, 'fail', 'ssh not found (dlite ssh and key checks need it)',
      f.platform === 'darwin'
        ? 'macOS ships /usr/bin/ssh: put /usr/bin back on your PATH, or brew install openssh'
        : 'sudo apt-get install openssh-client')
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
      f.platform === 'darwin'
        ? 'install the docker CLI: brew install docker'
        : 'install the docker CLI: sudo apt-get install docker.io (Debian)')
}

export function checkRunningVm(f: HostFacts): CheckResult {
  const title = 'docker in the VM'
  if (!f.runningVm) return result('vm', title, false, 'ok', 'the VM is not running')
  if (f.runningVm.dockerVersion) return result('vm', title, false, 'ok', `docker ${f.runningVm.dockerVersion} answers at ${f.runningVm.dockerSocket}`)
  return result('vm', title, false, 'fail', `the VM runs, but docker does not answer at ${f.runningVm.dockerSocket}: ${f.runningVm.error ?? 'no answer'}`,
    'look at `dlite logs` and `dlite logs --console`; `dlite stop && dlite start` restarts the VM')
}

export const CHECKS = [
  checkQemu, checkAccelerator, checkVirtiofsd, checkNetworkPermissions, checkFirewall, checkIp, checkSocketVmnet, checkSsh,
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
  /** What was judged, so a report can be saved and judged again: dlite doctor --facts FILE. */
  facts: HostFacts
}

export function diagnose(facts: HostFacts): DoctorReport {
  const checks = CHECKS.map((check) => check(facts))
  return {
    ok: !checks.some((c) => c.required && c.status === 'fail'),
    accelerator: facts.accelerator.accelerator,
    acceleratorReason: facts.accelerator.reason,
    hardware: facts.accelerator.hardware ?? null,
    checks,
    facts,
  }
}
