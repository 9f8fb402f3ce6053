// Which network driver a home's VM gets: its config's mode, and on macOS vmnet (socket_vmnet) for `bridged`, where
// Linux has its bridge and tap. The daemon asks this once, when it opens the home.
import {readFile} from 'node:fs/promises'

import type {DliteConfig} from '../../config/index.js'
import {homebrewPrefix} from '../../doctor/macos.js'
import {hostPrivilegesFor} from '../../helper/for-home.js'
import type {HostPrivileges} from '../../helper/privileges.js'
import {probeSocketVmnet} from '../../host/socket-vmnet.js'
import {keyPaths, writeKnownHosts} from '../../keys/index.js'
import {homeId} from '../../network/names.js'
import {homeLayout} from '../../paths.js'
import type {Subnet} from '../../network/subnet.js'
import type {SocketVmnetFacts} from '../../network/vmnet.js'
import {BridgedNetworkDriver} from './bridged.js'
import type {NetworkDriver} from './driver.js'
import {UserNetworkDriver} from './user.js'
import {VmnetNetworkDriver} from './vmnet.js'

export interface DriverChoice {
  home: string
  subnet: Subnet
  hostsFile?: string
  platform?: NodeJS.Platform
  log?: (line: string) => void
  /** Injected by tests; default: the home's (the root helper, or this root process for root's own VM). */
  privileges?: HostPrivileges
  /** Injected by tests that stand in for a Mac; default: what is on this host. */
  probeSocketVmnet?: (prefix: string) => SocketVmnetFacts
  env?: NodeJS.ProcessEnv
  arch?: string
}

export function networkDriverFor(config: Pick<DliteConfig, 'network' | 'hostname' | 'owner' | 'subnet'>, choice: DriverChoice): NetworkDriver {
  if (config.network === 'user') return new UserNetworkDriver()
  const privileges = choice.privileges ?? hostPrivilegesFor(choice.home, config, {hostsFile: choice.hostsFile})
  if ((choice.platform ?? process.platform) !== 'darwin') return new BridgedNetworkDriver({subnet: choice.subnet, privileges})
  const prefix = homebrewPrefix(choice.arch ?? process.arch, choice.env ?? process.env)
  const probe = choice.probeSocketVmnet ?? probeSocketVmnet
  return new VmnetNetworkDriver({
    subnet: choice.subnet, hostname: config.hostname, homeId: homeId(choice.home), privileges,
    probe: () => probe(prefix), homebrewPrefix: prefix, log: choice.log,
    // ssh pins the guest's host key by address on port 22: the pin follows the lease (the hostname's stays)
    onAddress: async (ip) => {
      const keys = keyPaths(homeLayout(choice.home).keys)
      await writeKnownHosts(keys.knownHosts, {ip, hostname: config.hostname, hostPublicKey: await readFile(keys.hostPublicKey, 'utf8')})
    },
  })
}
