// What a plugin's command needs to know about the VM it acts on, and its way to reach the plugin's own code
// in the daemon (which runs as the VM's user, next to the VM) through the daemon's control socket.
import {join} from 'node:path'

import {NotInstalledError, readConfig} from '../config/index.js'
import {converse, queryStatus} from '../daemon/control-client.js'
import {controlSocketPath} from '../daemon/daemon-paths.js'
import {networkNames} from '../network/names.js'
import {parseSubnet} from '../network/subnet.js'
import {dliteHome, homeLayout} from '../paths.js'
import type {VmNetworkMode, VmReadyEvent} from './index.js'

export interface VmContext {
  /** The DLITE_HOME the command acts on (DLITE_HOME, else the invoking user's ~/.dlite). */
  home: string
  installed: boolean
  /** The installed VM's network mode (also while it is stopped). */
  network?: VmNetworkMode
  /** Set when the VM runs and docker answers: the same facts the daemon's `dlite:vm-ready` hook got. */
  vm?: VmReadyEvent
}

export async function vmContext(options: {home?: string} = {}): Promise<VmContext> {
  const home = options.home ?? dliteHome()
  let config
  try {
    config = await readConfig(home)
  } catch (error) {
    if (error instanceof NotInstalledError) return {home, installed: false}
    throw error
  }
  const status = await queryStatus(controlSocketPath(homeLayout(home)))
  if (status?.state !== 'running') return {home, installed: true, network: config.network}
  const subnet = parseSubnet(config.subnet)
  return {
    home,
    installed: true,
    network: config.network,
    vm: {
      home, network: config.network, ip: status.ip, hostname: config.hostname, subnet: subnet.cidr, hostIp: subnet.hostIp,
      bridge: networkNames(home).bridge, docker: {kind: 'unix', socketPath: config.dockerSocket},
    },
  }
}

/** Where a plugin keeps its state for one VM: `<home>/plugins/<plugin>`. */
export function pluginStateDir(home: string, plugin: string): string {
  return join(home, 'plugins', plugin)
}

/**
 * Runs the named plugin's `dlite:plugin-request` handler inside the daemon and returns its result. Throws
 * when the daemon is not running, or with the handler's own error message.
 */
export async function sendPluginRequest(home: string, plugin: string, request: unknown, timeoutMs = 60_000): Promise<unknown> {
  let result: unknown
  await converse(controlSocketPath(homeLayout(home)), {op: 'plugin', plugin, request}, (message) => {
    if (message.type !== 'plugin') return false
    result = message.result
    return true
  }, timeoutMs)
  return result
}
