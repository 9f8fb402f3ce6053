// An installed plugin lives in the user's oclif data directory, where the dlite CLI cannot be resolved by name;
// the core that loaded it can: oclif's `config.root` is the CLI's own package directory.
import type {Config} from '@oclif/core'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

/**
 * The plugin surface of the dlite core that loaded this plugin (`dist/plugin-api/index.js` under its root).
 * Name its type: `loadDlite<typeof import('dlite-cli/plugin')>(this.config)`.
 */
export async function loadDlite<Api>(config: Pick<Config, 'root'>): Promise<Api> {
  return (await import(pathToFileURL(join(config.root, 'dist', 'plugin-api', 'index.js')).href)) as Api
}
