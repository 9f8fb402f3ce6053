// Where everything of one VM lives. DLITE_HOME (default ~/.dlite, or a profile's) holds config, disk, OS images,
// keys, certificates, logs, sockets and pid/lock files; two different homes never share anything.
import {isAbsolute, join, relative, resolve} from 'node:path'

import {invokingUser} from './host/invoking-user.js'

/** ~/.dlite of the user dlite works for (under sudo, the invoking user, not root). */
export function defaultHome(): string {
  return join(invokingUser().home, '.dlite')
}

/**
 * Where oclif keeps the plugins that the user installed (`dlite plugins install`): the daemon is pointed here
 * (DLITE_DATA_DIR) so it loads the same plugins as the user's own commands. A root process never loads plugins
 * from a directory that is not root's alone (host/root-plugin-dir.ts).
 */
export function pluginDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DLITE_DATA_DIR) return env.DLITE_DATA_DIR
  const underSudo = process.getuid?.() === 0 && Boolean(env.SUDO_UID)
  const dataHome = !underSudo && env.XDG_DATA_HOME ? env.XDG_DATA_HOME : join(invokingUser(env).home, '.local', 'share')
  return join(dataHome, 'dlite')
}

/**
 * Where `dlite os build` puts the guest OS image it builds, and where `dlite install` looks for one outside a
 * checkout: <data dir>/os, i.e. DLITE_DATA_DIR/os or ~/.local/share/dlite/os (XDG_DATA_HOME when set), of the
 * invoking user under sudo, as pluginDataDir.
 */
export function osBuildDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(pluginDataDir(env), 'os')
}

/** A profile's name: it becomes a directory, a docker context (`dlite-NAME`) and part of service names. */
export const PROFILE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,29}$/

export class ProfileNameError extends Error {
  readonly code = 'DLITE_PROFILE_NAME'
  constructor(readonly profile: string) {
    super(`invalid profile name ${JSON.stringify(profile)}: use 1-30 lower-case letters, digits and dashes, starting with a letter or digit`)
    this.name = 'ProfileNameError'
  }
}

/**
 * Named instances (`--profile NAME`, DLITE_PROFILE) live side by side in ~/.dlite-profiles/NAME, never inside
 * ~/.dlite: an install or purge of the default home replaces or deletes its directory whole.
 */
export function profilesDir(): string {
  return join(invokingUser().home, '.dlite-profiles')
}

/** The home of a profile; `default` is the default home. */
export function profileHome(name: string): string {
  if (name === 'default') return defaultHome()
  if (!PROFILE_NAME_PATTERN.test(name)) throw new ProfileNameError(name)
  return join(profilesDir(), name)
}

/** The profile a home is, when it is the default home or one in profilesDir(). */
export function profileOf(home: string): string | undefined {
  if (home === defaultHome()) return 'default'
  const name = relative(profilesDir(), home)
  return PROFILE_NAME_PATTERN.test(name) ? name : undefined
}

/** DLITE_HOME wins; then DLITE_PROFILE (what --profile sets); then ~/.dlite. */
export function dliteHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DLITE_HOME
  if (fromEnv && fromEnv.trim() !== '') return isAbsolute(fromEnv) ? fromEnv : resolve(fromEnv)
  if (env.DLITE_PROFILE) return profileHome(env.DLITE_PROFILE)
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
