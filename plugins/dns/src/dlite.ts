import type {Config} from '@oclif/core'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {PLUGIN_NAME} from './settings.js'

export type Dlite = typeof import('dlite/plugin')
/** The dlite core that loaded this plugin: its oclif root package, wherever the plugin itself was installed. */
export async function loadDlite(config: Config): Promise<Dlite> {
  return (await import(pathToFileURL(join(config.root, 'dist', 'plugin-api', 'index.js')).href)) as Dlite
}

/** Where dlite-dns keeps its settings and resolver records for the dlite home. */
export function dnsStateDir(dlite: Pick<Dlite, 'pluginStateDir'>, home: string): string {
  return dlite.pluginStateDir(home, PLUGIN_NAME)
}
