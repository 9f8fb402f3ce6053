// No plugin code of a user's runs as root. oclif loads the plugins a user installed from its data directory
// (DLITE_DATA_DIR, else XDG_DATA_HOME or HOME/.local/share, then /dlite): under sudo that environment can be the
// user's, and a plugin's hooks would then run as root in every `sudo dlite` command (and in the root helper). So a
// root process only ever loads plugins from a directory that is root's alone; any other is replaced by root's own,
// and it says so.
import {existsSync} from 'node:fs'
import {userInfo} from 'node:os'
import {dirname, join} from 'node:path'

import {rootOnlyPathProblems} from '../service/root-owned.js'

/** The data directory oclif would use with this environment (its own rule, for the `dlite` bin). */
export function oclifDataDir(env: NodeJS.ProcessEnv): string {
  if (env.DLITE_DATA_DIR) return env.DLITE_DATA_DIR
  const base = env.XDG_DATA_HOME || join(env.HOME || userInfo().homedir, '.local', 'share')
  return join(base, 'dlite')
}

/** Returns the warning when it replaced the data directory (a root process only); changes `env` in place. */
export function keepRootToRootsPlugins(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.(), problemsOf = rootOnlyPathProblems): string | undefined {
  if (uid !== 0) return undefined
  const dir = oclifDataDir(env)
  let existing = dir
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing)
  const problems = problemsOf(existing)
  if (problems.length === 0) return undefined
  const own = join(userInfo().homedir, '.local', 'share', 'dlite')
  env.DLITE_DATA_DIR = own
  return `dlite: as root, plugins are loaded from ${own}, not from ${dir} (${problems[0]})`
}
