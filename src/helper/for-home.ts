// Who does a home's root work. Root's own VM (a root daemon on a root-owned home): the daemon itself, by the
// same rules as the helper. Anyone else's: the root helper registered for that home, over its socket. The
// helper obeys its registration (registration.ts), never the user's config.
import {lstatSync} from 'node:fs'

import type {DliteConfig} from '../config/index.js'
import {readConfig} from '../config/index.js'
import {loadNative, nativeModulePath} from '../host/native.js'
import {homeId} from '../network/names.js'
import {HostNetworkActions} from './actions.js'
import {HelperClient, offThreadFdRequester} from './client.js'
import type {HostPrivileges} from './privileges.js'
import {makeRegistration, type HelperRegistration} from './registration.js'
import {helperSocketPath, resolverStateDir} from './system-paths.js'

/**
 * Root's own VM: this process is root, and so is the home's owner — by the home directory itself, which its user
 * cannot give away, not only by the config, which they can edit.
 */
export function isRootsOwnVm(home: string, config: Pick<DliteConfig, 'owner'>): boolean {
  return process.getuid?.() === 0 && (config.owner?.uid ?? 0) === 0 && homeOwnerUid(home) === 0
}

/** Who owns the home directory (root for one not made yet: only root's install makes it then). */
export function homeOwnerUid(home: string): number {
  try {
    return lstatSync(home).uid
  } catch {
    return process.getuid?.() ?? 0
  }
}

/** The verbs done in this (root) process for one registration: the helper's, and a root daemon's own. */
export function rootActions(registration: HelperRegistration): HostNetworkActions {
  const native = loadNative()
  return new HostNetworkActions(registration, {
    openTap: (name) => native.openTap(name).fd, closeFd: (fd) => native.closeFd(fd),
    bindSocket: (protocol, address, port) => native.bindSocket(protocol, address, port),
    resolverStateDir: resolverStateDir(registration.homeId),
  })
}

export function hostPrivilegesFor(home: string, config: Pick<DliteConfig, 'owner' | 'subnet' | 'hostname'>, options: {hostsFile?: string} = {}): HostPrivileges {
  if (isRootsOwnVm(home, config)) {
    return rootActions(makeRegistration({home, owner: {uid: 0, gid: 0}, subnet: config.subnet, hostname: config.hostname, hostsFile: options.hostsFile}))
  }
  loadNative() // a missing or broken addon is named here, with its fix, not inside a worker
  return new HelperClient(helperSocketPath(homeId(home)), offThreadFdRequester(nativeModulePath()))
}

/** The plugin surface's form: the home's config is read at the first request. */
export function hostPrivilegesForHome(home: string): HostPrivileges {
  let privileges: Promise<HostPrivileges> | undefined
  const get = () => (privileges ??= readConfig(home).then((config) => hostPrivilegesFor(home, config)))
  return {
    networkUp: async () => (await get()).networkUp(),
    openTap: async () => (await get()).openTap(),
    networkDown: async () => (await get()).networkDown(),
    setVmAddress: async (ip) => (await get()).setVmAddress(ip),
    addRoute: async (subnet) => (await get()).addRoute(subnet),
    removeRoute: async (subnet) => (await get()).removeRoute(subnet),
    dnsSocket: async (protocol) => (await get()).dnsSocket(protocol),
    writeResolver: async (domain, mode) => (await get()).writeResolver(domain, mode),
    removeResolver: async () => (await get()).removeResolver(),
  }
}
