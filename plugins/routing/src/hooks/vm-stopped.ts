// dlite:vm-stopped: forget the VM (a VM that failed never fired vm-stopping; its routes went with the bridge).
import type {VmLifecycleEvent} from 'dlite-cli/plugin'

import {routingSession} from '../daemon-routing.js'
import type {DliteHook} from './hook.js'

const hook: DliteHook<VmLifecycleEvent> = async function (event) {
  const session = await routingSession(event.config)
  session.vmStopped()
}

export default hook
