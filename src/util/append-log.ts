// Log files a daemon writes (QEMU's console, virtiofsd's output) live in the home's logs/, a directory the
// user controls; a root daemon must not follow a link someone put there to a file of root's. So they are
// opened for appending without following a link at the last component.
import {constants, openSync} from 'node:fs'

export function openLogForAppend(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644)
}
