// What a daemon that died without cleaning up (SIGKILL, an OOM kill, a power cut of the host) can leave on the
// host: its VM process, where that did not die with it; socket files; in bridged mode the bridge, tap, NAT and
// hosts line. `dlite status` names them, `dlite stop` removes them, and the next daemon starts clean anyway.
import {lstatSync, rmSync} from 'node:fs'
import {connect} from 'node:net'

import type {DliteConfig} from '../config/index.js'
import {controlSocketPath, guestControlSocketPath, pidFilePath, qmpSocketPath, virtiofsSocketPath, vmRecordPath} from '../daemon/daemon-paths.js'
import {lockHolder} from '../daemon/pid-lock.js'
import {linkExists} from '../network/bridge.js'
import {networkNames} from '../network/names.js'
import {homeLayout} from '../paths.js'
import {liveRecordedVm, stopLeftoverVm, type VmProcessRecord} from '../vm/vm-record.js'

export interface Leftovers {
  /** A VM process that runs without its daemon. */
  vm?: VmProcessRecord
  /** Socket files nobody serves. */
  sockets: string[]
  /** Bridged: the bridge or tap is still there. */
  hostNetwork: string[]
}

/** undefined while a daemon runs for the home: what it made is its own, not left over. */
export async function findLeftovers(home: string, config: Pick<DliteConfig, 'network' | 'dockerSocket'>): Promise<Leftovers | undefined> {
  const layout = homeLayout(home)
  if (lockHolder(pidFilePath(layout)) !== undefined) return undefined
  const sockets: string[] = []
  for (const path of [controlSocketPath(layout), config.dockerSocket, qmpSocketPath(layout), guestControlSocketPath(layout), virtiofsSocketPath(layout)]) {
    if (await isStaleSocket(path)) sockets.push(path)
  }
  const hostNetwork: string[] = []
  if (config.network === 'bridged' && process.platform === 'linux') {
    const names = networkNames(home)
    for (const link of [names.bridge, names.tap]) if (await linkExists(link).catch(() => false)) hostNetwork.push(link)
  }
  return {vm: liveRecordedVm(vmRecordPath(layout)), sockets, hostNetwork}
}

export function describeLeftovers(left: Leftovers): string[] {
  return [
    ...(left.vm ? [`QEMU pid ${left.vm.pid} (its daemon, pid ${left.vm.daemonPid}, is gone)`] : []),
    ...left.sockets.map((path) => `socket ${path}`),
    ...left.hostNetwork.map((link) => `network link ${link}`),
  ]
}

/** Removes what a dead daemon left; returns what it removed. Throws, naming the fix, for what it cannot. */
export async function cleanUpLeftovers(home: string, config: Pick<DliteConfig, 'network' | 'dockerSocket' | 'subnet' | 'hostname' | 'owner'>, hostsFile = '/etc/hosts'): Promise<string[]> {
  const left = await findLeftovers(home, config)
  if (!left) return []
  const removed: string[] = []
  const layout = homeLayout(home)
  if (left.vm) {
    if (!(await stopLeftoverVm(vmRecordPath(layout)))) throw new Error(`QEMU pid ${left.vm.pid} would not stop; kill it: kill -9 ${left.vm.pid}`)
    removed.push(`QEMU pid ${left.vm.pid}`)
  }
  for (const path of left.sockets) {
    rmSync(path, {force: true})
    removed.push(`socket ${path}`)
  }
  if (left.hostNetwork.length > 0) {
    // root's work: the root helper does it for a user's VM (imported here: `dlite status` finds leftovers too)
    const {hostPrivilegesFor} = await import('../helper/for-home.js')
    await hostPrivilegesFor(home, config, {hostsFile}).networkDown()
    removed.push(...left.hostNetwork.map((link) => `network link ${link}`), 'NAT rules', 'hosts line')
  }
  return removed
}

/**
 * A socket file nobody listens on. One that answers is someone's (a docker socket configured where another
 * engine serves, say): it is never taken for left over.
 */
async function isStaleSocket(path: string): Promise<boolean> {
  try {
    if (!lstatSync(path).isSocket()) return false
  } catch {
    return false
  }
  return new Promise((resolve) => {
    const probe = connect(path)
    probe.once('connect', () => {
      probe.destroy()
      resolve(false)
    })
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
}
