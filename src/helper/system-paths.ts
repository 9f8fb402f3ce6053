// Where the root helper keeps what is root's: each home's registration (/etc/dlite/helper), its socket
// (/run/dlite/helper) and its log (/var/log/dlite). DLITE_SYSTEM_DIR moves all three under one directory (tests,
// a packaged install under /opt); it is read from the environment of whoever asks, never from a user's file, and
// the helper refuses to serve from directories anyone but root can change.
import {join, resolve} from 'node:path'

export const SYSTEM_DIR_ENV = 'DLITE_SYSTEM_DIR'

export interface SystemDirs {
  registrations: string
  sockets: string
  logs: string
}

export function systemDirs(env: NodeJS.ProcessEnv = process.env): SystemDirs {
  const base = env[SYSTEM_DIR_ENV]?.trim()
  if (base) {
    const root = resolve(base)
    return {registrations: join(root, 'etc', 'helper'), sockets: join(root, 'run', 'helper'), logs: join(root, 'log')}
  }
  return {registrations: '/etc/dlite/helper', sockets: '/run/dlite/helper', logs: '/var/log/dlite'}
}

const HOME_ID = /^[0-9a-f]{6}$/

function checkedId(homeId: string): string {
  if (!HOME_ID.test(homeId)) throw new Error(`not a dlite home id: ${JSON.stringify(homeId)}`)
  return homeId
}

export function registrationPath(homeId: string, dirs: SystemDirs = systemDirs()): string {
  return join(dirs.registrations, `${checkedId(homeId)}.json`)
}

export function helperSocketPath(homeId: string, dirs: SystemDirs = systemDirs()): string {
  return join(dirs.sockets, `${checkedId(homeId)}.sock`)
}

export function helperLogPath(homeId: string, dirs: SystemDirs = systemDirs()): string {
  return join(dirs.logs, `helper-${checkedId(homeId)}.log`)
}

/** Where the helper records the address a vmnet VM (macOS) got from DHCP: what routes go via. */
export function vmAddressPath(homeId: string, dirs: SystemDirs = systemDirs()): string {
  return join(dirs.registrations, `${checkedId(homeId)}.vm-address`)
}

/** Where the helper records the resolver files it wrote for the home (so it removes exactly those). */
export function resolverStateDir(homeId: string, dirs: SystemDirs = systemDirs()): string {
  return join(dirs.registrations, `${checkedId(homeId)}.resolver`)
}
