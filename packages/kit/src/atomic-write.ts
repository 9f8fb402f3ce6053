// Writing a file that matters, for the core and the plugins alike: to a new temp file beside it (O_EXCL and a
// random name, so nothing planted there is followed or reused), given its mode (and owner) through the open
// descriptor, synced, then renamed over the target, so a reader sees the old file or the new one, never half.
// The same steps twice, async and sync, because plugin settings are written from synchronous code.
import {randomBytes} from 'node:crypto'
import {closeSync, fchmodSync, fchownSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {open, rename, rm} from 'node:fs/promises'

/** Who the written file should belong to (a root command writing in a user's directory hands it to the user). */
export interface FileOwner {
  uid: number
  gid: number
}

function tempPathFor(path: string): string {
  return `${path}.dlite-${randomBytes(6).toString('hex')}.tmp`
}

export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644, owner?: FileOwner): Promise<void> {
  const temp = tempPathFor(path)
  const handle = await open(temp, 'wx', mode)
  try {
    try {
      await handle.writeFile(data)
      await handle.chmod(mode) // the umask must not loosen or tighten what was asked for
      if (owner) await handle.chown(owner.uid, owner.gid)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (error) {
    await rm(temp, {force: true})
    throw error
  }
}

export function writeFileAtomicSync(path: string, data: string | Buffer, mode = 0o644, owner?: FileOwner): void {
  const temp = tempPathFor(path)
  const fd = openSync(temp, 'wx', mode)
  try {
    try {
      writeFileSync(fd, data)
      fchmodSync(fd, mode)
      if (owner) fchownSync(fd, owner.uid, owner.gid)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temp, path)
  } catch (error) {
    rmSync(temp, {force: true})
    throw error
  }
}
