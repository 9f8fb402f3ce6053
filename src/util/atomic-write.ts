// Writing a file that matters: to a new temp file beside it (O_EXCL, a random name, so nothing planted there
// is followed or reused), synced, then renamed over the target, so a reader sees the old file or the new one.
import {randomBytes} from 'node:crypto'
import {open, rename, rm} from 'node:fs/promises'

export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const temp = `${path}.dlite-${randomBytes(6).toString('hex')}.tmp`
  const handle = await open(temp, 'wx', mode)
  try {
    await handle.writeFile(data)
    await handle.chmod(mode) // the umask must not loosen or tighten what was asked for
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, path)
  } catch (error) {
    await rm(temp, {force: true})
    throw error
  }
}
