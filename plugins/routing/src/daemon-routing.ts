// Wires the session to the real world: dlite's docker client, guestExec and host privileges (from the core that
// loaded the plugin; the root helper changes routes for a user's VM), the host's routing table, state.json, and
// the daemon's log. One session per daemon process.
import type {Config} from '@oclif/core'

import {daemonLogger} from 'dlite-kit/daemon-log'
import {run} from 'dlite-kit/exec'
import {loadDlite} from 'dlite-kit/load-dlite'

import type {Dlite} from './dlite.js'
import {privilegedBackend, routeReader} from './route-backend.js'
import {Router} from './router.js'
import {RoutingSession} from './session.js'
import {PLUGIN_NAME, readSetting} from './setting.js'

let session: Promise<RoutingSession> | undefined

/** The daemon's log is its stdout; lines look like the core's own. */
export const daemonLog = daemonLogger(PLUGIN_NAME)

export function routingSession(config: Config): Promise<RoutingSession> {
  session ??= loadDlite<Dlite>(config).then((dlite) => {
    const readRoutes = routeReader(process.platform, run)
    return new RoutingSession({
      makeRouter: (event) => new Router(
        {ip: event.ip, hostIp: event.hostIp, bridge: event.bridge, subnet: event.subnet},
        {
          docker: event.docker ? new dlite.DockerClient(event.docker) : undefined,
          guest: (argv) => dlite.guestExec({home: event.home, ip: event.ip}, argv, {timeoutMs: 90_000}),
          backend: privilegedBackend(readRoutes, dlite.hostPrivileges(event.home)),
          log: daemonLog,
        },
      ),
      isEnabled: (home) => {
        try {
          return readSetting(dlite.pluginStateDir(home, PLUGIN_NAME)).enabled
        } catch (error) {
          daemonLog(`${(error as Error).message}; routing stays off`)
          return false
        }
      },
      log: daemonLog,
    })
  })
  session.catch(() => (session = undefined)) // a failed load is tried again at the next hook, not cached
  return session
}
