// Undoing an install: the VM stopped, the service, hosts line and docker context gone (the context that was
// current before dlite's is current again); with purge, the whole DLITE_HOME too. Each step is idempotent so a
// second uninstall (or one after a crash) finishes the job.
import {rmSync} from 'node:fs'

import {isInstalled, readConfig} from '../config/index.js'
import {CLEAN_STOP_TIMEOUT_MS} from '../daemon/control-protocol.js'
import {contextName, removeDockerContext} from '../docker/context.js'
import {hostPrivilegesFor, isRootsOwnVm} from '../helper/for-home.js'
import {readRegistration} from '../helper/registration.js'
import {removeHostsEntry} from '../network/hosts-file.js'
import {homeId} from '../network/names.js'
import {homeService} from '../service/index.js'
import {restorePreviousContext} from './context-activation.js'
import {systemSocketState, unlinkSystemSocket} from './system-socket.js'
import {stopVm} from './vm-control.js'

export interface UninstallResult {
  home: string
  wasInstalled: boolean
  stopped: boolean
  service: string
  context: string
  /** The /var/run/docker.sock link to this VM: removed (as root), or left for `sudo dlite docker-socket unlink`. */
  systemSocket: string
  /** A user's bridged VM: its registration with the root helper stays until `sudo dlite network remove`. */
  rootHelper: string
  purged: boolean
}

export async function uninstall(home: string, options: {purge: boolean; hostsFile?: string; entry: string}): Promise<UninstallResult> {
  const result: UninstallResult = {home, wasInstalled: isInstalled(home), stopped: false, service: 'none', context: 'none', systemSocket: 'none', rootHelper: 'none', purged: false}
  if (!result.wasInstalled) {
    if (options.purge) {
      rmSync(home, {recursive: true, force: true})
      result.purged = true
    }
    return result
  }
  const config = await readConfig(home)
  result.stopped = (await stopVm(home, config, CLEAN_STOP_TIMEOUT_MS, {cold: true, hostsFile: options.hostsFile})).wasRunning

  const manager = homeService(home, options.entry, config.network)
  if (manager) {
    await manager.uninstall()
    result.service = `${manager.kind} ${manager.id} removed`
  }
  // stop removes the hosts line; this catches a daemon that died without cleaning up (a user-mode VM has none).
  // For a user's VM that is the root helper's work, and the helper itself is root's to remove.
  if (config.network === 'bridged' && isRootsOwnVm(home, config)) await removeHostsEntry(options.hostsFile ?? '/etc/hosts', homeId(home))
  if (readRegistration(home)) {
    if (config.network === 'bridged' && !isRootsOwnVm(home, config)) await hostPrivilegesFor(home, config).networkDown().catch(() => {})
    result.rootHelper = 'still registered: `sudo dlite network remove` stops it and forgets this home'
  }
  const name = contextName(home)
  const restored = await restorePreviousContext(home, name, config.owner)
  const context = await removeDockerContext(name, config.owner)
  result.context = context.ok ? `${name} removed${restored ? `; ${restored} is current again` : ''}` : `not removed: ${context.reason}`
  result.systemSocket = removeSystemSocketLink(config.dockerSocket)
  if (options.purge) {
    rmSync(home, {recursive: true, force: true})
    result.purged = true
  }
  return result
}

/** Only root may remove the link; a user is told the command. A link that leads elsewhere is not dlite's to touch. */
function removeSystemSocketLink(target: string): string {
  const state = systemSocketState(target)
  if (state.kind !== 'ours' && !state.persistent) return 'none'
  if (process.getuid?.() !== 0) return `${state.path} still leads here: sudo dlite docker-socket unlink removes it`
  try {
    unlinkSystemSocket(target)
    return `${state.path} removed`
  } catch (error) {
    return `${state.path} not removed: ${(error as Error).message}`
  }
}
