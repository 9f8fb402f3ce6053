// No plugin code of a user's runs as root. oclif loads the plugins a user installed from its data directory
// (DLITE_DATA_DIR, else XDG_DATA_HOME or HOME/.local/share, then /dlite): under sudo that environment can be the
// user's, and a plugin's hooks would then run as root in every `sudo dlite` command (and in the root helper). So a
// root process loads installed plugins only from a directory that is root's alone; from any other it loads none
// (the bundled ones still load), and it says so. DLITE_DATA_DIR itself is left as it is: dlite's own uses of it
// (where `sudo dlite os build` puts the image for the user) stay the user's.
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

/** Whether this process may load the plugins installed in its data directory; the warning when it may not. */
export function installedPluginsAllowed(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.(), problemsOf = rootOnlyPathProblems): {allowed: boolean; warning?: string} {
  if (uid !== 0) return {allowed: true}
  const dir = oclifDataDir(env)
  let existing = dir
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing)
  const problems = problemsOf(existing)
  if (problems.length === 0) return {allowed: true}
  return {allowed: false, warning: `dlite: as root, no installed plugin is loaded from ${dir} (${problems[0]}); bundled ones are`}
}
