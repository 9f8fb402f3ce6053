// One daemon per DLITE_HOME: a pid file created exclusively; a file left by a dead process is taken over.
import {openSync, readFileSync, rmSync, writeSync, closeSync} from 'node:fs'

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** The pid of the live process holding the lock, if any. */
export function lockHolder(path: string): number | undefined {
  const pid = readPid(path)
  return pid !== undefined && isAlive(pid) ? pid : undefined
}

/** Takes the lock for this process or throws naming the holder. */
export function acquirePidLock(path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return () => {
        if (readPid(path) === process.pid) rmSync(path, {force: true})
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = lockHolder(path)
      if (holder !== undefined) throw new Error(`another dlite daemon (pid ${holder}) already runs for this DLITE_HOME`)
      rmSync(path, {force: true}) // stale: its process is gone
    }
  }
  throw new Error(`could not take the lock ${path}`)
}
