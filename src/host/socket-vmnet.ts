// Whether socket_vmnet is on this Mac, as install, doctor and the vmnet network driver ask it: Homebrew's binary,
// and the socket its LaunchDaemon listens on. The paths are doctor/macos.ts's; this only looks.
import {existsSync, statSync} from 'node:fs'

import {homebrewPrefix, socketVmnetPaths} from '../doctor/macos.js'
import type {SocketVmnetFacts} from '../network/vmnet.js'

export function probeSocketVmnet(prefix: string = homebrewPrefix(process.arch)): SocketVmnetFacts {
  const {binary, socket} = socketVmnetPaths(prefix)
  return {binary, binaryExists: existsSync(binary), socket, socketExists: isSocket(socket)}
}

// a leftover plain file where the socket belongs is not a running socket_vmnet
function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket()
  } catch {
    return false
  }
}
