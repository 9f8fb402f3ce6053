// `dlite autostart on|off`: the home's service (a systemd user unit or a LaunchAgent for a user-mode VM, the
// system's for a bridged one) starts the VM at login or boot. The service changes first, the config after it,
// so a refusal leaves both as they were.
import {readConfig} from '../config/index.js'
import {updateConfig} from '../config/store.js'
import {detectServiceManager, registeredService} from '../service/index.js'

export class AutostartUnavailableError extends Error {
  readonly code = 'DLITE_NO_SERVICE_MANAGER'
  constructor(readonly why: string) {
    super(`nothing on this host can start dlite at login: ${why}`)
    this.name = 'AutostartUnavailableError'
  }
}

/** Why autostart cannot work here, or undefined when it can: install checks this before it writes anything. */
export function autostartUnavailable(): string | undefined {
  if (detectServiceManager() !== 'none') return undefined
  return process.platform === 'linux' ? 'systemd is not PID 1 here (a container or a minimal system)' : `no service manager dlite knows on ${process.platform}`
}

export async function setAutostart(home: string, entry: string, on: boolean): Promise<{service: string; autostart: boolean}> {
  const unavailable = autostartUnavailable()
  if (unavailable) throw new AutostartUnavailableError(unavailable)
  const config = await readConfig(home)
  const service = registeredService(home, entry, config.network, on)
  if (!service) throw new AutostartUnavailableError(`the service of ${home} is not registered (dlite install --force registers it)`)
  await service.setAutostart(on)
  updateConfig(home, {autostart: on})
  return {service: `${service.kind} ${service.id}`, autostart: on}
}
