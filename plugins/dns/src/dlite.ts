import type {Config} from '@oclif/core'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
export type Dlite = typeof import('dlite/plugin')
/** The dlite core that loaded this plugin: its oclif root package, wherever the plugin itself was installed. */
export async function loadDlite(config: Config): Promise<Dlite> {
  return (await import(pathToFileURL(join(config.root, 'dist', 'plugin-api', 'index.js')).href)) as Dlite
}
