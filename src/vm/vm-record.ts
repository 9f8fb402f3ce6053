// The VM process a daemon runs, recorded in the home (pid, the kernel's start time for it, the data disk), so
// that a VM left without its daemon — a daemon killed where its VM could not be made to die with it — is found
// by the next `dlite status`, `stop` or `start`, and stopped. A pid alone could name an unrelated process by
// now: only a live process with the recorded start time whose command line names this home's data disk is
// taken for the VM, and only that one is ever signalled.
import {execFileSync} from 'node:child_process'
import {readFileSync, rmSync} from 'node:fs'

import {writeFileAtomic} from 'dlite-kit/atomic-write'

export interface VmProcessRecord {
  pid: number
  /** The kernel's start time of pid (Linux: clock ticks since boot; macOS: ps's lstart). */
  startTime: string
  /** The data disk, which the VM's command line names. */
  disk: string
  /** The daemon that ran it. */
  daemonPid: number
}

export interface ProcessFacts {
  startTime(pid: number): string | undefined
  commandLine(pid: number): string | undefined
}

/** What the host says about a process, from /proc on Linux and ps elsewhere; undefined for a process that is gone. */
export const hostProcesses: ProcessFacts = {
  startTime(pid) {
    if (process.platform === 'linux') {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        // field 22; the command name (field 2) may hold spaces and parentheses, so count from the last ')'
        return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
      } catch {
        return undefined
      }
    }
    return psField(pid, 'lstart=')
  },
  commandLine(pid) {
    if (process.platform === 'linux') {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
      } catch {
        return undefined
      }
    }
    return psField(pid, 'command=')
  },
}

function psField(pid: number, field: string): string | undefined {
  try {
    return execFileSync('ps', ['-o', field, '-p', String(pid)], {encoding: 'utf8', timeout: 5000}).trim() || undefined
  } catch {
    return undefined
  }
}

export async function writeVmRecord(path: string, pid: number, disk: string, facts: ProcessFacts = hostProcesses): Promise<void> {
  const startTime = facts.startTime(pid)
  if (startTime === undefined) return // gone already: nothing is left to find
  const record: VmProcessRecord = {pid, startTime, disk, daemonPid: process.pid}
  await writeFileAtomic(path, `${JSON.stringify(record)}\n`, 0o644) // nothing secret: a bridged VM's user reads it for status
}

/** Forgets the record of pid (a record of a later VM is kept). */
export function clearVmRecord(path: string, pid: number): void {
  if (readVmRecord(path)?.pid === pid) rmSync(path, {force: true})
}

export function readVmRecord(path: string): VmProcessRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<VmProcessRecord>
    const {pid, startTime, disk, daemonPid} = parsed
    if (!Number.isInteger(pid) || pid! <= 1 || typeof startTime !== 'string' || typeof disk !== 'string' || !Number.isInteger(daemonPid)) return undefined
    return {pid: pid!, startTime, disk, daemonPid: daemonPid!}
  } catch {
    return undefined
  }
}

/** The recorded VM process, when it still runs and is what the record says; undefined otherwise. */
export function liveRecordedVm(path: string, facts: ProcessFacts = hostProcesses): VmProcessRecord | undefined {
  const record = readVmRecord(path)
  if (!record) return undefined
  if (facts.startTime(record.pid) !== record.startTime) return undefined
  const commandLine = facts.commandLine(record.pid)
  return commandLine?.includes(record.disk) ? record : undefined
}

/**
 * Stops a VM left without its daemon: SIGTERM (QEMU flushes its disks and exits), SIGKILL after graceMs.
 * Resolves true when it is gone. The record is removed once it is.
 */
export async function stopLeftoverVm(path: string, graceMs = 10_000, facts: ProcessFacts = hostProcesses): Promise<boolean> {
  const record = liveRecordedVm(path, facts)
  if (!record) {
    rmSync(path, {force: true})
    return true
  }
  const stillThere = () => facts.startTime(record.pid) === record.startTime
  for (const [signal, waitMs] of [['SIGTERM', graceMs], ['SIGKILL', 5000]] as const) {
    try {
      process.kill(record.pid, signal)
    } catch {
      // gone between the check and the signal
    }
    const deadline = Date.now() + waitMs
    while (stillThere() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    if (!stillThere()) {
      rmSync(path, {force: true})
      return true
    }
  }
  return false
}
