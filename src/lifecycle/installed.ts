// Commands that act on an installed VM start here: read the config or say how to install.
import {NotInstalledError, readConfig, type DliteConfig} from '../config/index.js'

export async function requireInstalled(home: string, fail: (message: string, fix: string) => never): Promise<DliteConfig> {
  try {
    return await readConfig(home)
  } catch (error) {
    if (error instanceof NotInstalledError) fail(`dlite is not installed in ${home}`, 'run `dlite install` first, or pick another instance (dlite list)')
    throw error
  }
}
