// Who may connect to a socket the daemon made: its owner only (0600), or also a group (0660: a root daemon
// serving its installing user's group). The socket sits in a directory the user controls (the home), so the
// change goes through the kit's no-follow path: a link put where the socket was is refused, not followed.
import {changeOwnershipNoFollow} from 'dlite-kit/no-follow'

export function restrictSocket(path: string, gid?: number): void {
  const uid = process.getuid?.() ?? 0
  changeOwnershipNoFollow(path, {kind: 'socket', owner: gid === undefined ? undefined : {uid, gid}, mode: gid === undefined ? 0o600 : 0o660})
}
