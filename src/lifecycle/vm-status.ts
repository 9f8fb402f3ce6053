// A VM's status as its daemon reports it (undefined when no daemon answers): all that `dlite ip` and `dlite status`
// ask of the daemon, without what starting and stopping one pulls in (service managers, the root helper, leftovers).
import {queryStatus} from '../daemon/control-client.js'
import type {VmStatus} from '../daemon/control-protocol.js'
import {controlSocketPath} from '../daemon/daemon-paths.js'
import {homeLayout} from '../paths.js'

export async function vmStatus(home: string): Promise<VmStatus | undefined> {
  return queryStatus(controlSocketPath(homeLayout(home)))
}
