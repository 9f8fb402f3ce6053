// Changing a file's owner or mode when the path sits in a directory someone else controls (a root command in
// a user's home): between making the file and changing it, a link to another file could be put at the path,
// and a change by path would go to the link's target. So the path is opened once without following a link
// (Linux's O_PATH, all a socket or directory can be opened as for this), checked to be what was made, and
// changed through /proc/self/fd, which names the inode the descriptor holds.
import {chmodSync, chownSync, closeSync, constants, fstatSync, lchownSync, lstatSync, openSync, type Stats} from 'node:fs'

// Linux's O_PATH, which Node does not export (the same value on x86_64 and aarch64)
const O_PATH = 0o10000000

export type NodeKind = 'socket' | 'directory' | 'file'

export interface OwnershipChange {
  /** What the path must be. */
  kind: NodeKind
  /** Whose it may be before the change (the process's own uid by default). */
  ownedBy?: number[]
  owner?: {uid: number; gid: number}
  mode?: number
}

function isKind(st: Stats, kind: NodeKind): boolean {
  return kind === 'socket' ? st.isSocket() : kind === 'directory' ? st.isDirectory() : st.isFile()
}

export function changeOwnershipNoFollow(path: string, change: OwnershipChange): void {
  const allowed = change.ownedBy ?? [process.getuid?.() ?? 0]
  const check = (st: Stats) => {
    if (!isKind(st, change.kind) || !allowed.includes(st.uid)) {
      throw new Error(`${path} is not the ${change.kind} that was made there (a link or another owner's file took its place); refusing to change its owner or mode`)
    }
  }
  if (process.platform !== 'linux') {
    // no O_PATH: check, then change without following a link at the last component
    check(lstatSync(path))
    if (change.owner) lchownSync(path, change.owner.uid, change.owner.gid)
    if (change.mode !== undefined) chmodSync(path, change.mode)
    return
  }
  const fd = openSync(path, O_PATH | constants.O_NOFOLLOW)
  try {
    check(fstatSync(fd))
    const inode = `/proc/self/fd/${fd}`
    if (change.owner) chownSync(inode, change.owner.uid, change.owner.gid)
    if (change.mode !== undefined) chmodSync(inode, change.mode)
  } finally {
    closeSync(fd)
  }
}
