// A VM's saved state on disk (`dlite stop` saves it, the next `dlite start` resumes it) and the record that says
// what it belongs to. QEMU itself does not catch everything that makes a state wrong: a state missing its last
// pages loads as "completed", and a VM with an extra device takes it silently (measured with QEMU 7.2). So a
// state is used at most once, and only when its record matches the VM about to load it in every way that
// matters: the QEMU binary, its command line, the guest's settings, the OS image, the host's boot, the data
// disk as the saved QEMU left it, and the state's own size and sha256.
import {createHash} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync} from 'node:fs'
import {dirname} from 'node:path'

import {writeFileAtomicSync} from 'dlite-kit/atomic-write'

import type {StateDigest} from './state-stream.js'

/** What a state was saved from, and must be loaded into. */
export interface StateIdentity {
  /** The QEMU binary that saved it, by path, size and modification time (an upgrade changes them). */
  qemu: {path: string; size: number; mtimeMs: number}
  /** sha256 of QEMU's cold-boot command line. */
  argv: string
  /** sha256 of the settings the guest booted with (network, shares, dockerd's arguments, keys). */
  settings: string
  imageVersion: string
  /** This boot of the host (Linux's boot_id, macOS's kern.boottime). */
  hostBoot: string
}

/** The data disk as QEMU left it: any write to it since (another boot) changes one of these. */
export interface DiskIdentity {
  size: number
  mtimeMs: number
  ctimeMs: number
  ino: number
  /** sha256 of its first MiB: ext4's superblock and group descriptors, which every mount writes. */
  head: string
}

export interface SavedStateRecord {
  format: 1
  savedAt: number
  /** How long the save took, QMP stop to a complete file. */
  saveMs: number
  state: StateDigest
  identity: StateIdentity
  dataDisk: DiskIdentity
}

export interface SavedStatePaths {
  state: string
  record: string
}

const HEAD_BYTES = 1024 * 1024

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** The identity of a regular file QEMU or its disk is, by what stat says. */
export function diskIdentity(path: string): DiskIdentity {
  const stat = statSync(path)
  const head = Buffer.alloc(Math.min(HEAD_BYTES, stat.size))
  const fd = openSync(path, 'r')
  try {
    readSync(fd, head, 0, head.length, 0)
  } finally {
    closeSync(fd)
  }
  return {size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, ino: stat.ino, head: createHash('sha256').update(head).digest('hex')}
}

export function qemuIdentity(path: string): StateIdentity['qemu'] {
  const stat = statSync(path)
  return {path, size: stat.size, mtimeMs: stat.mtimeMs}
}

/** This boot of the host: a state saved in another one is not resumed (the host was restarted in between). */
export function hostBootId(platform = process.platform): string {
  if (platform === 'linux') return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  return execFileSync('/usr/sbin/sysctl', ['-n', 'kern.boottime'], {encoding: 'utf8'}).trim()
}

/** A record as read from disk; a string says why it cannot be one (the state then goes). */
export function readSavedState(paths: SavedStatePaths): SavedStateRecord | string | undefined {
  let text: string
  try {
    text = readFileSync(paths.record, 'utf8')
  } catch {
    // no record: no state, or one never finished (a save cut short), which nothing trusts
    return undefined
  }
  try {
    const record = JSON.parse(text) as SavedStateRecord
    if (record?.format !== 1 || typeof record.state?.sha256 !== 'string' || typeof record.identity?.argv !== 'string' || typeof record.dataDisk?.head !== 'string') {
      return 'its record is not one this dlite wrote'
    }
    return record
  } catch {
    return 'its record is not JSON'
  }
}

/** What stands between a saved state and the VM about to load it; undefined when it may be resumed. */
export function savedStateProblem(record: SavedStateRecord, statePath: string, now: StateIdentity, disk: DiskIdentity | undefined): string | undefined {
  const saved = record.identity
  if (saved.hostBoot !== now.hostBoot) return 'the host was restarted since the save'
  if (saved.qemu.path !== now.qemu.path || saved.qemu.size !== now.qemu.size || saved.qemu.mtimeMs !== now.qemu.mtimeMs) return `QEMU changed since the save (${now.qemu.path})`
  if (saved.imageVersion !== now.imageVersion) return `the OS image changed since the save (${saved.imageVersion} -> ${now.imageVersion})`
  if (saved.argv !== now.argv) return 'the VM\'s hardware changed since the save (its configuration: CPUs, memory, shares, network)'
  if (saved.settings !== now.settings) return 'the guest\'s settings changed since the save (its configuration, or the host\'s DNS servers)'
  if (!disk) return 'the data disk is gone'
  const was = record.dataDisk
  if (was.size !== disk.size || was.ino !== disk.ino || was.mtimeMs !== disk.mtimeMs || was.ctimeMs !== disk.ctimeMs || was.head !== disk.head) {
    return 'the data disk was changed since the save'
  }
  let size: number
  try {
    size = statSync(statePath).size
  } catch {
    return 'the state file is gone'
  }
  if (size !== record.state.bytes) return `the state file is ${size} bytes, not the ${record.state.bytes} saved (truncated or replaced)`
  return undefined
}

/** Writes the record that makes a state file usable; the state is on disk already (state-stream syncs it). */
export function writeSavedStateRecord(paths: SavedStatePaths, record: SavedStateRecord): void {
  writeFileAtomicSync(paths.record, JSON.stringify(record, null, 2) + '\n', 0o600)
}

/** Makes the directory the state goes in, the user's alone. */
export function prepareSavedStateDir(paths: SavedStatePaths): void {
  mkdirSync(dirname(paths.state), {recursive: true, mode: 0o700})
}

/** A state is used once, or never: the record goes first, so a state without one is never trusted. */
export function discardSavedState(paths: SavedStatePaths): void {
  rmSync(paths.record, {force: true})
  rmSync(paths.state, {force: true})
}
