// dlite:plugin-request: the `dlite dns` commands reach the running responder through the daemon. Requests for
// other plugins are not ours (undefined is "no answer").
import type {Config} from '@oclif/core'
import type {PluginRequestEvent} from 'dlite-cli/plugin'

import {daemonLog, handleRequest} from '../daemon-side.js'
import {loadDlite} from '../dlite.js'
import {PLUGIN_NAME} from '../settings.js'

export default async function hook(options: PluginRequestEvent & {config: Config}): Promise<unknown> {
  if (options.plugin !== PLUGIN_NAME) return undefined
  return handleRequest(options, await loadDlite(options.config), daemonLog)
}
