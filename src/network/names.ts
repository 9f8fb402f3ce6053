// Interface and rule names for one DLITE_HOME. Root's own default home keeps DLite's familiar `dlite0`; any other
// home — every user's, their default one too — gets names derived from its path, so homes run side by side
// without touching each other (two users' `~/.dlite` must never share a bridge).
import {createHash} from 'node:crypto'

import {invokingUser} from '../host/invoking-user.js'
import {defaultHome} from '../paths.js'

export interface NetworkNames {
  /** Short stable id of the home, also used in hosts-file markers and firewall tables. */
  homeId: string
  bridge: string
  tap: string
  /** nftables table / iptables comment. */
  natTable: string
}

export function homeId(home: string): string {
  return createHash('sha256').update(home).digest('hex').slice(0, 6)
}

export function networkNames(home: string, defaultHomePath = defaultHome(), ownerIsRoot = invokingUser().uid === 0): NetworkNames {
  const id = homeId(home)
  const isDefault = home === defaultHomePath && ownerIsRoot
  // Linux interface names are at most 15 bytes.
  return {
    homeId: id,
    bridge: isDefault ? 'dlite0' : `dlbr-${id}`,
    tap: isDefault ? 'dlite0-tap' : `dltap-${id}`,
    natTable: `dlite_${id}`,
  }
}
