// Where everything of one VM lives. DLITE_HOME (default ~/.dlite) holds config, disk, OS images, keys,
// certificates, logs, sockets and pid/lock files; two different homes never share anything.
import {isAbsolute, join, resolve} from 'node:path'

import {invokingUser} from './host/invoking-user.js'

/** ~/.dlite of the user dlite works for (under sudo, the invoking user, not root). */
export function defaultHome(): string {
  return join(invokingUser().home, '.dlite')
}

/**
 * Where oclif keeps the plugins that the user installed (`dlite plugins install`): the daemon, which may run
 * as root, is pointed here (DLITE_DATA_DIR) so it loads the same plugins as the user's own commands.
 */
export function pluginDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DLITE_DATA_DIR) return env.DLITE_DATA_DIR
  const underSudo = process.getuid?.() === 0 && Boolean(env.SUDO_UID)
  const dataHome = !underSudo && env.XDG_DATA_HOME ? env.XDG_DATA_HOME : join(invokingUser(env).home, '.local', 'share')
  return join(dataHome, 'dlite')
}

export function dliteHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DLITE_HOME
  if (fromEnv && fromEnv.trim() !== '') return isAbsolute(fromEnv) ? fromEnv : resolve(fromEnv)
  return defaultHome()
}

export interface HomeLayout {
  home: string
  config: string
  disk: string
  images: string
  keys: string
  tls: string
  logs: string
  run: string
}

export function homeLayout(home = dliteHome()): HomeLayout {
  return {
    home,
    config: join(home, 'config.json'),
    disk: join(home, 'disk.img'),
    images: join(home, 'images'),
    keys: join(home, 'keys'),
    tls: join(home, 'tls'),
    logs: join(home, 'logs'),
    run: join(home, 'run'),
  }
}
