// One daemon per DLITE_HOME: the pid file carries a kernel lock (flock) held for the daemon's life. The kernel
// drops it when the daemon dies, so no starter ever judges a lock stale and removes it — two starters that both
// did could each remove the other's fresh lock and both run.
import {closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, rmSync, statSync, writeSync} from 'node:fs'

import {loadNative} from '../host/native.js'

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

/** Whether some process holds the lock on the file at `path`: a shared lock cannot be taken beside it. */
function lockIsHeld(path: string): boolean {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch {
    return false
  }
  try {
    const native = loadNative()
    const free = native.flock(fd, 'shared')
    if (free) native.flock(fd, 'unlock')
    return !free
  } finally {
    closeSync(fd)
  }
}

/** The pid of the live daemon holding the lock, if any: a pid file left by a dead daemon (or whose pid was reused) names no one. */
export function lockHolder(path: string): number | undefined {
  const pid = readPid(path)
  return pid !== undefined && isAlive(pid) && lockIsHeld(path) ? pid : undefined
}

/**
 * Linux: whether `pid` itself holds the flock on the file at `path`, as /proc/locks says (each lock with its
 * pid and the file's device and inode); undefined where there is no /proc/locks. A pid file in a directory the
 * user controls can name any process, and a lock beside it can be anyone's: before a signal goes to the pid
 * it names, the kernel's word that this pid holds the lock.
 */
export function pidHoldsLock(path: string, pid: number, readLocks: () => string = () => readFileSync('/proc/locks', 'utf8')): boolean | undefined {
  let locks: string
  try {
    locks = readLocks()
  } catch {
    return undefined
  }
  let file: {dev: number; ino: number}
  try {
    file = statSync(path)
  } catch {
    return false
  }
  // st_dev as the kernel prints it in /proc/locks: major:minor in hex
  const major = Math.floor(file.dev / 256) % 4096
  const minor = (file.dev % 256) + Math.floor(file.dev / 1_048_576) * 256
  for (const line of locks.split('\n')) {
    const match = /^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line)
    if (!match) continue
    if (Number(match[1]) === pid && Number.parseInt(match[2], 16) === major && Number.parseInt(match[3], 16) === minor && Number(match[4]) === file.ino) return true
  }
  return false
}

function sameFile(fd: number, path: string): boolean {
  try {
    const open = fstatSync(fd)
    const named = statSync(path)
    return open.ino === named.ino && open.dev === named.dev
  } catch {
    return false
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** Takes the lock for this process or throws naming the holder. The returned function releases it. */
export function acquirePidLock(path: string): () => void {
  const native = loadNative()
  // A few tries: lockHolder's probe holds a shared lock for an instant, and a daemon that released the lock
  // between our open and our flock unlinked the file we opened.
  for (let attempt = 0; attempt < 10; attempt++) {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644)
    if (!native.flock(fd, 'exclusive')) {
      closeSync(fd)
      const holder = readPid(path)
      if (holder !== undefined && isAlive(holder) && attempt >= 4) {
        throw new Error(`another dlite daemon (pid ${holder}) already runs for this DLITE_HOME`)
      }
      pause(20)
      continue
    }
    if (!sameFile(fd, path)) {
      closeSync(fd)
      continue
    }
    ftruncateSync(fd, 0)
    writeSync(fd, `${process.pid}\n`, 0)
    let held = true
    return () => {
      if (!held) return
      held = false
      // unlinked while still held, so whoever opens the path next gets a new file and its own lock
      rmSync(path, {force: true})
      closeSync(fd)
    }
  }
  throw new Error(`could not take the lock ${path}: another dlite daemon is starting or stopping for this DLITE_HOME; try again`)
}
