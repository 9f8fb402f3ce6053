// Where a home's daemon keeps its sockets and pid file. Its own module so the CLI's quick commands (ip,
// status, stop) can find the daemon without loading the daemon itself.
import {join} from 'node:path'

import type {HomeLayout} from '../paths.js'
import type {SavedStatePaths} from '../vm/saved-state.js'

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

/** One virtiofsd per shared directory: the socket of the index-th. */
export function virtiofsSocketPath(layout: HomeLayout, index = 0): string {
  return join(layout.run, `virtiofs${index}.sock`)
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

/** The running VM process (pid, start time, disk): how a VM left without its daemon is found. */
export function vmRecordPath(layout: HomeLayout): string {
  return join(layout.run, 'vm.json')
}

/** The guest's readiness port (virtio-serial `org.dlite.ready`): its markers, with no kernel messages among them. */
export function readinessLogPath(layout: HomeLayout): string {
  return join(layout.logs, 'ready.log')
}

/** The readiness log of the boot before. */
export function previousReadinessLogPath(layout: HomeLayout): string {
  return join(layout.logs, 'ready.previous.log')
}

/** The host-to-guest port (virtio-serial `org.dlite.files`): changes under the shares, for the guest's inotify. */
export function shareEventsSocketPath(layout: HomeLayout): string {
  return join(layout.run, 'share-events.sock')
}

/** The host-to-guest port (virtio-serial `org.dlite.control`): the host's clock, for the guest to follow. */
export function guestControlSocketPath(layout: HomeLayout): string {
  return join(layout.run, 'guest-control.sock')
}

/** A VM's saved state (`dlite stop`) and its record; kept with the data disk, which it belongs to. */
export function savedStatePaths(layout: HomeLayout): SavedStatePaths {
  return {state: join(layout.home, 'saved-state', 'vm.state'), record: join(layout.home, 'saved-state', 'vm.state.json')}
}

/** The unix socket a saved state passes through, from QEMU and back into it. */
export function migrationSocketPath(layout: HomeLayout): string {
  return join(layout.run, 'migrate.sock')
}
