// The service that runs `dlite daemon` for one DLITE_HOME, under whatever service manager this host has.
// install registers it, start starts it when registered, uninstall removes it: all from this one place.
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import type {NetworkMode} from '../config/index.js'
import {homeId} from '../network/names.js'
import {defaultHome, homeLayout, pluginDataDir} from '../paths.js'
import {detectServiceManager, serviceManager, type ServiceManager} from './manager.js'
import {serviceNames} from './definitions.js'

/**
 * The service for `home`, or undefined when no service manager runs here (start spawns the daemon). A
 * user's VM's service is the user's own (systemd --user, a LaunchAgent), whatever its network; root's own bridged
 * VM's is the system's.
 */
export function homeService(home: string, entry: string, network: NetworkMode, autostart = false): ServiceManager | undefined {
  const names = serviceNames(homeId(home), home === defaultHome())
  return serviceManager(detectServiceManager(), {
    scope: network === 'user' || process.getuid?.() !== 0 ? 'user' : 'system',
    home,
    command: [process.execPath, entry, 'daemon'],
    name: names.name,
    env: {PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', DLITE_DATA_DIR: pluginDataDir()},
    logFile: join(homeLayout(home).logs, 'daemon.log'),
    autostart,
  }, names)
}

/** The home's service if its definition has been written (by install). */
export function registeredService(home: string, entry: string, network: NetworkMode, autostart = false): ServiceManager | undefined {
  const service = homeService(home, entry, network, autostart)
  return service && existsSync(service.path) ? service : undefined
}
