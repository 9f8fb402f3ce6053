// Commands that act on an installed VM start here: read the config or say how to install.
import {lstatSync} from 'node:fs'
import {join} from 'node:path'

import {NotInstalledError, readConfig, type DliteConfig} from '../config/index.js'

export async function requireInstalled(home: string, fail: (message: string, fix: string) => never): Promise<DliteConfig> {
  try {
    return await readConfig(home)
  } catch (error) {
    if (error instanceof NotInstalledError) fail(`dlite is not installed in ${home}`, 'run `dlite install` first, or pick another instance (dlite list)')
    throw error
  }
}

/** Root reads a user's config only when it is that user's own regular file, never where a link in their home leads. */
export function configOwnedBy(home: string, uid: number): boolean {
  try {
    const stat = lstatSync(join(home, 'config.json'))
    return stat.isFile() && stat.uid === uid
  } catch {
    return true // not installed: requireInstalled says so
  }
}
