// The plugin surface of the dlite core that loaded this plugin: its type (the kit's loadDlite finds the code at
// run time, since an installed plugin cannot import the core by name) and where dlite-dns keeps its state.
import type {Config} from '@oclif/core'
import {loadDlite as loadCore} from 'dlite-kit/load-dlite'

import {PLUGIN_NAME} from './settings.js'

export type Dlite = typeof import('dlite-cli/plugin')

export function loadDlite(config: Pick<Config, 'root'>): Promise<Dlite> {
  return loadCore<Dlite>(config)
}

/** Where dlite-dns keeps its settings and resolver records for the dlite home. */
export function dnsStateDir(dlite: Pick<Dlite, 'pluginStateDir'>, home: string): string {
  return dlite.pluginStateDir(home, PLUGIN_NAME)
}
