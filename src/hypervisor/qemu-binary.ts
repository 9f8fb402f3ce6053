// Finding QEMU and its helpers on the host, and reading their versions.
import type {Runner, Which} from 'dlite-kit/exec'

export const MIN_QEMU_VERSION = {major: 7, minor: 2}

/** The QEMU system emulator that runs guests of the host's own architecture. */
export function qemuBinaryName(arch: string = process.arch): string {
  switch (arch) {
    case 'x64':
      return 'qemu-system-x86_64'
    case 'arm64':
      return 'qemu-system-aarch64'
    default:
      throw new Error(`dlite does not support the ${arch} architecture (x64 and arm64 are supported)`)
  }
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

/** Finds the host-architecture QEMU and asks it its version. */
export async function probeQemu(which: Which, run: Runner): Promise<QemuProbe> {
  const binaryName = qemuBinaryName()
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

// Debian ships virtiofsd inside qemu-system-* (7.x) or as its own package (/usr/libexec, newer).
export const VIRTIOFSD_LOCATIONS = ['/usr/libexec/virtiofsd', '/usr/lib/qemu/virtiofsd']

export function findVirtiofsd(which: Which): string | undefined {
  return which('virtiofsd') ?? VIRTIOFSD_LOCATIONS.map((path) => which(path)).find(Boolean)
}
