// Where a home's daemon keeps its sockets and pid file. Its own module so the CLI's quick commands (ip,
// status, stop) can find the daemon without loading the daemon itself.
import {join} from 'node:path'

import type {HomeLayout} from '../paths.js'

export function controlSocketPath(layout: HomeLayout): string {
  return join(layout.run, 'control.sock')
}

export function pidFilePath(layout: HomeLayout): string {
  return join(layout.run, 'daemon.pid')
}

export function consoleLogPath(layout: HomeLayout): string {
  return join(layout.logs, 'console.log')
}

/** The boot before's console: each QEMU launch moves console.log here. */
export function previousConsoleLogPath(layout: HomeLayout): string {
  return join(layout.logs, 'console.previous.log')
}

export function qmpSocketPath(layout: HomeLayout): string {
  return join(layout.run, 'qmp.sock')
}

export function virtiofsSocketPath(layout: HomeLayout): string {
  return join(layout.run, 'virtiofs.sock')
}

/** The guest settings bundle QEMU hands over as fw_cfg: 0600, removed at stop. */
export function settingsBundlePath(layout: HomeLayout): string {
  return join(layout.run, 'settings.tar')
}

export function qemuLogPath(layout: HomeLayout): string {
  return join(layout.logs, 'qemu.log')
}

export function virtiofsdLogPath(layout: HomeLayout): string {
  return join(layout.logs, 'virtiofsd.log')
}
