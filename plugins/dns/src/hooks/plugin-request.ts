// dlite:plugin-request: the `dlite dns` commands reach the running responder through the daemon. Requests for
// other plugins are not ours (undefined is "no answer").
import type {Config, Hook} from '@oclif/core'
import type {PluginRequestEvent} from 'dlite/plugin'

import {handleRequest} from '../daemon-side.js'
import {loadDlite} from '../dlite.js'
import {PLUGIN_NAME} from '../settings.js'

export default async function hook(this: Hook.Context, options: PluginRequestEvent & {config: Config}): Promise<unknown> {
  if (options.plugin !== PLUGIN_NAME) return undefined
  return handleRequest(options, await loadDlite(options.config), (line) => this.log(line))
}
