// Who may connect to a socket the daemon made: its owner only (0600), or also a group (0660: a root daemon
// serving its installing user's group). The socket sits in a directory the user controls (the home), so
// between listen() and the chmod someone could put a link to another file at that path; a root daemon
// changing that by path would hand the target to the group. So the path is opened once, without following
// links (O_PATH: all a socket can be opened as), checked to be the socket this process made, and the owner
// and mode are changed through that descriptor.
import {chmodSync, chownSync, closeSync, constants, fstatSync, openSync} from 'node:fs'

// Linux's O_PATH, which Node does not export (the same value on x86_64 and aarch64)
const O_PATH = 0o10000000

export function restrictSocket(path: string, gid?: number): void {
  const mode = gid === undefined ? 0o600 : 0o660
  if (process.platform !== 'linux') {
    // only a user's own daemon runs off Linux (bridged networking is Linux only): nothing to hand to anyone
    if (gid !== undefined) chownSync(path, process.getuid?.() ?? 0, gid)
    chmodSync(path, mode)
    return
  }
  const fd = openSync(path, O_PATH | constants.O_NOFOLLOW)
  try {
    const st = fstatSync(fd)
    if (!st.isSocket() || st.uid !== (process.getuid?.() ?? 0)) {
      throw new Error(`${path} is no longer the socket this daemon made; refusing to change its owner or mode`)
    }
    // /proc/self/fd/N names the inode the descriptor holds, whatever the path now points to
    const inode = `/proc/self/fd/${fd}`
    if (gid !== undefined) chownSync(inode, st.uid, gid)
    chmodSync(inode, mode)
  } finally {
    closeSync(fd)
  }
}
