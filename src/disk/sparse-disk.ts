// The VM's data disk: a sparse raw file, so a 20 GiB disk costs nothing until docker writes to it (and
// shrinks again when the guest trims). Created with O_EXCL: an existing disk holds the user's
// containers and volumes and is only replaced when the caller says so.
import {constants} from 'node:fs'
import {mkdir, open, stat} from 'node:fs/promises'
import {dirname} from 'node:path'

const GiB = 1024 ** 3

export interface DiskUsage {
  /** The size the guest sees. */
  apparentBytes: number
  /** What the host file system actually holds for it (st_blocks * 512). */
  allocatedBytes: number
}

export class DiskExistsError extends Error {
  readonly code = 'DLITE_DISK_EXISTS'
  constructor(readonly path: string) {
    super(`${path} already exists and holds the VM's data (containers, images, volumes): refusing to overwrite it`)
    this.name = 'DiskExistsError'
  }
}

/** Creates (or with `overwrite`, recreates empty) a sparse raw disk of `sizeGiB`. Mode 0600: it is user data. */
export async function createSparseDisk(path: string, sizeGiB: number, opts: {overwrite?: boolean} = {}): Promise<DiskUsage> {
  if (!Number.isSafeInteger(sizeGiB) || sizeGiB < 1) throw new Error(`disk size must be a whole number of GiB, got ${sizeGiB}`)
  await mkdir(dirname(path), {recursive: true})
  const flags = constants.O_RDWR | constants.O_CREAT | (opts.overwrite ? constants.O_TRUNC : constants.O_EXCL)
  let handle
  try {
    handle = await open(path, flags, 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new DiskExistsError(path)
    throw error
  }
  try {
    // ftruncate extends without writing a byte: the file is all hole.
    await handle.truncate(sizeGiB * GiB)
    await handle.sync()
  } finally {
    await handle.close()
  }
  return diskUsage(path)
}

/**
 * Makes the disk at least `sizeGiB` (`dlite config set disk=N`): the new space is a hole, and the guest grows its
 * file system into it at boot. Never shrinks. Returns whether it grew.
 */
export async function growSparseDisk(path: string, sizeGiB: number): Promise<boolean> {
  const target = sizeGiB * GiB
  if ((await stat(path)).size >= target) return false
  const handle = await open(path, constants.O_RDWR)
  try {
    await handle.truncate(target)
    await handle.sync()
  } finally {
    await handle.close()
  }
  return true
}

export async function diskUsage(path: string): Promise<DiskUsage> {
  const info = await stat(path)
  return {apparentBytes: info.size, allocatedBytes: info.blocks * 512}
}
