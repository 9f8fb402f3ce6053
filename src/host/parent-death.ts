// A child that must not outlive its parent (QEMU, virtiofsd under the daemon): on Linux it is started through
// util-linux's setpriv with a parent-death signal, so a daemon killed with SIGKILL (an OOM kill, a crash) takes
// its VM with it. SIGTERM, not SIGKILL: QEMU flushes its block layer on SIGTERM, so the data disk holds what
// the guest had synced, as after a power cut. Where setpriv cannot do it (macOS, an old util-linux) nothing is
// wrapped, and the VM process record (vm/vm-record.ts) lets the next dlite find and stop the orphan.
import {spawnSync} from 'node:child_process'

import {which} from 'dlite-kit/exec'

export interface Command {
  binary: string
  args: string[]
}

let setprivPath: string | null | undefined

/** setpriv, when it has --pdeathsig (util-linux 2.33 and later); null where it does not. */
export function parentDeathHelper(): string | null {
  if (setprivPath !== undefined) return setprivPath
  setprivPath = null
  if (process.platform !== 'linux') return setprivPath
  const found = which('setpriv')
  if (found && spawnSync(found, ['--help'], {encoding: 'utf8', timeout: 5000}).stdout?.includes('--pdeathsig')) setprivPath = found
  return setprivPath
}

/** The command run so that it gets SIGTERM when the process that spawned it dies; unchanged where that is not possible. */
export function dieWithParent(command: Command, helper: string | null = parentDeathHelper()): Command {
  if (!helper) return command
  // setpriv execs the program: the pid the parent knows is the program's own
  return {binary: helper, args: ['--pdeathsig', 'TERM', '--', command.binary, ...command.args]}
}
