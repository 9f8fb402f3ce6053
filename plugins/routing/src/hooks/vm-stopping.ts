// dlite:vm-stopping: stop following docker and take the routes away before the VM's address goes.
import type {VmLifecycleEvent} from 'dlite-cli/plugin'

import {routingSession} from '../daemon-routing.js'
import type {DliteHook} from './hook.js'

const hook: DliteHook<VmLifecycleEvent> = async function (event) {
  if (event.network === 'user') return
  await (await routingSession(event.config)).vmStopping(event)
}

export default hook
