// Starting the daemon from the CLI when no service manager runs it: a detached `dlite daemon` whose output
// goes to DLITE_HOME/logs/daemon.log, so it outlives the command that started it.
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, openSync, closeSync} from 'node:fs'
import {join} from 'node:path'

import {pluginDataDir} from '../paths.js'

export interface LaunchOptions {
  /** The CLI's entry point (bin/run.js). */
  entry: string
  home: string
  logDir: string
  extraArgs?: string[]
}

export function launchDaemon(options: LaunchOptions): number {
  mkdirSync(options.logDir, {recursive: true, mode: 0o755})
  const log = openSync(join(options.logDir, 'daemon.log'), 'a', 0o644)
  try {
    const child = spawn(process.execPath, [options.entry, 'daemon', ...(options.extraArgs ?? [])], {
      detached: true,
      stdio: ['ignore', log, log],
      env: {...process.env, DLITE_HOME: options.home, DLITE_DATA_DIR: pluginDataDir()},
    })
    child.unref()
    if (child.pid === undefined) throw new Error(`could not start ${options.entry} daemon`)
    return child.pid
  } finally {
    closeSync(log)
  }
}

/** Waits for a file (the control socket) to appear, or for the launched process (when known) to die first. */
export async function waitForPath(path: string, pid: number | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!existsSync(path)) {
    if (pid !== undefined) {
      try {
        process.kill(pid, 0)
      } catch {
        throw new Error('the dlite daemon exited during start-up')
      }
    }
    if (Date.now() > deadline) throw new Error(`the dlite daemon did not open ${path} within ${Math.round(timeoutMs / 1000)} s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
