// Who may talk to the daemon: root, the daemon's own user, and the user who installed dlite. The socket's
// file mode already keeps others out; this checks the connecting process itself (SO_PEERCRED).
import type {Socket} from 'node:net'

import type {PeerCheck} from './control-server.js'

export interface PeerCredentials {
  pid: number | null
  uid: number
  gid: number
}

/** The socket's file descriptor; Node keeps it on the internal handle of a connected unix socket. */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as {_handle?: {fd?: number}})._handle?.fd
  return typeof fd === 'number' && fd >= 0 ? fd : undefined
}

export function peerCheck(readCredentials: (fd: number) => PeerCredentials, allowedUids: number[]): PeerCheck {
  const allowed = new Set([0, ...allowedUids])
  return (socket) => {
    const fd = socketFd(socket)
    if (fd === undefined) return {ok: false, reason: 'cannot identify the connecting process'}
    let credentials: PeerCredentials
    try {
      credentials = readCredentials(fd)
    } catch (error) {
      return {ok: false, reason: (error as Error).message}
    }
    return allowed.has(credentials.uid)
      ? {ok: true}
      : {ok: false, reason: `uid ${credentials.uid} may not control this dlite VM (run the command with sudo)`}
  }
}
