// Finding QEMU and its helpers on the host, and reading their versions.
import {spawnSync} from 'node:child_process'

import type {Runner, Which} from 'dlite-kit/exec'

import {normalizeArch} from '../image/manifest.js'
import type {GuestArch} from './qemu-argv.js'

export const MIN_QEMU_VERSION = {major: 7, minor: 2}

/** The guest architecture for any spelling of one (the OS image's `arch`, Node's process.arch). */
export function guestArchOf(arch: string): GuestArch {
  const normalized = normalizeArch(arch)
  if (normalized === 'x86_64' || normalized === 'aarch64') return normalized
  throw new Error(`dlite does not support the ${arch} architecture (x86_64 and aarch64 are supported)`)
}

/** The QEMU system emulator for guests of that architecture: the OS image's, else the host's own. */
export function qemuBinaryName(arch: string = process.arch): string {
  return `qemu-system-${guestArchOf(arch)}`
}

export interface QemuVersion {
  major: number
  minor: number
  patch: number
  text: string
}

/** Parses `qemu-system-* --version` output ("QEMU emulator version 7.2.19 (Debian …)"). */
export function parseQemuVersion(output: string): QemuVersion | undefined {
  const match = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?/.exec(output)
  if (!match) return undefined
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)]
  return {major, minor, patch, text: `${major}.${minor}.${patch}`}
}

export interface QemuProbe {
  binaryName: string
  path?: string
  version?: QemuVersion
  /** What the binary said instead of a version. */
  versionError?: string
}

/** Finds the QEMU that runs `arch` guests (the installed OS image's; default the host's) and asks it its version. */
export async function probeQemu(which: Which, run: Runner, arch: string = process.arch): Promise<QemuProbe> {
  const binaryName = qemuBinaryName(arch)
  const path = which(binaryName)
  const qemu: QemuProbe = {binaryName, path}
  if (path) {
    const out = await run(path, ['--version'], {timeoutMs: 10_000})
    qemu.version = parseQemuVersion(out.stdout)
    if (!qemu.version) qemu.versionError = (out.stderr || out.stdout).trim().split('\n')[0]
  }
  return qemu
}

export function isSupportedQemu(version: QemuVersion): boolean {
  return version.major > MIN_QEMU_VERSION.major ||
    (version.major === MIN_QEMU_VERSION.major && version.minor >= MIN_QEMU_VERSION.minor)
}

/** A virtiofsd found on the host, and whether it can serve a share as an ordinary user. */
export interface Virtiofsd {
  path: string
  version: string
  /** The Rust virtiofsd (1.x) runs as any user; QEMU's C one (7.x) insists on root. */
  runsAsUser: boolean
}

// QEMU 7.x bundles its C virtiofsd (/usr/lib/qemu); newer distributions package the Rust one (/usr/libexec).
// /usr/local/libexec is where scripts/setup.sh puts Debian 13's Rust one on a Debian 12 host.
export const VIRTIOFSD_LOCATIONS = ['/usr/libexec/virtiofsd', '/usr/lib/qemu/virtiofsd', '/usr/local/libexec/virtiofsd']

/** Tells the two apart by `--version`: "virtiofsd 1.13.2" (Rust) or "virtiofsd version 7.2.22 (…)" (C). */
export function parseVirtiofsdVersion(output: string): Omit<Virtiofsd, 'path'> | undefined {
  const rust = /^virtiofsd v?(\d+\.\d+(?:\.\d+)?)\s*$/m.exec(output)
  if (rust) return {version: rust[1], runsAsUser: true}
  const c = /^virtiofsd version (\S+)/m.exec(output)
  return c ? {version: c[1], runsAsUser: false} : undefined
}

/** Every virtiofsd on the host that answers `--version`, in the order of VIRTIOFSD_LOCATIONS after the PATH's. */
export function findVirtiofsds(which: Which, versionOutput: (path: string) => string = virtiofsdVersionOutput): Virtiofsd[] {
  const paths = [...new Set([which('virtiofsd'), ...VIRTIOFSD_LOCATIONS.map((path) => which(path))].filter((p): p is string => Boolean(p)))]
  return paths.flatMap((path) => {
    const parsed = parseVirtiofsdVersion(versionOutput(path))
    return parsed ? [{path, ...parsed}] : []
  })
}

function virtiofsdVersionOutput(path: string): string {
  const answer = spawnSync(path, ['--version'], {encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe']})
  return `${answer.stdout ?? ''}${answer.stderr ?? ''}`
}
