// What a Mac needs beyond Linux's list, as data: where Homebrew puts things, and the QEMU that HVF needs. Pure, so
// the checks can judge a Mac's recorded facts on any host.
import type {QemuVersion} from '../hypervisor/qemu-binary.js'

/** Homebrew's default prefix: /opt/homebrew on Apple silicon, /usr/local on Intel (its documented defaults). */
export function defaultHomebrewPrefix(arch: string): string {
  return arch === 'arm64' ? '/opt/homebrew' : '/usr/local'
}

/** The prefix a shell set up by `brew shellenv` names; else the default for the CPU. */
export function homebrewPrefix(arch: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = env.HOMEBREW_PREFIX?.trim()
  return given && given.startsWith('/') ? given.replace(/\/+$/, '') : defaultHomebrewPrefix(arch)
}

/**
 * socket_vmnet as `brew install socket_vmnet` lays it out: the binary under opt/, and the socket the LaunchDaemon
 * of `sudo brew services start socket_vmnet` listens on (lima-vm/socket_vmnet's README, "Default configuration").
 */
export function socketVmnetPaths(prefix: string): {binary: string; socket: string} {
  return {binary: `${prefix}/opt/socket_vmnet/bin/socket_vmnet`, socket: `${prefix}/var/run/socket_vmnet`}
}

/** Starting socket_vmnet as root, once: brew services installs it as a LaunchDaemon, so it comes back at boot. */
export function startSocketVmnet(prefix: string): string {
  // the full path: sudo's PATH need not hold Homebrew's bin (socket_vmnet's README writes it so too)
  return `sudo ${prefix}/bin/brew services start socket_vmnet`
}

export interface MinimumQemu {
  major: number
  minor: number
  patch: number
  /** Why this floor, for the check's detail; absent for dlite's general floor. */
  why?: string
}

/**
 * The oldest QEMU for HVF with an aarch64 guest (Apple silicon). HVF on arm64 first shipped in QEMU 6.2, which could
 * not map the virt machine's 40-bit memory layout on M1 without highmem=off (dlite does not set it); 7.0 fixed that.
 * 8.1 to 8.2.0 bundled an edk2 that fails under HVF (QEMU issue 1990, fixed in 8.2.1): dlite boots its kernel
 * directly, but 8.2.1 is also the floor Lima enforces on Apple silicon, so dlite runs on the combination its peers
 * test, and Homebrew has shipped newer for years: `brew upgrade qemu` is the whole cost.
 */
export const MIN_QEMU_HVF_AARCH64: MinimumQemu = {major: 8, minor: 2, patch: 1, why: 'for hvf on Apple silicon'}

export function versionText(v: {major: number; minor: number; patch: number}): string {
  return `${v.major}.${v.minor}.${v.patch}`
}

export function atLeast(version: QemuVersion, min: MinimumQemu): boolean {
  if (version.major !== min.major) return version.major > min.major
  if (version.minor !== min.minor) return version.minor > min.minor
  return version.patch >= min.patch
}
