// Running a command as root in the guest, for plugins (firewall rules, sysctls): ssh as user `docker` with
// dlite's own key and the host key pinned at install, then `sudo -n`. Nothing goes through a shell on the
// host; on the guest side every argument is single-quoted.
import {join} from 'node:path'

import {keyPaths, sshClientArgs} from '../keys/index.js'
import {run, type Runner} from 'dlite-kit/exec'

export interface GuestExecOptions {
  input?: string
  /** How long to keep trying while sshd in a just-booted guest is not up yet, and for the command itself. */
  timeoutMs?: number
  runner?: Runner
}

export interface GuestExecResult {
  code: number
  stdout: string
  stderr: string
}

/** ssh's own exit code when it could not connect or authenticate (the remote command never ran). */
const SSH_FAILED = 255

export function quoteForGuestShell(argv: string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ')
}

/** `vm.sshPort`: where the guest's sshd is reached when not on port 22 of `vm.ip` (a user-mode VM's forward). */
export async function guestExec(vm: {home: string; ip: string; sshPort?: number}, argv: string[], options: GuestExecOptions = {}): Promise<GuestExecResult> {
  if (argv.length === 0) throw new Error('guestExec needs a command')
  const runner = options.runner ?? run
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  // Everything after the host is the remote command line, which the guest's shell splits again.
  const args = ['-o', 'ConnectTimeout=5', ...sshClientArgs(keyPaths(join(vm.home, 'keys')), {ip: vm.ip, port: vm.sshPort}), `sudo -n -- ${quoteForGuestShell(argv)}`]
  for (;;) {
    const result = await runner('ssh', args, {input: options.input, timeoutMs: Math.max(1000, deadline - Date.now())})
    if (result.code !== SSH_FAILED || Date.now() >= deadline) return result
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}
