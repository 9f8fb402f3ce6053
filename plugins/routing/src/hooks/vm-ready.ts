// dlite:vm-ready: when routing is on, route every docker network via the VM and follow docker's events.
import type {VmReadyEvent} from 'dlite-cli/plugin'

import {routingSession} from '../daemon-routing.js'
import type {DliteHook} from './hook.js'

const hook: DliteHook<VmReadyEvent> = async function (event) {
  if (event.network === 'user') return // nothing to route to: `dlite routing enable` says so
  await (await routingSession(event.config)).vmReady(event)
}

export default hook
