// `dlite helper <home-id>`: the root helper for one registered home, in the foreground (a service manager or
// `sudo dlite network setup` starts it). It serves until SIGTERM; what the VM's network needs stays up.
import {rmSync, writeFileSync} from 'node:fs'

import {daemonLogger} from 'dlite-kit/daemon-log'

import {loadNative} from '../host/native.js'
import {rootActions} from './for-home.js'
import {readRegistrationAsRoot} from './registration.js'
import {serveHelper} from './server.js'
import {ensureSystemDirs, helperPidPath} from './setup.js'
import {helperSocketPath} from './system-paths.js'

export async function runHelper(id: string): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the root helper runs as root (sudo dlite network setup starts it)')
  process.umask(0o022)
  ensureSystemDirs()
  const log = daemonLogger('helper')
  const native = loadNative()
  const socketPath = helperSocketPath(id)
  const server = await serveHelper({
    registration: () => readRegistrationAsRoot(id),
    socketPath,
    actions: rootActions,
    readCredentials: (fd) => native.peerCredentials(fd),
    sendFd: (socketFd, text, fd) => native.sendFd(socketFd, text, fd),
    closeFd: (fd) => native.closeFd(fd),
    log,
  })
  writeFileSync(helperPidPath(id), `${process.pid}\n`, {mode: 0o644})
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => resolve())
  })
  log('stopping')
  await server.close()
  rmSync(helperPidPath(id), {force: true})
}
