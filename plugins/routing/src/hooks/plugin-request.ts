// dlite:plugin-request: `dlite routing enable|disable|status` asking the daemon (root, next to the VM) to act.
import type {PluginRequestEvent} from 'dlite-cli/plugin'

import {routingSession} from '../daemon-routing.js'
import {PLUGIN_NAME} from '../setting.js'
import type {DliteHook} from './hook.js'

const hook: DliteHook<PluginRequestEvent, unknown> = async function (event) {
  if (event.plugin !== PLUGIN_NAME) return undefined // another plugin's request: not ours to answer
  return (await routingSession(event.config)).request(event)
}

export default hook
